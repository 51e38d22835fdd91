#include "projections/state_batch.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "projections/keys.h"

namespace wharf::projections {

std::string serialize(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
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
  batch_->Put(cf_, key, value);
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
  batch_->Put(cf_, key, value);
  plain_[key] = std::move(value);
}

}  // namespace wharf::projections
