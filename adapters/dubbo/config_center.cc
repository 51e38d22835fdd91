#include "adapters/dubbo/config_center.h"

#include "engine/target.h"

namespace wharf::dubbo {

Expected<ConfigCenter, std::string> config_center_of(const targets::ResolvedTarget& target) {
  const auto& spec = target.spec;
  auto connect = engine::zookeeper_connect_string(spec.url());
  if (!connect) {
    return unexpected("target " + spec.name() + ": url " + spec.url() +
                      " is not zookeeper://host:port[,host:port...][/chroot]");
  }
  ConfigCenter c;
  c.target = spec.name();
  c.version = std::to_string(target.credential_version) + " " + spec.url();
  c.zookeeper.connect = *connect;
  if (spec.credential() == wharf::v1::CREDENTIAL_KIND_USER_PASSWORD) {
    if (target.user.empty() || target.user.find(':') != std::string::npos) {
      return unexpected("target " + spec.name() +
                        ": a ZooKeeper digest credential needs a username without ':'");
    }
    c.zookeeper.digest = target.user + ":" + target.password;
  }
  return c;
}

Expected<ConfigCenter, std::string> config_center(const targets::TargetResolver& targets,
                                                  const std::string& target_ref) {
  auto target = targets::resolve_named(targets, target_ref, wharf::v1::TARGET_KIND_ZOOKEEPER);
  if (!target) return unexpected(target.error());
  return config_center_of(*target);
}

targets::ProbeResult probe_zookeeper(const targets::ResolvedTarget& target) {
  auto center = config_center_of(target);
  if (!center) return {false, "", center.error()};
  ZookeeperRuleStore store(center->zookeeper);
  auto read = store.ping();
  if (!read) return {false, "", read.error().message};
  return {true, "", ""};
}

}  // namespace wharf::dubbo
