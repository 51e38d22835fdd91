// Tamper detection (store and export), exports, and opening corrupt stores.
#include <google/protobuf/io/coded_stream.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "events/export.h"
#include "events/hash_chain.h"
#include "events/keys.h"
#include "tests/events/raw_rocksdb.h"
#include "tests/events/test_util.h"

namespace wharf::events {
namespace {

namespace fs = std::filesystem;
using testing::make_event;
using testing::open_store;
using testing::RawStore;
using testing::TempDir;
using testing::read_file;
using testing::write_file;

constexpr uint64_t kEvents = 60;

// A closed store with kEvents events in three streams.
void fill_store(const std::string& dir) {
  auto store = open_store(dir);
  for (uint64_t i = 0; i < kEvents; i += 2) {
    auto r = store->append("stream-" + std::to_string(i % 3), ExpectedVersion::any(),
                           {make_event("id-" + std::to_string(i), "n" + std::to_string(i)),
                            make_event("id-" + std::to_string(i + 1), "n" + std::to_string(i + 1))});
    ASSERT_TRUE(r) << r.error().message;
  }
}

std::string copy_of(const TempDir& tmp, const std::string& from, const std::string& name) {
  std::string to = tmp.sub(name);
  fs::copy(from, to, fs::copy_options::recursive);
  return to;
}

// Byte offset and size of each delimited message of an export (header first).
std::vector<std::pair<size_t, size_t>> message_spans(const std::string& bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  std::vector<std::pair<size_t, size_t>> spans;
  uint32_t size = 0;
  while (in.ReadVarint32(&size)) {
    spans.emplace_back(in.CurrentPosition(), size);
    if (!in.Skip(static_cast<int>(size))) break;
  }
  return spans;
}

TEST(VerifyStore, IntactStoreVerifies) {
  TempDir tmp;
  fill_store(tmp.sub("store"));
  auto report = verify_store(tmp.sub("store"));
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.events_checked, kEvents);
  EXPECT_EQ(report.first_bad_position, 0u);
}

TEST(VerifyStore, EmptyStoreVerifiesAndForeignDirDoesNot) {
  TempDir tmp;
  { open_store(tmp.sub("store")); }
  EXPECT_TRUE(verify_store(tmp.sub("store")).ok);
  fs::create_directories(tmp.sub("other"));
  auto foreign = verify_store(tmp.sub("other"));
  EXPECT_FALSE(foreign.ok);
  EXPECT_NE(foreign.message.find("not a wharf event store"), std::string::npos);
}

// Flips one byte at several offsets of one stored value in a copy of the
// store; every time the first bad position is exactly that event.
TEST(VerifyStore, FlippedByteInOneStoredValueIsNamed) {
  TempDir tmp;
  const std::string original = tmp.sub("store");
  fill_store(original);
  const uint64_t target = 23;
  size_t value_size = 0;
  {
    RawStore raw(original);
    value_size = raw.get(keys::kLogFamily, keys::log_key(target)).size();
  }
  ASSERT_GT(value_size, 80u);
  // Start of the record, the payload, the prev_hash, the last byte of the hash.
  for (size_t offset : {size_t{1}, value_size / 2, value_size - 60, value_size - 1}) {
    SCOPED_TRACE("offset " + std::to_string(offset));
    const std::string copy = copy_of(tmp, original, "copy-" + std::to_string(offset));
    {
      RawStore raw(copy);
      std::string value = raw.get(keys::kLogFamily, keys::log_key(target));
      value[offset] = static_cast<char>(value[offset] ^ 0x01);
      raw.put(keys::kLogFamily, keys::log_key(target), value);
    }
    auto report = verify_store(copy);
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.first_bad_position, target) << report.message;
    EXPECT_EQ(report.events_checked, target - 1);
    EXPECT_NE(report.message.find("position 23"), std::string::npos) << report.message;
  }
  EXPECT_TRUE(verify_store(original).ok) << "the original must be untouched";
}

TEST(VerifyStore, DeletedEventIsAGapAtItsPosition) {
  TempDir tmp;
  fill_store(tmp.sub("store"));
  {
    RawStore raw(tmp.sub("store"));
    rocksdb::WriteOptions w;
    ASSERT_TRUE(raw.db()->Delete(w, raw.family(keys::kLogFamily), keys::log_key(40)).ok());
  }
  auto report = verify_store(tmp.sub("store"));
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, 40u) << report.message;
}

TEST(VerifyStore, RewrittenEventWithRecomputedOwnHashBreaksTheNextLink) {
  // A forger who recomputes the tampered event's own hash still breaks the
  // chain at the next position.
  TempDir tmp;
  fill_store(tmp.sub("store"));
  {
    RawStore raw(tmp.sub("store"));
    Envelope e;
    ASSERT_TRUE(e.ParseFromString(raw.get(keys::kLogFamily, keys::log_key(30))));
    e.mutable_actor()->set_id("mallory");
    e.set_hash(chain_hash(e.prev_hash(), content_digest(e)));
    raw.put(keys::kLogFamily, keys::log_key(30), e.SerializeAsString());
  }
  auto report = verify_store(tmp.sub("store"));
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_position, 31u) << report.message;
}

TEST(Export, FullExportVerifiesWithoutTheStoreAndReadsBack) {
  TempDir tmp;
  fill_store(tmp.sub("store"));
  std::string head_hash;
  {
    auto store = open_store(tmp.sub("store"));
    head_hash = store->head_hash();
    auto summary = export_events(*store, tmp.sub("all.wharf"));
    ASSERT_TRUE(summary) << summary.error().message;
    EXPECT_EQ(summary->events_written, kEvents);
    EXPECT_EQ(summary->to_position, kEvents);
  }
  fs::remove_all(tmp.sub("store"));
  auto report = verify_export(tmp.sub("all.wharf"));
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.events_checked, kEvents);
  auto file = read_export(tmp.sub("all.wharf"));
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->header.format(), kExportFormat);
  EXPECT_EQ(file->header.head_hash(), head_hash);
  ASSERT_EQ(file->records.size(), kEvents);
  EXPECT_EQ(file->records[4].event().event_id(), "id-4");
  EXPECT_FALSE(fs::exists(tmp.sub("all.wharf.tmp")));
}

TEST(Export, FilteredRangeExportStillVerifies) {
  TempDir tmp;
  fill_store(tmp.sub("store"));
  auto store = open_store(tmp.sub("store"));
  ExportOptions options;
  options.from_position = 11;
  options.to_position = 50;
  options.include = [](const Envelope& e) { return e.stream_id() == "stream-1"; };
  options.filter_description = "stream=stream-1";
  auto summary = export_events(*store, tmp.sub("part.wharf"), options);
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(summary->events_written + summary->events_omitted, 40u);
  EXPECT_GT(summary->events_written, 0u);
  EXPECT_GT(summary->events_omitted, 0u);
  auto report = verify_export(tmp.sub("part.wharf"));
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.events_checked, 40u);
  auto file = read_export(tmp.sub("part.wharf"));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->header.hash_before(), store->read_all(10, 1)->at(0).hash());
  EXPECT_EQ(file->header.filter(), "stream=stream-1");
  for (const auto& r : file->records) {
    if (r.has_event()) {
      EXPECT_EQ(r.event().stream_id(), "stream-1");
    }
  }
}

TEST(Export, FlippedByteInsideAnEventRecordIsNamed) {
  TempDir tmp;
  fill_store(tmp.sub("store"));
  {
    auto store = open_store(tmp.sub("store"));
    ASSERT_TRUE(export_events(*store, tmp.sub("all.wharf")));
  }
  const std::string bytes = read_file(tmp.sub("all.wharf"));
  auto spans = message_spans(bytes);
  ASSERT_EQ(spans.size(), kEvents + 1);  // header + one record per position
  const uint64_t target = 37;
  const auto [offset, size] = spans[target];  // spans[0] is the header
  for (size_t inside : {size_t{2}, size / 2, size - 1}) {
    SCOPED_TRACE("byte " + std::to_string(inside) + " of the record");
    std::string tampered = bytes;
    tampered[offset + inside] = static_cast<char>(tampered[offset + inside] ^ 0x20);
    write_file(tmp.sub("tampered.wharf"), tampered);
    auto report = verify_export(tmp.sub("tampered.wharf"));
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.first_bad_position, target) << report.message;
  }
  write_file(tmp.sub("cut.wharf"), bytes.substr(0, spans[50].first - 1));
  auto cut = verify_export(tmp.sub("cut.wharf"));
  EXPECT_FALSE(cut.ok);
  EXPECT_EQ(cut.first_bad_position, 50u) << cut.message;  // 49 is whole, 50 is cut
}

TEST(Export, EventsWithDifferentFieldsSetVerify) {
  // Regression: records must not inherit fields from the record before them.
  TempDir tmp;
  auto store = open_store(tmp.sub("store"));
  Envelope full = make_event("full", "with-name");
  Envelope sparse = make_event("sparse", "x");
  sparse.mutable_payload()->mutable_project_created()->clear_name();
  sparse.clear_correlation_id();
  sparse.clear_actor();
  ASSERT_TRUE(store->append("s", ExpectedVersion::any(), {full, sparse}));
  ASSERT_TRUE(export_events(*store, tmp.sub("mixed.wharf")));
  auto report = verify_export(tmp.sub("mixed.wharf"));
  EXPECT_TRUE(report.ok) << report.message;
  auto file = read_export(tmp.sub("mixed.wharf"));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->records[1].event().payload().project_created().name(), "");
}

TEST(Export, EmptyStoreExportsAndVerifies) {
  TempDir tmp;
  auto store = open_store(tmp.sub("store"));
  ASSERT_TRUE(export_events(*store, tmp.sub("empty.wharf")));
  auto report = verify_export(tmp.sub("empty.wharf"));
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.events_checked, 0u);
  EXPECT_FALSE(export_events(*store, tmp.sub("x.wharf"), ExportOptions{1, 5, nullptr, "", std::nullopt}));
}

TEST(EventStoreOpen, ForeignRocksDbIsRefused) {
  TempDir tmp;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, tmp.path(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
  }
  auto store = EventStore::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("without the column family 'log'"), std::string::npos)
      << store.error().message;
}

TEST(EventStoreOpen, RocksDbWithWharfFamiliesButForeignMarkerIsRefused) {
  TempDir tmp;
  fill_store(tmp.path());
  {
    RawStore raw(tmp.path());
    raw.put(keys::kMetaFamily, "format", "something-else-v9");
  }
  auto store = EventStore::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("something-else-v9"), std::string::npos) << store.error().message;
}

TEST(EventStoreOpen, GarbledCurrentFileIsAClearError) {
  TempDir tmp;
  fill_store(tmp.path());
  write_file(tmp.sub("CURRENT"), "garbage-without-newline");
  auto store = EventStore::open(tmp.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find(tmp.path()), std::string::npos) << store.error().message;
  EXPECT_EQ(read_file(tmp.sub("CURRENT")), "garbage-without-newline") << "open must not repair";
}

TEST(EventStoreOpen, TruncatedTableFileIsCorruptionNotTruncation) {
  TempDir tmp;
  fill_store(tmp.path());
  {
    RawStore raw(tmp.path());
    raw.flush_all();
  }
  std::string sst;
  uintmax_t biggest = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path())) {
    if (entry.path().extension() == ".sst" && entry.file_size() > biggest) {
      biggest = entry.file_size();
      sst = entry.path().string();
    }
  }
  ASSERT_FALSE(sst.empty());
  fs::resize_file(sst, biggest / 2);
  auto store = EventStore::open(tmp.path());
  ASSERT_FALSE(store) << "opened a store with a truncated table file";
  EXPECT_EQ(store.error().code, ErrorCode::kCorruption) << store.error().message;
  EXPECT_NE(store.error().message.find("corrupt"), std::string::npos) << store.error().message;
  EXPECT_EQ(fs::file_size(sst), biggest / 2);
}

TEST(VerifyStore, FlippedByteInATableFileIsReported) {
  TempDir tmp;
  fill_store(tmp.path());
  {
    RawStore raw(tmp.path());
    raw.flush_all();
  }
  // The log family's table holds the envelopes: the one containing "id-0".
  std::string sst;
  for (const auto& entry : fs::directory_iterator(tmp.path())) {
    if (entry.path().extension() != ".sst") continue;
    std::string bytes = read_file(entry.path().string());
    if (bytes.find("ProjectCreated") != std::string::npos) sst = entry.path().string();
  }
  ASSERT_FALSE(sst.empty());
  std::string bytes = read_file(sst);
  size_t at = bytes.find("ProjectCreated");
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  write_file(sst, bytes);
  auto report = verify_store(tmp.path());
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("orrupt"), std::string::npos) << report.message;
}

}  // namespace
}  // namespace wharf::events
