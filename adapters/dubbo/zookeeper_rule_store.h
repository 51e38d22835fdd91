#pragma once
// ZookeeperRuleStore: RuleStore on a ZooKeeper ensemble through Debian's
// libzookeeper_mt (the C client's synchronous calls). Connects on first use
// and again after the session expired; a call made while ZooKeeper cannot be
// reached fails with kUnavailable after `connect_timeout` and names the
// connect string. Thread-safe (calls are serialised).
// With a digest credential the session authenticates (zoo_add_auth "digest")
// and the rule nodes it creates get the ACL: anyone may read them (Dubbo
// consumers read without credentials), only this identity may change them.
// Parent nodes are created open, as Dubbo creates them.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "adapters/dubbo/rule_store.h"

namespace wharf::dubbo {

struct ZookeeperOptions {
  std::string connect;  // "host:port[,host:port...]"
  std::string digest;   // "user:password" for digest auth; empty: none
  std::chrono::milliseconds session_timeout{10'000};
  std::chrono::milliseconds connect_timeout{3'000};
};

class ZookeeperRuleStore final : public RuleStore {
 public:
  explicit ZookeeperRuleStore(ZookeeperOptions options);
  ~ZookeeperRuleStore() override;
  ZookeeperRuleStore(const ZookeeperRuleStore&) = delete;
  ZookeeperRuleStore& operator=(const ZookeeperRuleStore&) = delete;

  StoreResult<std::optional<Rule>> get(const std::string& path) override;
  StoreResult<std::vector<std::string>> children(const std::string& path) override;
  StoreResult<int32_t> create(const std::string& path, const std::string& data) override;
  StoreResult<int32_t> set(const std::string& path, const std::string& data,
                           int32_t version) override;
  StoreResult<void> remove(const std::string& path, int32_t version) override;
  StoreResult<int32_t> replace(const std::string& path, const std::string& data,
                               int32_t version) override;

  // Whether the root ("/", the chroot's own with one) can be read: the
  // target probe's call.
  StoreResult<void> ping();
  // The node's ACL as "scheme:id:perms" (perms from "rwcda"), for tests.
  StoreResult<std::vector<std::string>> acl(const std::string& path);

  const std::string& connect() const { return options_.connect; }

 private:
  struct Session;
  struct Access;
  // A connected session, or why there is none. Caller holds mutex_.
  StoreResult<Session*> session();
  StoreError failure(int rc, const std::string& what, const std::string& path);

  ZookeeperOptions options_;
  std::mutex mutex_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Access> access_;
};

// ZooKeeper's digest identity of "user:password": user:base64(sha1(user:password)),
// as ACLs name it.
std::string digest_identity(const std::string& user_password);

}  // namespace wharf::dubbo
