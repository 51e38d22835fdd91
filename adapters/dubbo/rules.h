#pragma once
// The Dubbo traffic rules wharf writes for a canary (docs/canary.md#dubbo):
// where they live, what they say, and the weight arithmetic. Pure: no I/O.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace wharf::dubbo {

// Every rule wharf writes starts with this line and the canary's id, so a
// rule found in the config center after a crash is known to be wharf's.
inline constexpr char kOwnerMarker[] = "# wharf canary ";

struct ServiceKey {
  std::string interface;
  std::string version;
  std::string group;
};

// "<interface>:<version>:<group>", both colons always present
// ("demo.Greeter::" for no version and no group).
std::string service_key(const ServiceKey& service);

// "/<namespace>/config/<config_group>/<key>".
std::string rule_path(const std::string& ns, const std::string& config_group,
                      const std::string& key);
// "<interface>:<version>:<group>.configurators".
std::string configurators_key(const ServiceKey& service);
// "<provider application>.tag-router".
std::string tag_router_key(const std::string& application);

// The Dubbo weight of each canary instance so that `share` percent of the
// calls reach the canary, the `stable` instances keeping weight `base`:
// share·stable·base / ((100−share)·canary), rounded, at least 1 for a share
// above 0. 0 for share 0 or no canary instance; for share 100 (or no stable
// instance) the largest weight Dubbo takes is not needed: `base`·1000.
uint32_t canary_weight(uint32_t share, size_t stable, size_t canary, uint32_t base = 100);

// A provider as the registry lists it (a URL-encoded child of
// /<namespace>/<interface>/providers).
struct Provider {
  std::string address;  // "host:port"
  std::map<std::string, std::string> params;
};
std::optional<Provider> parse_provider(const std::string& encoded_url);

// A label "key=value" (DUBBO_LABELS' form); nullopt when it is not one.
struct Label {
  std::string key;
  std::string value;
};
std::optional<Label> parse_label(const std::string& text);

// The first line of each rule: kOwnerMarker + canary id.
std::string owner_line(const std::string& canary_id);
// True when `yaml` is a rule wharf wrote for `canary_id`.
bool owned_by(const std::string& yaml, const std::string& canary_id);

// A service-scope configurators rule giving `addresses` the Dubbo `weight`.
std::string render_weight_rule(const std::string& canary_id, const ServiceKey& service,
                               const std::vector<std::string>& addresses, uint32_t weight);
// A tag router rule: calls carrying dubbo.tag=`tag` go to the instances
// labelled `label`; untagged calls never do (`force`: a tagged call with no
// such instance fails instead of falling back).
std::string render_tag_rule(const std::string& canary_id, const std::string& application,
                            const std::string& tag, const Label& label, bool force);

}  // namespace wharf::dubbo
