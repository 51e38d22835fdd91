#include "adapters/dubbo/rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace wharf::dubbo {

namespace {

// A YAML double-quoted scalar.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string service_key(const ServiceKey& s) {
  return s.interface + ":" + s.version + ":" + s.group;
}

std::string rule_path(const std::string& ns, const std::string& config_group,
                      const std::string& key) {
  return "/" + ns + "/config/" + config_group + "/" + key;
}

std::string configurators_key(const ServiceKey& s) {
  return service_key(s) + ".configurators";
}

std::string tag_router_key(const std::string& application) {
  return application + ".tag-router";
}

uint32_t canary_weight(uint32_t share, size_t stable, size_t canary, uint32_t base) {
  if (share == 0 || canary == 0) return 0;
  if (share >= 100 || stable == 0) return base * 1000;
  const double w =
      double(share) * double(stable) * double(base) / (double(100 - share) * double(canary));
  return std::max<uint32_t>(1, static_cast<uint32_t>(std::lround(w)));
}

std::optional<Provider> parse_provider(const std::string& encoded_url) {
  const std::string url = url_decode(encoded_url);
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  const size_t host_start = scheme + 3;
  const size_t host_end = url.find_first_of("/?", host_start);
  Provider p;
  p.address = url.substr(host_start,
                         host_end == std::string::npos ? std::string::npos : host_end - host_start);
  if (p.address.find(':') == std::string::npos) return std::nullopt;
  const size_t query = url.find('?');
  if (query != std::string::npos) {
    size_t at = query + 1;
    while (at <= url.size()) {
      size_t amp = url.find('&', at);
      if (amp == std::string::npos) amp = url.size();
      const std::string pair = url.substr(at, amp - at);
      const size_t eq = pair.find('=');
      if (eq != std::string::npos) p.params[pair.substr(0, eq)] = pair.substr(eq + 1);
      at = amp + 1;
    }
  }
  return p;
}

std::optional<Label> parse_label(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) return std::nullopt;
  Label l{text.substr(0, eq), text.substr(eq + 1)};
  for (const std::string* part : {&l.key, &l.value}) {
    for (char c : *part) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
        return std::nullopt;
      }
    }
  }
  return l;
}

std::string owner_line(const std::string& canary_id) {
  return std::string(kOwnerMarker) + canary_id + "\n";
}

bool owned_by(const std::string& yaml, const std::string& canary_id) {
  return yaml.rfind(owner_line(canary_id), 0) == 0;
}

namespace {

// A rule's `key` for a service: "[group/]interface[:version]".
std::string rule_key(const ServiceKey& service) {
  std::string key = service.interface;
  if (!service.version.empty()) key += ":" + service.version;
  if (!service.group.empty()) key = service.group + "/" + key;
  return key;
}

}  // namespace

std::string render_weight_rule(const std::string& canary_id, const ServiceKey& service,
                               const std::vector<std::string>& addresses, uint32_t weight) {
  const std::string key = rule_key(service);
  std::string y = owner_line(canary_id);
  y += "configVersion: v3.0\n";
  y += "scope: service\n";
  y += "key: " + quoted(key) + "\n";
  y += "enabled: true\n";
  y += "configs:\n";
  y += "  - side: provider\n";
  y += "    addresses:\n";
  for (const auto& a : addresses) y += "      - " + quoted(a) + "\n";
  y += "    parameters:\n";
  y += "      weight: " + std::to_string(weight) + "\n";
  return y;
}

std::string render_tag_rule(const std::string& canary_id, const std::string& application,
                            const std::string& tag, const Label& label, bool force) {
  std::string y = owner_line(canary_id);
  y += "configVersion: v3.0\n";
  y += std::string("force: ") + (force ? "true" : "false") + "\n";
  y += "enabled: true\n";
  y += "runtime: true\n";
  y += "priority: 1\n";
  y += "key: " + quoted(application) + "\n";
  y += "tags:\n";
  y += "  - name: " + quoted(tag) + "\n";
  y += "    match:\n";
  y += "      - key: " + quoted(label.key) + "\n";
  y += "        value:\n";
  y += "          exact: " + quoted(label.value) + "\n";
  return y;
}

}  // namespace wharf::dubbo
