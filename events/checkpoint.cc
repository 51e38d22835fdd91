#include "events/checkpoint.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "events/hash_chain.h"
#include "events/ids.h"
#include "events/keys.h"

namespace wharf::events {
namespace {

constexpr size_t kKeySize = 32;  // Ed25519 public key
constexpr std::string_view kCheckpointDomain{"wharf-checkpoint-v1\0", 20};

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

Unexpected<Error> fail(ErrorCode code, std::string message) {
  Error e;
  e.code = code;
  e.message = std::move(message);
  return unexpected(std::move(e));
}

Pkey raw_public(std::string_view raw) {
  if (raw.size() != kKeySize) return nullptr;
  return Pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
}

bool ed25519_verify(std::string_view public_key, std::string_view message,
                    std::string_view signature) {
  Pkey key = raw_public(public_key);
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// Pushes the leaves of positions frontier.size()+1 .. to.
Expected<void, Error> extend(const EventStore& store, MerkleFrontier& frontier, uint64_t to) {
  if (to <= frontier.size()) return {};
  uint64_t expected = frontier.size() + 1;
  auto scanned = store.scan(expected, to, [&](const Envelope& e) {
    if (e.position() != expected) return false;
    frontier.push(merkle_leaf(e.position(), e.hash()));
    ++expected;
    return true;
  });
  if (!scanned) return unexpected(scanned.error());
  if (expected != to + 1) {
    return fail(ErrorCode::kCorruption,
                "the log has no event at position " + std::to_string(expected));
  }
  return {};
}

}  // namespace

struct SigningKey::Impl {
  Pkey key;
};

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SigningKey::~SigningKey() = default;
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;

Expected<SigningKey, std::string> SigningKey::generate() {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return unexpected(std::string("OpenSSL cannot generate an Ed25519 key"));
  }
  auto impl = std::make_unique<Impl>();
  impl->key.reset(raw);
  return SigningKey(std::move(impl));
}

Expected<SigningKey, std::string> SigningKey::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected("cannot read the audit key " + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  const std::string pem = text.str();
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key)
    return unexpected(path + " is not a PEM private key (create one with `wharf audit keygen`)");
  if (EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519)
    return unexpected(path + " is not an Ed25519 key");
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return SigningKey(std::move(impl));
}

Expected<void, std::string> SigningKey::save(const std::string& path) const {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return unexpected(std::string("OpenSSL cannot encode the key"));
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return unexpected("cannot create " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, data, static_cast<size_t>(size)) == size;
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return unexpected("cannot write " + path + ": " + std::strerror(errno));
  return {};
}

std::string SigningKey::public_key() const {
  std::string out(kKeySize, '\0');
  size_t size = out.size();
  EVP_PKEY_get_raw_public_key(impl_->key.get(), reinterpret_cast<unsigned char*>(out.data()),
                              &size);
  out.resize(size);
  return out;
}

std::string SigningKey::sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string signature(64, '\0');
  size_t size = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return "";
  }
  signature.resize(size);
  return signature;
}

Expected<std::string, std::string> parse_public_key(const std::string& text_or_path) {
  std::string text = trim(text_or_path);
  if (text.size() != 2 * kKeySize || from_hex(text).empty()) {
    std::ifstream in(text_or_path, std::ios::binary);
    if (!in) {
      return unexpected(
          "--trust-key must be 64 hex digits (as `wharf audit keygen` prints) or a file holding "
          "them or a PEM public key; cannot read " +
          text_or_path);
    }
    std::stringstream content;
    content << in.rdbuf();
    text = trim(content.str());
  }
  if (text.size() == 2 * kKeySize) {
    std::string raw = from_hex(text);
    if (raw.size() == kKeySize) return raw;
  }
  Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  Pkey key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_id(key.get()) != EVP_PKEY_ED25519) {
    return unexpected(text_or_path + " holds neither 64 hex digits nor a PEM Ed25519 public key");
  }
  std::string raw(kKeySize, '\0');
  size_t size = raw.size();
  EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(raw.data()), &size);
  return raw;
}

std::string public_key_pem(std::string_view raw) {
  Pkey key = raw_public(raw);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!key || !bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) return "";
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string checkpoint_signed_bytes(const CheckpointSigned& checkpoint) {
  CheckpointSigned copy = checkpoint;
  copy.clear_signature();
  std::string out(kCheckpointDomain);
  out.append(serialize_deterministic(copy));
  return out;
}

std::string verify_checkpoint(const CheckpointSigned& checkpoint,
                              std::string_view trusted_public_key) {
  if (checkpoint.signature().empty()) return "the checkpoint carries no signature";
  if (checkpoint.public_key() != trusted_public_key) {
    return "the checkpoint is signed by key " + to_hex(checkpoint.public_key()) +
           ", not the trusted key " + to_hex(trusted_public_key);
  }
  if (!ed25519_verify(trusted_public_key, checkpoint_signed_bytes(checkpoint),
                      checkpoint.signature())) {
    return "the checkpoint's signature does not verify with the trusted key (the checkpoint was "
           "altered)";
  }
  return "";
}

Expected<std::vector<std::string>, Error> merkle_leaves(const EventStore& store, uint64_t to) {
  std::vector<std::string> leaves;
  leaves.reserve(to);
  if (to == 0) return leaves;
  auto scanned = store.scan(1, to, [&](const Envelope& e) {
    if (e.position() != leaves.size() + 1) return false;
    leaves.push_back(merkle_leaf(e.position(), e.hash()));
    return true;
  });
  if (!scanned) return unexpected(scanned.error());
  if (leaves.size() != to) {
    return fail(ErrorCode::kCorruption,
                "the log has no event at position " + std::to_string(leaves.size() + 1));
  }
  return leaves;
}

Expected<CheckpointSigned, Error> Checkpointer::sign(const EventStore& store, uint64_t head,
                                                     const std::string& reason, int64_t now_us) {
  if (head == 0) head = store.head_position();
  if (head < frontier_.size()) {
    return fail(ErrorCode::kInvalidArgument, "cannot sign position " + std::to_string(head) +
                                                 ": this checkpointer already signed position " +
                                                 std::to_string(frontier_.size()));
  }
  if (auto extended = extend(store, frontier_, head); !extended)
    return unexpected(extended.error());
  CheckpointSigned c;
  c.set_store_id(store.store_id());
  c.set_head_position(head);
  if (head == 0) {
    c.set_head_hash(zero_hash());
  } else {
    std::string hash;
    auto scanned = store.scan(head, head, [&](const Envelope& e) {
      hash = e.hash();
      return false;
    });
    if (!scanned) return unexpected(scanned.error());
    c.set_head_hash(hash);
  }
  c.set_merkle_root(frontier_.root());
  c.set_public_key(key_.public_key());
  c.set_signed_at_us(now_us);
  c.set_reason(reason);
  c.set_signature(key_.sign(checkpoint_signed_bytes(c)));
  if (c.signature().empty()) return fail(ErrorCode::kIo, "OpenSSL cannot sign the checkpoint");
  return c;
}

Expected<CheckpointSigned, Error> Checkpointer::record(EventStore& store, const std::string& reason,
                                                       int64_t now_us) {
  if (last_recorded_ != 0 && store.head_position() == last_recorded_) return last_;
  auto checkpoint = sign(store, 0, reason, now_us);
  if (!checkpoint) return checkpoint;
  Envelope e;
  e.set_event_id(new_uuid());
  e.set_occurred_at_us(now_us);
  e.mutable_actor()->set_id("system");
  e.mutable_actor()->set_channel(wharf::v1::CHANNEL_SYSTEM);
  *e.mutable_payload()->mutable_checkpoint_signed() = *checkpoint;
  auto appended = store.append(kCheckpointStream, ExpectedVersion::any(), {e});
  if (!appended) return unexpected(appended.error());
  last_recorded_ = appended->first_position;
  last_ = *checkpoint;
  return checkpoint;
}

PeriodicCheckpoints::PeriodicCheckpoints(EventStore& store, SigningKey key,
                                         std::chrono::seconds interval,
                                         std::function<int64_t()> now_us)
    : store_(store),
      checkpointer_(std::move(key)),
      interval_(interval),
      now_us_(std::move(now_us)) {
  tick("start");
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (cv_.wait_for(lock, interval_, [this] { return stopping_; })) break;
      lock.unlock();
      tick("periodic");
      lock.lock();
    }
  });
}

PeriodicCheckpoints::~PeriodicCheckpoints() {
  stop();
}

void PeriodicCheckpoints::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  tick("stop");
}

uint64_t PeriodicCheckpoints::recorded() const {
  std::lock_guard lock(mutex_);
  return recorded_;
}

void PeriodicCheckpoints::tick(const char* reason) {
  if (store_.head_position() == 0) return;
  // A failure (store closed or refusing appends) is retried by the next tick.
  (void)record_now(reason);
}

Expected<CheckpointSigned, Error> PeriodicCheckpoints::record_now(const std::string& reason) {
  std::lock_guard signing(sign_mutex_);
  // The head moved only by our own last checkpoint: record() returns that one.
  const bool moved = store_.head_position() != last_position_;
  auto c = checkpointer_.record(store_, reason, now_us_());
  if (c && moved) {
    std::lock_guard lock(mutex_);
    ++recorded_;
    last_position_ = store_.head_position();
  }
  return c;
}

Expected<MerkleProof, Error> prove(const EventStore& store, uint64_t position,
                                   const CheckpointSigned& checkpoint) {
  if (checkpoint.store_id() != store.store_id()) {
    return fail(ErrorCode::kInvalidArgument, "the checkpoint is of store " + checkpoint.store_id() +
                                                 ", not " + store.store_id());
  }
  if (position == 0 || position > checkpoint.head_position()) {
    return fail(ErrorCode::kInvalidArgument, "position " + std::to_string(position) +
                                                 " is not covered by the checkpoint over 1.." +
                                                 std::to_string(checkpoint.head_position()));
  }
  auto leaves = merkle_leaves(store, checkpoint.head_position());
  if (!leaves) return unexpected(leaves.error());
  if (merkle_root(*leaves) != checkpoint.merkle_root()) {
    return fail(ErrorCode::kCorruption,
                "the store's Merkle root over 1.." + std::to_string(checkpoint.head_position()) +
                    " differs from the signed checkpoint's: the log changed after it was signed");
  }
  MerkleProof proof;
  proof.set_format(kProofFormat);
  proof.set_position(position);
  auto scanned = store.scan(position, position, [&](const Envelope& e) {
    proof.set_event(serialize_deterministic(e));
    return false;
  });
  if (!scanned) return unexpected(scanned.error());
  for (auto& p : merkle_path(*leaves, position - 1)) proof.add_path(std::move(p));
  *proof.mutable_checkpoint() = checkpoint;
  return proof;
}

ProofReport verify_proof(const MerkleProof& proof, std::string_view trusted_public_key) {
  ProofReport r;
  if (proof.format() != kProofFormat) {
    r.message = "not a wharf proof (format is not " + std::string(kProofFormat) + ")";
    return r;
  }
  const CheckpointSigned& c = proof.checkpoint();
  if (std::string bad = verify_checkpoint(c, trusted_public_key); !bad.empty()) {
    r.message = bad;
    return r;
  }
  Envelope e;
  if (!e.ParseFromString(proof.event())) {
    r.message = "the proof's event does not decode";
    return r;
  }
  if (e.position() != proof.position()) {
    r.message = "the proof is for position " + std::to_string(proof.position()) +
                " but its event says " + std::to_string(e.position());
    return r;
  }
  if (chain_hash(e.prev_hash(), content_digest(e)) != e.hash()) {
    r.message = "the event's content does not match its hash (the event was altered)";
    return r;
  }
  std::vector<std::string> path(proof.path().begin(), proof.path().end());
  std::string root = merkle_root_from_path(merkle_leaf(e.position(), e.hash()), e.position() - 1,
                                           c.head_position(), path);
  if (root.empty() || root != c.merkle_root()) {
    r.message = "the Merkle path from position " + std::to_string(e.position()) +
                " does not lead to the checkpoint's signed root";
    return r;
  }
  if (e.position() == c.head_position() && e.hash() != c.head_hash()) {
    r.message = "the event at the checkpoint's head position does not have the signed head hash";
    return r;
  }
  r.ok = true;
  r.message = "event " + e.event_id() + " (" + e.type() + ", stream " + e.stream_id() +
              ") is position " + std::to_string(e.position()) + " of store " + c.store_id() +
              ": proven in the checkpoint over 1.." + std::to_string(c.head_position()) +
              " (root " + to_hex(c.merkle_root()) + ") signed by key " + to_hex(c.public_key());
  return r;
}

Expected<std::optional<CheckpointSigned>, Error> latest_checkpoint(const EventStore& store,
                                                                   uint64_t position) {
  auto newest = store.read_stream(kCheckpointStream, 0, 1, Direction::kBackward);
  if (!newest) {
    if (newest.error().code == ErrorCode::kNotFound) return std::optional<CheckpointSigned>();
    return unexpected(newest.error());
  }
  if (newest->empty() || !newest->front().payload().has_checkpoint_signed())
    return std::optional<CheckpointSigned>();
  const auto& c = newest->front().payload().checkpoint_signed();
  if (c.head_position() < position) return std::optional<CheckpointSigned>();
  return std::optional<CheckpointSigned>(c);
}

}  // namespace wharf::events
