#pragma once
// Rendered JSON of read answers, valid while the log does not move. A query
// answers "as of" a log position; when that position is the log's head, the
// same query gives the same bytes until the next append (projections change
// only by applying events), so the body can be served again without touching
// the projections. Any append anywhere makes every entry stale: nothing is
// served from an entry whose position is not the current head, so a reply is
// never older than what the query itself would answer. Auth runs before the
// cache is consulted, on every request.
//
// Bounded (max_entries; 0 disables it) and thread-safe.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wharf::api {

class ResponseCache {
 public:
  explicit ResponseCache(size_t max_entries) : max_entries_(max_entries) {}

  bool enabled() const { return max_entries_ > 0; }
  // The body stored under `key` if it was rendered as of `head`; null otherwise.
  std::shared_ptr<const std::string> get(const std::string& key, uint64_t head) const;
  // Stores `body`, the answer as of log position `position` (call only when
  // that was the head when the query started).
  void put(const std::string& key, uint64_t position, std::string body);

  size_t size() const;

 private:
  struct Entry {
    uint64_t position = 0;
    std::shared_ptr<const std::string> body;
  };
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace wharf::api
