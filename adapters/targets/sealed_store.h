#pragma once
// The sealed store: secrets kept outside the event log (docs/targets.md#the-sealed-store).
//
// One file per entry and version, DIR/<kind>/<name>/<version>.sealed, each
// sealed with AES-256-GCM (OpenSSL EVP) under a 256-bit key from the key
// file, with "wharf-sealed-v1\0<kind>/<name>\0<version>" as associated data:
// an entry copied to another name or version does not open. DIR/key-check.sealed
// holds a known text sealed at creation, so a wrong key is caught at open,
// not at the first deploy.
//
// open() refuses (never starts with secrets silently unreadable): a key file
// that is missing while the store holds entries, a key file that is not 64
// hex digits, a key that does not open key-check. When both are new it
// creates the key file (mode 0600, never overwritten) and the store.
// Thread-safe: writes go to a temporary file, fsync, rename.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "events/expected.h"

namespace wharf::targets {

class SealedStore {
 public:
  struct Options {
    std::filesystem::path dir;       // DATA/secrets
    std::filesystem::path key_file;  // --secret-key-file
    bool create = true;              // create key and store when both are absent
  };
  static Expected<std::unique_ptr<SealedStore>, std::string> open(const Options& options);

  // Seals `plaintext` as `entry` ("target/prod-eu") at `version` (> 0).
  // An existing file of that version is replaced.
  Expected<void, std::string> put(const std::string& entry, uint32_t version,
                                  const std::string& plaintext);
  // Opens `entry` at `version`. Fails naming the entry: absent, or it does
  // not open (corrupted, or sealed for another name/version/key).
  Expected<std::string, std::string> get(const std::string& entry, uint32_t version) const;
  // Removes every version of `entry` below `keep` (all of them for keep = 0).
  void prune(const std::string& entry, uint32_t keep);
  // The versions of `entry` on disk, ascending.
  std::vector<uint32_t> versions(const std::string& entry) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path_of(const std::string& entry, uint32_t version) const;

 private:
  SealedStore(std::filesystem::path dir, std::string key);

  std::filesystem::path dir_;
  std::string key_;  // 32 bytes
};

// "target/<name>": the entry of a target's credential.
std::string target_entry(const std::string& name);
// "webhook/<project>": the entry of a project's webhook secret.
std::string webhook_entry(const std::string& project);

}  // namespace wharf::targets
