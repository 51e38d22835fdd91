// The local runners on their own: real git, real processes, real HTTP.
#include <gtest/gtest.h>

#include <future>

#include "adapters/local/artifact_store.h"
#include "adapters/local/build_runner.h"
#include "adapters/local/deploy_target.h"
#include "adapters/local/http_probe.h"
#include "adapters/local/process.h"
#include "adapters/local/test_runner.h"
#include "tests/runtime/child_descriptors.h"
#include "tests/runtime/e2e_support.h"

namespace wharf::local {
namespace {

using namespace wharf::runtime::testing;

template <typename Outcome>
struct Waiter {
  std::promise<Outcome> promise;
  std::vector<engine::StepProgress> progress;
  std::mutex mutex;
  engine::Callbacks<Outcome> callbacks() {
    return {[this](const engine::StepProgress& p) {
              std::lock_guard lock(mutex);
              progress.push_back(p);
            },
            [this](const Outcome& o) { promise.set_value(o); }};
  }
  Outcome get() {
    auto future = promise.get_future();
    if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      throw std::runtime_error("no result within 60 s");
    }
    return future.get();
  }
};

engine::BuildJob build_job(const fs::path& repo, const std::string& sha, const std::string& run,
                           const std::string& command = "sh build.sh", uint32_t timeout_s = 60) {
  engine::BuildJob job;
  job.run_id = run;
  job.project_id = "hello";
  job.attempt = 1;
  job.commit_sha = sha;
  job.repository = repo.string();
  job.step.set_command(command);
  job.step.set_artifact_path("dist");
  job.step.set_timeout_s(timeout_s);
  return job;
}

engine::DeployJob deploy_job(const std::string& deploy_id, const std::string& digest,
                             const std::string& start = "exec python3 server.py") {
  engine::DeployJob job;
  job.deploy_id = deploy_id;
  job.project_id = "hello";
  job.environment = "staging";
  job.attempt = 1;
  job.spec.set_version(digest);
  job.spec.set_artifact_digest(digest);
  job.spec.set_start_command(start);
  job.spec.set_health_path("/healthz");
  (*job.spec.mutable_target_settings())["health_timeout_s"] = "20";
  return job;
}

TEST(ArtifactStore, DirectoryDigestIsDeterministicAndCoversModes) {
  TempDir dir;
  fs::create_directories(dir.path() / "a" / "sub");
  std::ofstream(dir.path() / "a" / "x") << "x";
  std::ofstream(dir.path() / "a" / "sub" / "y") << "y";
  auto first = content_digest(dir.path() / "a");
  ASSERT_TRUE(first) << first.error();
  fs::copy(dir.path() / "a", dir.path() / "b", fs::copy_options::recursive);
  EXPECT_EQ(*content_digest(dir.path() / "b"), *first);
  fs::permissions(dir.path() / "b" / "x", fs::perms::owner_exec, fs::perm_options::add);
  EXPECT_NE(*content_digest(dir.path() / "b"), *first);
  // A file's digest is the SHA-256 of its bytes.
  EXPECT_EQ(*content_digest(dir.path() / "a" / "x"),
            "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
  auto stored = store_artifact(dir.path() / "a", dir.path() / "store");
  ASSERT_TRUE(stored) << stored.error();
  EXPECT_EQ(stored->digest, "sha256:" + *first);
  EXPECT_TRUE(fs::exists(stored->path / "sub" / "y"));
}

TEST(LocalBuildRunner, BuildsTheCommitAndAdoptsARepeatedStart) {
  TempDir dir;
  fs::path repo = dir.path() / "repo";
  std::string sha = make_hello_repo(repo);
  fs::path data = dir.path() / "data";
  LocalBuildRunner runner(data);
  Waiter<engine::BuildOutcome> first;
  runner.start(build_job(repo, sha, "run-1"), first.callbacks());
  auto outcome = first.get();
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  EXPECT_EQ(outcome.artifact_digest.rfind("sha256:", 0), 0u);
  EXPECT_TRUE(fs::exists(fs::path(outcome.artifact_uri) / "server.py"));
  std::ifstream version(fs::path(outcome.artifact_uri) / "VERSION");
  std::string baked;
  version >> baked;
  EXPECT_EQ(baked, "1.0.0+" + sha.substr(0, 7));
  ASSERT_FALSE(first.progress.empty());
  EXPECT_EQ(first.progress[0].kind, engine::StepProgress::Kind::kStarted);
  auto log = read_lines(DataLayout(data).build_log("run-1", 1));
  EXPECT_FALSE(log.empty());

  // The same run + attempt again: the recorded result, no second build.
  Waiter<engine::BuildOutcome> again;
  runner.start(build_job(repo, sha, "run-1"), again.callbacks());
  EXPECT_EQ(again.get().artifact_digest, outcome.artifact_digest);
  EXPECT_EQ(read_lines(data / "sideeffects.log").size(), 1u);
}

// Two workers that share a data directory can be handed the same task at the
// same moment (a consumer-group rebalance): the second adopts the first's
// build instead of starting another.
TEST(LocalBuildRunner, TwoRunnersOnOneDataDirBuildATaskOnce) {
  TempDir dir;
  fs::path repo = dir.path() / "repo";
  std::string sha = make_hello_repo(repo);
  fs::path data = dir.path() / "data";
  LocalBuildRunner one(data), other(data);
  for (const char* run : {"race-1", "race-2", "race-3"}) {
    Waiter<engine::BuildOutcome> a, b;
    one.start(build_job(repo, sha, run, "sleep 1; sh build.sh"), a.callbacks());
    other.start(build_job(repo, sha, run, "sleep 1; sh build.sh"), b.callbacks());
    auto first = a.get();
    auto second = b.get();
    ASSERT_TRUE(first.succeeded) << first.reason;
    ASSERT_TRUE(second.succeeded) << second.reason;
    EXPECT_EQ(first.artifact_digest, second.artifact_digest);
  }
  EXPECT_EQ(read_lines(data / "sideeffects.log").size(), 3u);
}

TEST(LocalBuildRunner, ReportsFailuresAndTimeouts) {
  TempDir dir;
  fs::path repo = dir.path() / "repo";
  std::string sha = make_hello_repo(repo);
  LocalBuildRunner runner(dir.path() / "data");
  Waiter<engine::BuildOutcome> failing;
  runner.start(build_job(repo, sha, "run-f", "echo broken; exit 3"), failing.callbacks());
  auto failed = failing.get();
  EXPECT_FALSE(failed.succeeded);
  EXPECT_EQ(failed.exit_code, 3);
  Waiter<engine::BuildOutcome> slow;
  runner.start(build_job(repo, sha, "run-t", "sleep 30", 1), slow.callbacks());
  auto timed_out = slow.get();
  EXPECT_FALSE(timed_out.succeeded);
  EXPECT_NE(timed_out.reason.find("timed out"), std::string::npos) << timed_out.reason;
  Waiter<engine::BuildOutcome> missing;
  runner.start(build_job(repo, std::string(40, '0'), "run-m"), missing.callbacks());
  EXPECT_FALSE(missing.get().succeeded);
}

class LocalDeployTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = dir_.path() / "repo";
    std::string first = make_hello_repo(repo_);
    std::string second = commit_version(repo_, "2.0.0");
    LocalBuildRunner builder(data_);
    for (const auto& sha : {first, second}) {
      Waiter<engine::BuildOutcome> w;
      builder.start(build_job(repo_, sha, "b-" + sha.substr(0, 6)), w.callbacks());
      auto outcome = w.get();
      ASSERT_TRUE(outcome.succeeded) << outcome.reason;
      digests_.push_back(outcome.artifact_digest);
    }
  }
  void TearDown() override { target_.stop_all(); }

  engine::DeployOutcome deploy(const engine::DeployJob& job) {
    Waiter<engine::DeployOutcome> w;
    target_.start(job, w.callbacks());
    return w.get();
  }
  std::string answer(const std::string& url) {
    auto r = http_get_url(url + "/version", std::chrono::seconds(5));
    return r ? r->body : "unreachable: " + r.error();
  }

  TempDir dir_;
  fs::path repo_;
  fs::path data_ = dir_.path() / "data";
  std::vector<std::string> digests_;
  LocalDeployTarget target_{data_, {std::chrono::seconds(20), std::chrono::seconds(2)}};
};

TEST_F(LocalDeployTargetTest, SwitchesOnlyToAHealthyInstance) {
  auto first = deploy(deploy_job("d1", digests_[0]));
  ASSERT_TRUE(first.succeeded) << first.reason;
  EXPECT_EQ(answer(first.url).substr(0, 5), "1.0.0");
  auto first_pid = target_.serving("hello", "staging")->pid;

  // A version that never becomes healthy is killed; the old one keeps serving.
  auto broken = deploy(deploy_job("d2", digests_[1], "exit 1"));
  EXPECT_FALSE(broken.succeeded);
  EXPECT_EQ(answer(first.url).substr(0, 5), "1.0.0");
  EXPECT_EQ(target_.serving("hello", "staging")->deploy_id, "d1");

  auto second = deploy(deploy_job("d3", digests_[1]));
  ASSERT_TRUE(second.succeeded) << second.reason;
  EXPECT_EQ(answer(second.url).substr(0, 5), "2.0.0");
  EXPECT_TRUE(eventually([&] { return !process_alive(first_pid); }, std::chrono::seconds(10)))
      << first_pid << " "
      << shell("ps -o pid,ppid,pgid,stat,cmd -e | grep -v grep | grep server.py || true");
  auto serving = target_.serving("hello", "staging");
  ASSERT_TRUE(serving);
  EXPECT_EQ(serving->deploy_id, "d3");
  EXPECT_TRUE(serving->alive);
}

TEST_F(LocalDeployTargetTest, ARepeatedDeployOfTheServingKeyIsReportedNotRedone) {
  auto first = deploy(deploy_job("d1", digests_[0]));
  ASSERT_TRUE(first.succeeded) << first.reason;
  size_t starts = read_lines(data_ / "sideeffects.log").size();
  // A fresh target over the same data dir (as after a wharf restart).
  LocalDeployTarget restarted(data_);
  Waiter<engine::DeployOutcome> w;
  restarted.start(deploy_job("d1", digests_[0]), w.callbacks());
  auto again = w.get();
  EXPECT_TRUE(again.succeeded);
  EXPECT_EQ(again.url, first.url);
  EXPECT_EQ(read_lines(data_ / "sideeffects.log").size(), starts);
}

TEST_F(LocalDeployTargetTest, TwoTargetsOnOneDataDirDeployAKeyOnce) {
  // As two workers sharing the data directory, handed the same deploy at once.
  LocalDeployTarget other(data_, {std::chrono::seconds(20), std::chrono::seconds(2)});
  Waiter<engine::DeployOutcome> a, b;
  target_.start(deploy_job("twice", digests_[0]), a.callbacks());
  other.start(deploy_job("twice", digests_[0]), b.callbacks());
  auto first = a.get();
  auto second = b.get();
  ASSERT_TRUE(first.succeeded) << first.reason;
  ASSERT_TRUE(second.succeeded) << second.reason;
  EXPECT_EQ(first.url, second.url);
  size_t deploys = 0;
  for (const auto& line : read_lines(data_ / "sideeffects.log"))
    deploys += line.rfind("deploy ", 0) == 0;
  EXPECT_EQ(deploys, 1u);
}

TEST_F(LocalDeployTargetTest, FixedPortAlternatesBetweenTwoSlots) {
  auto base = pick_free_port_run(2);  // the two slots are base and base + 1
  ASSERT_TRUE(base);
  auto job = deploy_job("p1", digests_[0]);
  (*job.spec.mutable_target_settings())["port"] = std::to_string(*base);
  auto first = deploy(job);
  ASSERT_TRUE(first.succeeded) << first.reason;
  EXPECT_EQ(target_.serving("hello", "staging")->port, *base);
  job = deploy_job("p2", digests_[1]);
  (*job.spec.mutable_target_settings())["port"] = std::to_string(*base);
  auto second = deploy(job);
  ASSERT_TRUE(second.succeeded) << second.reason;
  EXPECT_EQ(target_.serving("hello", "staging")->port, *base + 1);
}

TEST_F(LocalDeployTargetTest, TestRunnerRunsSuitesAgainstTheDeployedUrl) {
  auto deployed = deploy(deploy_job("d1", digests_[0]));
  ASSERT_TRUE(deployed.succeeded) << deployed.reason;
  LocalTestRunner runner(data_);
  engine::TestJob job;
  job.run_id = "run-t";
  job.project_id = "hello";
  job.environment = "staging";
  job.attempt = 1;
  job.target_url = deployed.url;
  wharf::v1::TestSuite ok;
  ok.set_name("health");
  ok.set_command("curl -fsS \"$WHARF_TARGET_URL/healthz\"");
  wharf::v1::TestSuite bad;
  bad.set_name("missing-page");
  bad.set_command("curl -fsS \"$WHARF_TARGET_URL/nope\"");
  job.suites = {ok, bad};
  Waiter<engine::TestOutcome> w;
  runner.start(job, w.callbacks());
  auto outcome = w.get();
  EXPECT_FALSE(outcome.passed);
  ASSERT_EQ(outcome.results.size(), 2u);
  EXPECT_TRUE(outcome.results[0].passed());
  EXPECT_FALSE(outcome.results[1].passed());
  EXPECT_NE(outcome.reason.find("missing-page"), std::string::npos);
  auto log = read_lines(DataLayout(data_).tests_log("run-t", "staging", 1));
  EXPECT_FALSE(log.empty());
}

// Issue 21: each kind of child the local runners start — a build (with its
// git clone), a deployed service, a test suite — holds its stdin, stdout and
// stderr and nothing of ours, though this process holds a listening socket
// and a file without close-on-exec while it starts them.
TEST(ChildDescriptors, ABuildHoldsOnlyItsStdio) {
  TempDir dir;
  fs::path repo = dir.path() / "repo";
  std::string sha = make_hello_repo(repo);
  fs::path data = dir.path() / "data";
  HeldDescriptors held(dir.path());
  const fs::path listing = dir.path() / "fds";
  LocalBuildRunner runner(data);
  Waiter<engine::BuildOutcome> w;
  runner.start(build_job(repo, sha, "run-fds", list_descriptors_into(listing) + " && sh build.sh"),
               w.callbacks());
  auto outcome = w.get();
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  auto fds = listed_descriptors(slurp(listing));
  EXPECT_EQ(beyond_stdio(fds), "") << slurp(listing);
  EXPECT_EQ(fds.size(), 3u) << slurp(listing);
  EXPECT_EQ(fds[0], "/dev/null");
  EXPECT_EQ(fds[1], fs::canonical(listing).string());
  EXPECT_EQ(fds[2], fs::canonical(DataLayout(data).build_log("run-fds", 1)).string());
}

TEST(ChildDescriptors, ADeployedServiceHoldsOnlyItsStdio) {
  TempDir dir;
  fs::path data = dir.path() / "data";
  fs::create_directories(dir.path() / "site");
  HeldDescriptors held(dir.path());
  const fs::path listing = dir.path() / "fds";
  LocalDeployTarget target(data, {std::chrono::seconds(20), std::chrono::seconds(2)});
  auto job = deploy_job(
      "d-fds", "sha256:none",
      list_descriptors_into(listing) + "; exec python3 -m http.server \"$PORT\" --bind 127.0.0.1");
  job.spec.set_artifact_uri((dir.path() / "site").string());
  job.spec.set_health_path("/");
  Waiter<engine::DeployOutcome> w;
  target.start(job, w.callbacks());
  auto outcome = w.get();
  auto fds = listed_descriptors(slurp(listing));
  target.stop_all();
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  EXPECT_EQ(beyond_stdio(fds), "") << slurp(listing);
  EXPECT_EQ(fds.size(), 3u) << slurp(listing);
  EXPECT_EQ(fds[0], "/dev/null");
  EXPECT_EQ(fds[2], fs::canonical(DataLayout(data).deploy_log("d-fds", 1)).string());
}

TEST(ChildDescriptors, ATestSuiteHoldsOnlyItsStdio) {
  TempDir dir;
  fs::path data = dir.path() / "data";
  HeldDescriptors held(dir.path());
  const fs::path listing = dir.path() / "fds";
  LocalTestRunner runner(data);
  engine::TestJob job;
  job.run_id = "run-fds";
  job.project_id = "hello";
  job.environment = "staging";
  job.attempt = 1;
  job.target_url = "http://127.0.0.1:1";
  wharf::v1::TestSuite suite;
  suite.set_name("fds");
  suite.set_command(list_descriptors_into(listing));
  job.suites = {suite};
  Waiter<engine::TestOutcome> w;
  runner.start(job, w.callbacks());
  auto outcome = w.get();
  ASSERT_TRUE(outcome.passed) << outcome.reason;
  auto fds = listed_descriptors(slurp(listing));
  EXPECT_EQ(beyond_stdio(fds), "") << slurp(listing);
  EXPECT_EQ(fds.size(), 3u) << slurp(listing);
  EXPECT_EQ(fds[0], "/dev/null");
  EXPECT_EQ(fds[2], fs::canonical(DataLayout(data).tests_log("run-fds", "staging", 1)).string());
}

}  // namespace
}  // namespace wharf::local
