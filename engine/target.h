#pragma once
// The Target aggregate (stream "target-<name>", docs/targets.md): a machine
// or service wharf acts on, its non-secret spec, the version of its sealed
// credential and the probe's last verdict. Whether the actor may change
// targets (admins only) is checked by the API before the command is issued.
#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <string_view>

#include "engine/decision.h"

namespace wharf::engine {

struct TargetState {
  std::string name;
  bool registered = false;  // false before registration and after removal
  wharf::v1::TargetSpec spec;
  // The last credential version this name ever had (survives removal, so a
  // re-registered target never reuses a version) and whether the current
  // registration holds one.
  uint32_t credential_version = 0;
  // The probe's recorded verdict.
  bool health_known = false;
  bool reachable = false;
  std::string server_version;
  std::string health_error;
  int64_t health_changed_at_us = 0;
};

void apply(TargetState& state, const wharf::v1::Envelope& event);
// Decides RegisterTarget, UpdateTarget, RotateTargetCredentials, RemoveTarget,
// ObserveTargetHealth.
Decision decide(const TargetState& state, const Command& command, const Context& context);

// [A-Za-z0-9._-]{1,64} not starting with "." (it names files of the sealed store).
bool valid_target_name(std::string_view name);
// "kubernetes", "portainer", "jenkins", "zookeeper" <-> TargetKind; UNSPECIFIED otherwise.
const char* target_kind_name(wharf::v1::TargetKind kind);
wharf::v1::TargetKind target_kind_from_name(std::string_view name);
// "none", "bearer_token", "service_account", "client_cert", "api_key",
// "user_password", "user_token" <-> CredentialKind.
const char* credential_kind_name(wharf::v1::CredentialKind kind);
bool credential_kind_from_name(std::string_view name, wharf::v1::CredentialKind& out);
// Whether `kind` of credential is one a target of `target` kind can use.
bool credential_fits(wharf::v1::TargetKind target, wharf::v1::CredentialKind kind);

// A ZooKeeper target's url zookeeper://host:port[,host:port...][/chroot] as
// the client's connect string ("host:port,...[/chroot]"); nullopt when the
// url is not of that form.
std::optional<std::string> zookeeper_connect_string(std::string_view url);

// Whether a settings key names a credential: token, password, api_key,
// secret, or ends in _token, _password, _key, _secret (case-insensitive).
// Such settings are refused on new environments and masked in old events.
bool credential_named(std::string_view key);

// Old events (before targets) may hold credentials in settings. The read
// paths show them masked and exports leave such events out as hash-only
// placeholders (docs/targets.md#the-past):
// a settings map is a map<string, string> field named "settings" or
// "target_settings" (EnvironmentSpec, DeploySpec, anywhere they are nested).
bool is_settings_map(const google::protobuf::FieldDescriptor* field);
inline constexpr const char* kMasked = "redacted";
// Sets every credential-named value of every settings map in `message` to
// kMasked, and a GerritSource's webhook_secret_sha256 too; returns how many.
int mask_credentials(google::protobuf::Message& message);
// Whether `message` holds anything mask_credentials would mask.
bool holds_credentials(const google::protobuf::Message& message);

}  // namespace wharf::engine
