#pragma once
// Content-addressed artifacts: DATA/artifacts/sha256/<hex> holds a build's
// file or directory under the digest of its content.
#include <filesystem>
#include <string>

#include "events/expected.h"

namespace wharf::local {

// Hex SHA-256 of a file's bytes, or for a directory a digest over its entries
// sorted by relative path: each contributes "<type> <mode> <path>\0<content>\n"
// where content is the file's SHA-256, a symlink's target, or empty for a
// directory. Timestamps and owners do not count, so the same tree built twice
// has the same digest.
Expected<std::string, std::string> content_digest(const std::filesystem::path& path);

struct StoredArtifact {
  std::string digest;           // "sha256:<hex>"
  std::filesystem::path path;   // DATA/artifacts/sha256/<hex>
};

// Digests `source` and copies it into `store_dir`/<hex> unless already there.
// The copy is made beside the target and renamed into place, so a reader never
// sees half an artifact.
Expected<StoredArtifact, std::string> store_artifact(const std::filesystem::path& source,
                                                     const std::filesystem::path& store_dir);

// The stored path for "sha256:<hex>" (or a path, returned as is).
std::filesystem::path artifact_path(const std::filesystem::path& store_dir,
                                    const std::string& digest_or_path);

}  // namespace wharf::local
