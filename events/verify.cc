// verify_store: recompute the whole chain of a store from position 1 and
// check the indexes agree with the log. Read-only; never repairs anything.
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/sst_file_reader.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
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

// Point reads that look at only the table files whose key range holds the
// key. DB::Get does not: while every file is in level 0 it asks each file's
// index, so one corrupt file fails the lookup of keys it does not hold and the
// fault would be reported at the wrong position. Used after a read failed, to
// find the first key that is really unreadable; keeps RocksDB's error text.
class TableLookup {
 public:
  TableLookup(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family) : db_(db), family_(family) {
    std::vector<rocksdb::LiveFileMetaData> files;
    db->GetLiveFilesMetaData(&files);
    for (auto& f : files) {
      if (f.column_family_name != family->GetName()) continue;
      tables_.push_back(Table{f.db_path + f.name, f.smallestkey, f.largestkey, nullptr, nullptr});
    }
  }

  // OK with `value`, NotFound, or the error reading the one table that holds
  // the key's range.
  rocksdb::Status get(const std::string& key, std::string* value) {
    if (memtables_ == nullptr) {
      rocksdb::ReadOptions memtable_only;  // Get does not honour kMemtableTier; iterators do
      memtable_only.read_tier = rocksdb::kMemtableTier;
      memtables_.reset(db_->NewIterator(memtable_only, family_));
    }
    memtables_->Seek(key);
    if (memtables_->Valid() && memtables_->key() == key) {
      value->assign(memtables_->value().data(), memtables_->value().size());
      return rocksdb::Status::OK();
    }
    rocksdb::Status s;
    for (auto& t : tables_) {
      if (key < t.smallest || key > t.largest) continue;
      if (t.reader == nullptr) {
        t.reader = std::make_unique<rocksdb::SstFileReader>(rocksdb::Options());
        if (s = t.reader->Open(t.path); !s.ok()) return s;
        rocksdb::ReadOptions ro;
        ro.verify_checksums = true;
        t.iterator.reset(t.reader->NewIterator(ro));
      }
      t.iterator->Seek(key);
      if (!t.iterator->status().ok()) return t.iterator->status();
      if (t.iterator->Valid() && t.iterator->key() == key) {
        value->assign(t.iterator->value().data(), t.iterator->value().size());
        return rocksdb::Status::OK();
      }
    }
    return rocksdb::Status::NotFound();
  }

 private:
  struct Table {
    std::string path, smallest, largest;
    std::unique_ptr<rocksdb::SstFileReader> reader;
    std::unique_ptr<rocksdb::Iterator> iterator;
  };
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* family_;
  std::unique_ptr<rocksdb::Iterator> memtables_;
  std::vector<Table> tables_;
};

// DB::Get, and on a read error the narrower lookup above.
rocksdb::Status get_exact(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
                          std::unique_ptr<TableLookup>& fallback, const rocksdb::ReadOptions& ro,
                          const std::string& key, std::string* value) {
  if (fallback == nullptr) {
    rocksdb::Status s = db->Get(ro, family, key, value);
    if (s.ok() || s.IsNotFound()) return s;
    fallback = std::make_unique<TableLookup>(db, family);
  }
  return fallback->get(key, value);
}

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
  for (const char* required :
       {keys::kLogFamily, keys::kStreamsFamily, keys::kEventIdsFamily, keys::kMetaFamily}) {
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
  rocksdb::ReadOptions ro;
  ro.verify_checksums = true;
  s = out.db->Get(ro, out.family(keys::kMetaFamily), std::string(keys::kFormatKey), &format);
  if (!s.ok() && !s.IsNotFound())
    return "cannot read the format marker of " + dir + ": " + s.ToString();
  if (!s.ok() || format != keys::kFormatMarker) {
    return "not a wharf event store: " + dir + " has no '" + std::string(keys::kFormatMarker) +
           "' marker";
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
  std::string prev = zero_hash();
  uint64_t expected = 1;
  uint64_t checked = 0;
  std::unordered_map<std::string, uint64_t> stream_versions;
  std::string value;
  Envelope e;
  std::unique_ptr<TableLookup> streams_lookup, ids_lookup;
  // Checks the event stored under position `expected`; an empty optional when
  // it verifies (then `prev` is its hash).
  auto check = [&](rocksdb::Slice stored) -> std::optional<VerifyReport> {
    const std::string at = "position " + std::to_string(expected);
    if (!e.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
      return bad(expected, checked, at + ": the stored event does not decode");
    }
    if (e.position() != expected) {
      return bad(expected, checked,
                 at + ": the stored event says position " + std::to_string(e.position()));
    }
    if (e.prev_hash() != prev)
      return bad(expected, checked, at + ": prev_hash does not link to the previous event");
    std::string hash = chain_hash(prev, content_digest(e));
    if (hash != e.hash())
      return bad(expected, checked, at + ": the event's content does not match its hash");

    uint64_t& version = stream_versions[e.stream_id()];
    if (e.stream_version() != version + 1) {
      return bad(expected, checked,
                 at + ": stream " + e.stream_id() + " jumps from version " +
                     std::to_string(version) + " to " + std::to_string(e.stream_version()));
    }
    version = e.stream_version();
    rocksdb::Status s = get_exact(store.db.get(), streams, streams_lookup, ro,
                                  keys::stream_key(e.stream_id(), version), &value);
    if (!s.ok() && !s.IsNotFound()) {
      return bad(expected, checked, at + ": reading the stream index failed: " + s.ToString());
    }
    if (!s.ok() || value.size() != 8 || keys::read_be64(value) != expected) {
      return bad(expected, checked, at + ": the stream index does not point here");
    }
    s = get_exact(store.db.get(), ids, ids_lookup, ro, e.event_id(), &value);
    if (!s.ok() && !s.IsNotFound()) {
      return bad(expected, checked, at + ": reading the event-id index failed: " + s.ToString());
    }
    if (!s.ok() || value.size() != 8 + keys::kDigestSize || keys::read_be64(value) != expected) {
      return bad(expected, checked,
                 at + ": the event-id index does not point here (event id " + e.event_id() +
                     " stored twice?)");
    }
    prev = std::move(hash);
    ++checked;
    return std::nullopt;
  };

  std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(ro, log));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    const std::string at = "position " + std::to_string(expected);
    if (it->key().size() != 8) return bad(expected, checked, at + ": malformed log key");
    uint64_t key = keys::read_be64(it->key().ToStringView());
    if (key != expected) {
      return bad(
          expected, checked,
          at + ": missing from the log (next stored position is " + std::to_string(key) + ")");
    }
    if (auto failure = check(it->value())) return *failure;
  }
  if (!it->status().ok()) {
    // The iterator stops at the first unreadable block of any table file it
    // merges, which may hold positions after ones it never reached (level-0
    // files are read side by side). Point reads in the one table holding each
    // position go on from where it stopped and name the first position that
    // is actually unreadable, with RocksDB's own error.
    const rocksdb::Status iterator_status = it->status();
    it.reset();
    TableLookup lookup(store.db.get(), log);
    for (;; ++expected) {
      rocksdb::Status s = lookup.get(keys::log_key(expected), &value);
      if (s.IsNotFound()) break;
      if (!s.ok()) {
        return bad(expected, checked,
                   "position " + std::to_string(expected) + " is unreadable: " + s.ToString());
      }
      std::string stored = std::move(value);
      if (auto failure = check(stored)) return *failure;
    }
    return bad(expected, checked,
               "position " + std::to_string(expected) +
                   ": reading the log failed: " + iterator_status.ToString());
  }
  std::string error;
  uint64_t stream_entries = count_entries(store.db.get(), streams, &error);
  uint64_t id_entries = count_entries(store.db.get(), ids, &error);
  if (!error.empty()) return bad(0, checked, "reading the indexes failed: " + error);
  if (stream_entries != checked || id_entries != checked) {
    return bad(0, checked,
               "the indexes hold entries for events not in the log (" +
                   std::to_string(stream_entries) + " stream, " + std::to_string(id_entries) +
                   " event-id entries for " + std::to_string(checked) + " events)");
  }
  VerifyReport ok;
  ok.ok = true;
  ok.events_checked = checked;
  ok.message = "store " + dir + ": " + std::to_string(checked) +
               " events, positions dense, indexes agree, chain verifies; head hash " + to_hex(prev);
  return ok;
}

}  // namespace wharf::events
