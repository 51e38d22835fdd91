#include "engine/access.h"

#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;

std::string role_name(wharf::v1::Role role) {
  switch (role) {
    case wharf::v1::ROLE_VIEWER: return "viewer";
    case wharf::v1::ROLE_DEPLOYER: return "deployer";
    case wharf::v1::ROLE_OWNER: return "owner";
    default: return "no role";
  }
}

bool known_role(wharf::v1::Role role) {
  return role == wharf::v1::ROLE_VIEWER || role == wharf::v1::ROLE_DEPLOYER ||
         role == wharf::v1::ROLE_OWNER;
}

std::vector<NewEvent> one(NewEvent event) {
  std::vector<NewEvent> events;
  events.push_back(std::move(event));
  return events;
}

Decision decide_request(const AccessState& state, const RequestPermission& c, const Context& ctx) {
  if (!valid_project_id(c.project_id)) {
    return reject(Code::kInvalidArgument, "project id \"" + c.project_id + "\" is invalid");
  }
  std::string user = c.user.empty() ? ctx.actor.id() : c.user;
  if (user.empty()) return reject(Code::kInvalidArgument, "a permission request needs a user");
  if (!known_role(c.role)) return reject(Code::kInvalidArgument, "a permission request needs a role");
  std::string request_id = c.request_id.empty() ? short_id("pr", ctx.command_id) : c.request_id;
  if (state.pending.count(request_id) || state.decided_requests.count(request_id)) {
    return std::vector<NewEvent>{};  // the same request again
  }
  if (state.holds(user, c.role)) {
    return reject(Code::kAlreadyExists,
                  user + " already holds " + role_name(c.role) + " on " + c.project_id);
  }
  NewEvent event;
  auto* r = event.payload.mutable_permission_requested();
  r->set_request_id(request_id);
  r->set_project_id(c.project_id);
  r->set_user(user);
  r->set_role(c.role);
  r->set_reason(c.reason);
  event.correlation_id = request_id;
  return one(std::move(event));
}

Decision decide_grant(const AccessState& state, const GrantPermission& c, const Context& ctx) {
  std::string user = c.user;
  wharf::v1::Role role = c.role;
  if (!c.request_id.empty()) {
    auto it = state.pending.find(c.request_id);
    if (it == state.pending.end()) {
      if (state.decided_requests.count(c.request_id)) {
        return reject(Code::kInvalidTransition,
                      "permission request " + c.request_id + " was already decided");
      }
      return reject(Code::kNotFound, "no permission request " + c.request_id + " on " +
                                         c.project_id);
    }
    if (user.empty()) user = it->second.user();
    if (role == wharf::v1::ROLE_UNSPECIFIED) role = it->second.role();
  }
  if (!valid_project_id(c.project_id)) {
    return reject(Code::kInvalidArgument, "project id \"" + c.project_id + "\" is invalid");
  }
  if (user.empty()) return reject(Code::kInvalidArgument, "a grant needs a user");
  if (!known_role(role)) return reject(Code::kInvalidArgument, "a grant needs a role");
  if (c.request_id.empty() && state.holds(user, role)) return std::vector<NewEvent>{};
  NewEvent event;
  auto* g = event.payload.mutable_permission_granted();
  g->set_project_id(c.project_id);
  g->set_user(user);
  g->set_role(role);
  g->set_request_id(c.request_id);
  g->set_granted_by(ctx.actor.id());
  event.correlation_id = c.request_id.empty() ? c.project_id : c.request_id;
  return one(std::move(event));
}

Decision decide_deny(const AccessState& state, const DenyPermission& c, const Context& ctx) {
  auto it = state.pending.find(c.request_id);
  if (it == state.pending.end()) {
    if (state.decided_requests.count(c.request_id)) {
      return reject(Code::kInvalidTransition,
                    "permission request " + c.request_id + " was already decided");
    }
    return reject(Code::kNotFound, "no permission request " + c.request_id + " on " +
                                       c.project_id);
  }
  NewEvent event;
  auto* d = event.payload.mutable_permission_denied();
  d->set_request_id(c.request_id);
  d->set_project_id(c.project_id);
  d->set_user(it->second.user());
  d->set_role(it->second.role());
  d->set_denied_by(ctx.actor.id());
  d->set_reason(c.reason);
  event.correlation_id = c.request_id;
  return one(std::move(event));
}

Decision decide_revoke(const AccessState& state, const RevokePermission& c, const Context& ctx) {
  if (!state.holds(c.user, c.role)) {
    return reject(Code::kInvalidTransition, c.user + " does not hold " + role_name(c.role) +
                                                " on " + c.project_id + "; nothing to revoke");
  }
  NewEvent event;
  auto* r = event.payload.mutable_permission_revoked();
  r->set_project_id(c.project_id);
  r->set_user(c.user);
  r->set_role(c.role);
  r->set_revoked_by(ctx.actor.id());
  r->set_reason(c.reason);
  event.correlation_id = c.project_id;
  return one(std::move(event));
}

}  // namespace

bool AccessState::holds(const std::string& user, wharf::v1::Role role) const {
  auto it = roles.find(user);
  return it != roles.end() && it->second.count(role) > 0;
}

wharf::v1::Role AccessState::highest_role(const std::string& user) const {
  auto it = roles.find(user);
  if (it == roles.end() || it->second.empty()) return wharf::v1::ROLE_UNSPECIFIED;
  return *it->second.rbegin();
}

void apply(AccessState& state, const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kPermissionRequested:
      state.project_id = p.permission_requested().project_id();
      state.pending[p.permission_requested().request_id()] = p.permission_requested();
      break;
    case wharf::v1::Payload::kPermissionGranted: {
      const auto& g = p.permission_granted();
      state.project_id = g.project_id();
      state.roles[g.user()].insert(g.role());
      state.ever_granted.insert(g.user() + "#" + std::to_string(g.role()));
      if (!g.request_id().empty()) {
        state.pending.erase(g.request_id());
        state.decided_requests.insert(g.request_id());
      }
      break;
    }
    case wharf::v1::Payload::kPermissionDenied:
      state.pending.erase(p.permission_denied().request_id());
      state.decided_requests.insert(p.permission_denied().request_id());
      break;
    case wharf::v1::Payload::kPermissionRevoked: {
      const auto& r = p.permission_revoked();
      auto it = state.roles.find(r.user());
      if (it != state.roles.end()) {
        it->second.erase(r.role());
        if (it->second.empty()) state.roles.erase(it);
      }
      break;
    }
    default:
      break;
  }
}

Decision decide(const AccessState& state, const Command& command, const Context& context) {
  if (const auto* c = std::get_if<RequestPermission>(&command)) {
    return decide_request(state, *c, context);
  }
  if (const auto* c = std::get_if<GrantPermission>(&command)) return decide_grant(state, *c, context);
  if (const auto* c = std::get_if<DenyPermission>(&command)) return decide_deny(state, *c, context);
  if (const auto* c = std::get_if<RevokePermission>(&command)) {
    return decide_revoke(state, *c, context);
  }
  return reject(Code::kWrongStream,
                std::string(command_name(command)) + " is not decided on an access stream");
}

}  // namespace wharf::engine
