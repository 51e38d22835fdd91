// Injected write failures: an append whose group commit cannot be written or
// synced returns kIo, nothing is acknowledged, positions stay dense.
#include <gtest/gtest.h>

#include "events/export.h"
#include "tests/events/fault_fs.h"
#include "tests/events/test_util.h"

namespace wharf::events {
namespace {

using testing::make_event;
using testing::TempDir;

struct FaultyStore {
  std::shared_ptr<testing::FaultInjectingFs> fs = std::make_shared<testing::FaultInjectingFs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  std::unique_ptr<EventStore> store;

  explicit FaultyStore(const std::string& dir) {
    StoreOptions options;
    options.env = env.get();
    store = testing::open_store(dir, options);
  }
};

TEST(WriteFailure, FailedWalWriteIsIoAndLeavesNothingBehind) {
  TempDir tmp;
  {
    FaultyStore faulty(tmp.path());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(faulty.store->append("s", ExpectedVersion::any(), {make_event()}));
    }
    const std::string hash = faulty.store->head_hash();
    faulty.fs->fail_wal_append = true;
    auto failed = faulty.store->append("s", ExpectedVersion::any(), {make_event("lost-1"), make_event("lost-2")});
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, ErrorCode::kIo);
    EXPECT_NE(failed.error().message.find("positions 6..7"), std::string::npos) << failed.error().message;
    EXPECT_EQ(faulty.store->head_position(), 5u);
    EXPECT_EQ(faulty.store->head_hash(), hash);
    EXPECT_TRUE(faulty.store->read_all(6, 10)->empty());
    EXPECT_EQ(faulty.store->read_event("lost-1").error().code, ErrorCode::kNotFound);
    EXPECT_EQ(faulty.store->stream_version("s"), 5u);

    // The store refuses further appends, clearly, until it is reopened.
    faulty.fs->fail_wal_append = false;
    auto after = faulty.store->append("s", ExpectedVersion::any(), {make_event()});
    ASSERT_FALSE(after);
    EXPECT_EQ(after.error().code, ErrorCode::kIo);
    EXPECT_NE(after.error().message.find("until reopened"), std::string::npos) << after.error().message;
  }
  auto store = testing::open_store(tmp.path());
  EXPECT_EQ(store->head_position(), 5u);
  EXPECT_FALSE(store->read_event("lost-1"));
  auto next = store->append("s", ExpectedVersion::exact(5), {make_event("lost-1")});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->first_position, 6u);
  store.reset();
  auto report = verify_store(tmp.path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.events_checked, 6u);
}

TEST(WriteFailure, ConcurrentAppendsInAFailedBatchAllFail) {
  TempDir tmp;
  FaultyStore faulty(tmp.path());
  ASSERT_TRUE(faulty.store->append("s", ExpectedVersion::any(), {make_event()}));
  faulty.fs->fail_wal_append = true;
  std::vector<std::thread> threads;
  std::atomic<int> io_errors{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = faulty.store->append("t" + std::to_string(t), ExpectedVersion::any(), {make_event()});
      if (!r && r.error().code == ErrorCode::kIo) ++io_errors;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(io_errors.load(), 8);
  EXPECT_EQ(faulty.store->head_position(), 1u);
}

TEST(WriteFailure, FailedSyncIsIoAndTheLogStaysDenseAndVerifiable) {
  TempDir tmp;
  {
    FaultyStore faulty(tmp.path());
    ASSERT_TRUE(faulty.store->append("s", ExpectedVersion::any(), {make_event(), make_event()}));
    faulty.fs->fail_wal_sync = true;
    auto failed = faulty.store->append("s", ExpectedVersion::any(), {make_event("maybe")});
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, ErrorCode::kIo);
    EXPECT_EQ(faulty.store->head_position(), 2u);
    EXPECT_FALSE(faulty.store->read_event("maybe"));
    faulty.fs->fail_wal_sync = false;
  }
  // The bytes may have reached the WAL before fsync failed: after a reopen the
  // unacknowledged event is either whole at position 3 or absent. Either way
  // the log is dense and the chain verifies (the caller retries by event id).
  auto store = testing::open_store(tmp.path());
  const uint64_t head = store->head_position();
  ASSERT_TRUE(head == 2u || head == 3u) << head;
  auto retry = store->append("s", ExpectedVersion::any(), {make_event("maybe")});
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(retry->first_position, 3u);
  EXPECT_EQ(retry->already_present, head == 3u);
  store.reset();
  auto report = verify_store(tmp.path());
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_EQ(report.events_checked, 3u);
}

}  // namespace
}  // namespace wharf::events
