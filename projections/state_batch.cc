#include "projections/state_batch.h"

#include <algorithm>
#include <cstring>

#include "projections/keys.h"

namespace wharf::projections {

namespace {
constexpr size_t kBulkBlockBytes = size_t{16} << 20;
}  // namespace

char* BulkSink::reserve(size_t size) {
  if (blocks_.empty() || block_used_ + size > block_size_) {
    block_size_ = std::max(kBulkBlockBytes, size);
    blocks_.push_back(std::make_unique_for_overwrite<char[]>(block_size_));
    block_used_ = 0;
  }
  char* at = blocks_.back().get() + block_used_;
  block_used_ += size;
  return at;
}

void BulkSink::put(std::string_view key, std::string_view value) {
  Entry e;
  unsigned char head[8] = {};
  if (!key.empty()) std::memcpy(head, key.data(), std::min<size_t>(8, key.size()));
  e.head = 0;
  for (unsigned char b : head) e.head = (e.head << 8) | b;
  char* at = reserve(key.size() + value.size());
  if (!key.empty()) std::memcpy(at, key.data(), key.size());
  if (!value.empty()) std::memcpy(at + key.size(), value.data(), value.size());
  e.data = at;
  e.key_size = static_cast<uint32_t>(key.size());
  e.value_size = static_cast<uint32_t>(value.size());
  e.seq = entries_.size();
  bytes_ += key.size() + value.size();
  entries_.push_back(e);
}

void BulkSink::sort() {
  // Keys shorter than 8 bytes are zero-padded in `head`: equal heads fall
  // back to the full comparison, which also orders a key before its extensions.
  std::sort(entries_.begin(), entries_.end(), [this](const Entry& a, const Entry& b) {
    if (a.head != b.head) return a.head < b.head;
    const int c = key(a).compare(key(b));
    if (c != 0) return c < 0;
    return a.seq < b.seq;
  });
}

void BulkSink::clear() {
  std::vector<std::unique_ptr<char[]>>().swap(blocks_);
  block_used_ = block_size_ = bytes_ = 0;
  std::vector<Entry>().swap(entries_);
}

std::optional<std::string> StateBatch::latest(const std::string& entity) {
  if (auto it = latest_.find(entity); it != latest_.end()) return it->second;
  if (!iterator_) iterator_.reset(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  std::string target = entity;
  keys::append_position(target, UINT64_MAX);
  iterator_->SeekForPrev(target);
  if (!iterator_->Valid()) return std::nullopt;
  auto key = iterator_->key();
  if (key.size() != entity.size() + 8 || !key.starts_with(entity)) return std::nullopt;
  return iterator_->value().ToString();
}

void StateBatch::put_version(const std::string& entity, uint64_t position, std::string value) {
  std::string key = entity;
  keys::append_position(key, position);
  write(key, value);
  latest_[entity] = std::move(value);
}

std::optional<std::string> StateBatch::get(const std::string& key) {
  if (auto it = plain_.find(key); it != plain_.end()) return it->second;
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_, key, &value);
  if (!s.ok()) return std::nullopt;
  return value;
}

void StateBatch::put(const std::string& key, std::string value) {
  write(key, value);
  plain_[key] = std::move(value);
}

}  // namespace wharf::projections
