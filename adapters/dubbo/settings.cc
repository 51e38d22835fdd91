#include "adapters/dubbo/settings.h"

#include <cctype>

#include "adapters/targets/references.h"

namespace wharf::dubbo {

namespace {

// Characters a Dubbo interface, version, group, application or tag may hold.
bool plain(const std::string& s, const char* extra) {
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string(extra).find(c) == std::string::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string DubboSettings::path() const {
  return rule_path(ns, config_group,
                   route == "tag" ? tag_router_key(application) : configurators_key(service));
}

Expected<DubboSettings, SettingError> parse_settings(
    const google::protobuf::Map<std::string, std::string>& settings) {
  DubboSettings d;
  auto get = [&](const char* key) -> const std::string* {
    auto it = settings.find(key);
    return it == settings.end() || it->second.empty() ? nullptr : &it->second;
  };
  auto bad = [](const char* key, std::string why) {
    return unexpected(SettingError{std::string("settings.") + key, std::move(why)});
  };
  if (get("dubbo_zookeeper")) {
    return bad("dubbo_zookeeper",
               "the config center is a target: register the ZooKeeper (POST /api/v1/targets, "
               "kind \"zookeeper\", url zookeeper://host:port) and name it with "
               "settings.dubbo_config_center");
  }
  if (const auto* v = get(targets::kDubboConfigCenterSetting)) {
    d.config_center = *v;
  } else {
    return bad(targets::kDubboConfigCenterSetting,
               "a Dubbo canary names its config center: register the ZooKeeper as a target "
               "(kind \"zookeeper\", docs/targets.md) and name it here");
  }
  for (auto [key, field] :
       {std::pair{"dubbo_namespace", &d.ns}, std::pair{"dubbo_config_group", &d.config_group}}) {
    if (const auto* v = get(key)) {
      if (!plain(*v, ".-_")) return bad(key, "may hold letters, digits, '.', '-', '_' only");
      *field = *v;
    }
  }
  if (const auto* v = get("dubbo_route")) {
    if (*v != "weight" && *v != "tag") return bad("dubbo_route", "must be \"weight\" or \"tag\"");
    d.route = *v;
  }
  if (const auto* v = get("dubbo_interface")) {
    if (!plain(*v, ".$_")) return bad("dubbo_interface", "must be a Java interface name");
    d.service.interface = *v;
  } else if (d.route != "tag") {
    return bad("dubbo_interface", "a weighted Dubbo canary needs the service's interface");
  }
  for (auto [key, field] : {std::pair{"dubbo_version", &d.service.version},
                            std::pair{"dubbo_group", &d.service.group}}) {
    if (const auto* v = get(key)) {
      if (!plain(*v, ".-_")) return bad(key, "may hold letters, digits, '.', '-', '_' only");
      *field = *v;
    }
  }
  if (const auto* v = get("dubbo_application")) {
    if (!plain(*v, ".-_"))
      return bad("dubbo_application", "may hold letters, digits, '.', '-', '_' only");
    d.application = *v;
  } else if (d.route == "tag") {
    return bad("dubbo_application", "a flagged Dubbo canary needs the provider's application name");
  }
  if (const auto* v = get("dubbo_canary_label")) {
    auto l = parse_label(*v);
    if (!l) return bad("dubbo_canary_label", "must be key=value (letters, digits, '.', '-', '_')");
    d.label = *l;
  }
  if (const auto* v = get("dubbo_tag")) {
    if (!plain(*v, ".-_")) return bad("dubbo_tag", "may hold letters, digits, '.', '-', '_' only");
    d.tag = *v;
  }
  if (const auto* v = get("dubbo_tag_force")) {
    if (*v != "true" && *v != "false") return bad("dubbo_tag_force", "must be true or false");
    d.force = *v == "true";
  }
  if (const auto* v = get("dubbo_user_rule")) {
    if (*v != "restore" && *v != "refuse") {
      return bad("dubbo_user_rule", "must be \"restore\" or \"refuse\"");
    }
    d.refuse_user_rule = *v == "refuse";
  }
  return d;
}

}  // namespace wharf::dubbo
