#pragma once
// Registered targets for adapter tests: a real sealed store in a temp dir and
// the worker's resolver (KnownTargets) over it. add() seals the credential
// as the target's next version, so a second add() is a rotation.
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "adapters/targets/registry.h"
#include "adapters/targets/sealed_store.h"

namespace wharf::targets::testing {

class TestTargets final : public TargetResolver {
 public:
  // `service_account_dir`: where service_account targets read their token.
  explicit TestTargets(std::filesystem::path service_account_dir = kServiceAccountDir) {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("wharf-targets-" + std::to_string(rd()) + std::to_string(rd()));
    auto store = SealedStore::open({dir_ / "secrets", dir_ / "secret.key"});
    if (!store) throw std::runtime_error(store.error());
    store_ = std::move(*store);
    known_ = std::make_unique<KnownTargets>(store_.get(), std::move(service_account_dir));
  }
  ~TestTargets() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestTargets(const TestTargets&) = delete;
  TestTargets& operator=(const TestTargets&) = delete;

  void add(const wharf::v1::TargetSpec& spec, const CredentialFields& credential) {
    uint32_t& version = versions_[spec.name()];
    ++version;
    if (auto put = store_->put(target_entry(spec.name()), version, encode_credential(credential));
        !put) {
      throw std::runtime_error(put.error());
    }
    wharf::v1::TargetReference reference;
    *reference.mutable_target() = spec;
    reference.set_credential_version(version);
    known_->learn(reference);
  }
  // A Kubernetes cluster at `url` (CA bundle `ca_file`, may be empty) with a
  // bearer token. Tests of the real control plane call it through
  // KubernetesCluster::connect (tests/peers/kubernetes_cluster.h).
  void kubernetes(const std::string& name, const std::string& url, const std::string& ca_file,
                  const std::string& token) {
    wharf::v1::TargetSpec spec;
    spec.set_name(name);
    spec.set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
    spec.set_url(url);
    spec.set_ca_file(ca_file);
    spec.set_credential(wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN);
    add(spec, {{"token", token}});
  }
  // A Kubernetes cluster at `url` with a client certificate and key (PEM
  // texts, sealed). Through KubernetesCluster::connect_with_cert.
  void kubernetes_client_cert(const std::string& name, const std::string& url,
                              const std::string& ca_file, const std::string& cert_pem,
                              const std::string& key_pem) {
    wharf::v1::TargetSpec spec;
    spec.set_name(name);
    spec.set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
    spec.set_url(url);
    spec.set_ca_file(ca_file);
    spec.set_credential(wharf::v1::CREDENTIAL_KIND_CLIENT_CERT);
    add(spec, {{"cert", cert_pem}, {"key", key_pem}});
  }
  // A Portainer endpoint at `url` with an API key, or username + password.
  void portainer(const std::string& name, const std::string& url, const std::string& endpoint,
                 const CredentialFields& credential) {
    wharf::v1::TargetSpec spec;
    spec.set_name(name);
    spec.set_kind(wharf::v1::TARGET_KIND_PORTAINER);
    spec.set_url(url);
    spec.set_endpoint_id(endpoint);
    spec.set_credential(credential.count("api_key") ? wharf::v1::CREDENTIAL_KIND_API_KEY
                                                    : wharf::v1::CREDENTIAL_KIND_USER_PASSWORD);
    add(spec, credential);
  }

  // A ZooKeeper config center at `url` (zookeeper://host:port[/chroot]),
  // with a digest credential (username, password) or none (empty).
  void zookeeper(const std::string& name, const std::string& url,
                 const CredentialFields& credential) {
    wharf::v1::TargetSpec spec;
    spec.set_name(name);
    spec.set_kind(wharf::v1::TARGET_KIND_ZOOKEEPER);
    spec.set_url(url);
    spec.set_credential(credential.empty() ? wharf::v1::CREDENTIAL_KIND_NONE
                                           : wharf::v1::CREDENTIAL_KIND_USER_PASSWORD);
    add(spec, credential);
  }

  Expected<ResolvedTarget, std::string> resolve(const std::string& name) const override {
    return known_->resolve(name);
  }
  SealedStore& store() { return *store_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<SealedStore> store_;
  std::unique_ptr<KnownTargets> known_;
  std::map<std::string, uint32_t> versions_;
};

}  // namespace wharf::targets::testing
