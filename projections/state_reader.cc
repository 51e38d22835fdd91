#include "projections/state_reader.h"

#include "projections/keys.h"

namespace wharf::projections {

namespace {
rocksdb::ReadOptions read_options(const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions o;
  o.snapshot = snapshot;
  return o;
}
}  // namespace

StateReader::StateReader(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                         const rocksdb::Snapshot* snapshot)
    : read_(read_options(snapshot)), db_(db), cf_(cf), it_(db->NewIterator(read_, cf)) {}

std::optional<std::string> StateReader::get_at(const std::string& entity, uint64_t position) {
  std::string target = entity;
  keys::append_position(target, position);
  it_->SeekForPrev(target);
  if (!it_->Valid()) return std::nullopt;
  auto key = it_->key();
  if (key.size() != entity.size() + 8 || !key.starts_with(entity)) return std::nullopt;
  return it_->value().ToString();
}

std::optional<std::string> StateReader::get(const std::string& key) {
  std::string value;
  if (!db_->Get(read_, cf_, key, &value).ok()) return std::nullopt;
  return value;
}

void StateReader::scan_backward(const std::string& prefix, uint64_t min_position,
                                uint64_t max_position, const Visit& visit) {
  if (max_position < min_position) return;
  if (max_position == UINT64_MAX) {
    std::string end = prefix;
    end.push_back('\xff');  // no component byte sequence starts with 0xff 0xff...
    end.append(8, '\xff');
    it_->SeekForPrev(end);
  } else {
    std::string start = prefix;
    keys::append_position(start, max_position + 1);
    it_->Seek(start);
    if (it_->Valid()) {
      it_->Prev();
    } else {
      it_->SeekToLast();
    }
  }
  for (; it_->Valid(); it_->Prev()) {
    auto key = it_->key();
    if (!key.starts_with(prefix) || key.size() < prefix.size() + 8) return;
    uint64_t pos = keys::decode_position(std::string_view(key.data() + prefix.size(), 8));
    if (pos > max_position) continue;
    if (pos < min_position) return;
    if (!visit(pos, it_->value())) return;
  }
}

void StateReader::scan_forward(const std::string& prefix, uint64_t min_position,
                               uint64_t max_position, const Visit& visit) {
  if (max_position < min_position) return;
  std::string start = prefix;
  keys::append_position(start, min_position);
  for (it_->Seek(start); it_->Valid(); it_->Next()) {
    auto key = it_->key();
    if (!key.starts_with(prefix) || key.size() < prefix.size() + 8) return;
    uint64_t pos = keys::decode_position(std::string_view(key.data() + prefix.size(), 8));
    if (pos > max_position) return;
    if (!visit(pos, it_->value())) return;
  }
}

void StateReader::each(const std::string& prefix, const std::string& start, const VisitKey& visit) {
  for (it_->Seek(start); it_->Valid(); it_->Next()) {
    if (!it_->key().starts_with(prefix)) return;
    if (!visit(it_->key(), it_->value())) return;
  }
}

}  // namespace wharf::projections
