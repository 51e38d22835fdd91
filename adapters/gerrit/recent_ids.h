#pragma once
// A bounded set of recently seen keys, oldest evicted first. The ingestor's
// first dedup layer: an event seen on SSH and again from a webhook or a
// catch-up within the window never reaches the engine twice. The log's
// event-id idempotency is the second, unbounded layer. Not thread-safe.
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_set>

namespace wharf::gerrit {

class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  bool contains(const std::string& key) const { return set_.count(key) > 0; }

  // Adds `key`; returns false when it was already present.
  bool insert(const std::string& key) {
    if (!set_.insert(key).second) return false;
    order_.push_back(key);
    while (order_.size() > capacity_) {
      set_.erase(order_.front());
      order_.pop_front();
    }
    return true;
  }

  // Forgets `key` (its recording failed, so a redelivery must get through).
  void erase(const std::string& key) {
    if (set_.erase(key) == 0) return;
    for (auto it = order_.begin(); it != order_.end(); ++it) {
      if (*it == key) {
        order_.erase(it);
        break;
      }
    }
  }

  size_t size() const { return set_.size(); }

 private:
  size_t capacity_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> set_;
};

}  // namespace wharf::gerrit
