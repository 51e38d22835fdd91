#include "adapters/targets/pending_credential.h"

#include <filesystem>

namespace wharf::targets {

Expected<PendingCredential, std::string> PendingCredential::seal(SealedStore* store,
                                                                 const std::string& entry,
                                                                 uint32_t version,
                                                                 const std::string& plaintext) {
  if (version == 0) return PendingCredential(nullptr, entry, 0);
  if (store == nullptr) return unexpected(std::string("no sealed store (--secret-key-file)"));
  if (auto put = store->put(entry, version, plaintext); !put) return unexpected(put.error());
  return PendingCredential(store, entry, version);
}

PendingCredential::PendingCredential(PendingCredential&& other) noexcept
    : store_(other.store_),
      entry_(std::move(other.entry_)),
      version_(other.version_),
      done_(other.done_) {
  other.done_ = true;
}

void PendingCredential::keep() {
  if (done_) return;
  done_ = true;
  if (store_ != nullptr) store_->prune(entry_, version_);
}

PendingCredential::~PendingCredential() {
  if (done_ || store_ == nullptr) return;
  std::error_code ec;
  std::filesystem::remove(store_->path_of(entry_, version_), ec);
}

}  // namespace wharf::targets
