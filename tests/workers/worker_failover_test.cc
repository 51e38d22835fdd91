// Three `wharf worker` processes in one consumer group on a real Apache Kafka
// broker; the engine runtime here publishes tasks to them. SIGKILL the worker
// in the middle of a build: the group hands its partition to another worker,
// which adopts the build still running (its process outlives the worker)
// instead of starting it again. Every run finishes; DATA/sideeffects.log shows
// each build and deploy started exactly once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>

#include "adapters/local/deploy_target.h"
#include "adapters/runtime/runtime.h"
#include "adapters/workers/task_dispatcher.h"
#include "tests/kafka/kafka_broker.h"
#include "tests/runtime/e2e_support.h"
#include "tests/test_paths.h"

namespace wharf::workers {
namespace {

using namespace wharf::runtime::testing;

// One `wharf worker` child process; stderr goes to DIR/<name>.log.
class WorkerProcess {
 public:
  WorkerProcess(std::string name, fs::path data, fs::path log_dir, const TaskTopics& topics)
      : name_(std::move(name)), data_(std::move(data)), log_(log_dir / (name_ + ".log")) {
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(WHARF_BIN, WHARF_BIN, "worker", "--data", data_.c_str(), "--brokers",
            topics.bootstrap.c_str(), "--task-topic", topics.tasks.c_str(), "--result-topic",
            topics.results.c_str(), "--name", name_.c_str(), "--group", "failover-test",
            "--session-timeout-ms", "6000", nullptr);
      _exit(127);
    }
  }
  ~WorkerProcess() { stop(SIGTERM); }
  void stop(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  std::string log() const {
    std::ifstream in(log_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  bool logged(const std::string& text) const { return log().find(text) != std::string::npos; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  fs::path data_;
  fs::path log_;
  pid_t pid_ = 0;
};

size_t count_prefix(const std::vector<std::string>& lines, const std::string& prefix) {
  size_t n = 0;
  for (const auto& l : lines) n += l.rfind(prefix, 0) == 0;
  return n;
}

TEST(WorkerFailover, AWorkerKilledMidBuildLosesNoTaskAndNothingStartsTwice) {
  const std::string bootstrap = kafka::testing::KafkaBroker::shared().bootstrap();
  TempDir dir;
  const fs::path data = dir.path() / "data";
  const fs::path repo = dir.path() / "repo";
  fs::create_directories(data);
  struct StopServices {
    fs::path data;
    ~StopServices() { local::LocalDeployTarget(data).stop_all(); }
  } stop_services{data};
  std::vector<std::string> commits{make_hello_repo(repo)};
  commits.push_back(commit_version(repo, "2.0.0"));
  commits.push_back(commit_version(repo, "3.0.0"));

  TaskTopics topics;
  topics.bootstrap = bootstrap;
  topics.tasks = "failover.tasks";
  topics.results = "failover.results";
  topics.partitions = 3;
  auto made = ensure_topics(topics);
  ASSERT_TRUE(made) << made.error();

  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (const char* name : {"w1", "w2", "w3"}) {
    workers.push_back(std::make_unique<WorkerProcess>(name, data, dir.path(), topics));
  }
  // Wait for the group to settle: one partition each, so the kill below
  // moves exactly the victim's tasks.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& w : workers) {
          if (!w->logged("assigned 1 partition(s)")) return false;
        }
        return true;
      },
      std::chrono::seconds(90)))
      << workers[0]->log();

  auto dispatcher = TaskDispatcher::create(topics, "failover-serve");
  ASSERT_TRUE(dispatcher) << dispatcher.error();
  auto store = open_store(data / "events", true);
  runtime::Runtime runtime(*store, runtime::RuntimeOptions{.data_dir = data},
                           {&(*dispatcher)->build_runner(), &(*dispatcher)->deploy_target(),
                            &(*dispatcher)->test_runner()});
  ASSERT_TRUE(runtime.start());
  auto ctx = [&] { return runtime.commands().user_context("alice", wharf::v1::CHANNEL_CLI); };
  // Builds sleep so the kill lands inside one.
  auto created = runtime.commands().execute(hello_project("hello", repo, "sleep 4; "), ctx());
  ASSERT_TRUE(created) << created.error().message();
  std::vector<std::string> runs;
  for (const auto& sha : commits) {
    auto commit = make_commit("hello", sha);
    auto observed = runtime.commands().execute(commit, ctx());
    ASSERT_TRUE(observed) << observed.error().message();
    runs.push_back(engine::run_id_of(commit));
  }

  // Kill the worker that runs the first run's build, while it runs.
  const fs::path side_effects = data / "sideeffects.log";
  const std::string first_build = "build/" + runs[0] + "#1";
  ASSERT_TRUE(eventually(
      [&] { return count_prefix(read_lines(side_effects), "build " + runs[0] + " ") == 1; },
      std::chrono::seconds(60)));
  WorkerProcess* victim = nullptr;
  for (const auto& w : workers) {
    if (w->logged("starting " + first_build)) victim = w.get();
  }
  ASSERT_NE(victim, nullptr);
  ASSERT_FALSE(victim->logged("finished " + first_build)) << "the build ended before the kill";
  victim->stop(SIGKILL);

  const bool finished = eventually(
      [&] {
        for (const auto& run : runs) {
          if (!run_completed(*store, run)) return false;
        }
        return true;
      },
      std::chrono::seconds(240));
  std::string logs;
  for (const auto& w : workers) logs += "--- " + w->name() + "\n" + w->log();
  ASSERT_TRUE(finished) << logs;

  // Another worker took the build over and reported it.
  bool taken_over = false;
  std::set<std::string> busy;
  for (const auto& w : workers) {
    if (w.get() != victim && w->logged("finished " + first_build)) taken_over = true;
    if (w->logged("starting ")) busy.insert(w->name());
  }
  EXPECT_TRUE(taken_over) << logs;
  EXPECT_GE(busy.size(), 2u) << "the runs should spread over the group\n" << logs;

  // Each build and deploy process started exactly once.
  auto lines = read_lines(side_effects);
  EXPECT_EQ(count_prefix(lines, "build "), 3u);
  EXPECT_EQ(count_prefix(lines, "deploy "), 6u);  // three runs x (staging, prod)
  std::map<std::string, int> starts;
  for (const auto& l : lines) starts[l.substr(0, l.rfind(' '))]++;
  for (const auto& [key, n] : starts) EXPECT_EQ(n, 1) << key << " started " << n << " times";
  for (const auto& e : events_of_type(*store, "BuildRequested")) {
    EXPECT_EQ(e.payload().build_requested().attempt(), 1u);
  }
  EXPECT_EQ(events_of_type(*store, "BuildFailed").size(), 0u);
  EXPECT_EQ(events_of_type(*store, "DeployFailed").size(), 0u);
  EXPECT_EQ(events_of_type(*store, "BuildSucceeded").size(), 3u);

  runtime.stop();
  (*dispatcher)->stop();
}

}  // namespace
}  // namespace wharf::workers
