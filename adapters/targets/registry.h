#pragma once
// The target registry: the one place the Kubernetes, Portainer/Swarm and
// Jenkins adapters get a target's URL, CA and credential from
// (docs/targets.md). A credential is opened from the sealed store only when
// an adapter is about to call the target, and is never logged.
//
// Credentials as sealed (a JSON object of strings), by CredentialKind:
//   bearer_token   token | token_file
//   api_key        api_key
//   user_password  username, password
//   user_token     user, token
//   client_cert    cert | cert_file, key | key_file (PEM)
// A value "env:NAME" is read from the environment variable NAME when used;
// token_file, cert_file and key_file are read when used (the reference
// forms, for operators who keep secrets elsewhere). service_account seals
// nothing: it reads the files mounted into the pod this process runs in
// (token, ca.crt, namespace) from its service account directory (serve and
// worker --service-account-dir, default kServiceAccountDir) at every
// resolve, so a rotated (projected) token is used from the next call on.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/http/http_client.h"
#include "adapters/targets/sealed_store.h"
#include "events/expected.h"
#include "wharf/v1/targets.pb.h"

namespace wharf::targets {

class TargetCatalog;

using CredentialFields = std::map<std::string, std::string>;

// Where Kubernetes mounts a pod's service account.
inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// A target ready to call: its spec and the opened credential.
struct ResolvedTarget {
  wharf::v1::TargetSpec spec;
  uint32_t credential_version = 0;
  std::string token;                           // bearer token (Kubernetes) or API token (Jenkins)
  std::string api_key;                         // Portainer X-API-Key
  std::string user;                            // Jenkins user, Portainer username
  std::string password;                        // Portainer password
  http_client::ClientCertificate client_cert;  // Kubernetes client_cert, checked valid
};

// The fields a credential of `kind` takes: refuses missing and unknown ones.
Expected<void, std::string> check_credential(wharf::v1::CredentialKind kind,
                                             const CredentialFields& fields);
std::string encode_credential(const CredentialFields& fields);
Expected<CredentialFields, std::string> decode_credential(const std::string& text);

// Opens `spec`'s credential at `version` from `store` (null: only kinds that
// seal nothing resolve) and resolves its references. A service_account
// target reads `service_account_dir`: the token, and ca.crt and namespace
// when the spec names no CA file or namespace.
Expected<ResolvedTarget, std::string> open_target(
    const wharf::v1::TargetSpec& spec, uint32_t version, const SealedStore* store,
    const std::filesystem::path& service_account_dir = kServiceAccountDir);

// What adapters hold: a target by name, ready to call.
class TargetResolver {
 public:
  virtual ~TargetResolver() = default;
  virtual Expected<ResolvedTarget, std::string> resolve(const std::string& name) const = 0;
};

// The target of `kind` an environment or step names (`name`, its
// target_ref): fails naming what is wrong — no name, no such target, or a
// target of another kind. The one check every adapter makes before calling.
Expected<ResolvedTarget, std::string> resolve_named(const TargetResolver& targets,
                                                    const std::string& name,
                                                    wharf::v1::TargetKind kind);

// Resolves nothing ("this process has no target registry").
const TargetResolver& no_targets();

// serve's resolver: the catalog (folded from the log) and the sealed store.
class CatalogResolver final : public TargetResolver {
 public:
  CatalogResolver(TargetCatalog& catalog, const SealedStore* store,
                  std::filesystem::path service_account_dir = kServiceAccountDir)
      : catalog_(catalog), store_(store), service_account_dir_(std::move(service_account_dir)) {}
  Expected<ResolvedTarget, std::string> resolve(const std::string& name) const override;

 private:
  TargetCatalog& catalog_;
  const SealedStore* store_;
  std::filesystem::path service_account_dir_;
};

// A worker's resolver: the targets its tasks named (spec + credential
// version, never a credential) and its own sealed store.
class KnownTargets final : public TargetResolver {
 public:
  explicit KnownTargets(const SealedStore* store,
                        std::filesystem::path service_account_dir = kServiceAccountDir)
      : store_(store), service_account_dir_(std::move(service_account_dir)) {}
  void learn(const wharf::v1::TargetReference& reference);
  Expected<ResolvedTarget, std::string> resolve(const std::string& name) const override;

 private:
  const SealedStore* store_;
  std::filesystem::path service_account_dir_;
  mutable std::mutex mu_;
  std::map<std::string, wharf::v1::TargetReference> known_;
};

}  // namespace wharf::targets
