#include "projections/projection_db.h"

#include <openssl/evp.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <filesystem>

#include "projections/keys.h"

namespace wharf::projections {
namespace {

// Marker in the default column family: the directory is a wharf projections DB.
constexpr char kFormatKey[] = "wharf-format";
constexpr char kFormat[] = "wharf-projections-v1";

// "Everything but the trailing 8-byte position": versioned and index keys of
// one entity share it and arrive in ascending position, so the memtable's
// per-prefix insert hint turns most inserts into appends (a rebuild is
// dominated by memtable inserts otherwise).
class EntityPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "wharf.EntityPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > 8; }
};

rocksdb::ColumnFamilyOptions column_family_options() {
  rocksdb::ColumnFamilyOptions options;
  options.write_buffer_size = 32 << 20;
  // Young levels are rewritten soon: compressing them costs a rebuild CPU
  // (flushes run on the same two cores) for files that do not live long.
  options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                   rocksdb::kSnappyCompression};
  options.memtable_insert_with_hint_prefix_extractor = std::make_shared<EntityPrefix>();
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(64 << 20);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

std::string hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 15]);
  }
  return out;
}

void hash_sized(EVP_MD_CTX* ctx, const rocksdb::Slice& s) {
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(s.size() >> (56 - 8 * i));
  EVP_DigestUpdate(ctx, len, sizeof len);
  EVP_DigestUpdate(ctx, s.data(), s.size());
}

}  // namespace

std::string projections_dir(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "projections").string();
}

Expected<std::unique_ptr<ProjectionDb>, Error> ProjectionDb::open(
    const std::string& dir, const std::vector<std::string>& names) {
  std::unique_ptr<ProjectionDb> self(new ProjectionDb());
  self->dir_ = dir;
  self->names_ = names;
  self->cf_options_ = column_family_options();

  std::error_code ec;
  bool fresh = !std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec);
  if (fresh && std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    return fail(ErrorCode::kCorruption,
                "projections directory " + dir + " is not empty and holds no RocksDB; refusing");
  }
  std::filesystem::create_directories(dir, ec);

  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.max_background_jobs = 2;
  options.max_open_files = 256;
  options.keep_log_file_num = 3;
  options.allow_concurrent_memtable_write = false;  // one writer; needed by the insert hints

  std::vector<std::string> existing;
  if (!fresh) {
    auto s = rocksdb::DB::ListColumnFamilies(options, dir, &existing);
    if (!s.ok()) return fail(ErrorCode::kCorruption, "projections DB " + dir + ": " + s.ToString());
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, self->cf_options_);
  for (const auto& n : names) descriptors.emplace_back(n, self->cf_options_);
  // Column families this code no longer knows must still be opened.
  for (const auto& n : existing) {
    if (n != rocksdb::kDefaultColumnFamilyName &&
        std::find(names.begin(), names.end(), n) == names.end()) {
      descriptors.emplace_back(n, self->cf_options_);
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(options, dir, descriptors, &handles, &raw);
  if (!s.ok())
    return fail(ErrorCode::kIo, "cannot open projections DB " + dir + ": " + s.ToString());
  self->db_.reset(raw);
  self->handles_.assign(handles.begin() + 1, handles.begin() + 1 + names.size());
  for (size_t i = 1 + names.size(); i < handles.size(); ++i)
    self->db_->DestroyColumnFamilyHandle(handles[i]);
  self->db_->DestroyColumnFamilyHandle(handles[0]);

  std::string format;
  s = self->db_->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.IsNotFound()) {
    if (!existing.empty() && !fresh) {
      // An existing DB without our marker is someone else's.
      bool ours = std::all_of(existing.begin(), existing.end(), [&](const std::string& n) {
        return n == rocksdb::kDefaultColumnFamilyName ||
               std::find(names.begin(), names.end(), n) != names.end();
      });
      if (!ours) return fail(ErrorCode::kCorruption, dir + " is not a wharf projections DB");
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = self->db_->Put(wo, kFormatKey, kFormat);
    if (!s.ok()) return fail(ErrorCode::kIo, "projections DB " + dir + ": " + s.ToString());
  } else if (!s.ok()) {
    return fail(ErrorCode::kIo, "projections DB " + dir + ": " + s.ToString());
  } else if (format != kFormat) {
    return fail(ErrorCode::kCorruption,
                dir + " holds format '" + format + "', expected " + kFormat);
  }
  return self;
}

ProjectionDb::~ProjectionDb() {
  if (!db_) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

rocksdb::ColumnFamilyHandle* ProjectionDb::cf(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return handles_[i];
  }
  return nullptr;
}

Expected<void, Error> ProjectionDb::reset(const std::string& name) {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] != name) continue;
    auto s = db_->DropColumnFamily(handles_[i]);
    if (!s.ok()) return fail(ErrorCode::kIo, "drop " + name + ": " + s.ToString());
    db_->DestroyColumnFamilyHandle(handles_[i]);
    handles_[i] = nullptr;
    s = db_->CreateColumnFamily(cf_options_, name, &handles_[i]);
    if (!s.ok()) return fail(ErrorCode::kIo, "create " + name + ": " + s.ToString());
    return {};
  }
  return fail(ErrorCode::kInvalidArgument, "unknown projection " + name);
}

Expected<std::string, Error> ProjectionDb::digest(const std::string& name) const {
  auto* handle = cf(name);
  if (handle == nullptr) return fail(ErrorCode::kInvalidArgument, "unknown projection " + name);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    hash_sized(ctx.get(), it->key());
    hash_sized(ctx.get(), it->value());
  }
  if (!it->status().ok())
    return fail(ErrorCode::kIo, "digest " + name + ": " + it->status().ToString());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &n);
  return hex(out, n);
}

Expected<void, Error> ProjectionDb::flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  fo.allow_write_stall = true;
  auto s = db_->Flush(fo, handles_);
  if (!s.ok()) return fail(ErrorCode::kIo, "projections flush failed: " + s.ToString());
  return {};
}

uint64_t ProjectionDb::checkpoint(const std::string& name) const {
  auto* handle = cf(name);
  if (handle == nullptr) return 0;
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), handle,
                    rocksdb::Slice(keys::kCheckpoint.data(), keys::kCheckpoint.size()), &value);
  if (!s.ok() || value.size() != 8) return 0;
  return keys::decode_position(value);
}

void ProjectionDb::clear_bulk_files() const {
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(dir_) / "bulk", ec);
}

Expected<void, Error> ProjectionDb::ingest(const std::string& name, BulkSink& sink) {
  auto* handle = cf(name);
  if (handle == nullptr) return fail(ErrorCode::kInvalidArgument, "unknown projection " + name);
  if (sink.size() == 0) return {};
  const auto bulk = std::filesystem::path(dir_) / "bulk";
  std::error_code ec;
  std::filesystem::create_directories(bulk, ec);
  rocksdb::Options options(rocksdb::DBOptions(), cf_options_);
  // The CPU a rebuild would spend compressing is the scarce resource; the
  // files land uncompressed (later compactions compress what they rewrite).
  options.compression_per_level.clear();
  options.compression = rocksdb::kNoCompression;
  options.bottommost_compression = rocksdb::kNoCompression;
  constexpr uint64_t kFileBytes = 256ull << 20;
  std::vector<std::string> files;
  std::unique_ptr<rocksdb::SstFileWriter> writer;
  rocksdb::Status status;
  auto finish = [&] {
    if (writer && status.ok()) status = writer->Finish();
    writer.reset();
  };
  const bool drained = sink.drain_sorted([&](std::string_view key, std::string_view value) {
    if (writer && writer->FileSize() >= kFileBytes) finish();
    if (!status.ok()) return false;
    if (!writer) {
      writer = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), options, handle);
      files.push_back((bulk / (name + "-" + std::to_string(files.size()) + ".sst")).string());
      status = writer->Open(files.back());
      if (!status.ok()) return false;
    }
    status = writer->Put(rocksdb::Slice(key.data(), key.size()),
                         rocksdb::Slice(value.data(), value.size()));
    return status.ok();
  });
  finish();
  if (!drained || !status.ok()) {
    for (const auto& f : files) std::filesystem::remove(f, ec);
    return fail(ErrorCode::kIo, name + ": writing SST files: " + status.ToString());
  }
  rocksdb::IngestExternalFileOptions io;
  io.move_files = true;  // hard links: no copy
  status = db_->IngestExternalFile(handle, files, io);
  for (const auto& f : files) std::filesystem::remove(f, ec);
  if (!status.ok())
    return fail(ErrorCode::kIo, name + ": ingesting SST files: " + status.ToString());
  return {};
}

}  // namespace wharf::projections
