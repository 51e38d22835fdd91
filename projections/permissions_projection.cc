#include "projections/permissions_projection.h"

#include <algorithm>

#include "projections/keys.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

using keys::Key;
using wharf::v1::Payload;
using namespace wharf::views::v1;

namespace {

void change_role(const std::string& project, const std::string& user, wharf::v1::Role role,
                 bool grant, const Envelope& event, StateBatch& state,
                 RoleAssignment* out_assignment) {
  const std::string entity = Key('g').add(project).add(user);
  RoleAssignment a;
  if (!state.latest_message(entity, &a)) {
    a.set_project_id(project);
    a.set_user(user);
    state.append(Key('m').add(project).pos(event.position()).add(user), user);
    state.append(Key('u').add(user).pos(event.position()).add(project), project);
  }
  std::vector<int> roles(a.roles().begin(), a.roles().end());
  roles.erase(std::remove(roles.begin(), roles.end(), static_cast<int>(role)), roles.end());
  if (grant) roles.push_back(role);
  std::sort(roles.begin(), roles.end());
  a.clear_roles();
  for (int r : roles) a.add_roles(static_cast<wharf::v1::Role>(r));
  a.set_role(roles.empty() ? wharf::v1::ROLE_UNSPECIFIED : static_cast<wharf::v1::Role>(roles.back()));
  a.set_last_change(grant ? "granted" : "revoked");
  a.set_updated_at_us(event.recorded_at_us());
  a.set_updated_position(event.position());
  *out_assignment = a;
}

void decide_request(const std::string& request_id, RequestStatus status, const std::string& by,
                    const std::string& reason, const Envelope& event, StateBatch& state) {
  if (request_id.empty()) return;
  const std::string entity = Key('q').add(request_id);
  PermissionRequestView r;
  if (!state.latest_message(entity, &r)) return;
  r.set_status(status);
  r.set_decided_by(by);
  r.set_decision_reason(reason);
  r.set_decided_at_us(event.recorded_at_us());
  state.put_version_message(entity, event.position(), r);
}

}  // namespace

void PermissionsProjection::apply(const Envelope& event, StateBatch& state) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kPermissionRequested: {
      const auto& q = p.permission_requested();
      const std::string entity = Key('q').add(q.request_id());
      PermissionRequestView r;
      if (!state.latest_message(entity, &r)) {
        state.append(Key('o').add(q.project_id()).pos(event.position()), q.request_id());
        state.append(Key('O').pos(event.position()), q.request_id());
        r.set_requested_at_us(event.recorded_at_us());
        r.set_requested_position(event.position());
      }
      r.set_request_id(q.request_id());
      r.set_project_id(q.project_id());
      r.set_user(q.user());
      r.set_role(q.role());
      r.set_reason(q.reason());
      r.set_status(REQUEST_STATUS_PENDING);
      state.put_version_message(entity, event.position(), r);
      break;
    }
    case Payload::kPermissionGranted: {
      const auto& g = p.permission_granted();
      RoleAssignment a;
      change_role(g.project_id(), g.user(), g.role(), true, event, state, &a);
      a.set_changed_by(g.granted_by().empty() ? event.actor().id() : g.granted_by());
      a.set_request_id(g.request_id());
      a.clear_reason();
      state.put_version_message(Key('g').add(g.project_id()).add(g.user()), event.position(), a);
      decide_request(g.request_id(), REQUEST_STATUS_GRANTED, a.changed_by(), "", event, state);
      break;
    }
    case Payload::kPermissionRevoked: {
      const auto& r = p.permission_revoked();
      RoleAssignment a;
      change_role(r.project_id(), r.user(), r.role(), false, event, state, &a);
      a.set_changed_by(r.revoked_by().empty() ? event.actor().id() : r.revoked_by());
      a.clear_request_id();
      a.set_reason(r.reason());
      state.put_version_message(Key('g').add(r.project_id()).add(r.user()), event.position(), a);
      break;
    }
    case Payload::kPermissionDenied: {
      const auto& d = p.permission_denied();
      decide_request(d.request_id(), REQUEST_STATUS_DENIED,
                     d.denied_by().empty() ? event.actor().id() : d.denied_by(), d.reason(), event,
                     state);
      break;
    }
    case Payload::kTokenIssued: {
      const auto& t = p.token_issued();
      const std::string entity = Key('t').add(t.token_id());
      TokenView view;
      if (!state.latest_message(entity, &view)) {
        state.append(Key('T').pos(event.position()), t.token_id());
      }
      view.set_token_id(t.token_id());
      view.set_user(t.user());
      view.set_admin(t.admin());
      view.set_token_sha256(t.token_sha256());
      view.set_expires_at_us(t.expires_at_us());
      view.set_issued_at_us(event.recorded_at_us());
      view.set_position(event.position());
      view.set_issued_by(event.actor().id());
      state.put_version_message(entity, event.position(), view);
      state.put(Key('h').add(t.token_sha256()), t.token_id());
      if (t.admin() && !state.latest(Key('A').add(t.user()))) {
        state.put_version(Key('A').add(t.user()), event.position(), "1");
      }
      break;
    }
    default: break;
  }
}

}  // namespace wharf::projections
