#include "adapters/dubbo/memory_rule_store.h"

namespace wharf::dubbo {

namespace {

// What a compare-and-set on a stale version answers, like ZooKeeper's BADVERSION.
StoreError changed_since(const std::string& path, int32_t version) {
  return StoreError{StoreError::Code::kConflict,
                    path + " changed since version " + std::to_string(version)};
}

}  // namespace

std::optional<StoreError> MemoryRuleStore::down() const {
  if (!down_) return std::nullopt;
  return StoreError{StoreError::Code::kUnavailable, "rule store unavailable"};
}

StoreResult<std::optional<Rule>> MemoryRuleStore::get(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (auto e = down()) return unexpected(*e);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return std::optional<Rule>{};
  return std::optional<Rule>{it->second};
}

StoreResult<std::vector<std::string>> MemoryRuleStore::children(const std::string& path) {
  std::lock_guard lock(mutex_);
  if (auto e = down()) return unexpected(*e);
  std::vector<std::string> out;
  const std::string prefix = path + "/";
  for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    std::string rest = it->first.substr(prefix.size());
    if (rest.find('/') == std::string::npos) out.push_back(rest);
  }
  return out;
}

StoreResult<int32_t> MemoryRuleStore::create(const std::string& path, const std::string& data) {
  std::lock_guard lock(mutex_);
  if (auto e = down()) return unexpected(*e);
  if (nodes_.count(path) != 0) {
    return unexpected(StoreError{StoreError::Code::kConflict, path + " exists"});
  }
  nodes_[path] = Rule{data, 0};
  ++writes_;
  return 0;
}

StoreResult<int32_t> MemoryRuleStore::set(const std::string& path, const std::string& data,
                                          int32_t version) {
  std::lock_guard lock(mutex_);
  if (auto e = down()) return unexpected(*e);
  auto it = nodes_.find(path);
  if (it == nodes_.end() || it->second.version != version) {
    return unexpected(changed_since(path, version));
  }
  if (guarded_.count(path) != 0) {
    return unexpected(StoreError{StoreError::Code::kNotAllowed, path + ": not authenticated"});
  }
  it->second = Rule{data, version + 1};
  ++writes_;
  return version + 1;
}

StoreResult<void> MemoryRuleStore::remove(const std::string& path, int32_t version) {
  std::lock_guard lock(mutex_);
  if (auto e = down()) return unexpected(*e);
  auto it = nodes_.find(path);
  if (it == nodes_.end()) return {};
  if (it->second.version != version) {
    return unexpected(changed_since(path, version));
  }
  nodes_.erase(it);
  ++writes_;
  return {};
}

StoreResult<int32_t> MemoryRuleStore::replace(const std::string& path, const std::string& data,
                                              int32_t version) {
  std::lock_guard lock(mutex_);
  if (auto e = down()) return unexpected(*e);
  auto it = nodes_.find(path);
  if (it == nodes_.end() || it->second.version != version) {
    return unexpected(changed_since(path, version));
  }
  it->second = Rule{data, 0};
  guarded_.erase(path);
  writes_ += 2;
  return 0;
}

void MemoryRuleStore::guard(const std::string& path) {
  std::lock_guard lock(mutex_);
  guarded_.insert(path);
}

void MemoryRuleStore::set_unavailable(bool down) {
  std::lock_guard lock(mutex_);
  down_ = down;
}

int MemoryRuleStore::writes() const {
  std::lock_guard lock(mutex_);
  return writes_;
}

}  // namespace wharf::dubbo
