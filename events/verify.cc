// verify_store: recompute the whole chain of a store from position 1 and
// check the indexes agree with the log. Read-only; never repairs anything.
#include <rocksdb/db.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "events/export.h"
#include "events/hash_chain.h"
#include "events/keys.h"

namespace wharf::events {
namespace {

VerifyReport bad(uint64_t position, uint64_t checked, std::string message) {
  VerifyReport r;
  r.first_bad_position = position;
  r.events_checked = checked;
  r.message = std::move(message);
  return r;
}

// A read-only RocksDB with the store's column families.
struct ReadOnlyStore {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* family(const std::string& name) const {
    for (auto* h : handles) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }
  ~ReadOnlyStore() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
};

std::string open_read_only(const std::string& dir, ReadOnlyStore& out) {
  if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT")) {
    return "not a wharf event store: " + dir + " has no RocksDB database";
  }
  rocksdb::DBOptions options;
  options.paranoid_checks = true;
  options.info_log_level = rocksdb::InfoLogLevel::FATAL_LEVEL;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, dir, &names);
  if (!s.ok()) return "cannot read the RocksDB manifest in " + dir + ": " + s.ToString();
  for (const char* required : {keys::kLogFamily, keys::kStreamsFamily, keys::kEventIdsFamily, keys::kMetaFamily}) {
    if (std::find(names.begin(), names.end(), required) == names.end()) {
      return "not a wharf event store: " + dir + " has no column family '" + required + "'";
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &out.handles, &raw);
  if (!s.ok()) return "cannot open " + dir + " read-only: " + s.ToString();
  out.db.reset(raw);
  std::string format;
  s = out.db->Get(rocksdb::ReadOptions(), out.family(keys::kMetaFamily),
                  std::string(keys::kFormatKey), &format);
  if (!s.ok() || format != keys::kFormatMarker) {
    return "not a wharf event store: " + dir + " has no '" + std::string(keys::kFormatMarker) + "' marker";
  }
  return "";
}

uint64_t count_entries(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string* error) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (!it->status().ok()) *error = it->status().ToString();
  return n;
}

}  // namespace

VerifyReport verify_store(const std::string& dir) {
  ReadOnlyStore store;
  if (std::string error = open_read_only(dir, store); !error.empty()) return bad(0, 0, error);
  auto* log = store.family(keys::kLogFamily);
  auto* streams = store.family(keys::kStreamsFamily);
  auto* ids = store.family(keys::kEventIdsFamily);

  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(ro, log));
  std::string prev = zero_hash();
  uint64_t expected = 1;
  uint64_t checked = 0;
  std::unordered_map<std::string, uint64_t> stream_versions;
  std::string value;
  Envelope e;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    const std::string at = "position " + std::to_string(expected);
    if (it->key().size() != 8) return bad(expected, checked, at + ": malformed log key");
    uint64_t key = keys::read_be64(it->key().ToStringView());
    if (key != expected) {
      return bad(expected, checked, at + ": missing from the log (next stored position is " +
                                        std::to_string(key) + ")");
    }
    if (!e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return bad(expected, checked, at + ": the stored event does not decode");
    }
    if (e.position() != expected) {
      return bad(expected, checked, at + ": the stored event says position " + std::to_string(e.position()));
    }
    if (e.prev_hash() != prev) return bad(expected, checked, at + ": prev_hash does not link to the previous event");
    std::string hash = chain_hash(prev, content_digest(e));
    if (hash != e.hash()) return bad(expected, checked, at + ": the event's content does not match its hash");

    uint64_t& version = stream_versions[e.stream_id()];
    if (e.stream_version() != version + 1) {
      return bad(expected, checked, at + ": stream " + e.stream_id() + " jumps from version " +
                                        std::to_string(version) + " to " + std::to_string(e.stream_version()));
    }
    version = e.stream_version();
    rocksdb::Status s = store.db->Get(ro, streams, keys::stream_key(e.stream_id(), version), &value);
    if (!s.ok() || value.size() != 8 || keys::read_be64(value) != expected) {
      return bad(expected, checked, at + ": the stream index does not point here");
    }
    s = store.db->Get(ro, ids, e.event_id(), &value);
    if (!s.ok() || value.size() != 8 + keys::kDigestSize || keys::read_be64(value) != expected) {
      return bad(expected, checked, at + ": the event-id index does not point here (event id " +
                                        e.event_id() + " stored twice?)");
    }
    prev = std::move(hash);
    ++checked;
  }
  if (!it->status().ok()) {
    return bad(expected, checked, "position " + std::to_string(expected) +
                                      ": reading the log failed: " + it->status().ToString());
  }
  std::string error;
  uint64_t stream_entries = count_entries(store.db.get(), streams, &error);
  uint64_t id_entries = count_entries(store.db.get(), ids, &error);
  if (!error.empty()) return bad(0, checked, "reading the indexes failed: " + error);
  if (stream_entries != checked || id_entries != checked) {
    return bad(0, checked, "the indexes hold entries for events not in the log (" +
                               std::to_string(stream_entries) + " stream, " +
                               std::to_string(id_entries) + " event-id entries for " +
                               std::to_string(checked) + " events)");
  }
  VerifyReport ok;
  ok.ok = true;
  ok.events_checked = checked;
  ok.message = "store " + dir + ": " + std::to_string(checked) +
               " events, positions dense, indexes agree, chain verifies; head hash " + to_hex(prev);
  return ok;
}

}  // namespace wharf::events
