#include "adapters/dubbo/zookeeper_rule_store.h"

#include <openssl/evp.h>
#include <zookeeper/zookeeper.h>

#include <cstdio>
#include <vector>

namespace wharf::dubbo {

namespace {

constexpr size_t kMaxRuleBytes = 1 << 20;  // ZooKeeper's default jute.maxbuffer

// The C client logs each failed connect (every few ms while ZooKeeper is
// down); the store's own errors name the connect string and the call instead.
void quiet_client_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    if (FILE* null = std::fopen("/dev/null", "w")) zoo_set_log_stream(null);
  });
}

}  // namespace

std::string digest_identity(const std::string& user_password) {
  unsigned char sha[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(user_password.data(), user_password.size(), sha, &len, EVP_sha1(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, sha, static_cast<int>(len));
  return user_password.substr(0, user_password.find(':')) + ":" +
         std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

// One ZooKeeper session; the client's own thread reports state changes here.
struct ZookeeperRuleStore::Session {
  zhandle_t* handle = nullptr;
  std::mutex mutex;
  std::condition_variable changed;
  int state = 0;

  ~Session() {
    if (handle != nullptr) zookeeper_close(handle);
  }

  static void watcher(zhandle_t*, int type, int state, const char*, void* context) {
    if (type != ZOO_SESSION_EVENT) return;
    auto* s = static_cast<Session*>(context);
    std::lock_guard lock(s->mutex);
    s->state = state;
    s->changed.notify_all();
  }

  bool expired() {
    std::lock_guard lock(mutex);
    return state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE;
  }

  bool wait_connected(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, timeout, [this] { return state == ZOO_CONNECTED_STATE; });
  }
};

// The ACL of the rule nodes a store creates: with a digest credential,
// anyone reads and the credential's digest identity does everything;
// without one, open as Dubbo's own nodes.
struct ZookeeperRuleStore::Access {
  std::string identity;
  ACL entries[2];
  ACL_vector acl{};
};

ZookeeperRuleStore::ZookeeperRuleStore(ZookeeperOptions options)
    : options_(std::move(options)), access_(std::make_unique<Access>()) {
  quiet_client_log();
  if (options_.digest.empty()) {
    access_->acl = ZOO_OPEN_ACL_UNSAFE;
  } else {
    access_->identity = digest_identity(options_.digest);
    access_->entries[0] = {ZOO_PERM_READ, ZOO_ANYONE_ID_UNSAFE};
    access_->entries[1] = {
        ZOO_PERM_ALL, {const_cast<char*>("digest"), const_cast<char*>(access_->identity.c_str())}};
    access_->acl = {2, access_->entries};
  }
}

ZookeeperRuleStore::~ZookeeperRuleStore() = default;

StoreResult<ZookeeperRuleStore::Session*> ZookeeperRuleStore::session() {
  if (session_ && session_->expired()) session_.reset();
  if (!session_) {
    auto s = std::make_unique<Session>();
    s->handle =
        zookeeper_init(options_.connect.c_str(), &Session::watcher,
                       static_cast<int>(options_.session_timeout.count()), nullptr, s.get(), 0);
    if (s->handle == nullptr) {
      return unexpected(StoreError{StoreError::Code::kOther,
                                   "ZooKeeper connect string '" + options_.connect + "' refused"});
    }
    if (!options_.digest.empty()) {
      zoo_add_auth(s->handle, "digest", options_.digest.data(),
                   static_cast<int>(options_.digest.size()), nullptr, nullptr);
    }
    session_ = std::move(s);
  }
  if (!session_->wait_connected(options_.connect_timeout)) {
    return unexpected(StoreError{StoreError::Code::kUnavailable,
                                 "ZooKeeper " + options_.connect + " not reachable within " +
                                     std::to_string(options_.connect_timeout.count()) + " ms"});
  }
  return session_.get();
}

StoreError ZookeeperRuleStore::failure(int rc, const std::string& what, const std::string& path) {
  StoreError e;
  switch (rc) {
    case ZBADVERSION:
    case ZNODEEXISTS:
    case ZNONODE:
      e.code = StoreError::Code::kConflict;
      break;
    case ZNOAUTH:
      e.code = StoreError::Code::kNotAllowed;
      break;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZCLOSING:
      e.code = StoreError::Code::kUnavailable;
      break;
    default:
      e.code = StoreError::Code::kOther;
  }
  e.message = "ZooKeeper " + options_.connect + ": " + what + " " + path + ": " + zerror(rc);
  return e;
}

StoreResult<std::optional<Rule>> ZookeeperRuleStore::get(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  std::vector<char> buf(kMaxRuleBytes);
  int len = static_cast<int>(buf.size());
  struct Stat stat {};
  int rc = zoo_get((*s)->handle, path.c_str(), 0, buf.data(), &len, &stat);
  if (rc == ZNONODE) return std::optional<Rule>{};
  if (rc != ZOK) return unexpected(failure(rc, "get", path));
  Rule r;
  if (len > 0) r.data.assign(buf.data(), static_cast<size_t>(len));
  r.version = stat.version;
  return std::optional<Rule>{std::move(r)};
}

StoreResult<std::vector<std::string>> ZookeeperRuleStore::children(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  struct String_vector names {};
  int rc = zoo_get_children((*s)->handle, path.c_str(), 0, &names);
  if (rc == ZNONODE) return std::vector<std::string>{};
  if (rc != ZOK) return unexpected(failure(rc, "list", path));
  std::vector<std::string> out;
  for (int i = 0; i < names.count; ++i) out.emplace_back(names.data[i]);
  deallocate_String_vector(&names);
  return out;
}

StoreResult<int32_t> ZookeeperRuleStore::create(const std::string& path, const std::string& data) {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  // Parents one by one, empty; one that exists already is fine.
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string parent = path.substr(0, slash);
    int rc =
        zoo_create((*s)->handle, parent.c_str(), nullptr, -1, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) return unexpected(failure(rc, "create", parent));
  }
  int rc = zoo_create((*s)->handle, path.c_str(), data.data(), static_cast<int>(data.size()),
                      &access_->acl, 0, nullptr, 0);
  if (rc != ZOK) return unexpected(failure(rc, "create", path));
  return 0;
}

StoreResult<int32_t> ZookeeperRuleStore::set(const std::string& path, const std::string& data,
                                             int32_t version) {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  struct Stat stat {};
  int rc = zoo_set2((*s)->handle, path.c_str(), data.data(), static_cast<int>(data.size()), version,
                    &stat);
  if (rc != ZOK) return unexpected(failure(rc, "set", path));
  return stat.version;
}

StoreResult<void> ZookeeperRuleStore::remove(const std::string& path, int32_t version) {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  int rc = zoo_delete((*s)->handle, path.c_str(), version);
  if (rc == ZOK || rc == ZNONODE) return {};
  return unexpected(failure(rc, "delete", path));
}

StoreResult<int32_t> ZookeeperRuleStore::replace(const std::string& path, const std::string& data,
                                                 int32_t version) {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  zoo_op_t ops[2];
  zoo_op_result_t results[2];
  zoo_delete_op_init(&ops[0], path.c_str(), version);
  zoo_create_op_init(&ops[1], path.c_str(), data.data(), static_cast<int>(data.size()),
                     &access_->acl, 0, nullptr, 0);
  int rc = zoo_multi((*s)->handle, 2, ops, results);
  if (rc != ZOK) return unexpected(failure(rc, "replace", path));
  return 0;
}

StoreResult<void> ZookeeperRuleStore::ping() {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  struct Stat stat {};
  int rc = zoo_exists((*s)->handle, "/", 0, &stat);
  if (rc != ZOK) return unexpected(failure(rc, "exists", "/"));
  return {};
}

StoreResult<std::vector<std::string>> ZookeeperRuleStore::acl(const std::string& path) {
  std::lock_guard lock(mutex_);
  auto s = session();
  if (!s) return unexpected(s.error());
  struct ACL_vector acls {};
  struct Stat stat {};
  int rc = zoo_get_acl((*s)->handle, path.c_str(), &acls, &stat);
  if (rc != ZOK) return unexpected(failure(rc, "get ACL of", path));
  std::vector<std::string> out;
  for (int i = 0; i < acls.count; ++i) {
    const ACL& a = acls.data[i];
    std::string perms;
    for (auto [bit, c] : {std::pair{ZOO_PERM_READ, 'r'}, std::pair{ZOO_PERM_WRITE, 'w'},
                          std::pair{ZOO_PERM_CREATE, 'c'}, std::pair{ZOO_PERM_DELETE, 'd'},
                          std::pair{ZOO_PERM_ADMIN, 'a'}}) {
      if (a.perms & bit) perms += c;
    }
    out.push_back(std::string(a.id.scheme) + ":" + a.id.id + ":" + perms);
  }
  deallocate_ACL_vector(&acls);
  return out;
}

}  // namespace wharf::dubbo
