// verify_store on table files with a flipped byte, one column family at a
// time: the report names the first position that is really unreadable and
// carries RocksDB's own error (file, checksum); verify_export names a bad
// header head hash as such.
#include <gtest/gtest.h>
#include <rocksdb/metadata.h>

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

std::string id_of(int position) {
  std::string n = std::to_string(position);
  return "id-" + std::string(2 - n.size(), '0') + n;  // sorts like the position
}

// Positions 1-2 in one table file per family, 3-11 in a second one (the store
// flushes its memtables at close).
void fill_two_tables(const std::string& dir) {
  for (auto [first, last] : {std::pair{1, 2}, std::pair{3, 11}}) {
    auto store = open_store(dir);
    for (int p = first; p <= last; ++p) {
      auto r = store->append("stream-a", ExpectedVersion::any(),
                             {make_event(id_of(p), "n" + std::to_string(p))});
      ASSERT_TRUE(r) << r.error().message;
    }
  }
}

// The table file of `family` holding `key`, and that it is the only one
// holding positions from that key on.
std::string table_with(const std::string& dir, const std::string& family, const std::string& key) {
  RawStore raw(dir);
  std::vector<rocksdb::LiveFileMetaData> files;
  raw.db()->GetLiveFilesMetaData(&files);
  for (const auto& f : files) {
    if (f.column_family_name == family && f.smallestkey <= key && key <= f.largestkey) {
      return (fs::path(dir) / fs::path(f.name).filename()).string();
    }
  }
  return "";
}

void flip_byte(const std::string& path, size_t offset) {
  std::string bytes = read_file(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x10);
  write_file(path, bytes);
}

class FlippedTable : public ::testing::Test {
 protected:
  void SetUp() override { fill_two_tables(tmp_.path()); }
  TempDir tmp_;
};

TEST_F(FlippedTable, LogTableOfPositions3To11NamesPosition3AndRocksDbsChecksumError) {
  std::string sst = table_with(tmp_.path(), keys::kLogFamily, keys::log_key(3));
  ASSERT_FALSE(sst.empty());
  ASSERT_EQ(table_with(tmp_.path(), keys::kLogFamily, keys::log_key(11)), sst);
  ASSERT_NE(table_with(tmp_.path(), keys::kLogFamily, keys::log_key(2)), sst);
  flip_byte(sst, 40);  // inside the first data block (positions 3..11)

  auto report = verify_store(tmp_.path());
  EXPECT_FALSE(report.ok) << report.message;
  EXPECT_EQ(report.first_bad_position, 3u) << report.message;
  EXPECT_EQ(report.events_checked, 2u) << report.message;
  EXPECT_NE(report.message.find("checksum"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find(fs::path(sst).filename().string()), std::string::npos)
      << report.message;
}

TEST_F(FlippedTable, StreamIndexTableCarriesRocksDbsError) {
  std::string sst = table_with(tmp_.path(), keys::kStreamsFamily, keys::stream_key("stream-a", 3));
  ASSERT_FALSE(sst.empty());
  flip_byte(sst, 40);

  auto report = verify_store(tmp_.path());
  EXPECT_FALSE(report.ok) << report.message;
  EXPECT_EQ(report.first_bad_position, 3u) << report.message;
  EXPECT_NE(report.message.find("stream index"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find("checksum"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find(fs::path(sst).filename().string()), std::string::npos)
      << report.message;
}

TEST_F(FlippedTable, EventIdIndexTableIsAChecksumErrorNotADuplicate) {
  std::string sst = table_with(tmp_.path(), keys::kEventIdsFamily, id_of(3));
  ASSERT_FALSE(sst.empty());
  flip_byte(sst, 40);

  auto report = verify_store(tmp_.path());
  EXPECT_FALSE(report.ok) << report.message;
  EXPECT_EQ(report.first_bad_position, 3u) << report.message;
  EXPECT_EQ(report.message.find("stored twice"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find("event-id index"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find("checksum"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find(fs::path(sst).filename().string()), std::string::npos)
      << report.message;
}

TEST_F(FlippedTable, MetaTableCarriesRocksDbsError) {
  std::string sst = table_with(tmp_.path(), keys::kMetaFamily, std::string(keys::kFormatKey));
  ASSERT_FALSE(sst.empty());
  flip_byte(sst, 10);

  auto report = verify_store(tmp_.path());
  EXPECT_FALSE(report.ok) << report.message;
  EXPECT_EQ(report.message.find("no 'wharf-eventstore-v1' marker"), std::string::npos)
      << report.message;
  EXPECT_NE(report.message.find("checksum"), std::string::npos) << report.message;
}

TEST_F(FlippedTable, IntactTablesVerify) {
  auto report = verify_store(tmp_.path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.events_checked, 11u);
}

// The header's head hash is the only thing wrong: say so, not "position 11".
TEST(ExportHeader, WrongHeadHashIsNamedAsTheHeaders) {
  TempDir tmp;
  fill_two_tables(tmp.sub("store"));
  {
    auto store = open_store(tmp.sub("store"));
    ASSERT_TRUE(export_events(*store, tmp.sub("all.wharf")));
  }
  auto file = read_export(tmp.sub("all.wharf"));
  ASSERT_TRUE(file);
  std::string bytes = read_file(tmp.sub("all.wharf"));
  size_t at = bytes.find(file->header.head_hash());
  ASSERT_NE(at, std::string::npos);
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  write_file(tmp.sub("bad-head.wharf"), bytes);

  auto report = verify_export(tmp.sub("bad-head.wharf"));
  EXPECT_FALSE(report.ok) << report.message;
  EXPECT_EQ(report.first_bad_position, 0u) << report.message;
  EXPECT_EQ(report.events_checked, 11u);
  EXPECT_NE(report.message.find("header's head hash"), std::string::npos) << report.message;
  EXPECT_NE(report.message.find(to_hex(file->header.head_hash())), std::string::npos)
      << report.message;
}

}  // namespace
}  // namespace wharf::events
