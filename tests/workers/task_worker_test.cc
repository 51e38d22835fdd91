// Serve's task dispatcher and a worker on the embedded Kafka cluster, with
// fake ports on the worker side: jobs arrive intact, outcomes and progress
// come back to the right callbacks, cancels reach the running task, and a
// task is committed only once its outcome is on the result topic.
#include "adapters/workers/task_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "adapters/kafka/embedded_cluster.h"
#include "adapters/kafka/topic_reader.h"
#include "adapters/targets/registry.h"
#include "adapters/targets/sealed_store.h"
#include "adapters/workers/task_dispatcher.h"
#include "tests/runtime/fake_ports.h"
#include "tests/runtime/runtime_fixture.h"

namespace wharf::workers {
namespace {

using runtime::testing::eventually;
using runtime::testing::FakeBuildRunner;
using runtime::testing::FakeDeployTarget;
using runtime::testing::FakeTestRunner;

constexpr auto kWait = std::chrono::seconds(60);

// One worker process, in-process: its fakes and its consumer thread.
struct RunningWorker {
  FakeBuildRunner build;
  FakeDeployTarget deploy;
  FakeTestRunner tests;
  std::unique_ptr<TaskWorker> worker;
  std::thread thread;

  RunningWorker(const TaskTopics& topics, const std::string& name,
                std::function<void(const wharf::v1::TargetReference&)> learn_target = {}) {
    WorkerOptions options;
    options.learn_target = std::move(learn_target);
    options.topics = topics;
    options.group = "test-workers";
    options.name = name;
    auto created = TaskWorker::create(options, {&build, &deploy, &tests});
    if (!created) throw std::runtime_error(created.error());
    worker = std::move(*created);
    thread = std::thread([this] { worker->run(); });
  }
  void stop() {
    if (!thread.joinable()) return;
    worker->stop();
    thread.join();
  }
  ~RunningWorker() { stop(); }
};

template <typename Outcome>
struct Recorder {
  std::mutex mutex;
  std::vector<engine::StepProgress> progress;
  std::vector<Outcome> outcomes;

  engine::Callbacks<Outcome> callbacks() {
    return {[this](const engine::StepProgress& p) {
              std::lock_guard lock(mutex);
              progress.push_back(p);
            },
            [this](const Outcome& o) {
              std::lock_guard lock(mutex);
              outcomes.push_back(o);
            }};
  }
  size_t done() {
    std::lock_guard lock(mutex);
    return outcomes.size();
  }
};

class TaskWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = kafka::EmbeddedCluster::start();
    ASSERT_TRUE(cluster) << cluster.error();
    cluster_ = std::move(*cluster);
    topics_.bootstrap = cluster_->bootstrap_servers();
    ASSERT_TRUE(cluster_->create_topic(topics_.tasks, 3));
    ASSERT_TRUE(cluster_->create_topic(topics_.results, 3));
    auto dispatcher = TaskDispatcher::create(topics_, "test-serve");
    ASSERT_TRUE(dispatcher) << dispatcher.error();
    dispatcher_ = std::move(*dispatcher);
  }
  void TearDown() override {
    worker_.reset();
    dispatcher_.reset();
  }

  void start_worker(const std::string& name = "w1",
                    std::function<void(const wharf::v1::TargetReference&)> learn_target = {}) {
    worker_ = std::make_unique<RunningWorker>(topics_, name, std::move(learn_target));
  }

  static engine::BuildJob build_job(const std::string& run) {
    engine::BuildJob job{run, "shop", 1, "c0ffee", "/srv/git/shop", {}};
    job.step.set_command("make");
    return job;
  }

  std::unique_ptr<kafka::EmbeddedCluster> cluster_;
  TaskTopics topics_;
  std::unique_ptr<TaskDispatcher> dispatcher_;
  std::unique_ptr<RunningWorker> worker_;
};

TEST_F(TaskWorkerTest, ABuildReachesTheWorkerAndItsOutcomeComesBack) {
  start_worker();
  Recorder<engine::BuildOutcome> recorder;
  dispatcher_->build_runner().start(build_job("r-1"), recorder.callbacks());
  ASSERT_TRUE(eventually([&] { return worker_->build.starts() == 1; }, kWait));
  const auto job = worker_->build.jobs()[0];
  EXPECT_EQ(job.run_id, "r-1");
  EXPECT_EQ(job.commit_sha, "c0ffee");
  EXPECT_EQ(job.repository, "/srv/git/shop");
  EXPECT_EQ(job.step.command(), "make");
  EXPECT_EQ(recorder.done(), 0u);

  ASSERT_TRUE(worker_->build.complete("r-1#1", FakeBuildRunner::success("sha256:feed")));
  ASSERT_TRUE(eventually([&] { return recorder.done() == 1; }, kWait));
  EXPECT_TRUE(recorder.outcomes[0].succeeded);
  EXPECT_EQ(recorder.outcomes[0].artifact_digest, "sha256:feed");
  ASSERT_TRUE(eventually([&] { return dispatcher_->stats().waiting == 0; }, kWait));
  EXPECT_TRUE(eventually([&] { return worker_->worker->stats().finished == 1; }, kWait));
}

TEST_F(TaskWorkerTest, DeployAndTestProgressAndOutcomesComeBack) {
  start_worker();
  worker_->deploy.auto_complete(FakeDeployTarget::success());
  worker_->tests.auto_complete(FakeTestRunner::passed());
  Recorder<engine::DeployOutcome> deploy;
  Recorder<engine::TestOutcome> tests;
  engine::DeployJob deploy_job{"d-1", "shop", "staging", "r-1", 1, {}};
  deploy_job.spec.set_version("1.0.0");
  dispatcher_->deploy_target().start(deploy_job, deploy.callbacks());
  engine::TestJob test_job{"r-1", "shop", "staging", 1, "http://127.0.0.1:1", {}};
  test_job.suites.emplace_back().set_name("smoke");
  dispatcher_->test_runner().start(test_job, tests.callbacks());

  ASSERT_TRUE(eventually([&] { return deploy.done() == 1 && tests.done() == 1; }, kWait));
  EXPECT_TRUE(deploy.outcomes[0].succeeded);
  EXPECT_EQ(deploy.outcomes[0].url, "http://127.0.0.1:1");
  EXPECT_TRUE(tests.outcomes[0].passed);
  // Progress travels before the outcome on the same partition, so it is here.
  ASSERT_EQ(deploy.progress.size(), 1u);
  EXPECT_EQ(deploy.progress[0].kind, engine::StepProgress::Kind::kStarted);
  EXPECT_EQ(deploy.progress[0].external_id, "fake");
  EXPECT_EQ(worker_->deploy.jobs()[0].spec.version(), "1.0.0");
  EXPECT_EQ(worker_->tests.jobs()[0].suites[0].name(), "smoke");
}

// A deploy task names its target: spec and credential version, never the
// credential (docs/targets.md#workers). The worker learns the reference and
// opens the credential from its own sealed store; the tasks topic holds no
// byte of it.
TEST_F(TaskWorkerTest, ADeployTaskNamesItsTargetAndTheWorkerOpensItsOwnSealedStore) {
  runtime::testing::TempDir dir;
  auto store = targets::SealedStore::open({dir.path() / "secrets", dir.path() / "secret.key"});
  ASSERT_TRUE(store) << store.error();
  const std::string marker = "workerCanaryToken7c1f09a3e5";
  ASSERT_TRUE((*store)->put(targets::target_entry("prod-eu"), 2,
                            targets::encode_credential({{"token", marker}})));
  wharf::v1::TargetReference reference;
  reference.mutable_target()->set_name("prod-eu");
  reference.mutable_target()->set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
  reference.mutable_target()->set_url("https://k8s.example:6443");
  reference.mutable_target()->set_credential(wharf::v1::CREDENTIAL_KIND_BEARER_TOKEN);
  reference.set_credential_version(2);
  dispatcher_->set_target_lookup(
      [&](const std::string& name) -> std::optional<wharf::v1::TargetReference> {
        if (name == "prod-eu") return reference;
        return std::nullopt;
      });
  targets::KnownTargets known(store->get());
  start_worker("w1", [&](const wharf::v1::TargetReference& r) { known.learn(r); });
  worker_->deploy.auto_complete(FakeDeployTarget::success());
  EXPECT_FALSE(known.resolve("prod-eu")) << "nothing named it yet";

  Recorder<engine::DeployOutcome> deploy;
  engine::DeployJob job{"d-7", "shop", "prod", "r-7", 1, {}};
  job.spec.set_version("1.0.0");
  job.spec.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  job.spec.set_target_ref("prod-eu");
  dispatcher_->deploy_target().start(job, deploy.callbacks());
  ASSERT_TRUE(eventually([&] { return deploy.done() == 1; }, kWait));
  EXPECT_EQ(worker_->deploy.jobs()[0].spec.target_ref(), "prod-eu");
  auto opened = known.resolve("prod-eu");
  ASSERT_TRUE(opened) << opened.error();
  EXPECT_EQ(opened->token, marker);
  EXPECT_EQ(opened->spec.url(), "https://k8s.example:6443");

  auto tasks = kafka::read_topic(topics_.bootstrap, topics_.tasks);
  ASSERT_TRUE(tasks) << tasks.error();
  bool named = false;
  for (const auto& record : *tasks) {
    EXPECT_EQ(record.value.find(marker), std::string::npos);
    named = named || record.value.find("https://k8s.example:6443") != std::string::npos;
  }
  EXPECT_TRUE(named) << "the task carries the target's spec";
  auto results = kafka::read_topic(topics_.bootstrap, topics_.results);
  ASSERT_TRUE(results) << results.error();
  for (const auto& record : *results) EXPECT_EQ(record.value.find(marker), std::string::npos);
}

TEST_F(TaskWorkerTest, CancelReachesTheWorkerRunningTheTask) {
  start_worker();
  Recorder<engine::BuildOutcome> recorder;
  dispatcher_->build_runner().start(build_job("r-2"), recorder.callbacks());
  ASSERT_TRUE(eventually([&] { return worker_->build.starts() == 1; }, kWait));
  dispatcher_->build_runner().cancel("r-2", 1);
  ASSERT_TRUE(eventually([&] { return worker_->build.cancels().size() == 1; }, kWait));
  EXPECT_EQ(worker_->build.cancels()[0], "r-2#1");
  EXPECT_EQ(worker_->worker->stats().cancels, 1u);
}

TEST_F(TaskWorkerTest, AnUnfinishedTaskGoesToTheNextWorkerAndAFinishedOneDoesNot) {
  start_worker("first");
  Recorder<engine::BuildOutcome> finished, unfinished;
  dispatcher_->build_runner().start(build_job("r-done"), finished.callbacks());
  ASSERT_TRUE(eventually([&] { return worker_->build.starts() == 1; }, kWait));
  ASSERT_TRUE(worker_->build.complete("r-done#1", FakeBuildRunner::success()));
  ASSERT_TRUE(eventually([&] { return finished.done() == 1; }, kWait));
  dispatcher_->build_runner().start(build_job("r-open"), unfinished.callbacks());
  ASSERT_TRUE(eventually([&] { return worker_->build.starts() == 2; }, kWait));
  worker_->stop();  // leaves the group with r-open running and uncommitted

  start_worker("second");
  ASSERT_TRUE(eventually([&] { return worker_->build.starts_of("r-open#1") == 1; }, kWait));
  EXPECT_EQ(worker_->build.starts_of("r-done#1"), 0u);
  ASSERT_TRUE(worker_->build.complete("r-open#1", FakeBuildRunner::success()));
  ASSERT_TRUE(eventually([&] { return unfinished.done() == 1; }, kWait));
  EXPECT_EQ(finished.done(), 1u);
}

TEST_F(TaskWorkerTest, AfterServeRestartsTheRepeatedTaskBringsTheOutcomeOnce) {
  start_worker();
  Recorder<engine::BuildOutcome> before_restart, after_restart;
  dispatcher_->build_runner().start(build_job("r-4"), before_restart.callbacks());
  ASSERT_TRUE(eventually([&] { return worker_->build.starts() == 1; }, kWait));
  // Serve goes away with the build running; the new process manager asks
  // again for the step it has no result for.
  dispatcher_.reset();
  auto restarted = TaskDispatcher::create(topics_, "test-serve");
  ASSERT_TRUE(restarted) << restarted.error();
  dispatcher_ = std::move(*restarted);
  dispatcher_->build_runner().start(build_job("r-4"), after_restart.callbacks());
  ASSERT_TRUE(eventually([&] { return worker_->build.starts_of("r-4#1") == 2; }, kWait));

  // The fake, like the local runners, reports the one build to both requests.
  ASSERT_TRUE(worker_->build.complete("r-4#1", FakeBuildRunner::success()));
  ASSERT_TRUE(eventually([&] { return dispatcher_->stats().results_received >= 2; }, kWait));
  EXPECT_EQ(after_restart.done(), 1u);
  EXPECT_EQ(before_restart.done(), 0u);
  EXPECT_EQ(dispatcher_->stats().results_unmatched, dispatcher_->stats().results_received - 1);
}

TEST_F(TaskWorkerTest, AnUnreadableTaskIsSkippedAndTheNextOneRuns) {
  start_worker();
  {
    auto conf = kafka::make_conf({{"bootstrap.servers", topics_.bootstrap}}, "garbage");
    ASSERT_TRUE(conf);
    auto producer = kafka::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
    ASSERT_TRUE(producer);
    const std::string garbage = "\xff\xff not a task";
    const std::string key = "r-3";  // the same partition as the task after it
    ASSERT_EQ(rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(topics_.tasks.c_str()),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(garbage.data()), garbage.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_flush(producer->get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  Recorder<engine::BuildOutcome> recorder;
  worker_->build.auto_complete(FakeBuildRunner::success());
  dispatcher_->build_runner().start(build_job("r-3"), recorder.callbacks());
  ASSERT_TRUE(eventually([&] { return recorder.done() == 1; }, kWait));
  EXPECT_EQ(worker_->worker->stats().skipped, 1u);
}

}  // namespace
}  // namespace wharf::workers
