#include "adapters/local/artifact_store.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <vector>

namespace wharf::local {
namespace fs = std::filesystem;
namespace {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void update(const void* data, size_t size) { EVP_DigestUpdate(ctx_.get(), data, size); }
  void update(const std::string& s) { update(s.data(), s.size()); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out.push_back(digits[md[i] >> 4]);
      out.push_back(digits[md[i] & 0xf]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

Expected<std::string, std::string> file_digest(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected("cannot read " + path.string());
  Sha256 sha;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) sha.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  return sha.hex();
}

}  // namespace

Expected<std::string, std::string> content_digest(const fs::path& path) {
  std::error_code ec;
  auto status = fs::symlink_status(path, ec);
  if (ec || !fs::exists(status)) return unexpected("artifact not found: " + path.string());
  if (!fs::is_directory(status)) return file_digest(path);

  std::vector<fs::path> entries;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    entries.push_back(fs::relative(it->path(), path));
  }
  if (ec) return unexpected("cannot list " + path.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end(),
            [](const fs::path& a, const fs::path& b) { return a.generic_string() < b.generic_string(); });
  Sha256 tree;
  for (const auto& rel : entries) {
    fs::path full = path / rel;
    struct stat st{};
    if (lstat(full.c_str(), &st) != 0) return unexpected("cannot stat " + full.string());
    std::string type, content;
    if (S_ISLNK(st.st_mode)) {
      type = "l";
      content = fs::read_symlink(full, ec).string();
    } else if (S_ISDIR(st.st_mode)) {
      type = "d";
    } else if (S_ISREG(st.st_mode)) {
      type = "f";
      auto d = file_digest(full);
      if (!d) return d;
      content = *d;
    } else {
      continue;  // sockets, fifos: not part of an artifact
    }
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    tree.update(type + " " + mode + " " + rel.generic_string());
    tree.update("\0", 1);
    tree.update(content + "\n");
  }
  return tree.hex();
}

Expected<StoredArtifact, std::string> store_artifact(const fs::path& source,
                                                     const fs::path& store_dir) {
  auto hex = content_digest(source);
  if (!hex) return unexpected(hex.error());
  StoredArtifact stored{"sha256:" + *hex, store_dir / *hex};
  std::error_code ec;
  if (fs::exists(stored.path, ec)) return stored;
  fs::create_directories(store_dir, ec);
  if (ec) return unexpected("cannot create " + store_dir.string() + ": " + ec.message());
  fs::path staging =
      store_dir / (".tmp-" + *hex + "-" + std::to_string(static_cast<long>(getpid())));
  fs::remove_all(staging, ec);
  if (fs::is_directory(source)) {
    fs::copy(source, staging, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  } else {
    fs::copy_file(source, staging, ec);
  }
  if (ec) {
    fs::remove_all(staging);
    return unexpected("cannot copy artifact: " + ec.message());
  }
  fs::rename(staging, stored.path, ec);
  if (ec) {
    fs::remove_all(staging);
    // Another writer may have stored the same content first.
    if (!fs::exists(stored.path)) return unexpected("cannot store artifact: " + ec.message());
  }
  return stored;
}

fs::path artifact_path(const fs::path& store_dir, const std::string& digest_or_path) {
  const std::string prefix = "sha256:";
  if (digest_or_path.rfind(prefix, 0) == 0) return store_dir / digest_or_path.substr(prefix.size());
  return digest_or_path;
}

}  // namespace wharf::local
