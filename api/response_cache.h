#pragma once
// Rendered JSON of read answers, kept across appends that do not concern
// them. A query about project P answers "as of" a log position p; a later
// event changes that answer only if it belongs to P. So an answer rendered as
// of p is still the answer as of head h when no event of P (and no event the
// caller cannot place in a project) lies in (p, h]: it is served again with
// its "position" rewritten to h, the same bytes the query would render at h.
// The caller supplies `changed` (api/access_index.h: last_change()), folded
// at least up to h, so a reply is never older than what the query itself
// would answer, for the project that moved, at once.
//
// Time travel (`exact` entries, for ?at= answers) keeps the strict rule: an
// entry is served only while the head is the position it was rendered at.
// Auth runs before the cache is consulted, on every request.
//
// Bounded (max_entries; 0 disables it) and thread-safe.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace wharf::api {

class ResponseCache {
 public:
  // Render a view with its position set to this and hand the text to put():
  // the cache splits it there, to write the position it serves the answer as of.
  static constexpr uint64_t kPositionMark = UINT64_MAX;

  explicit ResponseCache(size_t max_entries) : max_entries_(max_entries) {}

  bool enabled() const { return max_entries_ > 0; }
  // The body stored under `key`, as of `head`: for an exact entry only if it
  // was rendered at `head`; otherwise if rendered at p <= head with
  // `changed` <= p (`changed`: newest position <= head, or later, of an event
  // that may change this answer). nullopt otherwise.
  std::optional<std::string> get(const std::string& key, uint64_t head, uint64_t changed) const;
  // Stores the answer as of `position`, rendered with kPositionMark as its
  // position (`marked`). Returns the body as of `position`, or nullopt when the
  // mark does not occur exactly once (user data holding the same digits):
  // then nothing is stored and the caller renders the answer itself.
  std::optional<std::string> put(const std::string& key, uint64_t position, bool exact,
                                 std::string_view marked);

  size_t size() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    uint64_t position = 0;
    bool exact = false;
    // body = before + decimal(position served) + after
    std::shared_ptr<const std::pair<std::string, std::string>> parts;
  };
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

}  // namespace wharf::api
