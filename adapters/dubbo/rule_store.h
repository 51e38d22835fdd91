#pragma once
// RuleStore: where Dubbo consumers read their traffic rules (docs/canary.md#dubbo).
// One rule is one node holding YAML text, at a path such as
// /dubbo/config/dubbo/demo.Greeter::.configurators. Every write names the
// version it read (compare-and-set), so a rule a person changed meanwhile is
// never overwritten blindly. Backends: ZooKeeper (zookeeper_rule_store.h) and
// an in-memory store for unit tests (memory_rule_store.h).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "events/expected.h"

namespace wharf::dubbo {

struct StoreError {
  // kNotAllowed: the node's ACL does not let this client change it.
  enum class Code { kConflict, kUnavailable, kNotAllowed, kOther };
  Code code = Code::kOther;
  std::string message;
};

template <typename T>
using StoreResult = Expected<T, StoreError>;

struct Rule {
  std::string data;     // the node's bytes, exactly
  int32_t version = 0;  // the node's data version (ZooKeeper's stat.version)
};

class RuleStore {
 public:
  virtual ~RuleStore() = default;
  // The node at `path`, nullopt when there is none.
  virtual StoreResult<std::optional<Rule>> get(const std::string& path) = 0;
  // The names of the children of `path` (none when it does not exist).
  virtual StoreResult<std::vector<std::string>> children(const std::string& path) = 0;
  // Creates `path` (and missing parents, empty) holding `data`; its version.
  // kConflict when the node exists already.
  virtual StoreResult<int32_t> create(const std::string& path, const std::string& data) = 0;
  // Overwrites the node if its version is still `version`; the new version.
  // kConflict when it changed or is gone.
  virtual StoreResult<int32_t> set(const std::string& path, const std::string& data,
                                   int32_t version) = 0;
  // Deletes the node if its version is still `version`; a node already gone
  // is success. kConflict when it changed.
  virtual StoreResult<void> remove(const std::string& path, int32_t version) = 0;
  // In one transaction: deletes the node if its version is still `version`
  // and creates it again holding `data` under this client's access rules;
  // the new version (0). For a node wharf wrote under an earlier credential
  // (kNotAllowed on set): deleting needs only the parent's permission.
  virtual StoreResult<int32_t> replace(const std::string& path, const std::string& data,
                                       int32_t version) = 0;
};

}  // namespace wharf::dubbo
