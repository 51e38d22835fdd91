#pragma once
// Who may do what, folded from the log: tokens (TokenIssued), roles per
// project (PermissionGranted/Revoked, and the owner of ProjectCreated),
// permission requests and their outcome, webhook secrets (RepositoryBinding),
// and which project each run/deploy belongs to (to scope events for
// filtering). refresh() folds whatever the store appended since the last call,
// so a grant is effective on the next request. Thread-safe.
//
// The first refresh starts from the index's state snapshot when there is a
// usable one (events/state_snapshot.h, "access-index"), so a restart folds
// only the events after it; save_snapshot() writes one (api::Server does,
// periodically and on stop).
//
// Bearer tokens that checked valid are cached by the token itself (bounded),
// so a request skips the SHA-256 and the index lookup; check_token folds the
// log up to the head first and a folded TokenRevoked empties the cache, so a
// revocation is honoured from the next request on.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "events/event_store.h"
#include "events/state_snapshot.h"

namespace wharf::api {

struct Principal {
  std::string user;
  bool admin = false;
  std::string token_id;
};

struct PermissionRequestRecord {
  std::string request_id;
  std::string project_id;
  std::string user;
  wharf::v1::Role role = wharf::v1::ROLE_UNSPECIFIED;
  std::string reason;
  std::string status = "pending";  // pending, approved, denied
  std::string decided_by;
  std::string decision_reason;
  int64_t requested_at_us = 0;
  uint64_t position = 0;
};

struct GrantRecord {
  std::string project_id;
  std::string user;
  wharf::v1::Role role = wharf::v1::ROLE_UNSPECIFIED;
  std::string granted_by;
  uint64_t position = 0;
};

// A project's webhook secret as its RepositoryBinding records it: sealed
// (docs/targets.md; entry webhook/<project> at `version`), or — bindings from
// before the sealed store — only the secret's SHA-256, which exports once
// held and which is therefore no longer accepted.
struct WebhookSecret {
  bool sealed = false;
  uint32_t version = 0;
  std::string legacy_sha256;
};

class AccessIndex {
 public:
  explicit AccessIndex(const events::EventStore& store) : store_(store) {}

  // Folds every event up to the store's head. Cheap when nothing is new.
  void refresh();
  uint64_t position() const;
  // True once a refresh reached the head it saw (requests then need only the
  // newest events): /readyz waits for it.
  bool caught_up() const { return caught_up_.load(); }

  static constexpr const char* kSnapshotName = "access-index";
  static constexpr uint32_t kSnapshotSchema = 1;
  // Writes the state snapshot at position() unless the last one is there.
  // True when written.
  Expected<bool, std::string> save_snapshot(events::EventStore& store);
  const events::FoldCounters& fold_counters() const { return counters_; }

  enum class TokenStatus { kValid, kUnknown, kExpired, kRevoked };
  struct TokenCheck {
    TokenStatus status = TokenStatus::kUnknown;
    Principal principal;
    int64_t expires_at_us = 0;
  };
  // Folds the log up to the head, then looks the token up (cache first).
  TokenCheck check_token(std::string_view token, int64_t now_us);

  // A token by its public id (revocation): its user and whether it is revoked.
  struct TokenRecord {
    std::string token_id;
    std::string user;
    bool admin = false;
    bool revoked = false;
  };
  std::optional<TokenRecord> token(const std::string& token_id) const;

  struct TokenCacheStats {
    uint64_t hits = 0;
    uint64_t misses = 0;  // looked up in the index (valid or not)
    size_t entries = 0;
  };
  TokenCacheStats token_cache_stats() const;
  static constexpr size_t kTokenCacheEntries = 4096;

  // Highest role `user` holds on `project` (ROLE_UNSPECIFIED when none).
  wharf::v1::Role role_of(const std::string& user, const std::string& project) const;
  // Admins may do anything; others need `role` or a higher one on `project`.
  bool allows(const Principal& who, const std::string& project, wharf::v1::Role role) const;
  bool project_exists(const std::string& project) const;
  // Every project (sorted) that `who` may view.
  std::vector<std::string> visible_projects(const Principal& who) const;
  // The project's webhook secret as the log records it, if one is configured.
  std::optional<WebhookSecret> webhook_secret(const std::string& project) const;

  // The project an event belongs to ("" for global events such as tokens),
  // and its run ("" if none). Valid for events up to position().
  std::string project_of(const events::Envelope& event) const;
  std::string run_of(const events::Envelope& event) const;
  // Project of a deploy id seen in the log ("" if unknown).
  std::string project_of_deploy(const std::string& deploy_id) const;
  // Newest folded position of an event of `project` or of an event placed in
  // no project (which may concern any): an answer about `project` as of a
  // position >= this is still the answer as of position() (response cache).
  uint64_t last_change(const std::string& project) const;
  // May `who` see this event? Admins see all; others see events of projects
  // where they hold a role.
  bool can_see(const Principal& who, const events::Envelope& event) const;

  std::vector<PermissionRequestRecord> requests(const std::string& project,
                                                const std::string& user) const;
  std::optional<PermissionRequestRecord> request(const std::string& request_id) const;
  std::vector<GrantRecord> grants(const std::string& project, const std::string& user) const;

 private:
  struct Token {
    std::string token_id;
    std::string user;
    bool admin = false;
    int64_t expires_at_us = 0;
    bool revoked = false;
  };
  void apply(const events::Envelope& event);
  std::string encode_state() const;             // under mu_ (shared)
  bool decode_state(const std::string& bytes);  // under mu_ (exclusive), state empty
  std::string project_of_locked(const events::Envelope& event) const;

  const events::EventStore& store_;
  mutable std::shared_mutex mu_;
  uint64_t cursor_ = 0;
  std::once_flag restored_;
  events::FoldCounters counters_;
  std::atomic<bool> caught_up_{false};
  std::map<std::string, Token> tokens_by_hash_;
  std::unordered_map<std::string, std::string> token_hash_by_id_;
  // Valid tokens by the token itself. Lock order: mu_, then token_cache_mu_;
  // an entry is added only under mu_ (shared), so no revocation can be folded
  // between the index lookup and the insert.
  mutable std::mutex token_cache_mu_;
  std::unordered_map<std::string, Token> token_cache_;
  std::atomic<uint64_t> token_cache_hits_{0};
  std::atomic<uint64_t> token_cache_misses_{0};
  // project -> user -> roles held
  std::map<std::string, std::map<std::string, std::map<wharf::v1::Role, GrantRecord>>> roles_;
  std::set<std::string> projects_;
  std::map<std::string, WebhookSecret> webhook_secrets_;
  std::unordered_map<std::string, std::string> run_project_;
  std::unordered_map<std::string, std::string> deploy_project_;
  std::map<std::string, PermissionRequestRecord> requests_;
  std::unordered_map<std::string, uint64_t> last_change_;  // by project
  uint64_t last_unplaced_ = 0;                             // events of no project
};

// "viewer", "deployer", "owner" <-> Role; "" / ROLE_UNSPECIFIED otherwise.
const char* role_name(wharf::v1::Role role);
std::optional<wharf::v1::Role> role_from_name(std::string_view name);

}  // namespace wharf::api
