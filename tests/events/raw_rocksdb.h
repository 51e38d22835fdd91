#pragma once
// Raw RocksDB access to a store directory, for tests that break a store on purpose.
#include <rocksdb/db.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace wharf::events::testing {

class RawStore {
 public:
  explicit RawStore(const std::string& dir) {
    std::vector<std::string> names;
    rocksdb::DBOptions options;
    check(rocksdb::DB::ListColumnFamilies(options, dir, &names));
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
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
  rocksdb::DB* db() { return db_.get(); }

 private:
  static void check(const rocksdb::Status& s) {
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace wharf::events::testing
