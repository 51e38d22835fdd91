#include "api/access_index.h"

#include <algorithm>
#include <mutex>

#include "api/tokens.h"
#include "events/catch_up.h"
#include "wharf/v1/snapshot.pb.h"

namespace wharf::api {

using wharf::v1::Role;

const char* role_name(Role role) {
  switch (role) {
    case wharf::v1::ROLE_VIEWER:
      return "viewer";
    case wharf::v1::ROLE_DEPLOYER:
      return "deployer";
    case wharf::v1::ROLE_OWNER:
      return "owner";
    default:
      return "";
  }
}

std::optional<Role> role_from_name(std::string_view name) {
  if (name == "viewer") return wharf::v1::ROLE_VIEWER;
  if (name == "deployer") return wharf::v1::ROLE_DEPLOYER;
  if (name == "owner") return wharf::v1::ROLE_OWNER;
  return std::nullopt;
}

namespace {

// The payload's message and the string field `name` in it, if any.
std::string payload_string(const events::Envelope& event, const char* name) {
  const auto& payload = event.payload();
  const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* set = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  if (set == nullptr) return {};
  const auto& inner = payload.GetReflection()->GetMessage(payload, set);
  const auto* field = inner.GetDescriptor()->FindFieldByName(name);
  if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
      field->is_repeated()) {
    return {};
  }
  return inner.GetReflection()->GetString(inner, field);
}

WebhookSecret secret_of(const wharf::v1::RepositoryBinding& binding) {
  WebhookSecret s;
  if (!binding.has_gerrit()) return s;
  s.sealed = binding.gerrit().webhook_secret_set();
  s.version = binding.gerrit().webhook_secret_version();
  s.legacy_sha256 = binding.gerrit().webhook_secret_sha256();
  return s;
}

}  // namespace

void AccessIndex::refresh() {
  events::restore_once(store_, restored_, mu_, cursor_, kSnapshotName, kSnapshotSchema, counters_,
                       [this](const std::string& bytes) { return decode_state(bytes); });
  events::catch_up(
      store_, mu_, cursor_, [this](const events::Envelope& event) { apply(event); }, "access index",
      counters_);
  caught_up_ = true;
}

Expected<bool, std::string> AccessIndex::save_snapshot(events::EventStore& store) {
  return events::save_model_snapshot(store, mu_, cursor_, kSnapshotName, kSnapshotSchema, counters_,
                                     [this] { return encode_state(); });
}

std::string AccessIndex::encode_state() const {
  wharf::v1::AccessIndexState state;
  for (const auto& [hash, t] : tokens_by_hash_) {
    auto* out = state.add_tokens();
    out->set_token_sha256(hash);
    out->set_token_id(t.token_id);
    out->set_user(t.user);
    out->set_admin(t.admin);
    out->set_expires_at_us(t.expires_at_us);
    out->set_revoked(t.revoked);
  }
  // Every project id any map holds, in one message each (sorted: the same
  // state always encodes to the same bytes).
  std::map<std::string, wharf::v1::AccessIndexProject> projects;
  auto project = [&projects](const std::string& id) -> wharf::v1::AccessIndexProject& {
    auto& p = projects[id];
    p.set_project_id(id);
    return p;
  };
  for (const auto& id : projects_) project(id).set_exists(true);
  for (const auto& [id, secret] : webhook_secrets_) {
    auto& p = project(id);
    p.set_has_webhook_secret(true);
    p.set_webhook_sealed(secret.sealed);
    p.set_webhook_version(secret.version);
    p.set_webhook_legacy_sha256(secret.legacy_sha256);
  }
  for (const auto& [id, users] : roles_) {
    auto& p = project(id);
    for (const auto& [user, held] : users) {
      if (held.empty()) p.add_users_without_roles(user);
      for (const auto& [role, grant] : held) {
        auto* g = p.add_grants();
        g->set_user(user);
        g->set_role(role);
        g->set_granted_by(grant.granted_by);
        g->set_position(grant.position);
      }
    }
  }
  std::vector<std::pair<std::string_view, std::string_view>> placed;
  for (const auto& [run, id] : run_project_) placed.emplace_back(id, run);
  std::sort(placed.begin(), placed.end());
  for (const auto& [id, run] : placed) project(std::string(id)).add_runs(std::string(run));
  placed.clear();
  for (const auto& [deploy, id] : deploy_project_) placed.emplace_back(id, deploy);
  std::sort(placed.begin(), placed.end());
  for (const auto& [id, deploy] : placed) project(std::string(id)).add_deploys(std::string(deploy));
  for (const auto& [id, position] : last_change_) project(id).set_last_change(position);
  for (auto& [id, p] : projects) *state.add_projects() = std::move(p);
  for (const auto& [id, r] : requests_) {
    auto* out = state.add_requests();
    out->set_request_id(r.request_id);
    out->set_project_id(r.project_id);
    out->set_user(r.user);
    out->set_role(r.role);
    out->set_reason(r.reason);
    out->set_status(r.status);
    out->set_decided_by(r.decided_by);
    out->set_decision_reason(r.decision_reason);
    out->set_requested_at_us(r.requested_at_us);
    out->set_position(r.position);
  }
  state.set_last_unplaced(last_unplaced_);
  return state.SerializeAsString();
}

bool AccessIndex::decode_state(const std::string& bytes) {
  wharf::v1::AccessIndexState state;
  if (!state.ParseFromString(bytes)) return false;
  for (const auto& t : state.tokens()) {
    tokens_by_hash_[t.token_sha256()] =
        Token{t.token_id(), t.user(), t.admin(), t.expires_at_us(), t.revoked()};
    token_hash_by_id_[t.token_id()] = t.token_sha256();
  }
  size_t runs = 0, deploys = 0;
  for (const auto& p : state.projects()) {
    runs += static_cast<size_t>(p.runs_size());
    deploys += static_cast<size_t>(p.deploys_size());
  }
  run_project_.reserve(runs);
  deploy_project_.reserve(deploys);
  for (const auto& p : state.projects()) {
    const std::string& id = p.project_id();
    if (p.exists()) projects_.insert(id);
    if (p.has_webhook_secret()) {
      webhook_secrets_[id] =
          WebhookSecret{p.webhook_sealed(), p.webhook_version(), p.webhook_legacy_sha256()};
    }
    if (p.grants_size() > 0 || p.users_without_roles_size() > 0) {
      auto& users = roles_[id];
      for (const auto& user : p.users_without_roles()) users[user];
      for (const auto& g : p.grants()) {
        users[g.user()][g.role()] =
            GrantRecord{id, g.user(), g.role(), g.granted_by(), g.position()};
      }
    }
    for (const auto& run : p.runs()) run_project_.emplace(run, id);
    for (const auto& deploy : p.deploys()) deploy_project_.emplace(deploy, id);
    if (p.last_change() != 0) last_change_[id] = p.last_change();
  }
  for (const auto& r : state.requests()) {
    requests_[r.request_id()] = PermissionRequestRecord{
        r.request_id(),      r.project_id(), r.user(),       r.role(),
        r.reason(),          r.status(),     r.decided_by(), r.decision_reason(),
        r.requested_at_us(), r.position()};
  }
  last_unplaced_ = state.last_unplaced();
  return true;
}

uint64_t AccessIndex::position() const {
  std::shared_lock lock(mu_);
  return cursor_;
}

void AccessIndex::apply(const events::Envelope& event) {
  const auto& p = event.payload();
  const std::string run = payload_string(event, "run_id");
  const std::string project_field = payload_string(event, "project_id");
  if (!run.empty() && !project_field.empty()) run_project_.emplace(run, project_field);
  const std::string deploy = payload_string(event, "deploy_id");
  if (!deploy.empty() && !project_field.empty()) deploy_project_.emplace(deploy, project_field);
  if (std::string scope = project_of_locked(event); scope.empty()) {
    last_unplaced_ = event.position();
  } else {
    last_change_[scope] = event.position();
  }

  switch (p.kind_case()) {
    case wharf::v1::Payload::kTokenIssued: {
      const auto& t = p.token_issued();
      tokens_by_hash_[t.token_sha256()] =
          Token{t.token_id(), t.user(), t.admin(), t.expires_at_us(), false};
      token_hash_by_id_[t.token_id()] = t.token_sha256();
      break;
    }
    case wharf::v1::Payload::kTokenRevoked: {
      auto hash = token_hash_by_id_.find(p.token_revoked().token_id());
      if (hash == token_hash_by_id_.end()) break;
      if (auto it = tokens_by_hash_.find(hash->second); it != tokens_by_hash_.end()) {
        it->second.revoked = true;
      }
      std::lock_guard cache_lock(token_cache_mu_);
      token_cache_.clear();
      break;
    }
    case wharf::v1::Payload::kProjectCreated: {
      const auto& c = p.project_created();
      projects_.insert(c.project_id());
      webhook_secrets_[c.project_id()] = secret_of(c.repository());
      if (!c.owner().empty()) {
        roles_[c.project_id()][c.owner()][wharf::v1::ROLE_OWNER] = GrantRecord{
            c.project_id(), c.owner(), wharf::v1::ROLE_OWNER, event.actor().id(), event.position()};
      }
      break;
    }
    case wharf::v1::Payload::kRepositoryBound:
      webhook_secrets_[p.repository_bound().project_id()] =
          secret_of(p.repository_bound().repository());
      break;
    case wharf::v1::Payload::kPermissionGranted: {
      const auto& g = p.permission_granted();
      roles_[g.project_id()][g.user()][g.role()] =
          GrantRecord{g.project_id(), g.user(), g.role(), g.granted_by(), event.position()};
      if (auto it = requests_.find(g.request_id());
          !g.request_id().empty() && it != requests_.end()) {
        it->second.status = "approved";
        it->second.decided_by = g.granted_by();
      }
      break;
    }
    case wharf::v1::Payload::kPermissionRevoked: {
      const auto& r = p.permission_revoked();
      auto& held = roles_[r.project_id()][r.user()];
      if (r.role() == wharf::v1::ROLE_UNSPECIFIED) {
        held.clear();
      } else {
        held.erase(r.role());
      }
      break;
    }
    case wharf::v1::Payload::kPermissionRequested: {
      const auto& r = p.permission_requested();
      PermissionRequestRecord record;
      record.request_id = r.request_id();
      record.project_id = r.project_id();
      record.user = r.user();
      record.role = r.role();
      record.reason = r.reason();
      record.requested_at_us = event.occurred_at_us();
      record.position = event.position();
      requests_[r.request_id()] = std::move(record);
      break;
    }
    case wharf::v1::Payload::kPermissionDenied: {
      const auto& d = p.permission_denied();
      if (auto it = requests_.find(d.request_id()); it != requests_.end()) {
        it->second.status = "denied";
        it->second.decided_by = d.denied_by();
        it->second.decision_reason = d.reason();
      }
      break;
    }
    default:
      break;
  }
}

AccessIndex::TokenCheck AccessIndex::check_token(std::string_view token, int64_t now) {
  refresh();  // folds any revocation made durable before this request
  auto answer = [now](const Token& t) {
    TokenCheck check;
    check.principal = Principal{t.user, t.admin, t.token_id};
    check.expires_at_us = t.expires_at_us;
    const bool expired = t.expires_at_us != 0 && t.expires_at_us <= now;
    check.status = t.revoked ? TokenStatus::kRevoked
                   : expired ? TokenStatus::kExpired
                             : TokenStatus::kValid;
    return check;
  };
  const std::string key(token);
  {
    std::lock_guard cache_lock(token_cache_mu_);
    if (auto hit = token_cache_.find(key); hit != token_cache_.end()) {
      ++token_cache_hits_;
      return answer(hit->second);
    }
  }
  ++token_cache_misses_;
  const std::string hash = sha256_hex(token);
  std::shared_lock lock(mu_);
  auto it = tokens_by_hash_.find(hash);
  if (it == tokens_by_hash_.end()) return TokenCheck{};
  TokenCheck check = answer(it->second);
  if (check.status != TokenStatus::kRevoked) {  // expired ones stay expired: cacheable
    std::lock_guard cache_lock(token_cache_mu_);
    if (token_cache_.size() >= kTokenCacheEntries) token_cache_.clear();
    token_cache_.emplace(key, it->second);
  }
  return check;
}

std::optional<AccessIndex::TokenRecord> AccessIndex::token(const std::string& token_id) const {
  std::shared_lock lock(mu_);
  auto hash = token_hash_by_id_.find(token_id);
  if (hash == token_hash_by_id_.end()) return std::nullopt;
  auto it = tokens_by_hash_.find(hash->second);
  if (it == tokens_by_hash_.end()) return std::nullopt;
  return TokenRecord{it->second.token_id, it->second.user, it->second.admin, it->second.revoked};
}

AccessIndex::TokenCacheStats AccessIndex::token_cache_stats() const {
  std::lock_guard cache_lock(token_cache_mu_);
  return {token_cache_hits_.load(), token_cache_misses_.load(), token_cache_.size()};
}

Role AccessIndex::role_of(const std::string& user, const std::string& project) const {
  std::shared_lock lock(mu_);
  auto p = roles_.find(project);
  if (p == roles_.end()) return wharf::v1::ROLE_UNSPECIFIED;
  auto u = p->second.find(user);
  if (u == p->second.end() || u->second.empty()) return wharf::v1::ROLE_UNSPECIFIED;
  return u->second.rbegin()->first;  // roles are ordered viewer < deployer < owner
}

bool AccessIndex::allows(const Principal& who, const std::string& project, Role role) const {
  if (who.admin) return true;
  if (project.empty()) return false;
  return role_of(who.user, project) >= role;
}

bool AccessIndex::project_exists(const std::string& project) const {
  std::shared_lock lock(mu_);
  return projects_.count(project) > 0;
}

std::vector<std::string> AccessIndex::visible_projects(const Principal& who) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& project : projects_) {
    if (who.admin) {
      out.push_back(project);
      continue;
    }
    auto p = roles_.find(project);
    if (p == roles_.end()) continue;
    auto u = p->second.find(who.user);
    if (u != p->second.end() && !u->second.empty()) out.push_back(project);
  }
  return out;
}

std::optional<WebhookSecret> AccessIndex::webhook_secret(const std::string& project) const {
  std::shared_lock lock(mu_);
  auto it = webhook_secrets_.find(project);
  if (it == webhook_secrets_.end() || (!it->second.sealed && it->second.legacy_sha256.empty())) {
    return std::nullopt;
  }
  return it->second;
}

std::string AccessIndex::project_of_locked(const events::Envelope& event) const {
  std::string project = payload_string(event, "project_id");
  if (!project.empty()) return project;
  if (auto run = payload_string(event, "run_id"); !run.empty()) {
    auto it = run_project_.find(run);
    if (it != run_project_.end()) return it->second;
  }
  if (auto deploy = payload_string(event, "deploy_id"); !deploy.empty()) {
    auto it = deploy_project_.find(deploy);
    if (it != deploy_project_.end()) return it->second;
  }
  const std::string& stream = event.stream_id();
  for (std::string_view prefix : {"project-", "access-"}) {
    if (stream.rfind(prefix, 0) == 0) return stream.substr(prefix.size());
  }
  return {};
}

uint64_t AccessIndex::last_change(const std::string& project) const {
  std::shared_lock lock(mu_);
  auto it = last_change_.find(project);
  return std::max(last_unplaced_, it == last_change_.end() ? 0 : it->second);
}

std::string AccessIndex::project_of(const events::Envelope& event) const {
  std::shared_lock lock(mu_);
  return project_of_locked(event);
}

std::string AccessIndex::run_of(const events::Envelope& event) const {
  std::string run = payload_string(event, "run_id");
  return run.empty() ? event.correlation_id() : run;
}

std::string AccessIndex::project_of_deploy(const std::string& deploy_id) const {
  std::shared_lock lock(mu_);
  auto it = deploy_project_.find(deploy_id);
  return it == deploy_project_.end() ? std::string() : it->second;
}

bool AccessIndex::can_see(const Principal& who, const events::Envelope& event) const {
  if (who.admin) return true;
  return allows(who, project_of(event), wharf::v1::ROLE_VIEWER);
}

std::vector<PermissionRequestRecord> AccessIndex::requests(const std::string& project,
                                                           const std::string& user) const {
  std::shared_lock lock(mu_);
  std::vector<PermissionRequestRecord> out;
  for (const auto& [id, r] : requests_) {
    if (!project.empty() && r.project_id != project) continue;
    if (!user.empty() && r.user != user) continue;
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.position < b.position; });
  return out;
}

std::optional<PermissionRequestRecord> AccessIndex::request(const std::string& request_id) const {
  std::shared_lock lock(mu_);
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return std::nullopt;
  return it->second;
}

std::vector<GrantRecord> AccessIndex::grants(const std::string& project,
                                             const std::string& user) const {
  std::shared_lock lock(mu_);
  std::vector<GrantRecord> out;
  for (const auto& [p, users] : roles_) {
    if (!project.empty() && p != project) continue;
    for (const auto& [u, held] : users) {
      if (!user.empty() && u != user) continue;
      for (const auto& [role, grant] : held) out.push_back(grant);
    }
  }
  return out;
}

}  // namespace wharf::api
