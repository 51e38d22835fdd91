#include "adapters/targets/sealed_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "events/hash_chain.h"

namespace wharf::targets {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kMagic = "WHARFSEAL1";
constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
constexpr const char* kKeyCheckText = "wharf sealed store key check";

std::string associated_data(const std::string& entry, uint32_t version) {
  std::string ad = "wharf-sealed-v1";
  ad.push_back('\0');
  ad += entry;
  ad.push_back('\0');
  ad += std::to_string(version);
  return ad;
}

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

const unsigned char* bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Expected<std::string, std::string> seal(const std::string& key, const std::string& ad,
                                        const std::string& plaintext) {
  std::string nonce(kNonce, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), kNonce) != 1) {
    return unexpected(std::string("no random bytes for a nonce"));
  }
  CipherCtx c;
  std::string out(kMagic);
  out += nonce;
  std::string body(plaintext.size(), '\0');
  int len = 0;
  int total = 0;
  auto* buf = reinterpret_cast<unsigned char*>(body.data());
  if (c.ctx == nullptr ||
      EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
      EVP_EncryptInit_ex(c.ctx, nullptr, nullptr, bytes(key), bytes(nonce)) != 1 ||
      EVP_EncryptUpdate(c.ctx, nullptr, &len, bytes(ad), static_cast<int>(ad.size())) != 1 ||
      EVP_EncryptUpdate(c.ctx, buf, &len, bytes(plaintext), static_cast<int>(plaintext.size())) !=
          1) {
    return unexpected(std::string("AES-256-GCM encryption failed"));
  }
  total = len;
  if (EVP_EncryptFinal_ex(c.ctx, buf + total, &len) != 1) {
    return unexpected(std::string("AES-256-GCM encryption failed"));
  }
  total += len;
  body.resize(static_cast<size_t>(total));
  std::string tag(kTag, '\0');
  if (EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTag, tag.data()) != 1) {
    return unexpected(std::string("AES-256-GCM encryption failed"));
  }
  return out + body + tag;
}

// nullopt-like: an empty error string means "does not open".
Expected<std::string, std::string> unseal(const std::string& key, const std::string& ad,
                                          const std::string& sealed) {
  if (sealed.size() < kMagic.size() + kNonce + kTag || sealed.compare(0, kMagic.size(), kMagic)) {
    return unexpected(std::string("not a sealed entry (bad header or truncated)"));
  }
  const std::string nonce = sealed.substr(kMagic.size(), kNonce);
  const std::string body =
      sealed.substr(kMagic.size() + kNonce, sealed.size() - kMagic.size() - kNonce - kTag);
  std::string tag = sealed.substr(sealed.size() - kTag);
  CipherCtx c;
  std::string plain(body.size(), '\0');
  auto* buf = reinterpret_cast<unsigned char*>(plain.data());
  int len = 0;
  if (c.ctx == nullptr ||
      EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
      EVP_DecryptInit_ex(c.ctx, nullptr, nullptr, bytes(key), bytes(nonce)) != 1 ||
      EVP_DecryptUpdate(c.ctx, nullptr, &len, bytes(ad), static_cast<int>(ad.size())) != 1 ||
      EVP_DecryptUpdate(c.ctx, buf, &len, bytes(body), static_cast<int>(body.size())) != 1) {
    return unexpected(std::string("does not open"));
  }
  int total = len;
  if (EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(c.ctx, buf + total, &len) != 1) {
    return unexpected(std::string(
        "does not open (authentication failed: corrupted, or sealed for another name, version or "
        "key)"));
  }
  total += len;
  plain.resize(static_cast<size_t>(total));
  return plain;
}

Expected<std::string, std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Writes to a temporary sibling, fsyncs and renames: never half a file.
Expected<void, std::string> write_file(const fs::path& path, const std::string& data, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return unexpected("cannot write " + tmp.string());
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return unexpected("cannot write " + tmp.string());
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return unexpected("cannot fsync " + tmp.string());
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return unexpected("cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

bool store_has_entries(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return false;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec) && e.path().extension() == ".sealed") return true;
  }
  return false;
}

// Fills `key` (32 bytes) from the key file.
Expected<void, std::string> load_key(const fs::path& file, std::string& key) {
  auto text = read_file(file);
  if (!text) return unexpected(text.error());
  std::string hex = *text;
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) {
    hex.pop_back();
  }
  key = events::from_hex(hex);
  if (key.size() != 32) {
    return unexpected("the secret key file " + file.string() +
                      " does not hold a key (64 hex digits expected)");
  }
  return {};
}

}  // namespace

std::string target_entry(const std::string& name) {
  return "target/" + name;
}
std::string webhook_entry(const std::string& project) {
  return "webhook/" + project;
}

SealedStore::SealedStore(fs::path dir, std::string key)
    : dir_(std::move(dir)), key_(std::move(key)) {}

Expected<std::unique_ptr<SealedStore>, std::string> SealedStore::open(const Options& o) {
  std::error_code ec;
  const fs::path check = o.dir / "key-check.sealed";
  const bool has_store = fs::exists(check, ec) || store_has_entries(o.dir);
  std::string key;
  if (!fs::exists(o.key_file, ec)) {
    if (has_store) {
      return unexpected("the sealed store " + o.dir.string() + " holds secrets but the key file " +
                        o.key_file.string() +
                        " is missing; restore it from your backup (docs/targets.md#key-backup)");
    }
    if (!o.create) return unexpected("no secret key file " + o.key_file.string());
    key.assign(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), 32) != 1) {
      return unexpected(std::string("no random bytes for a secret key"));
    }
    if (!o.key_file.parent_path().empty()) fs::create_directories(o.key_file.parent_path(), ec);
    // O_EXCL: never overwrite a key another process just wrote.
    int fd = ::open(o.key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return unexpected("cannot create the secret key file " + o.key_file.string());
    const std::string text = events::to_hex(key) + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return unexpected("cannot write the secret key file " + o.key_file.string());
  } else {
    auto loaded = load_key(o.key_file, key);
    if (!loaded) return unexpected(loaded.error());
  }
  fs::create_directories(o.dir, ec);
  if (ec) return unexpected("cannot create " + o.dir.string() + ": " + ec.message());
  fs::permissions(o.dir, fs::perms::owner_all, ec);
  if (fs::exists(check, ec)) {
    auto sealed = read_file(check);
    if (!sealed) return unexpected(sealed.error());
    auto text = unseal(key, associated_data("key-check", 1), *sealed);
    if (!text || *text != kKeyCheckText) {
      return unexpected("the secret key in " + o.key_file.string() +
                        " is not the key of the sealed store " + o.dir.string() +
                        " (it does not open key-check.sealed); use the key the store was "
                        "created with");
    }
  } else {
    auto sealed = seal(key, associated_data("key-check", 1), kKeyCheckText);
    if (!sealed) return unexpected(sealed.error());
    if (auto w = write_file(check, *sealed, 0600); !w) return unexpected(w.error());
  }
  return std::unique_ptr<SealedStore>(new SealedStore(o.dir, std::move(key)));
}

fs::path SealedStore::path_of(const std::string& entry, uint32_t version) const {
  return dir_ / entry / (std::to_string(version) + ".sealed");
}

Expected<void, std::string> SealedStore::put(const std::string& entry, uint32_t version,
                                             const std::string& plaintext) {
  if (version == 0) return unexpected("sealing " + entry + ": version 0 holds nothing");
  auto sealed = seal(key_, associated_data(entry, version), plaintext);
  if (!sealed) return unexpected("sealing " + entry + ": " + sealed.error());
  std::error_code ec;
  const fs::path path = path_of(entry, version);
  fs::create_directories(path.parent_path(), ec);
  if (ec) return unexpected("cannot create " + path.parent_path().string() + ": " + ec.message());
  return write_file(path, *sealed, 0600);
}

Expected<std::string, std::string> SealedStore::get(const std::string& entry,
                                                    uint32_t version) const {
  const fs::path path = path_of(entry, version);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return unexpected("the sealed store has no version " + std::to_string(version) + " of " +
                      entry + " (" + path.string() + ")");
  }
  auto sealed = read_file(path);
  if (!sealed) return unexpected(sealed.error());
  auto plain = unseal(key_, associated_data(entry, version), *sealed);
  if (!plain) {
    return unexpected("the sealed credential of " + entry + " (version " + std::to_string(version) +
                      ", " + path.string() + ") " + plain.error());
  }
  return plain;
}

std::vector<uint32_t> SealedStore::versions(const std::string& entry) const {
  std::vector<uint32_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / entry, ec)) {
    if (e.path().extension() != ".sealed") continue;
    try {
      out.push_back(static_cast<uint32_t>(std::stoul(e.path().stem().string())));
    } catch (const std::exception&) {
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void SealedStore::prune(const std::string& entry, uint32_t keep) {
  std::error_code ec;
  for (uint32_t v : versions(entry)) {
    if (keep == 0 || v < keep) fs::remove(path_of(entry, v), ec);
  }
  if (keep == 0) fs::remove(dir_ / entry, ec);
}

}  // namespace wharf::targets
