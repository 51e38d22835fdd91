// Crash test with a real SIGKILL: a child appends from many threads and
// reports every acknowledged (position, event id) through a pipe; the parent
// kills it at random moments, reopens the store and checks that every
// acknowledged event is present exactly once, positions are dense and the
// chain verifies. Rounds: 20, or WHARF_CRASH_ROUNDS.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "events/export.h"
#include "tests/events/test_util.h"
#include "tests/test_paths.h"

namespace wharf::events {
namespace {

int rounds() {
  const char* env = std::getenv("WHARF_CRASH_ROUNDS");
  return env != nullptr ? std::max(1, std::atoi(env)) : 20;
}

struct ChildRun {
  std::string output;  // everything the child wrote before it died
  int status = 0;
};

// Runs the child for `run_for`, SIGKILLs it, and collects its output.
ChildRun run_and_kill(const std::string& dir, std::chrono::milliseconds run_for) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(WHARF_CRASH_CHILD, WHARF_CRASH_CHILD, dir.c_str(), "8", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(fds[1]);
  ChildRun run;
  char buffer[65536];
  auto deadline = std::chrono::steady_clock::now() + run_for;
  bool killed = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!killed && left.count() <= 0) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, killed ? 1000 : static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (ready <= 0) continue;
    ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // EOF: the child is gone
    run.output.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (!killed) ::kill(pid, SIGKILL);
  ::waitpid(pid, &run.status, 0);
  return run;
}

TEST(CrashTest, EveryAcknowledgedEventSurvivesSigkillExactlyOnce) {
  testing::TempDir tmp;
  const std::string dir = tmp.sub("store");
  std::mt19937 rng(std::random_device{}());
  std::map<std::string, uint64_t> acknowledged;  // event id -> position, over all rounds
  uint64_t killed_with_work = 0;
  const int total = rounds();
  for (int round = 0; round < total; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Every fourth round dies young: while creating or opening the store.
    auto run = run_and_kill(
        dir, std::chrono::milliseconds(round % 4 == 0 ? 2 + rng() % 40 : 40 + rng() % 400));
    ASSERT_TRUE(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
        << "the child exited by itself (status " << run.status << "), output tail: "
        << run.output.substr(run.output.size() > 300 ? run.output.size() - 300 : 0);
    // Only complete lines were acknowledged; a line cut by the kill is dropped.
    std::istringstream lines(run.output.substr(0, run.output.rfind('\n') + 1));
    uint64_t position = 0;
    std::string id;
    uint64_t this_round = 0;
    while (lines >> position >> id) {
      auto [it, inserted] = acknowledged.emplace(id, position);
      ASSERT_EQ(it->second, position) << "event " << id << " acknowledged at two positions";
      this_round += inserted ? 1 : 0;
    }
    killed_with_work += this_round > 0 ? 1 : 0;

    if (acknowledged.empty() && !std::filesystem::exists(dir))
      continue;  // killed before creating it
    auto store = EventStore::open(dir);
    ASSERT_TRUE(store) << "reopen after SIGKILL failed: " << store.error().message;
    uint64_t max_position = 0;
    for (const auto& [event_id, at] : acknowledged) {
      auto e = (*store)->read_event(event_id);
      ASSERT_TRUE(e) << "acknowledged event " << event_id << " at " << at
                     << " lost: " << e.error().message;
      ASSERT_EQ(e->position(), at);
      max_position = std::max(max_position, at);
    }
    EXPECT_GE((*store)->head_position(), max_position);
    (*store).reset();
    auto report = verify_store(dir);
    ASSERT_TRUE(report.ok) << report.message;  // dense, chain links, each id indexed once
  }
  EXPECT_GT(killed_with_work, static_cast<uint64_t>(total / 3))
      << "most rounds should kill a busy child";
  RecordProperty("acknowledged_events", static_cast<int>(acknowledged.size()));
  std::printf("crash test: %d rounds, %zu acknowledged events, all present exactly once\n", total,
              acknowledged.size());
}

}  // namespace
}  // namespace wharf::events
