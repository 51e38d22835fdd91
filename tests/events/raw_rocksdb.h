#pragma once
// Raw RocksDB access to a store directory, for tests that break a store on
// purpose, and compact_uncompressed for searches of a data directory's files.
#include <rocksdb/db.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace wharf::events::testing {

class RawStore {
 public:
  // Every column family opened with `family` (the default: RocksDB's).
  explicit RawStore(const std::string& dir,
                    const rocksdb::ColumnFamilyOptions& family = rocksdb::ColumnFamilyOptions()) {
    std::vector<std::string> names;
    rocksdb::DBOptions options;
    check(rocksdb::DB::ListColumnFamilies(options, dir, &names));
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, family);
    rocksdb::DB* raw = nullptr;
    check(rocksdb::DB::Open(options, dir, descriptors, &handles_, &raw));
    db_.reset(raw);
  }
  ~RawStore() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  rocksdb::ColumnFamilyHandle* family(const std::string& name) const {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    throw std::runtime_error("no column family " + name);
  }
  std::string get(const std::string& cf, const std::string& key) {
    std::string value;
    check(db_->Get(rocksdb::ReadOptions(), family(cf), key, &value));
    return value;
  }
  void put(const std::string& cf, const std::string& key, const std::string& value) {
    rocksdb::WriteOptions w;
    w.sync = true;
    check(db_->Put(w, family(cf), key, value));
  }
  void flush_all() {
    for (auto* h : handles_) check(db_->Flush(rocksdb::FlushOptions(), h));
  }
  // Compacts every column family into the bottommost level.
  void compact_all() {
    for (auto* h : handles_) {
      rocksdb::CompactRangeOptions options;
      options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
      check(db_->CompactRange(options, h, nullptr, nullptr));
    }
  }
  rocksdb::DB* db() { return db_.get(); }

 private:
  static void check(const rocksdb::Status& s) {
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

// Rewrites the RocksDB database in `dir` (its owner stopped) into compacted
// tables without compression: everything it holds, from the write-ahead log,
// level-0 files or compressed tables, is then on disk as stored, so a search
// of the files finds every string a value carries (a compressed block can
// hide one behind a back-reference). The secret canaries search a data
// directory after this (tests/targets/secret_canary_test.cc; scripts through
// tests/events/compact_store).
inline void compact_uncompressed(const std::string& dir) {
  rocksdb::ColumnFamilyOptions plain;
  plain.compression = rocksdb::kNoCompression;
  plain.bottommost_compression = rocksdb::kNoCompression;
  RawStore(dir, plain).compact_all();
}

}  // namespace wharf::events::testing
