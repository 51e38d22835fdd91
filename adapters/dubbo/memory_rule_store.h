#pragma once
// An in-memory RuleStore with ZooKeeper's version rules (create: 0, each set
// +1) for unit tests, plus a switch that makes every call fail as an
// unreachable ZooKeeper would, and nodes another identity guards.
#include <map>
#include <mutex>
#include <set>

#include "adapters/dubbo/rule_store.h"

namespace wharf::dubbo {

class MemoryRuleStore final : public RuleStore {
 public:
  StoreResult<std::optional<Rule>> get(const std::string& path) override;
  StoreResult<std::vector<std::string>> children(const std::string& path) override;
  StoreResult<int32_t> create(const std::string& path, const std::string& data) override;
  StoreResult<int32_t> set(const std::string& path, const std::string& data,
                           int32_t version) override;
  StoreResult<void> remove(const std::string& path, int32_t version) override;
  StoreResult<int32_t> replace(const std::string& path, const std::string& data,
                               int32_t version) override;

  // Makes set() of `path` fail with kNotAllowed (a node whose ACL names
  // another identity) until replace() creates it again.
  void guard(const std::string& path);

  // While true every call fails with kUnavailable.
  void set_unavailable(bool down);
  // How many create/set/remove calls went through.
  int writes() const;

 private:
  std::optional<StoreError> down() const;
  mutable std::mutex mutex_;
  std::map<std::string, Rule> nodes_;
  std::set<std::string> guarded_;
  bool down_ = false;
  int writes_ = 0;
};

}  // namespace wharf::dubbo
