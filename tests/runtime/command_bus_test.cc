// CommandBus against a real store: rejections, idempotent repeats, version
// conflicts retried under concurrency, ordered submit().
#include "adapters/runtime/command_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "tests/runtime/runtime_fixture.h"

namespace wharf::runtime {
namespace {

using namespace wharf::runtime::testing;

class CommandBusTest : public ::testing::Test {
 protected:
  engine::Context ctx() { return bus_.user_context("alice", wharf::v1::CHANNEL_CLI); }
  TempDir dir_;
  std::unique_ptr<events::EventStore> store_ = open_store(dir_.path() / "events");
  ManualClock clock_;
  CommandBus bus_{*store_, clock_, 4};
};

TEST_F(CommandBusTest, RejectionCarriesAReadableReason) {
  auto outcome = bus_.execute(make_commit("nope", "abc"), ctx());
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().kind, CommandError::Kind::kRejected);
  EXPECT_EQ(outcome.error().rejection.code, engine::Rejection::Code::kNotFound);
  EXPECT_NE(outcome.error().message().find("nope"), std::string::npos);
  EXPECT_EQ(store_->head_position(), 0u);
}

TEST_F(CommandBusTest, AppendsToTheCommandsStreamAndRepeatsAreNoOps) {
  auto created = bus_.execute(make_project("shop", "/srv/shop", {"staging"}), ctx());
  ASSERT_TRUE(created) << created.error().message();
  EXPECT_EQ(created->stream, engine::project_stream("shop"));
  EXPECT_GE(created->event_ids.size(), 1u);
  EXPECT_EQ(created->first_position, 1u);

  auto commit = make_commit("shop", "abc123");
  auto first = bus_.execute(commit, ctx());
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->stream, engine::run_stream(engine::run_id_of(commit)));
  uint64_t head = store_->head_position();
  // The same commit observed again (Gerrit redelivery) appends nothing.
  auto again = bus_.execute(commit, ctx());
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(again->nothing_to_do);
  EXPECT_EQ(store_->head_position(), head);
}

TEST_F(CommandBusTest, ConcurrentCommandsOnOneStreamAreRetriedNotLost) {
  ASSERT_TRUE(bus_.execute(make_project("shop", "/srv/shop", {"staging"}), ctx()));
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      engine::DefineEnvironment define;
      define.project_id = "shop";
      define.environment.set_name("env" + std::to_string(i));
      define.environment.set_target(wharf::v1::TARGET_TYPE_LOCAL);
      auto outcome = bus_.execute(define, bus_.user_context("alice", wharf::v1::CHANNEL_CLI));
      if (!outcome) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto history =
      store_->read_stream(engine::project_stream("shop"), 1, 100, events::Direction::kForward);
  ASSERT_TRUE(history);
  auto state = engine::fold(engine::project_stream("shop"), *history);
  ASSERT_NE(state.project(), nullptr);
  EXPECT_EQ(state.project()->environments.size(), 1u + kThreads);
}

TEST_F(CommandBusTest, SubmitRunsCommandsOfOneStreamInOrder) {
  ASSERT_TRUE(bus_.execute(make_project("shop", "/srv/shop", {"staging"}), ctx()));
  std::vector<std::string> order;
  std::mutex mutex;
  for (int i = 0; i < 20; ++i) {
    engine::DefineEnvironment define;
    define.project_id = "shop";
    define.environment.set_name("e" + std::to_string(i));
    bus_.submit(define, ctx(), [&, i](const CommandOutcome& outcome) {
      std::lock_guard lock(mutex);
      order.push_back(outcome ? "e" + std::to_string(i) : "failed");
    });
  }
  bus_.drain();
  ASSERT_EQ(order.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(order[static_cast<size_t>(i)], "e" + std::to_string(i));
  auto history =
      store_->read_stream(engine::project_stream("shop"), 1, 100, events::Direction::kForward);
  ASSERT_TRUE(history);
  auto state = engine::fold(engine::project_stream("shop"), *history);
  ASSERT_EQ(state.project()->environments.size(), 21u);
  EXPECT_EQ(state.project()->environments.back().name(), "e19");
}

// One worker: while it is held inside a done callback, a follow-up command
// and a commit that starts a run are queued; the commit goes first (lower
// position) though it was submitted last, and the held stream's next command
// waits for the held one.
TEST(CommandBusSchedulingTest, FirstStepsGoBeforeQueuedFollowUps) {
  TempDir dir;
  auto store = open_store(dir.path() / "events");
  ManualClock clock;
  CommandBus bus(*store, clock, 1);
  auto ctx = [&] { return bus.user_context("alice", wharf::v1::CHANNEL_CLI); };
  ASSERT_TRUE(bus.execute(make_project("shop", "/srv/shop", {"staging"}), ctx()));
  ASSERT_TRUE(bus.execute(make_project("bar", "/srv/bar", {"staging"}), ctx()));

  std::mutex mutex;
  std::condition_variable cv;
  bool held = false, release = false;
  std::map<std::string, uint64_t> positions;
  auto record = [&](const std::string& name) {
    return [&, name](const CommandOutcome& outcome) {
      std::lock_guard lock(mutex);
      positions[name] = outcome ? outcome->first_position : 0;
    };
  };
  auto define = [](const std::string& project, const std::string& env) {
    engine::DefineEnvironment d;
    d.project_id = project;
    d.environment.set_name(env);
    d.environment.set_target(wharf::v1::TARGET_TYPE_LOCAL);
    return d;
  };
  bus.submit(define("shop", "a"), ctx(), [&](const CommandOutcome& outcome) {
    std::unique_lock lock(mutex);
    positions["a"] = outcome ? outcome->first_position : 0;
    held = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return held; }));
  }
  bus.submit(define("shop", "b"), ctx(), record("b"));  // same stream as the held one
  bus.submit(define("bar", "c"), ctx(), record("c"));
  bus.submit(make_commit("bar", "abc123"), ctx(), record("commit"));
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  cv.notify_all();
  bus.drain();
  std::lock_guard lock(mutex);
  ASSERT_EQ(positions.size(), 4u);
  for (const auto& [name, position] : positions) EXPECT_GT(position, 0u) << name;
  EXPECT_LT(positions["commit"], positions["c"]);
  EXPECT_LT(positions["a"], positions["b"]);
}

// Many commands on many streams submitted at once all land (the worker does
// not wait for each fsync, the appends share group commits).
TEST(CommandBusSchedulingTest, BurstOfCommitsAllRecordedWithTwoWorkers) {
  TempDir dir;
  auto store = open_store(dir.path() / "events");
  ManualClock clock;
  CommandBus bus(*store, clock, 2);
  ASSERT_TRUE(bus.execute(make_project("shop", "/srv/shop", {"staging"}),
                          bus.user_context("alice", wharf::v1::CHANNEL_CLI)));
  std::atomic<int> ok{0}, failed{0};
  constexpr int kCommits = 300;
  for (int i = 0; i < kCommits; ++i) {
    bus.submit(make_commit("shop", "sha" + std::to_string(i)),
               bus.user_context("alice", wharf::v1::CHANNEL_CLI),
               [&](const CommandOutcome& outcome) { ++(outcome ? ok : failed); });
  }
  bus.drain();
  EXPECT_EQ(ok.load(), kCommits);
  EXPECT_EQ(failed.load(), 0);
  for (int i = 0; i < kCommits; i += 37) {
    auto run =
        engine::run_stream(engine::run_id_of(make_commit("shop", "sha" + std::to_string(i))));
    EXPECT_GE(store->stream_version(run), 2u) << run;
  }
}

}  // namespace
}  // namespace wharf::runtime
