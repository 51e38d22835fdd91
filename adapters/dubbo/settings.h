#pragma once
// The environment settings of a Dubbo canary (canary.mode "dubbo",
// docs/canary.md#dubbo), read from the deploy spec's target settings and
// checked when the environment is defined (a bad one is a 400 naming it).
#include <google/protobuf/map.h>

#include <map>
#include <string>

#include "adapters/dubbo/rules.h"
#include "events/expected.h"

namespace wharf::dubbo {

// The config center itself (ZooKeeper's connect string, its digest
// credential) is a registered target (kind zookeeper) that
// settings.dubbo_config_center names (config_center.h): the environment's
// target_ref names where its instances run (local, Kubernetes, Swarm).
struct DubboSettings {
  std::string config_center;           // dubbo_config_center: the ZooKeeper target's name
  std::string ns = "dubbo";            // dubbo_namespace
  std::string config_group = "dubbo";  // dubbo_config_group
  ServiceKey service;                  // dubbo_interface, dubbo_version, dubbo_group
  std::string application;             // dubbo_application (the provider's)
  std::string route = "weight";        // dubbo_route: "weight" or "tag"
  Label label{"env", "canary"};        // dubbo_canary_label
  std::string tag = "canary";          // dubbo_tag: the dubbo.tag value of flagged calls
  bool force = true;                   // dubbo_tag_force
  bool refuse_user_rule = false;       // dubbo_user_rule: "restore" (default) or "refuse"

  // The node this canary's rule lives at.
  std::string path() const;
  // "configurators" or "tag-router".
  std::string kind() const { return route == "tag" ? "tag-router" : "configurators"; }
  // Where the registry lists the service's providers.
  std::string providers_path() const { return "/" + ns + "/" + service.interface + "/providers"; }
};

struct SettingError {
  std::string field;  // e.g. "settings.dubbo_interface"
  std::string message;
};

// Reads the dubbo_* settings. settings.dubbo_zookeeper (before the config
// center became a target) is refused, naming the target to register instead;
// settings.dubbo_config_center is required.
Expected<DubboSettings, SettingError> parse_settings(
    const google::protobuf::Map<std::string, std::string>& settings);

}  // namespace wharf::dubbo
