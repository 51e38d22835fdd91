#include "api/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "events/hash_chain.h"

namespace wharf::api {

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return events::to_hex(std::string_view(reinterpret_cast<const char*>(out), len));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Expected<targets::PendingCredential, std::string> seal_webhook_secret(
    targets::SealedStore* store, const std::string& project, const std::string& secret,
    wharf::v1::RepositoryBinding& binding) {
  if (store == nullptr) {
    return unexpected(std::string("this server has no sealed store for webhook secrets"));
  }
  const std::string entry = targets::webhook_entry(project);
  const auto versions = store->versions(entry);
  const uint32_t version = versions.empty() ? 1 : versions.back() + 1;
  auto pending = targets::PendingCredential::seal(store, entry, version, secret);
  if (!pending) return unexpected(pending.error());
  binding.mutable_gerrit()->set_webhook_secret_set(true);
  binding.mutable_gerrit()->set_webhook_secret_version(version);
  binding.mutable_gerrit()->clear_webhook_secret_sha256();
  return pending;
}

bool signature_matches(std::string_view header, std::string_view body, std::string_view secret) {
  constexpr std::string_view kPrefix = "sha256=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string given(header.substr(kPrefix.size()));
  for (auto& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return constant_time_equal(given, hmac_sha256_hex(secret, body));
}

}  // namespace wharf::api
