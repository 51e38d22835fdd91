// adapters/dubbo/rules.h and settings.h: the rule paths (both colons), the
// weight arithmetic, the YAML wharf writes, provider URLs, and the settings
// refused with the field named.
#include "adapters/dubbo/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/dubbo/settings.h"

namespace wharf::dubbo {
namespace {

using ::testing::HasSubstr;

TEST(DubboKeys, AServiceKeyAlwaysHasBothColons) {
  EXPECT_EQ(service_key({"demo.Greeter", "", ""}), "demo.Greeter::");
  EXPECT_EQ(service_key({"demo.Greeter", "1.0", ""}), "demo.Greeter:1.0:");
  EXPECT_EQ(service_key({"demo.Greeter", "", "blue"}), "demo.Greeter::blue");
  EXPECT_EQ(configurators_key({"demo.Greeter", "1.0", "blue"}),
            "demo.Greeter:1.0:blue.configurators");
  EXPECT_EQ(rule_path("dubbo", "dubbo", configurators_key({"demo.Greeter", "", ""})),
            "/dubbo/config/dubbo/demo.Greeter::.configurators");
  EXPECT_EQ(rule_path("ns", "grp", tag_router_key("greeter-provider")),
            "/ns/config/grp/greeter-provider.tag-router");
}

TEST(DubboWeight, TheCanaryWeightGivesTheShareForTheInstanceCounts) {
  // One of each at 25%: 25·1·100 / (75·1) = 33.3 -> 33 (measured 25.4%).
  EXPECT_EQ(canary_weight(25, 1, 1), 33u);
  EXPECT_EQ(canary_weight(50, 1, 1), 100u);
  EXPECT_EQ(canary_weight(10, 3, 1), 33u);  // 10·3·100/(90·1)
  EXPECT_EQ(canary_weight(50, 2, 4), 50u);  // 50·2·100/(50·4)
  EXPECT_EQ(canary_weight(1, 1, 10), 1u);   // 0.1 rounds up to the least weight
  EXPECT_EQ(canary_weight(0, 1, 1), 0u);
  EXPECT_EQ(canary_weight(25, 1, 0), 0u);
  EXPECT_EQ(canary_weight(100, 1, 1), 100'000u);
  // The share the weights give back is the step's.
  for (uint32_t share : {5u, 10u, 25u, 50u, 75u, 90u}) {
    const double w = canary_weight(share, 2, 1);
    EXPECT_NEAR(w / (w + 200.0) * 100.0, share, 0.5) << share;
  }
}

TEST(DubboRules, TheWeightRuleNamesTheCanaryAddressesAndItsOwner) {
  const std::string y =
      render_weight_rule("c-1", {"demo.Greeter", "", ""}, {"198.51.100.10:20881"}, 33);
  EXPECT_EQ(y,
            "# wharf canary c-1\n"
            "configVersion: v3.0\n"
            "scope: service\n"
            "key: \"demo.Greeter\"\n"
            "enabled: true\n"
            "configs:\n"
            "  - side: provider\n"
            "    addresses:\n"
            "      - \"198.51.100.10:20881\"\n"
            "    parameters:\n"
            "      weight: 33\n");
  EXPECT_TRUE(owned_by(y, "c-1"));
  EXPECT_FALSE(owned_by(y, "c-2"));
  EXPECT_THAT(render_weight_rule("c", {"demo.Greeter", "1.0", "blue"}, {"a:1"}, 1),
              HasSubstr("key: \"blue/demo.Greeter:1.0\"\n"));
}

TEST(DubboRules, TheTagRuleMatchesTheCanaryLabelAndSaysForce) {
  const std::string y = render_tag_rule("c-1", "greeter", "canary", {"env", "canary"}, true);
  EXPECT_EQ(y,
            "# wharf canary c-1\n"
            "configVersion: v3.0\n"
            "force: true\n"
            "enabled: true\n"
            "runtime: true\n"
            "priority: 1\n"
            "key: \"greeter\"\n"
            "tags:\n"
            "  - name: \"canary\"\n"
            "    match:\n"
            "      - key: \"env\"\n"
            "        value:\n"
            "          exact: \"canary\"\n");
  EXPECT_THAT(render_tag_rule("c-1", "g", "t", {"k", "v"}, false), HasSubstr("force: false\n"));
}

TEST(DubboProviders, ARegistryChildIsDecodedIntoAddressAndParameters) {
  auto p = parse_provider(
      "tri%3A%2F%2F198.51.100.10%3A20881%2Fdemo.Greeter%3Fapplication%3Dgreeter%26env%3Dcanary"
      "%26interface%3Ddemo.Greeter");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address, "198.51.100.10:20881");
  EXPECT_EQ(p->params.at("env"), "canary");
  EXPECT_EQ(p->params.at("application"), "greeter");
  EXPECT_FALSE(parse_provider("not-a-url"));
  EXPECT_FALSE(parse_provider("dubbo%3A%2F%2Fhost-without-port%2Fx"));
}

TEST(DubboLabels, ALabelIsKeyEqualsValue) {
  auto l = parse_label("env=canary");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->key, "env");
  EXPECT_EQ(l->value, "canary");
  EXPECT_FALSE(parse_label("env"));
  EXPECT_FALSE(parse_label("=x"));
  EXPECT_FALSE(parse_label("env=a b"));
}

// `kv`, naming the config center "zk" unless `kv` does.
google::protobuf::Map<std::string, std::string> settings(
    std::initializer_list<std::pair<const std::string, std::string>> kv) {
  google::protobuf::Map<std::string, std::string> m;
  m["dubbo_config_center"] = "zk";
  for (const auto& [k, v] : kv) m[k] = v;
  return m;
}

TEST(DubboSettings, DefaultsAndThePathOfEachRoute) {
  auto s = parse_settings(settings({{"dubbo_interface", "demo.Greeter"}}));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->config_center, "zk");
  EXPECT_EQ(s->path(), "/dubbo/config/dubbo/demo.Greeter::.configurators");
  EXPECT_EQ(s->kind(), "configurators");
  EXPECT_EQ(s->providers_path(), "/dubbo/demo.Greeter/providers");
  EXPECT_TRUE(s->force);
  auto t = parse_settings(settings(
      {{"dubbo_route", "tag"}, {"dubbo_application", "greeter"}, {"dubbo_tag_force", "false"}}));
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->path(), "/dubbo/config/dubbo/greeter.tag-router");
  EXPECT_FALSE(t->force);
}

TEST(DubboSettings, ABadSettingIsRefusedNamingTheField) {
  auto field = [](std::initializer_list<std::pair<const std::string, std::string>> kv) {
    auto s = parse_settings(settings(kv));
    return s ? std::string("accepted") : s.error().field;
  };
  EXPECT_EQ(field({}), "settings.dubbo_interface");
  EXPECT_EQ(field({{"dubbo_interface", "demo.Greeter"}, {"dubbo_route", "both"}}),
            "settings.dubbo_route");
  EXPECT_EQ(field({{"dubbo_route", "tag"}}), "settings.dubbo_application");
  EXPECT_EQ(field({{"dubbo_interface", "a.B"}, {"dubbo_route", "condition"}}),
            "settings.dubbo_route");
  EXPECT_EQ(field({{"dubbo_interface", "demo Greeter"}}), "settings.dubbo_interface");
  EXPECT_EQ(field({{"dubbo_interface", "a.B"}, {"dubbo_canary_label", "canary"}}),
            "settings.dubbo_canary_label");
  EXPECT_EQ(field({{"dubbo_interface", "a.B"}, {"dubbo_tag_force", "yes"}}),
            "settings.dubbo_tag_force");
  EXPECT_EQ(field({{"dubbo_interface", "a.B"}, {"dubbo_user_rule", "keep"}}),
            "settings.dubbo_user_rule");
  // The config center is a target that settings.dubbo_config_center names,
  // never a connect string.
  EXPECT_EQ(field({{"dubbo_interface", "a.B"}, {"dubbo_config_center", ""}}),
            "settings.dubbo_config_center");
  EXPECT_EQ(field({{"dubbo_interface", "a.B"}, {"dubbo_zookeeper", "zk:2181"}}),
            "settings.dubbo_zookeeper");
}

}  // namespace
}  // namespace wharf::dubbo
