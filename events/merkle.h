#pragma once
// The Merkle tree over the log (docs/storage.md#merkle-proofs), shaped as in
// RFC 6962 (Certificate Transparency) with wharf's own leaves:
//   leaf(position) = SHA-256(0x00 || BE64(position) || chain hash at position)
//   node(l, r)     = SHA-256(0x01 || l || r)
// A tree of n leaves splits at the largest power of two below n. A signed
// checkpoint carries the root over positions 1..N, so one event can be proven
// with log2(N) hashes instead of the whole log.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::events {

std::string merkle_leaf(uint64_t position, std::string_view chain_hash);
std::string merkle_node(std::string_view left, std::string_view right);
// Root of an empty tree: SHA-256 of nothing.
const std::string& merkle_empty_root();

// Leaves pushed one at a time in position order; the root of 1..size() at any
// point from O(log n) kept subtree roots.
class MerkleFrontier {
 public:
  void push(std::string leaf);
  uint64_t size() const { return size_; }
  std::string root() const;

 private:
  uint64_t size_ = 0;
  std::vector<std::string> subtrees_;  // roots of perfect subtrees, largest first
};

// Root over all of `leaves`.
std::string merkle_root(const std::vector<std::string>& leaves);

// The audit path of leaf `index` (0-based) in the tree over `leaves`: the
// sibling hashes from the leaf up to the root.
std::vector<std::string> merkle_path(const std::vector<std::string>& leaves, uint64_t index);

// The root that `leaf` at `index` in a tree of `size` leaves and `path`
// imply; empty when the path has the wrong length for that index and size.
std::string merkle_root_from_path(std::string leaf, uint64_t index, uint64_t size,
                                  const std::vector<std::string>& path);

}  // namespace wharf::events
