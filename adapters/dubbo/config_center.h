#pragma once
// The Dubbo config center of an environment: the ZooKeeper target its
// target_ref names (docs/targets.md, kind "zookeeper"), resolved through the
// target registry like every other target — its connect string from the
// target's url, its digest credential ("username:password", sealed) opened
// only here, when a rule is about to be written. Nothing of it comes from
// the environment's settings.
#include <string>

#include "adapters/dubbo/zookeeper_rule_store.h"
#include "adapters/targets/probe.h"
#include "adapters/targets/registry.h"
#include "events/expected.h"

namespace wharf::dubbo {

struct ConfigCenter {
  std::string target;  // the target's name
  // Its credential version and url: a rotated credential or a changed url
  // opens a new session (the old one is closed).
  std::string version;
  ZookeeperOptions zookeeper;
};

Expected<ConfigCenter, std::string> config_center_of(const targets::ResolvedTarget& target);
// The ZooKeeper target `target_ref` names, resolved (errors name what is wrong).
Expected<ConfigCenter, std::string> config_center(const targets::TargetResolver& targets,
                                                  const std::string& target_ref);

// The reachability probe of a ZooKeeper target: a session authenticated with
// its credential reads the root (the chroot's, with one).
targets::ProbeResult probe_zookeeper(const targets::ResolvedTarget& target);

}  // namespace wharf::dubbo
