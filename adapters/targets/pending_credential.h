#pragma once
// A credential sealed for a command that has not landed yet: the sealed
// store gets version N before the event naming N is appended (so a deploy
// never reads a version that is not there); keep() after the event landed
// prunes older versions, and without keep() the destructor takes the file
// back (the command was refused or failed). Used by the targets API and by
// serve's --jenkins-* shorthand.
#include <cstdint>
#include <string>

#include "adapters/targets/registry.h"
#include "adapters/targets/sealed_store.h"

namespace wharf::targets {

class PendingCredential {
 public:
  // Seals `plaintext` as `version` of `entry` ("target/<name>",
  // "webhook/<project>"); version 0 seals nothing.
  static Expected<PendingCredential, std::string> seal(SealedStore* store, const std::string& entry,
                                                       uint32_t version,
                                                       const std::string& plaintext);
  PendingCredential(PendingCredential&& other) noexcept;
  PendingCredential& operator=(PendingCredential&&) = delete;
  PendingCredential(const PendingCredential&) = delete;
  ~PendingCredential();

  void keep();

 private:
  PendingCredential(SealedStore* store, std::string entry, uint32_t version)
      : store_(store), entry_(std::move(entry)), version_(version) {}
  SealedStore* store_ = nullptr;
  std::string entry_;
  uint32_t version_ = 0;
  bool done_ = false;
};

}  // namespace wharf::targets
