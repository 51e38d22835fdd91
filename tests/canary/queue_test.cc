// remote_deploy::CanaryQueue's retry policy with a scripted Apply: a step
// that the cluster never takes aborts the canary, a promotion is given up
// after its tries, an abort is retried until it goes through, and a newer
// change replaces a failing one.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/remote_deploy/canary_queue.h"

namespace wharf {
namespace {

using namespace std::chrono_literals;
using Phase = engine::CanaryTraffic::Phase;
using remote_deploy::CanaryQueue;

engine::CanaryTraffic traffic(Phase phase, uint32_t weight = 0) {
  engine::CanaryTraffic t;
  t.phase = phase;
  t.canary_id = "c-1";
  t.project_id = "web";
  t.environment = "prod";
  t.step = 1;
  t.weight = weight;
  return t;
}

// What the queue asked of the cluster and what it reported back.
struct Script {
  std::mutex mutex;
  std::vector<Phase> applied;  // every call, in order
  int failures_left = 0;       // calls that fail before the first success (-1: all)
  std::vector<engine::CanaryVerdict> verdicts;

  CanaryQueue::Apply apply() {
    return [this](const engine::CanaryTraffic& t) -> Expected<void, std::string> {
      std::lock_guard lock(mutex);
      applied.push_back(t.phase);
      if (failures_left == 0) return {};
      if (failures_left > 0) --failures_left;
      return unexpected(std::string("the cluster said 503"));
    };
  }
  CanaryQueue::OnFailed on_failed() {
    return [this](const engine::CanaryVerdict& v) {
      std::lock_guard lock(mutex);
      verdicts.push_back(v);
    };
  }
};

auto soon() {
  return std::chrono::steady_clock::now() + 10s;
}

// Pushes `t` through a queue of `tries` tries whose cluster fails the first
// `failures` calls (-1: every call); returns the queue's last error.
std::string run(Script& script, const engine::CanaryTraffic& t, int tries, int failures) {
  script.failures_left = failures;
  CanaryQueue queue("test", script.apply(), 1ms, tries, 4ms);
  queue.push(t, script.on_failed());
  if (!queue.wait_idle(soon())) return "not idle within 10 s";
  return queue.last_error(t.project_id, t.environment);
}

TEST(CanaryQueue, AStepTheClusterNeverTakesAbortsTheCanaryOnceWithTheError) {
  Script script;
  EXPECT_EQ(run(script, traffic(Phase::kStep, 50), 3, -1), "the cluster said 503");
  EXPECT_EQ(script.applied.size(), 3u);
  ASSERT_EQ(script.verdicts.size(), 1u);
  const engine::CanaryVerdict& v = script.verdicts[0];
  EXPECT_EQ(v.figures.source(), "traffic");
  EXPECT_NE(v.reason.find("traffic change failed after 3 tries"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("step 1 at 50%"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("the cluster said 503"), std::string::npos) << v.reason;
}

TEST(CanaryQueue, AStepThatGoesThroughOnARetryReportsNothing) {
  Script script;
  EXPECT_EQ(run(script, traffic(Phase::kStep, 10), 3, 2), "");
  EXPECT_EQ(script.applied.size(), 3u);
  EXPECT_TRUE(script.verdicts.empty());
}

TEST(CanaryQueue, AnAbortIsRetriedPastItsTriesUntilTheClusterTakesIt) {
  Script script;
  EXPECT_EQ(run(script, traffic(Phase::kAborted), 2, 6), "");
  EXPECT_EQ(script.applied.size(), 7u);
  EXPECT_TRUE(script.verdicts.empty());
}

TEST(CanaryQueue, APromotionIsGivenUpAfterItsTriesWithoutAnAbort) {
  Script script;
  EXPECT_EQ(run(script, traffic(Phase::kPromoted, 100), 3, -1), "the cluster said 503");
  EXPECT_EQ(script.applied.size(), 3u);
  EXPECT_TRUE(script.verdicts.empty());
}

TEST(CanaryQueue, ANewerChangeReplacesAFailingStepWithoutAnAbort) {
  Script script;
  CanaryQueue* queue_ptr = nullptr;
  bool pushed = false;
  // The step fails once; meanwhile the canary was aborted (a newer change).
  CanaryQueue queue(
      "test",
      [&](const engine::CanaryTraffic& t) -> Expected<void, std::string> {
        std::lock_guard lock(script.mutex);
        script.applied.push_back(t.phase);
        if (t.phase != Phase::kStep) return {};
        if (!pushed) {
          pushed = true;
          queue_ptr->push(traffic(Phase::kAborted), script.on_failed());
        }
        return unexpected(std::string("the cluster said 503"));
      },
      1ms, 3, 4ms);
  queue_ptr = &queue;
  queue.push(traffic(Phase::kStep, 50), script.on_failed());
  ASSERT_TRUE(queue.wait_idle(soon()));

  EXPECT_EQ(script.applied, (std::vector<Phase>{Phase::kStep, Phase::kAborted}));
  EXPECT_TRUE(script.verdicts.empty());
  EXPECT_EQ(queue.last_error("web", "prod"), "");
}

}  // namespace
}  // namespace wharf
