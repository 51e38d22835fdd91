// EventStore behaviour against a real RocksDB in a temp dir.
#include "events/event_store.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/events/test_util.h"

namespace wharf::events {
namespace {

using testing::make_event;
using testing::open_store;
using testing::TempDir;

TEST(EventStore, AppendAssignsDensePositionsVersionsAndType) {
  TempDir dir;
  auto store = open_store(dir.path());
  EXPECT_EQ(store->head_position(), 0u);
  EXPECT_EQ(store->head_hash(), std::string(32, '\0'));

  auto first =
      store->append("project-a", ExpectedVersion::no_stream(), {make_event(), make_event()});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->first_position, 1u);
  EXPECT_EQ(first->last_position, 2u);
  EXPECT_EQ(first->stream_version, 2u);
  EXPECT_FALSE(first->already_present);

  auto second = store->append("project-b", ExpectedVersion::any(), {make_event()});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->first_position, 3u);
  EXPECT_EQ(second->stream_version, 1u);
  EXPECT_EQ(store->head_position(), 3u);
  EXPECT_EQ(store->stream_version("project-a"), 2u);
  EXPECT_EQ(store->stream_version("project-b"), 1u);
  EXPECT_EQ(store->stream_version("project-c"), 0u);

  auto all = store->read_all(1, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].stream_id(), "project-b");
  EXPECT_EQ((*all)[0].type(), "ProjectCreated");
  EXPECT_EQ((*all)[1].stream_version(), 2u);
  EXPECT_EQ((*all)[0].prev_hash(), std::string(32, '\0'));
  EXPECT_EQ((*all)[1].prev_hash(), (*all)[0].hash());
  EXPECT_EQ((*all)[2].prev_hash(), (*all)[1].hash());
  EXPECT_EQ(store->head_hash(), (*all)[2].hash());
  EXPECT_FALSE(store->store_id().empty());
}

TEST(EventStore, ConflictNamesStreamExpectedAndActual) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->append("run-1", ExpectedVersion::no_stream(), {make_event(), make_event()}));

  auto stale = store->append("run-1", ExpectedVersion::exact(1), {make_event()});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::kConflict);
  EXPECT_EQ(stale.error().stream, "run-1");
  EXPECT_EQ(stale.error().expected_version, 1u);
  EXPECT_EQ(stale.error().actual_version, 2u);
  EXPECT_NE(stale.error().message.find("run-1"), std::string::npos);

  auto exists = store->append("run-1", ExpectedVersion::no_stream(), {make_event()});
  ASSERT_FALSE(exists);
  EXPECT_EQ(exists.error().code, ErrorCode::kConflict);
  EXPECT_EQ(exists.error().actual_version, 2u);

  auto missing = store->append("run-2", ExpectedVersion::exact(3), {make_event()});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().actual_version, 0u);

  auto right = store->append("run-1", ExpectedVersion::exact(2), {make_event()});
  ASSERT_TRUE(right) << right.error().message;
  EXPECT_EQ(right->stream_version, 3u);
  EXPECT_EQ(right->first_position, 3u);  // failed appends took no position
}

TEST(EventStore, ConcurrentExactAppendsToOneStreamExactlyOneWinsPerVersion) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::atomic<int> wins{0}, conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        uint64_t v = store->stream_version("s");
        auto r = store->append("s", ExpectedVersion::exact(v), {make_event()});
        if (r) {
          ++wins;
        } else {
          EXPECT_EQ(r.error().code, ErrorCode::kConflict) << r.error().message;
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(static_cast<uint64_t>(wins.load()), store->stream_version("s"));
  EXPECT_EQ(store->head_position(), static_cast<uint64_t>(wins.load()));
  EXPECT_EQ(wins + conflicts, 160);
}

TEST(EventStore, IdempotentRetryReturnsOriginalPositionsAndWritesNothing) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto a = make_event("id-a", "x");
  auto b = make_event("id-b", "y");
  auto first = store->append("p", ExpectedVersion::no_stream(), {a, b});
  ASSERT_TRUE(first);
  ASSERT_TRUE(store->append("q", ExpectedVersion::any(), {make_event()}));

  // Same ids, same content, stale expected version: still the original positions.
  auto retry = store->append("p", ExpectedVersion::no_stream(), {a, b});
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_TRUE(retry->already_present);
  EXPECT_EQ(retry->first_position, 1u);
  EXPECT_EQ(retry->last_position, 2u);
  EXPECT_EQ(store->head_position(), 3u);

  auto only_b = store->append("p", ExpectedVersion::any(), {b});
  ASSERT_TRUE(only_b);
  EXPECT_EQ(only_b->first_position, 2u);
  EXPECT_TRUE(only_b->already_present);
  EXPECT_EQ(store->head_position(), 3u);
}

TEST(EventStore, ConcurrentRetriesOfTheSameEventsStoreThemOnce) {
  // Retries race the original inside one group commit and across the
  // pipeline (staged but not yet durable): every caller gets the same
  // positions and each event is stored once.
  TempDir dir;
  auto store = open_store(dir.path());
  for (int round = 0; round < 30; ++round) {
    std::vector<Envelope> events = {make_event("r" + std::to_string(round) + "-a"),
                                    make_event("r" + std::to_string(round) + "-b")};
    std::vector<AppendResult> results(6);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t) {
      threads.emplace_back([&, t] {
        if (t % 2 == 0) {
          ASSERT_TRUE(
              store->append("noise-" + std::to_string(t), ExpectedVersion::any(), {make_event()}));
        }
        auto r = store->append("retried", ExpectedVersion::any(), events);
        ASSERT_TRUE(r) << r.error().message;
        results[t] = *r;
      });
    }
    for (auto& t : threads) t.join();
    int fresh = 0;
    for (const auto& r : results) {
      EXPECT_EQ(r.first_position, results[0].first_position);
      EXPECT_EQ(r.last_position, r.first_position + 1);
      fresh += r.already_present ? 0 : 1;
    }
    EXPECT_EQ(fresh, 1) << "exactly one caller wrote the events";
  }
  EXPECT_EQ(store->stream_version("retried"), 60u);
  EXPECT_EQ(store->head_position(), 60u + 30u * 3u);
}

TEST(EventStore, SameIdDifferentContentIsEventIdConflict) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->append("p", ExpectedVersion::any(), {make_event("id-a", "x")}));
  auto changed = store->append("p", ExpectedVersion::any(), {make_event("id-a", "CHANGED")});
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().code, ErrorCode::kEventIdConflict);
  EXPECT_EQ(changed.error().event_id, "id-a");
  EXPECT_EQ(changed.error().position, 1u);

  // Same content to another stream is different content too.
  auto other_stream = store->append("other", ExpectedVersion::any(), {make_event("id-a", "x")});
  ASSERT_FALSE(other_stream);
  EXPECT_EQ(other_stream.error().code, ErrorCode::kEventIdConflict);
  EXPECT_EQ(store->head_position(), 1u);
}

TEST(EventStore, MixOfKnownAndNewIdsIsRejectedWhole) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto a = make_event("id-a");
  ASSERT_TRUE(store->append("p", ExpectedVersion::any(), {a}));
  auto mixed = store->append("p", ExpectedVersion::any(), {a, make_event("id-new")});
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().code, ErrorCode::kEventIdConflict);
  EXPECT_EQ(mixed.error().event_id, "id-a");
  EXPECT_EQ(store->head_position(), 1u);
  EXPECT_FALSE(store->read_event("id-new"));
}

TEST(EventStore, InvalidAppendsAreRejected) {
  TempDir dir;
  auto store = open_store(dir.path());
  EXPECT_EQ(store->append("", ExpectedVersion::any(), {make_event()}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      store->append(std::string("a\0b", 3), ExpectedVersion::any(), {make_event()}).error().code,
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->append("s", ExpectedVersion::any(), {}).error().code,
            ErrorCode::kInvalidArgument);
  Envelope no_id = make_event();
  no_id.clear_event_id();
  EXPECT_EQ(store->append("s", ExpectedVersion::any(), {no_id}).error().code,
            ErrorCode::kInvalidArgument);
  Envelope no_payload = make_event();
  no_payload.clear_payload();
  EXPECT_EQ(store->append("s", ExpectedVersion::any(), {no_payload}).error().code,
            ErrorCode::kInvalidArgument);
  auto twice = make_event();
  EXPECT_EQ(store->append("s", ExpectedVersion::any(), {twice, twice}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->head_position(), 0u);
}

// append_async from one thread: every append answered once, in queue order
// (positions follow submission), a conflict judged against the appends queued
// before it, a refusal answered inline, and kClosed after close().
TEST(EventStore, AppendAsyncFromOneThreadKeepsQueueOrder) {
  TempDir dir;
  auto store = open_store(dir.path());
  constexpr int kAppends = 200;
  std::mutex mutex;
  std::condition_variable answered_cv;
  std::vector<Expected<AppendResult, Error>> answers;
  std::vector<int> order;
  auto done = [&](int i) {
    return [&, i](Expected<AppendResult, Error> r) {
      std::lock_guard lock(mutex);
      answers.push_back(std::move(r));
      order.push_back(i);
      answered_cv.notify_all();
    };
  };
  for (int i = 0; i < kAppends; ++i) {
    // Two events per append, each stream appended twice: the second expects version 2.
    const std::string stream = "s" + std::to_string(i / 2);
    auto expected = i % 2 == 0 ? ExpectedVersion::no_stream() : ExpectedVersion::exact(2);
    store->append_async(stream, expected, {make_event(), make_event()}, done(i));
  }
  // Conflicts with the appends queued just before it (stream s0 is at version 4).
  store->append_async("s0", ExpectedVersion::exact(2), {make_event()}, done(kAppends));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(answered_cv.wait_for(lock, std::chrono::seconds(30),
                                     [&] { return answers.size() == kAppends + 1; }));
  }
  std::map<int, const Expected<AppendResult, Error>*> by_index;
  for (size_t k = 0; k < order.size(); ++k) by_index[order[k]] = &answers[k];
  ASSERT_EQ(by_index.size(), static_cast<size_t>(kAppends + 1));
  for (int i = 0; i < kAppends; ++i) {
    const auto& r = *by_index[i];
    ASSERT_TRUE(r) << i << ": " << r.error().message;
    EXPECT_EQ(r->first_position, static_cast<uint64_t>(2 * i + 1)) << i;
    EXPECT_EQ(r->stream_version, i % 2 == 0 ? 2u : 4u);
  }
  const auto& conflict = *by_index[kAppends];
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
  EXPECT_EQ(conflict.error().actual_version, 4u);
  EXPECT_EQ(store->head_position(), static_cast<uint64_t>(2 * kAppends));

  // Refused before queueing: answered inline, before append_async returns.
  bool inline_answer = false;
  store->append_async("", ExpectedVersion::any(), {make_event()},
                      [&](Expected<AppendResult, Error> r) {
                        inline_answer = !r && r.error().code == ErrorCode::kInvalidArgument;
                      });
  EXPECT_TRUE(inline_answer);
  store->close();
  bool closed_answer = false;
  store->append_async("s", ExpectedVersion::any(), {make_event()},
                      [&](Expected<AppendResult, Error> r) {
                        closed_answer = !r && r.error().code == ErrorCode::kClosed;
                      });
  EXPECT_TRUE(closed_answer);
}

TEST(EventStore, ReadStreamForwardAndBackward) {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->append("s", ExpectedVersion::any(), {make_event()}));
    ASSERT_TRUE(store->append("s-other", ExpectedVersion::any(), {make_event()}));
  }
  ASSERT_TRUE(store->append("t", ExpectedVersion::any(), {make_event()}));

  auto forward = store->read_stream("s", 2, 10, Direction::kForward);
  ASSERT_TRUE(forward);
  ASSERT_EQ(forward->size(), 4u);
  for (size_t i = 0; i < forward->size(); ++i) {
    EXPECT_EQ((*forward)[i].stream_id(), "s");
    EXPECT_EQ((*forward)[i].stream_version(), i + 2);
  }
  EXPECT_EQ((*forward)[0].position(), 3u);

  auto backward = store->read_stream("s", 0, 3, Direction::kBackward);
  ASSERT_TRUE(backward);
  ASSERT_EQ(backward->size(), 3u);
  EXPECT_EQ((*backward)[0].stream_version(), 5u);
  EXPECT_EQ((*backward)[2].stream_version(), 3u);

  auto from_two = store->read_stream("s", 2, 10, Direction::kBackward);
  ASSERT_TRUE(from_two);
  ASSERT_EQ(from_two->size(), 2u);
  EXPECT_EQ((*from_two)[0].stream_version(), 2u);
  EXPECT_EQ((*from_two)[1].stream_version(), 1u);

  EXPECT_TRUE(store->read_stream("nope", 0, 10, Direction::kBackward)->empty());
  EXPECT_TRUE(store->read_stream("s", 6, 10, Direction::kForward)->empty());
}

// The replay path's batch (one arena) holds the same events as read_all,
// byte for byte, stops at max_count and at the head, and outlives the store's
// iterator (the runner folds it on another thread).
TEST(EventStore, ReadBatchHoldsWhatReadAllReturns) {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->append("s" + std::to_string(i % 3), ExpectedVersion::any(),
                              {make_event("e" + std::to_string(i))}));
  }
  auto all = store->read_all(2, 100);
  auto batch = store->read_batch(2, 100);
  ASSERT_TRUE(all);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), all->size());
  ASSERT_EQ(batch->size(), 9u);
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ(batch->events()[i]->SerializeAsString(), (*all)[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(batch->back().position(), 10u);
  auto three = store->read_batch(4, 3);
  ASSERT_TRUE(three);
  ASSERT_EQ(three->size(), 3u);
  EXPECT_EQ(three->events()[0]->position(), 4u);
  EXPECT_EQ(three->back().position(), 6u);
  EXPECT_TRUE(store->read_batch(11, 5)->empty());
  EXPECT_TRUE(store->read_batch(1, 0)->empty());
  EventBatch moved = std::move(*three);
  store.reset();
  EXPECT_EQ(moved.events()[1]->event_id(), "e4");
}

TEST(EventStore, ReadAllScanAndReadEvent) {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->append("s" + std::to_string(i % 3), ExpectedVersion::any(),
                              {make_event("e" + std::to_string(i))}));
  }
  auto page = store->read_all(4, 3);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].position(), 4u);
  EXPECT_EQ((*page)[2].position(), 6u);
  EXPECT_TRUE(store->read_all(11, 5)->empty());
  EXPECT_EQ(store->read_all(0, 100)->size(), 10u);

  std::vector<uint64_t> seen;
  auto last = store->scan(3, 7, [&](const Envelope& e) {
    seen.push_back(e.position());
    return true;
  });
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 7u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 4, 5, 6, 7}));

  auto e7 = store->read_event("e7");
  ASSERT_TRUE(e7);
  EXPECT_EQ(e7->position(), 8u);
  EXPECT_EQ(store->read_event("missing").error().code, ErrorCode::kNotFound);
}

TEST(EventStore, RecordedAtIsNonDecreasingOverPositions) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        ASSERT_TRUE(store->append("s" + std::to_string(t), ExpectedVersion::any(), {make_event()}));
      }
    });
  }
  for (auto& t : threads) t.join();
  int64_t previous = 0;
  auto all = store->read_all(1, 1000);
  ASSERT_EQ(all->size(), 200u);
  for (const auto& e : *all) {
    EXPECT_GT(e.recorded_at_us(), 0);
    EXPECT_GE(e.recorded_at_us(), previous) << "at position " << e.position();
    previous = e.recorded_at_us();
  }
}

TEST(EventStore, ReopenKeepsHeadChainAndMeta) {
  TempDir dir;
  std::string id, hash;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store->append("s", ExpectedVersion::any(), {make_event(), make_event()}));
    ASSERT_TRUE(store->put_meta("relay.cursor", "2"));
    id = store->store_id();
    hash = store->head_hash();
  }
  auto store = open_store(dir.path());
  EXPECT_EQ(store->head_position(), 2u);
  EXPECT_EQ(store->head_hash(), hash);
  EXPECT_EQ(store->store_id(), id);
  EXPECT_EQ(store->get_meta("relay.cursor").value(), "2");
  EXPECT_EQ(store->get_meta("nope").error().code, ErrorCode::kNotFound);
  auto next = store->append("s", ExpectedVersion::exact(2), {make_event()});
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->first_position, 3u);
  EXPECT_EQ(store->read_all(3, 1)->at(0).prev_hash(), hash);
}

TEST(EventStore, WaitForHeadBeyondWakesOnAppendAndClose) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(store->append("s", ExpectedVersion::any(), {make_event()}));
  });
  auto head =
      store->wait_for_head_beyond(0, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  EXPECT_EQ(head, 1u);
  appender.join();
  store->close();
  EXPECT_EQ(store->append("s", ExpectedVersion::any(), {make_event()}).error().code,
            ErrorCode::kClosed);
  EXPECT_EQ(
      store->wait_for_head_beyond(5, std::chrono::steady_clock::now() + std::chrono::seconds(30)),
      1u);
}

TEST(EventStore, SubscriptionHasNoGapNoDuplicateAcrossHistoryToLiveWith8Writers) {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(store->append("history", ExpectedVersion::any(), {make_event()}));
  }
  constexpr int kWriters = 8, kPerWriter = 60;
  std::mutex mu;
  std::vector<uint64_t> delivered;
  std::set<std::string> ids;
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kPerWriter; ++i) {
        std::vector<Envelope> batch = {make_event()};
        if (i % 7 == 0) batch.push_back(make_event());
        ASSERT_TRUE(store->append("w" + std::to_string(t), ExpectedVersion::any(), batch));
      }
    });
  }
  // Writers start while the subscription is still reading history.
  Subscription sub(*store, 1, [&](const Envelope& e) {
    if (e.position() == 10) go.store(true);
    std::lock_guard lock(mu);
    delivered.push_back(e.position());
    ids.insert(e.event_id());
    return true;
  });
  for (auto& t : writers) t.join();
  const uint64_t head = store->head_position();
  for (int i = 0; i < 3000 && sub.last_delivered() < head; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sub.stop();
  EXPECT_EQ(sub.error(), "");
  std::lock_guard lock(mu);
  ASSERT_EQ(delivered.size(), head);
  for (size_t i = 0; i < delivered.size(); ++i) ASSERT_EQ(delivered[i], i + 1);
  EXPECT_EQ(ids.size(), head);
  EXPECT_GT(head, 300u + kWriters * kPerWriter - 1);
}

TEST(EventStore, SubscriptionFromMiddleAndHandlerStop) {
  TempDir dir;
  auto store = open_store(dir.path());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(store->append("s", ExpectedVersion::any(), {make_event()}));
  std::atomic<uint64_t> first{0}, count{0};
  Subscription sub(*store, 15, [&](const Envelope& e) {
    if (first.load() == 0) first.store(e.position());
    return ++count < 3;
  });
  for (int i = 0; i < 1000 && count.load() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(first.load(), 15u);
  EXPECT_EQ(count.load(), 3u);
  EXPECT_EQ(sub.last_delivered(), 17u);
}

TEST(EventStoreReadOnly, FollowsALiveWriterWithoutItsLock) {
  TempDir dir;
  auto writer = open_store(dir.path());
  ASSERT_TRUE(writer->append("s", ExpectedVersion::any(), {make_event("first")}));
  StoreOptions options;
  options.read_only = true;
  auto reader = open_store(dir.path(), options);
  EXPECT_EQ(reader->head_position(), 1u);
  EXPECT_EQ(reader->store_id(), writer->store_id());
  EXPECT_EQ(reader->append("s", ExpectedVersion::any(), {make_event()}).error().code,
            ErrorCode::kInvalidArgument);

  std::atomic<uint64_t> seen{0};
  Subscription sub(*reader, 1, [&](const Envelope& e) {
    seen.store(e.position());
    return true;
  });
  ASSERT_TRUE(
      writer->append("s", ExpectedVersion::any(), {make_event("second"), make_event("third")}));
  auto head =
      reader->wait_for_head_beyond(1, std::chrono::steady_clock::now() + std::chrono::seconds(30));
  EXPECT_EQ(head, 3u);
  EXPECT_EQ(reader->head_hash(), writer->head_hash());
  EXPECT_EQ(reader->read_event("third")->position(), 3u);
  EXPECT_EQ(reader->stream_version("s"), 3u);
  for (int i = 0; i < 3000 && seen.load() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(seen.load(), 3u);
  EXPECT_EQ(sub.error(), "");
}

TEST(EventStoreReadOnly, MissingStoreIsNotCreated) {
  TempDir dir;
  StoreOptions options;
  options.read_only = true;
  auto store = EventStore::open(dir.sub("none"), options);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir.sub("none")));
}

TEST(EventStoreOpen, ForeignDirectoryWithFilesIsRefusedAndUntouched) {
  TempDir dir;
  { std::ofstream(dir.sub("notes.txt")) << "hello"; }
  auto store = EventStore::open(dir.path());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("not a wharf event store"), std::string::npos)
      << store.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir.sub("CURRENT")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(EventStoreOpen, CreatesMissingParentsAndAcceptsATrailingSlash) {
  TempDir dir;
  const std::string nested = dir.sub("a/b/store/");
  std::string id;
  {
    auto store = open_store(nested);
    ASSERT_TRUE(store->append("s", ExpectedVersion::any(), {make_event()}));
    id = store->store_id();
  }
  auto again = open_store(dir.sub("a/b/store"));
  EXPECT_EQ(again->store_id(), id);
  EXPECT_EQ(again->head_position(), 1u);
  for (const auto& entry : std::filesystem::directory_iterator(dir.sub("a/b"))) {
    EXPECT_EQ(entry.path().filename(), "store") << "creation leaves nothing beside the store";
  }
}

TEST(EventStoreOpen, MissingDirectoryWithoutCreateIsNotFound) {
  TempDir dir;
  StoreOptions options;
  options.create_if_missing = false;
  auto store = EventStore::open(dir.sub("nothing"), options);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kNotFound);
}

TEST(EventStoreOpen, SecondOpenOfALiveStoreFailsClearly) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto second = EventStore::open(dir.path());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
}

}  // namespace
}  // namespace wharf::events
