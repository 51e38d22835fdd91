#include "events/merkle.h"

#include "events/hash_chain.h"
#include "events/keys.h"

namespace wharf::events {
namespace {

// Largest power of two strictly below n (n >= 2).
uint64_t split_point(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

std::string root_of(const std::vector<std::string>& leaves, uint64_t begin, uint64_t end) {
  if (end - begin == 1) return leaves[begin];
  uint64_t k = split_point(end - begin);
  return merkle_node(root_of(leaves, begin, begin + k), root_of(leaves, begin + k, end));
}

// RFC 6962 PATH(m, D[begin:end]), leaf to root.
void path_of(const std::vector<std::string>& leaves, uint64_t m, uint64_t begin, uint64_t end,
             std::vector<std::string>& out) {
  if (end - begin <= 1) return;
  uint64_t k = split_point(end - begin);
  if (m < k) {
    path_of(leaves, m, begin, begin + k, out);
    out.push_back(root_of(leaves, begin + k, end));
  } else {
    path_of(leaves, m - k, begin + k, end, out);
    out.push_back(root_of(leaves, begin, begin + k));
  }
}

}  // namespace

std::string merkle_leaf(uint64_t position, std::string_view chain_hash) {
  std::string data(1, '\0');
  keys::append_be64(data, position);
  data.append(chain_hash);
  return sha256(data);
}

std::string merkle_node(std::string_view left, std::string_view right) {
  std::string data(1, '\1');
  data.append(left);
  data.append(right);
  return sha256(data);
}

const std::string& merkle_empty_root() {
  static const std::string root = sha256("");
  return root;
}

void MerkleFrontier::push(std::string leaf) {
  // subtrees_ mirrors the binary digits of size_: merge equal-sized subtrees
  // as a carry ripples up.
  ++size_;
  subtrees_.push_back(std::move(leaf));
  for (uint64_t n = size_; (n & 1) == 0; n >>= 1) {
    std::string right = std::move(subtrees_.back());
    subtrees_.pop_back();
    subtrees_.back() = merkle_node(subtrees_.back(), right);
  }
}

std::string MerkleFrontier::root() const {
  if (subtrees_.empty()) return merkle_empty_root();
  // The RFC 6962 tree of n leaves is the perfect subtrees of n's binary
  // digits, joined from the smallest (rightmost) up.
  std::string root = subtrees_.back();
  for (size_t i = subtrees_.size() - 1; i-- > 0;) root = merkle_node(subtrees_[i], root);
  return root;
}

std::string merkle_root(const std::vector<std::string>& leaves) {
  return leaves.empty() ? merkle_empty_root() : root_of(leaves, 0, leaves.size());
}

std::vector<std::string> merkle_path(const std::vector<std::string>& leaves, uint64_t index) {
  std::vector<std::string> out;
  if (index < leaves.size()) path_of(leaves, index, 0, leaves.size(), out);
  return out;
}

std::string merkle_root_from_path(std::string leaf, uint64_t index, uint64_t size,
                                  const std::vector<std::string>& path) {
  // RFC 9162 section 2.1.3.2, verifying an inclusion proof.
  if (index >= size) return "";
  uint64_t fn = index, sn = size - 1;
  std::string r = std::move(leaf);
  for (const auto& p : path) {
    if (sn == 0) return "";
    if ((fn & 1) == 1 || fn == sn) {
      r = merkle_node(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = merkle_node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 ? r : "";
}

}  // namespace wharf::events
