// SIGKILL the process hosting the runtime mid-build and mid-deploy, restart
// it: every run finishes, and no build or deploy process was started twice
// (DATA/sideeffects.log counts real starts).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "adapters/local/deploy_target.h"
#include "adapters/runtime/command_bus.h"
#include "tests/runtime/e2e_support.h"
#include "tests/test_paths.h"

namespace wharf::runtime {
namespace {

using namespace wharf::runtime::testing;

class Harness {
 public:
  Harness(const fs::path& data, bool snapshot_every_event)
      : data_(data), snapshot_every_event_(snapshot_every_event) {}
  ~Harness() { kill_now(); }
  void start() {
    pid_ = fork();
    if (pid_ == 0) {
      int log = open((data_ / "harness.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, 1);
      dup2(log, 2);
      if (snapshot_every_event_) {
        execl(WHARF_RUNTIME_HARNESS, WHARF_RUNTIME_HARNESS, data_.c_str(), "--snapshot-every-event",
              nullptr);
      } else {
        execl(WHARF_RUNTIME_HARNESS, WHARF_RUNTIME_HARNESS, data_.c_str(), nullptr);
      }
      _exit(127);
    }
  }
  void kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  int terminate() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Runs completed according to the harness' status file.
  uint64_t completed_runs() const {
    std::ifstream in(data_ / "harness-status");
    uint64_t completed = 0;
    in >> completed;
    return completed;
  }

 private:
  fs::path data_;
  bool snapshot_every_event_ = false;
  pid_t pid_ = 0;
};

size_t count_prefix(const std::vector<std::string>& lines, const std::string& prefix) {
  size_t n = 0;
  for (const auto& l : lines) n += l.rfind(prefix, 0) == 0;
  return n;
}

// "<kind> <id> <attempt> <pid>" -> how often each "<kind> <id> <attempt>" started.
std::map<std::string, int> starts_by_key(const std::vector<std::string>& lines) {
  std::map<std::string, int> counts;
  for (const auto& l : lines) {
    auto last_space = l.rfind(' ');
    counts[l.substr(0, last_space)]++;
  }
  return counts;
}

// The scenario of both tests below: kill mid-build, restart, kill mid-deploy,
// restart, let everything finish. With `snapshot_every_event` the process
// manager writes its state snapshot after every event it handles, so each
// restart starts from a snapshot and folds only the events after it.
void kill_mid_build_and_mid_deploy(bool snapshot_every_event) {
  TempDir dir;
  fs::path data = dir.path() / "data";
  fs::path repo = dir.path() / "repo";
  // Whatever happens, the services this test starts are stopped at the end.
  struct StopServices {
    fs::path data;
    ~StopServices() { local::LocalDeployTarget(data).stop_all(); }
  } stop_services{data};
  std::string first = make_hello_repo(repo);
  std::string second = commit_version(repo, "2.0.0");
  std::vector<std::string> runs;
  {
    // Set up the project and two commits, then hand the store to the harness.
    auto store = open_store(data / "events", true);
    SystemClock clock;  // the harness times steps out by the same clock
    CommandBus bus(*store, clock);
    auto ctx = [&] { return bus.user_context("alice", wharf::v1::CHANNEL_CLI); };
    // Slow steps so the kills land inside them.
    auto created = bus.execute(hello_project("hello", repo, "sleep 2; ", "sleep 2; "), ctx());
    ASSERT_TRUE(created) << created.error().message();
    for (const auto& sha : {first, second}) {
      auto commit = make_commit("hello", sha);
      auto observed = bus.execute(commit, ctx());
      ASSERT_TRUE(observed) << observed.error().message();
      runs.push_back(engine::run_id_of(commit));
    }
    bus.stop();
    store->close();
  }
  const fs::path side_effects = data / "sideeffects.log";
  Harness harness(data, snapshot_every_event);

  // 1. Kill while both builds run.
  harness.start();
  ASSERT_TRUE(eventually([&] { return count_prefix(read_lines(side_effects), "build ") == 2; },
                         std::chrono::seconds(30)));
  harness.kill_now();

  // 2. Restart; kill while the first deploy waits for its service to be healthy.
  harness.start();
  ASSERT_TRUE(eventually([&] { return count_prefix(read_lines(side_effects), "deploy ") >= 1; },
                         std::chrono::seconds(60)));
  harness.kill_now();

  // 3. Restart and let everything finish.
  harness.start();
  bool finished =
      eventually([&] { return harness.completed_runs() >= 2; }, std::chrono::seconds(120));
  EXPECT_EQ(harness.terminate(), 0);
  ASSERT_TRUE(finished) << "runs did not finish; see " << (data / "harness.log").string();

  auto store = open_store(data / "events");
  for (const auto& run : runs) EXPECT_TRUE(run_completed(*store, run)) << run;
  auto lines = read_lines(side_effects);
  EXPECT_EQ(count_prefix(lines, "build "), 2u);
  EXPECT_EQ(count_prefix(lines, "deploy "), 4u);  // two runs x (staging, prod)
  for (const auto& [key, n] : starts_by_key(lines))
    EXPECT_EQ(n, 1) << key << " started " << n << " times";
  // Every build and deploy succeeded on its first attempt: the restarts
  // adopted the work instead of failing and retrying it.
  for (const auto& e : events_of_type(*store, "BuildRequested")) {
    EXPECT_EQ(e.payload().build_requested().attempt(), 1u);
  }
  EXPECT_EQ(events_of_type(*store, "DeployFailed").size(), 0u);
  // The restarts began from the snapshot (or, without snapshots, the log).
  std::ifstream log(data / "harness.log");
  std::stringstream text;
  text << log.rdbuf();
  const bool from_snapshot =
      text.str().find("process-manager: state snapshot at position") != std::string::npos;
  EXPECT_EQ(from_snapshot, snapshot_every_event) << text.str();
}

TEST(SigkillTest, KilledMidBuildAndMidDeployEveryRunFinishesAndNothingStartsTwice) {
  kill_mid_build_and_mid_deploy(false);
}

// Issue 26: the same with state snapshots written all the time: a kill
// between an append and the snapshot of the events before it neither skips
// nor repeats a reaction.
TEST(SigkillTest, RestartsFromStateSnapshotsStartNothingTwiceAndForgetNothing) {
  kill_mid_build_and_mid_deploy(true);
}

}  // namespace
}  // namespace wharf::runtime
