#include "adapters/targets/registry.h"

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "adapters/targets/catalog.h"
#include "engine/target.h"

namespace wharf::targets {
namespace json = boost::json;
namespace {

struct Shape {
  std::set<std::string> required;
  std::set<std::string> optional;
};

Shape shape_of(wharf::v1::CredentialKind kind) {
  switch (kind) {
    case wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN:
      return {{}, {"token", "token_file"}};
    case wharf::v1::CREDENTIAL_KIND_API_KEY:
      return {{"api_key"}, {}};
    case wharf::v1::CREDENTIAL_KIND_USER_PASSWORD:
      return {{"username", "password"}, {}};
    case wharf::v1::CREDENTIAL_KIND_USER_TOKEN:
      return {{"user", "token"}, {}};
    case wharf::v1::CREDENTIAL_KIND_CLIENT_CERT:
      return {{}, {"cert", "cert_file", "key", "key_file"}};
    default:
      return {};
  }
}

Expected<std::string, std::string> whole_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(what + ": cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return unexpected(what + ": " + path + " is empty");
  return text;
}

Expected<std::string, std::string> first_line(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return unexpected(what + ": cannot read a token from " + path);
  return line;
}

// "env:NAME" -> the variable's value; anything else as it is.
Expected<std::string, std::string> dereference(const std::string& value, const std::string& what) {
  if (value.rfind("env:", 0) != 0) return value;
  const std::string name = value.substr(4);
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || *v == '\0') {
    return unexpected(what + " names the environment variable " + name + ", which is not set");
  }
  return std::string(v);
}

}  // namespace

Expected<void, std::string> check_credential(wharf::v1::CredentialKind kind,
                                             const CredentialFields& fields) {
  const Shape shape = shape_of(kind);
  for (const auto& [k, v] : fields) {
    if (!shape.required.count(k) && !shape.optional.count(k)) {
      return unexpected("a " + std::string(engine::credential_kind_name(kind)) +
                        " credential takes no field \"" + k + "\"");
    }
  }
  for (const auto& k : shape.required) {
    auto it = fields.find(k);
    if (it == fields.end() || it->second.empty()) {
      return unexpected("a " + std::string(engine::credential_kind_name(kind)) +
                        " credential needs \"" + k + "\"");
    }
  }
  if (kind == wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN &&
      (fields.count("token") + fields.count("token_file")) != 1) {
    return unexpected(std::string("a bearer_token credential needs \"token\" or \"token_file\""));
  }
  if (kind == wharf::v1::CREDENTIAL_KIND_CLIENT_CERT) {
    if (fields.count("cert") + fields.count("cert_file") != 1 ||
        fields.count("key") + fields.count("key_file") != 1) {
      return unexpected(std::string(
          "a client_cert credential needs \"cert\" or \"cert_file\" and \"key\" or \"key_file\""));
    }
    // Given inline: checked now (PEM, the key is the certificate's, valid).
    auto cert = fields.find("cert"), key = fields.find("key");
    if (cert != fields.end() && key != fields.end() && cert->second.rfind("env:", 0) != 0 &&
        key->second.rfind("env:", 0) != 0) {
      if (auto ok = http_client::client_certificate(cert->second, key->second); !ok) {
        return unexpected(ok.error());
      }
    }
  }
  return {};
}

std::string encode_credential(const CredentialFields& fields) {
  json::object o;
  for (const auto& [k, v] : fields) o[k] = v;
  return json::serialize(o);
}

Expected<CredentialFields, std::string> decode_credential(const std::string& text) {
  std::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return unexpected(std::string("not a credential object"));
  CredentialFields out;
  for (const auto& [k, val] : v.as_object()) {
    if (!val.is_string()) return unexpected(std::string("not a credential object"));
    out[std::string(k)] = std::string(val.as_string());
  }
  return out;
}

Expected<ResolvedTarget, std::string> open_target(
    const wharf::v1::TargetSpec& spec, uint32_t version, const SealedStore* store,
    const std::filesystem::path& service_account_dir) {
  ResolvedTarget t;
  t.spec = spec;
  t.credential_version = version;
  const std::string what = "target " + spec.name();
  const auto kind = spec.credential();
  if (kind == wharf::v1::CREDENTIAL_KIND_NONE) return t;
  if (kind == wharf::v1::CREDENTIAL_KIND_SERVICE_ACCOUNT) {
    const std::filesystem::path& dir = service_account_dir;
    auto token = first_line(dir / "token", what + " (service account)");
    if (!token) return unexpected(token.error());
    t.token = std::move(*token);
    std::error_code ec;
    if (spec.ca_file().empty() && std::filesystem::exists(dir / "ca.crt", ec)) {
      t.spec.set_ca_file(dir / "ca.crt");
    }
    if (spec.default_namespace().empty() && std::filesystem::exists(dir / "namespace", ec)) {
      if (auto ns = first_line(dir / "namespace", what); ns) t.spec.set_default_namespace(*ns);
    }
    return t;
  }
  if (store == nullptr) {
    return unexpected(what + ": this process has no sealed store (--secret-key-file)");
  }
  auto sealed = store->get(target_entry(spec.name()), version);
  if (!sealed) {
    // The log (shared by every node of a cluster) names a version this
    // node's store lacks or cannot open: sealed elsewhere.
    return unexpected(what + ": " + sealed.error() +
                      "; every wharf node and worker needs the same --secret-key-file and a "
                      "copy of the sealed store (docs/targets.md#several-nodes)");
  }
  auto fields = decode_credential(*sealed);
  if (!fields) return unexpected(what + ": the sealed credential is " + fields.error());
  auto field = [&](const char* key) -> Expected<std::string, std::string> {
    auto it = fields->find(key);
    if (it == fields->end()) return std::string();
    return dereference(it->second, what + " credential " + key);
  };
  for (auto [key, out] :
       {std::pair{"token", &t.token}, std::pair{"api_key", &t.api_key}, std::pair{"user", &t.user},
        std::pair{"username", &t.user}, std::pair{"password", &t.password}}) {
    auto v = field(key);
    if (!v) return unexpected(v.error());
    if (!v->empty()) *out = std::move(*v);
  }
  if (auto file = field("token_file"); !file) {
    return unexpected(file.error());
  } else if (!file->empty()) {
    auto token = first_line(*file, what);
    if (!token) return unexpected(token.error());
    t.token = std::move(*token);
  }
  if (kind == wharf::v1::CREDENTIAL_KIND_CLIENT_CERT) {
    // Each part inline (or env:VAR) or a file read now.
    auto pem = [&](const char* inline_key,
                   const char* file_key) -> Expected<std::string, std::string> {
      auto v = field(inline_key);
      if (!v || !v->empty()) return v;
      auto file = field(file_key);
      if (!file) return file;
      return whole_file(*file, what + " credential " + file_key);
    };
    auto cert = pem("cert", "cert_file");
    if (!cert) return unexpected(cert.error());
    auto key = pem("key", "key_file");
    if (!key) return unexpected(key.error());
    auto client = http_client::client_certificate(std::move(*cert), std::move(*key));
    if (!client) return unexpected(what + ": " + client.error());
    t.client_cert = std::move(*client);
  }
  return t;
}

Expected<ResolvedTarget, std::string> resolve_named(const TargetResolver& targets,
                                                    const std::string& name,
                                                    wharf::v1::TargetKind kind) {
  struct Words {
    const char* environment;  // the environment's target type
    const char* what;         // what the target is
  };
  const Words words = kind == wharf::v1::TARGET_KIND_KUBERNETES  ? Words{"kubernetes", "cluster"}
                      : kind == wharf::v1::TARGET_KIND_PORTAINER ? Words{"swarm", "Portainer"}
                      : kind == wharf::v1::TARGET_KIND_ZOOKEEPER
                          ? Words{"Dubbo canary", "ZooKeeper config center"}
                          : Words{"jenkins", "Jenkins"};
  if (name.empty()) {
    return unexpected(std::string(words.environment) +
                      " environment names no target: set its target_ref to a registered " +
                      words.what + " (docs/targets.md)");
  }
  auto target = targets.resolve(name);
  if (!target) return unexpected(target.error());
  if (target->spec.kind() != kind) {
    return unexpected("target " + name + " is not a " + words.what + " target but " +
                      engine::target_kind_name(target->spec.kind()));
  }
  return target;
}

namespace {
class NoTargets final : public TargetResolver {
 public:
  Expected<ResolvedTarget, std::string> resolve(const std::string& name) const override {
    return unexpected("cannot resolve target \"" + name +
                      "\": this process has no target registry");
  }
};
}  // namespace

const TargetResolver& no_targets() {
  static const NoTargets none;
  return none;
}

Expected<ResolvedTarget, std::string> CatalogResolver::resolve(const std::string& name) const {
  catalog_.refresh();
  auto state = catalog_.get(name);
  if (!state) {
    return unexpected("no target \"" + name +
                      "\" is registered (wharf target add, POST /api/v1/targets)");
  }
  return open_target(state->spec, state->credential_version, store_, service_account_dir_);
}

void KnownTargets::learn(const wharf::v1::TargetReference& reference) {
  std::lock_guard lock(mu_);
  known_[reference.target().name()] = reference;
}

Expected<ResolvedTarget, std::string> KnownTargets::resolve(const std::string& name) const {
  wharf::v1::TargetReference reference;
  {
    std::lock_guard lock(mu_);
    auto it = known_.find(name);
    if (it == known_.end()) return unexpected("no task named target \"" + name + "\"");
    reference = it->second;
  }
  return open_target(reference.target(), reference.credential_version(), store_,
                     service_account_dir_);
}

}  // namespace wharf::targets
