#include "api/response_cache.h"

namespace wharf::api {

namespace {

std::string join(const std::pair<std::string, std::string>& parts, uint64_t position) {
  const std::string digits = std::to_string(position);
  std::string body;
  body.reserve(parts.first.size() + digits.size() + parts.second.size());
  body.append(parts.first).append(digits).append(parts.second);
  return body;
}

}  // namespace

std::optional<std::string> ResponseCache::get(const std::string& key, uint64_t head,
                                              uint64_t changed) const {
  if (!enabled()) return std::nullopt;
  std::shared_ptr<const std::pair<std::string, std::string>> parts;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      const Entry& e = it->second;
      const bool valid = e.exact ? e.position == head : e.position <= head && changed <= e.position;
      if (valid) parts = e.parts;
    }
  }
  if (!parts) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return join(*parts, head);
}

std::optional<std::string> ResponseCache::put(const std::string& key, uint64_t position, bool exact,
                                              std::string_view marked) {
  const std::string mark = std::to_string(kPositionMark);
  const size_t at = marked.find(mark);
  if (at == std::string_view::npos || marked.find(mark, at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  auto parts = std::make_shared<const std::pair<std::string, std::string>>(
      std::string(marked.substr(0, at)), std::string(marked.substr(at + mark.size())));
  std::string body = join(*parts, position);
  if (!enabled()) return body;
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    // An older answer never replaces a newer one.
    if (it->second.position <= position) it->second = Entry{position, exact, std::move(parts)};
    return body;
  }
  if (entries_.size() >= max_entries_) entries_.erase(entries_.begin());
  entries_.emplace(key, Entry{position, exact, std::move(parts)});
  return body;
}

size_t ResponseCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace wharf::api
