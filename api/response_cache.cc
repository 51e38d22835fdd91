#include "api/response_cache.h"

namespace wharf::api {

std::shared_ptr<const std::string> ResponseCache::get(const std::string& key, uint64_t head) const {
  if (!enabled()) return nullptr;
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.position != head) return nullptr;
  return it->second.body;
}

void ResponseCache::put(const std::string& key, uint64_t position, std::string body) {
  if (!enabled()) return;
  auto shared = std::make_shared<const std::string>(std::move(body));
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    if (it->second.position <= position) it->second = Entry{position, std::move(shared)};
    return;
  }
  if (entries_.size() >= max_entries_) {
    // Full: drop what an older head left behind; if everything is current,
    // drop an arbitrary entry.
    std::erase_if(entries_, [&](const auto& e) { return e.second.position < position; });
    if (entries_.size() >= max_entries_) entries_.erase(entries_.begin());
  }
  entries_.emplace(key, Entry{position, std::move(shared)});
}

size_t ResponseCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace wharf::api
