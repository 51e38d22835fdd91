#pragma once
// Signed checkpoints (docs/storage.md#checkpoints): the server's Ed25519
// statement "store S holds positions 1..N, the hash at N is H, the Merkle
// root over 1..N is R", recorded in the log as CheckpointSigned events and
// put in export headers. With only the public key, an auditor can tell a
// genuine export from a forged or re-chained one, and check a Merkle proof of
// one event (`wharf audit prove` / `wharf audit verify-proof`).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "events/event_store.h"
#include "events/merkle.h"
#include "wharf/v1/checkpoint.pb.h"

namespace wharf::events {

using wharf::v1::CheckpointSigned;
using wharf::v1::MerkleProof;

inline constexpr const char* kCheckpointStream = "audit-checkpoints";
inline constexpr const char* kProofFormat = "wharf-proof-v1";

// An Ed25519 private key (OpenSSL EVP). Move-only.
class SigningKey {
 public:
  static Expected<SigningKey, std::string> generate();
  // A PKCS#8 PEM file as written by save() or `openssl genpkey -algorithm ed25519`.
  static Expected<SigningKey, std::string> load(const std::string& path);
  // Writes the private key as PKCS#8 PEM, mode 0600; refuses to overwrite.
  Expected<void, std::string> save(const std::string& path) const;

  std::string public_key() const;  // raw 32 bytes
  std::string sign(std::string_view message) const;

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

 private:
  struct Impl;
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A public key given as 64 hex digits, or as a file holding those digits or
// a PEM public key. Raw 32 bytes, or an error naming what was wrong.
Expected<std::string, std::string> parse_public_key(const std::string& text_or_path);
// PEM (SubjectPublicKeyInfo) of a raw 32-byte Ed25519 public key.
std::string public_key_pem(std::string_view raw);

// The bytes a checkpoint's signature covers: "wharf-checkpoint-v1\0" then the
// message serialized deterministically with `signature` cleared.
std::string checkpoint_signed_bytes(const CheckpointSigned& checkpoint);

// "" when `checkpoint` is signed by `trusted_public_key` (raw 32 bytes), or
// what is wrong.
std::string verify_checkpoint(const CheckpointSigned& checkpoint,
                              std::string_view trusted_public_key);

// The Merkle leaves (merkle_leaf) of positions 1..to of `store`.
Expected<std::vector<std::string>, Error> merkle_leaves(const EventStore& store, uint64_t to);

// Signs positions 1..head of `store`; keeps a Merkle frontier so each new
// checkpoint reads only the events since the previous one.
class Checkpointer {
 public:
  explicit Checkpointer(SigningKey key) : key_(std::move(key)) {}
  // A checkpoint over 1..`head` (0 = the store's head); `head` must not be
  // below a position already signed by this object.
  Expected<CheckpointSigned, Error> sign(const EventStore& store, uint64_t head,
                                         const std::string& reason, int64_t now_us);
  // Signs the head and appends the checkpoint to kCheckpointStream (when the
  // head moved since the last one this object recorded; else returns that one).
  Expected<CheckpointSigned, Error> record(EventStore& store, const std::string& reason,
                                           int64_t now_us);
  const SigningKey& key() const { return key_; }

 private:
  SigningKey key_;
  MerkleFrontier frontier_;
  uint64_t last_recorded_ = 0;  // position of the last CheckpointSigned this object appended
  CheckpointSigned last_;
};

// `wharf serve --audit-key`: records a checkpoint when started, then every
// `interval` while the head moves, and once more at stop.
class PeriodicCheckpoints {
 public:
  PeriodicCheckpoints(EventStore& store, SigningKey key, std::chrono::seconds interval,
                      std::function<int64_t()> now_us);
  ~PeriodicCheckpoints();
  void stop();
  uint64_t recorded() const;  // checkpoints appended so far
  // A checkpoint over the current head, recorded now (an export download
  // carries it in its header); the periodic thread may run at the same time.
  Expected<CheckpointSigned, Error> record_now(const std::string& reason);
  std::string public_key() const { return checkpointer_.key().public_key(); }

 private:
  void tick(const char* reason);
  EventStore& store_;
  Checkpointer checkpointer_;
  std::chrono::seconds interval_;
  std::function<int64_t()> now_us_;
  std::mutex sign_mutex_;  // checkpointer_ is used by the thread and by record_now
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t recorded_ = 0;
  uint64_t last_position_ = 0;
  std::thread thread_;
};

// The proof that the event at `position` is in `checkpoint` (which must cover
// it and belong to `store`).
Expected<MerkleProof, Error> prove(const EventStore& store, uint64_t position,
                                   const CheckpointSigned& checkpoint);

struct ProofReport {
  bool ok = false;
  std::string message;  // what was proven, or what failed
};
// Offline: the event in `proof` hashes to its chain hash, its leaf and path
// lead to the checkpoint's root, and the checkpoint is signed by
// `trusted_public_key`.
ProofReport verify_proof(const MerkleProof& proof, std::string_view trusted_public_key);

// The newest CheckpointSigned in the log covering `position`, if any.
Expected<std::optional<CheckpointSigned>, Error> latest_checkpoint(const EventStore& store,
                                                                   uint64_t position);

}  // namespace wharf::events
