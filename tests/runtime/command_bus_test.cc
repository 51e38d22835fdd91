// CommandBus against a real store: rejections, idempotent repeats, version
// conflicts retried under concurrency, ordered submit().
#include <gtest/gtest.h>

#include <thread>

#include "adapters/runtime/command_bus.h"
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
  auto history = store_->read_stream(engine::project_stream("shop"), 1, 100,
                                     events::Direction::kForward);
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
  auto history = store_->read_stream(engine::project_stream("shop"), 1, 100,
                                     events::Direction::kForward);
  ASSERT_TRUE(history);
  auto state = engine::fold(engine::project_stream("shop"), *history);
  ASSERT_EQ(state.project()->environments.size(), 21u);
  EXPECT_EQ(state.project()->environments.back().name(), "e19");
}

}  // namespace
}  // namespace wharf::runtime
