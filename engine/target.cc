#include "engine/target.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;
using wharf::v1::CredentialKind;
using wharf::v1::TargetKind;

std::vector<NewEvent> one(NewEvent event) {
  std::vector<NewEvent> events;
  events.push_back(std::move(event));
  return events;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// What every spec must hold; the name must be the stream's.
std::optional<Rejection> check_spec(const TargetState& state, const wharf::v1::TargetSpec& spec) {
  if (!valid_target_name(spec.name())) {
    return Rejection{Code::kInvalidArgument,
                     "target name \"" + spec.name() + "\" is invalid ([A-Za-z0-9._-]{1,64})"};
  }
  if (!state.name.empty() && state.name != spec.name()) {
    return Rejection{Code::kWrongStream, "target " + spec.name() + " is not " + state.name};
  }
  if (spec.kind() == wharf::v1::TARGET_KIND_UNSPECIFIED) {
    return Rejection{
        Code::kInvalidArgument,
        "target " + spec.name() + " needs a kind (kubernetes, portainer, jenkins, zookeeper)"};
  }
  const std::string& url = spec.url();
  if (spec.kind() == wharf::v1::TARGET_KIND_ZOOKEEPER) {
    if (!zookeeper_connect_string(url)) {
      return Rejection{Code::kInvalidArgument,
                       "zookeeper target " + spec.name() +
                           " needs a url zookeeper://host:port[,host:port...][/chroot]"};
    }
  } else if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return Rejection{Code::kInvalidArgument,
                     "target " + spec.name() + " needs an http:// or https:// url"};
  }
  if (!credential_fits(spec.kind(), spec.credential())) {
    return Rejection{Code::kInvalidArgument,
                     std::string("a ") + target_kind_name(spec.kind()) + " target cannot use a " +
                         credential_kind_name(spec.credential()) + " credential"};
  }
  if (spec.kind() == wharf::v1::TARGET_KIND_PORTAINER && spec.endpoint_id().empty()) {
    return Rejection{Code::kInvalidArgument,
                     "portainer target " + spec.name() + " needs an endpoint_id"};
  }
  return std::nullopt;
}

bool holds_credential(CredentialKind kind) {
  // The in-cluster service account is read from the pod, not sealed.
  return kind != wharf::v1::CREDENTIAL_KIND_NONE &&
         kind != wharf::v1::CREDENTIAL_KIND_SERVICE_ACCOUNT;
}

Decision decide_register(const TargetState& state, const RegisterTarget& c) {
  if (auto refused = check_spec(state, c.spec)) return unexpected(*refused);
  if (state.registered) {
    if (google::protobuf::util::MessageDifferencer::Equals(state.spec, c.spec) &&
        c.credential_version == state.credential_version) {
      return std::vector<NewEvent>{};  // the same registration again
    }
    return reject(Code::kAlreadyExists, "target " + c.spec.name() +
                                            " is registered already; update it or rotate its "
                                            "credentials");
  }
  const uint32_t expected =
      holds_credential(c.spec.credential()) ? state.credential_version + 1 : 0;
  if (c.credential_version != expected) {
    return reject(Code::kInvalidTransition, "target " + c.spec.name() + ": credential version " +
                                                std::to_string(c.credential_version) +
                                                " is not the next one (" +
                                                std::to_string(expected) + ")");
  }
  NewEvent event;
  auto* r = event.payload.mutable_target_registered();
  *r->mutable_target() = c.spec;
  r->set_credential_version(c.credential_version);
  r->set_reason(c.reason);
  event.correlation_id = "target-" + c.spec.name();
  return one(std::move(event));
}

Decision decide_update(const TargetState& state, const UpdateTarget& c) {
  if (!state.registered) return reject(Code::kNotFound, "no target " + c.spec.name());
  if (auto refused = check_spec(state, c.spec)) return unexpected(*refused);
  if (c.spec.credential() != state.spec.credential()) {
    return reject(Code::kInvalidArgument,
                  "target " + c.spec.name() + " holds a " +
                      credential_kind_name(state.spec.credential()) +
                      " credential; a credential of another kind comes with a rotation");
  }
  if (google::protobuf::util::MessageDifferencer::Equals(state.spec, c.spec)) {
    return std::vector<NewEvent>{};
  }
  NewEvent event;
  auto* u = event.payload.mutable_target_updated();
  *u->mutable_target() = c.spec;
  u->set_reason(c.reason);
  event.correlation_id = "target-" + c.spec.name();
  return one(std::move(event));
}

Decision decide_rotate(const TargetState& state, const RotateTargetCredentials& c) {
  if (!state.registered) return reject(Code::kNotFound, "no target " + c.name);
  if (!credential_fits(state.spec.kind(), c.credential) || !holds_credential(c.credential)) {
    return reject(Code::kInvalidArgument, std::string("a ") + target_kind_name(state.spec.kind()) +
                                              " target cannot use a sealed " +
                                              credential_kind_name(c.credential) + " credential");
  }
  if (c.credential_version != state.credential_version + 1) {
    return reject(Code::kInvalidTransition,
                  "the credentials of target " + c.name + " changed meanwhile (version " +
                      std::to_string(state.credential_version) + "); try again");
  }
  NewEvent event;
  auto* r = event.payload.mutable_target_credentials_rotated();
  r->set_name(c.name);
  r->set_credential_version(c.credential_version);
  r->set_credential(c.credential);
  r->set_reason(c.reason);
  event.correlation_id = "target-" + c.name;
  return one(std::move(event));
}

Decision decide_remove(const TargetState& state, const RemoveTarget& c) {
  if (!state.registered) return reject(Code::kNotFound, "no target " + c.name);
  if (!c.used_by.empty()) {
    std::string list;
    for (const auto& u : c.used_by) list += (list.empty() ? "" : ", ") + u;
    return reject(Code::kInvalidTransition,
                  "target " + c.name + " is in use by " + list +
                      "; point those environments at another target first");
  }
  NewEvent event;
  auto* r = event.payload.mutable_target_removed();
  r->set_name(c.name);
  r->set_reason(c.reason);
  event.correlation_id = "target-" + c.name;
  return one(std::move(event));
}

Decision decide_health(const TargetState& state, const ObserveTargetHealth& c) {
  if (!state.registered) return reject(Code::kStale, "no target " + c.name);
  if (state.health_known && state.reachable == c.reachable &&
      (!c.reachable || state.server_version == c.server_version)) {
    return std::vector<NewEvent>{};  // no change
  }
  NewEvent event;
  auto* h = event.payload.mutable_target_health_changed();
  h->set_name(c.name);
  h->set_reachable(c.reachable);
  h->set_server_version(c.server_version);
  h->set_error(c.reachable ? std::string() : c.error);
  event.correlation_id = "target-" + c.name;
  return one(std::move(event));
}

}  // namespace

bool valid_target_name(std::string_view name) {
  return valid_project_id(name) && name.front() != '.';  // never "." or ".." (a file name)
}

const char* target_kind_name(TargetKind kind) {
  switch (kind) {
    case wharf::v1::TARGET_KIND_KUBERNETES:
      return "kubernetes";
    case wharf::v1::TARGET_KIND_PORTAINER:
      return "portainer";
    case wharf::v1::TARGET_KIND_JENKINS:
      return "jenkins";
    case wharf::v1::TARGET_KIND_ZOOKEEPER:
      return "zookeeper";
    default:
      return "";
  }
}

TargetKind target_kind_from_name(std::string_view name) {
  if (name == "kubernetes") return wharf::v1::TARGET_KIND_KUBERNETES;
  if (name == "portainer" || name == "swarm") return wharf::v1::TARGET_KIND_PORTAINER;
  if (name == "jenkins") return wharf::v1::TARGET_KIND_JENKINS;
  if (name == "zookeeper") return wharf::v1::TARGET_KIND_ZOOKEEPER;
  return wharf::v1::TARGET_KIND_UNSPECIFIED;
}

namespace {
struct KindName {
  CredentialKind kind;
  const char* name;
};
constexpr KindName kCredentialNames[] = {
    {wharf::v1::CREDENTIAL_KIND_NONE, "none"},
    {wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN, "bearer_token"},
    {wharf::v1::CREDENTIAL_KIND_SERVICE_ACCOUNT, "service_account"},
    {wharf::v1::CREDENTIAL_KIND_CLIENT_CERT, "client_cert"},
    {wharf::v1::CREDENTIAL_KIND_API_KEY, "api_key"},
    {wharf::v1::CREDENTIAL_KIND_USER_PASSWORD, "user_password"},
    {wharf::v1::CREDENTIAL_KIND_USER_TOKEN, "user_token"},
};
}  // namespace

const char* credential_kind_name(CredentialKind kind) {
  for (const auto& k : kCredentialNames) {
    if (k.kind == kind) return k.name;
  }
  return "unknown";
}

bool credential_kind_from_name(std::string_view name, CredentialKind& out) {
  for (const auto& k : kCredentialNames) {
    if (name == k.name) {
      out = k.kind;
      return true;
    }
  }
  return false;
}

bool credential_fits(TargetKind target, CredentialKind kind) {
  switch (target) {
    case wharf::v1::TARGET_KIND_KUBERNETES:
      return kind == wharf::v1::CREDENTIAL_KIND_NONE ||
             kind == wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN ||
             kind == wharf::v1::CREDENTIAL_KIND_SERVICE_ACCOUNT ||
             kind == wharf::v1::CREDENTIAL_KIND_CLIENT_CERT;
    case wharf::v1::TARGET_KIND_PORTAINER:
      return kind == wharf::v1::CREDENTIAL_KIND_API_KEY ||
             kind == wharf::v1::CREDENTIAL_KIND_USER_PASSWORD;
    case wharf::v1::TARGET_KIND_JENKINS:
      return kind == wharf::v1::CREDENTIAL_KIND_NONE ||
             kind == wharf::v1::CREDENTIAL_KIND_USER_TOKEN;
    case wharf::v1::TARGET_KIND_ZOOKEEPER:  // digest auth (username:password) or open
      return kind == wharf::v1::CREDENTIAL_KIND_NONE ||
             kind == wharf::v1::CREDENTIAL_KIND_USER_PASSWORD;
    default:
      return false;
  }
}

std::optional<std::string> zookeeper_connect_string(std::string_view url) {
  constexpr std::string_view scheme = "zookeeper://";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  const std::string_view rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  const std::string_view hosts = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    // A chroot: /segment[/segment...], no empty segment, no trailing slash.
    const std::string_view chroot = rest.substr(slash);
    if (chroot.size() < 2 || chroot.back() == '/' || chroot.find("//") != std::string_view::npos) {
      return std::nullopt;
    }
    for (char c : chroot) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '.' && c != '-' &&
          c != '_') {
        return std::nullopt;
      }
    }
  }
  // host:port[,host:port...]; a host is a name, an IPv4 address or [IPv6].
  size_t start = 0;
  while (true) {
    const size_t comma = hosts.find(',', start);
    const std::string_view one = hosts.substr(start, comma - start);
    const size_t colon = one.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == one.size()) {
      return std::nullopt;
    }
    for (char c : one.substr(colon + 1)) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    }
    for (char c : one.substr(0, colon)) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
          c != '[' && c != ']' && c != ':') {
        return std::nullopt;
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return std::string(rest);
}

bool credential_named(std::string_view key) {
  const std::string k = lower(key);
  if (k == "token" || k == "password" || k == "api_key" || k == "secret" || k == "apikey" ||
      k == "passwd") {
    return true;
  }
  // "_digest": ZooKeeper's digest scheme takes "user:password" in clear.
  return ends_with(k, "_token") || ends_with(k, "_password") || ends_with(k, "_key") ||
         ends_with(k, "_secret") || ends_with(k, "_digest");
}

bool is_settings_map(const google::protobuf::FieldDescriptor* field) {
  using FD = google::protobuf::FieldDescriptor;
  if (!field->is_map() || (field->name() != "settings" && field->name() != "target_settings")) {
    return false;
  }
  const auto* entry = field->message_type();
  return entry->map_key()->cpp_type() == FD::CPPTYPE_STRING &&
         entry->map_value()->cpp_type() == FD::CPPTYPE_STRING;
}

namespace {

// Walks `message` (reflection); with `mask` set, masks as it goes. Returns
// how many values were (or would be) masked.
int walk_credentials(const google::protobuf::Message& message, google::protobuf::Message* mask) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* r = message.GetReflection();
  int found = 0;
  std::vector<const FD*> fields;
  r->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() != FD::CPPTYPE_MESSAGE) {
      if (field->name() == "webhook_secret_sha256" && !field->is_repeated() &&
          field->cpp_type() == FD::CPPTYPE_STRING) {
        const std::string value = r->GetString(message, field);
        if (!value.empty() && value != kMasked) {
          ++found;
          if (mask) mask->GetReflection()->SetString(mask, field, kMasked);
        }
      }
      continue;
    }
    if (is_settings_map(field)) {
      const int n = r->FieldSize(message, field);
      for (int i = 0; i < n; ++i) {
        const auto& entry = r->GetRepeatedMessage(message, field, i);
        const auto* er = entry.GetReflection();
        const auto* key = entry.GetDescriptor()->map_key();
        const auto* value = entry.GetDescriptor()->map_value();
        if (!credential_named(er->GetString(entry, key)) ||
            er->GetString(entry, value) == kMasked) {
          continue;
        }
        ++found;
        if (mask) {
          auto* m = mask->GetReflection()->MutableRepeatedMessage(mask, field, i);
          m->GetReflection()->SetString(m, value, kMasked);
        }
      }
      continue;
    }
    if (field->is_repeated()) {
      const int n = r->FieldSize(message, field);
      for (int i = 0; i < n; ++i) {
        found += walk_credentials(
            r->GetRepeatedMessage(message, field, i),
            mask ? mask->GetReflection()->MutableRepeatedMessage(mask, field, i) : nullptr);
      }
    } else {
      found +=
          walk_credentials(r->GetMessage(message, field),
                           mask ? mask->GetReflection()->MutableMessage(mask, field) : nullptr);
    }
  }
  return found;
}

}  // namespace

int mask_credentials(google::protobuf::Message& message) {
  return walk_credentials(message, &message);
}

bool holds_credentials(const google::protobuf::Message& message) {
  return walk_credentials(message, nullptr) > 0;
}

void apply(TargetState& state, const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kTargetRegistered: {
      const auto& r = p.target_registered();
      state.name = r.target().name();
      state.registered = true;
      state.spec = r.target();
      state.credential_version = std::max(state.credential_version, r.credential_version());
      state.health_known = false;
      state.reachable = false;
      state.server_version.clear();
      state.health_error.clear();
      break;
    }
    case wharf::v1::Payload::kTargetUpdated:
      state.spec = p.target_updated().target();
      break;
    case wharf::v1::Payload::kTargetCredentialsRotated: {
      const auto& r = p.target_credentials_rotated();
      state.credential_version = r.credential_version();
      state.spec.set_credential(r.credential());
      break;
    }
    case wharf::v1::Payload::kTargetRemoved:
      state.registered = false;
      break;
    case wharf::v1::Payload::kTargetHealthChanged: {
      const auto& h = p.target_health_changed();
      state.health_known = true;
      state.reachable = h.reachable();
      state.server_version = h.server_version();
      state.health_error = h.error();
      state.health_changed_at_us = event.occurred_at_us();
      break;
    }
    default:
      break;
  }
}

Decision decide(const TargetState& state, const Command& command, const Context&) {
  if (const auto* c = std::get_if<RegisterTarget>(&command)) return decide_register(state, *c);
  if (const auto* c = std::get_if<UpdateTarget>(&command)) return decide_update(state, *c);
  if (const auto* c = std::get_if<RotateTargetCredentials>(&command)) {
    return decide_rotate(state, *c);
  }
  if (const auto* c = std::get_if<RemoveTarget>(&command)) return decide_remove(state, *c);
  if (const auto* c = std::get_if<ObserveTargetHealth>(&command)) return decide_health(state, *c);
  return reject(Code::kWrongStream, "not a target command");
}

}  // namespace wharf::engine
