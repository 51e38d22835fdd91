// The Jenkins build runner against tests/peers/jenkins/peer.py, a test peer
// speaking Jenkins' remote access API over a real socket.
#include "adapters/jenkins/build_runner.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "adapters/http/http_client.h"
#include "tests/peers/python_peer.h"
#include "tests/targets/test_targets.h"
#include "tests/test_paths.h"

namespace wharf::jenkins {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

class JenkinsRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    peer_ = new testing::PythonPeer(WHARF_JENKINS_PEER,
                                    {"--user", "wharf", "--token", "s3cret", "--crumb", "required",
                                     "--step", "0.05", "--queue-s", "0.05", "--executors", "8"});
    control("POST", "/peer/jobs", R"({"path":"team/app"})");
  }
  static void TearDownTestSuite() {
    delete peer_;
    peer_ = nullptr;
  }
  void SetUp() override {
    data_ = fs::temp_directory_path() /
            ("wharf-jenkins-" + std::to_string(getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(data_);
    fs::create_directories(data_);
    control("POST", "/peer/executors?n=8");
  }
  void TearDown() override { fs::remove_all(data_); }

  static std::string control(const std::string& method, const std::string& path,
                             const std::string& body = {}) {
    http_client::Request req;
    req.method = method;
    req.url = peer_->url() + path;
    req.body = body;
    auto r = http_client::send(req);
    if (!r) throw std::runtime_error(r.error());
    return r->body;
  }
  static int64_t stat(const std::string& name) {
    auto v = boost::json::parse(control("GET", "/peer/stats"));
    return v.as_object().at(name).as_int64();
  }
  static int64_t builds_of(const std::string& job) {
    auto v = boost::json::parse(control("GET", "/peer/stats"));
    auto* n = v.as_object().at("by_job").as_object().if_contains(job);
    return n ? n->as_int64() : 0;
  }

  ServerConfig server(std::string token = "s3cret") const {
    ServerConfig s;
    s.url = peer_->url();
    s.user = "wharf";
    s.token = std::move(token);
    s.attempts = 3;
    s.backoff = 20ms;
    return s;
  }

  static engine::BuildJob job(const std::string& run, const std::string& jenkins_job,
                              std::map<std::string, std::string> params = {}) {
    engine::BuildJob j;
    j.run_id = run;
    j.project_id = "shop";
    j.attempt = 1;
    j.commit_sha = "c0ffee";
    j.branch = "main";
    j.change_number = 42;
    j.patchset = 3;
    j.step.set_runner(wharf::v1::BUILD_RUNNER_TYPE_JENKINS);
    j.step.mutable_jenkins()->set_job(jenkins_job);
    j.step.mutable_jenkins()->set_poll_interval_ms(30);
    for (auto& [k, v] : params) (*j.step.mutable_jenkins()->mutable_parameters())[k] = v;
    return j;
  }

  struct Watch {
    std::promise<engine::BuildOutcome> done;
    std::mutex mutex;
    std::vector<engine::StepProgress> progress;
    bool saw(engine::StepProgress::Kind kind) {
      std::lock_guard lock(mutex);
      for (auto& p : progress) {
        if (p.kind == kind) return true;
      }
      return false;
    }
  };
  static void start(JenkinsBuildRunner& runner, const engine::BuildJob& j, Watch& w) {
    runner.start(j, {[&w](const engine::StepProgress& p) {
                       std::lock_guard lock(w.mutex);
                       w.progress.push_back(p);
                     },
                     [&w](const engine::BuildOutcome& o) { w.done.set_value(o); }});
  }
  static engine::BuildOutcome wait(Watch& w) {
    auto f = w.done.get_future();
    if (f.wait_for(60s) != std::future_status::ready) throw std::runtime_error("no outcome");
    return f.get();
  }
  static bool wait_until(const std::function<bool()>& what) {
    for (int i = 0; i < 1000; ++i) {
      if (what()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  engine::BuildOutcome build(const engine::BuildJob& j, ServerConfig s) {
    JenkinsBuildRunner runner(data_, s);
    Watch w;
    start(runner, j, w);
    return wait(w);
  }
  std::string log_of(const std::string& run) const {
    std::ifstream in(data_ / "logs" / run / "build-1.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  static testing::PythonPeer* peer_;
  fs::path data_;
};
testing::PythonPeer* JenkinsRunnerTest::peer_ = nullptr;

TEST_F(JenkinsRunnerTest, BuildsInAFolderWithCrumbAndRecordsTheImage) {
  const int64_t before = builds_of("team/app");
  auto o = build(
      job("r-ok", "team/app",
          {{"GIT_COMMIT", "${commit}"}, {"CHANGE", "${change}/${patchset}"}, {"PEER_LINES", "4"}}),
      server());
  ASSERT_TRUE(o.succeeded) << o.reason;
  EXPECT_EQ(builds_of("team/app"), before + 1);
  EXPECT_EQ(o.artifact_digest.size(), 71u);
  EXPECT_EQ(o.artifact_digest.substr(0, 7), "sha256:");
  EXPECT_EQ(o.artifact_uri.substr(0, 23), "registry.test/team-app:");
  EXPECT_NE(o.artifact_uri.find("@" + o.artifact_digest), std::string::npos);
  const std::string log = log_of("r-ok");
  EXPECT_NE(log.find("[wharf-peer] step 4 of 4"), std::string::npos) << log;
  EXPECT_NE(log.find("Finished: SUCCESS"), std::string::npos);
  EXPECT_NE(log.find("produced " + o.artifact_uri), std::string::npos);
  // The console arrives once, in order, though it was read in several chunks.
  EXPECT_EQ(log.find("step 1 of 4"), log.rfind("step 1 of 4"));
}

TEST_F(JenkinsRunnerTest, ParametersReachJenkinsTemplated) {
  control("POST", "/peer/jobs", R"({"path":"params"})");
  auto o = build(job("r-params", "params",
                     {{"GIT_COMMIT", "${commit}"}, {"REF", "${branch}:${change}/${patchset}"}}),
                 server());
  ASSERT_TRUE(o.succeeded) << o.reason;
  http_client::Request req;
  req.url = peer_->url() + "/job/params/1/api/json";
  req.headers = {{"Authorization", http_client::basic_auth("wharf", "s3cret")}};
  auto info = boost::json::parse(http_client::send(req)->body).as_object();
  std::map<std::string, std::string> params;
  for (auto& a : info.at("actions").as_array()) {
    for (auto& p : a.as_object().at("parameters").as_array()) {
      params[std::string(p.at("name").as_string())] = std::string(p.at("value").as_string());
    }
  }
  EXPECT_EQ(params["GIT_COMMIT"], "c0ffee");
  EXPECT_EQ(params["REF"], "main:42/3");
  EXPECT_EQ(params["WHARF_RUN_ID"], "r-params#1");
}

TEST_F(JenkinsRunnerTest, ARestartedRunnerAdoptsTheBuildInsteadOfStartingAnother) {
  control("POST", "/peer/jobs", R"({"path":"adopt"})");
  auto j = job("r-adopt", "adopt", {{"PEER_LINES", "15"}});
  {
    JenkinsBuildRunner first(data_, server());
    Watch w;
    start(first, j, w);
    ASSERT_TRUE(wait_until([&] { return w.saw(engine::StepProgress::Kind::kStarted); }));
  }  // wharf goes away mid-build: the runner stops watching, Jenkins builds on
  ASSERT_EQ(builds_of("adopt"), 1);
  JenkinsBuildRunner second(data_, server());
  Watch w;
  start(second, j, w);
  auto o = wait(w);
  ASSERT_TRUE(o.succeeded) << o.reason;
  EXPECT_EQ(builds_of("adopt"), 1);  // exactly one build on the peer
  EXPECT_NE(log_of("r-adopt").find("step 15 of 15"), std::string::npos);
  // And once more after it finished: the same result, still one build.
  JenkinsBuildRunner third(data_, server());
  Watch again;
  start(third, j, again);
  auto o2 = wait(again);
  EXPECT_TRUE(o2.succeeded);
  EXPECT_EQ(o2.artifact_digest, o.artifact_digest);
  EXPECT_EQ(builds_of("adopt"), 1);
}

TEST_F(JenkinsRunnerTest, AdoptsItsBuildBehindMoreThanAHundredNewerOnes) {
  control("POST", "/peer/jobs", R"({"path":"busy"})");
  auto j = job("r-busy", "busy");
  auto first = build(j, server());
  ASSERT_TRUE(first.succeeded) << first.reason;
  ASSERT_EQ(builds_of("busy"), 1);
  // 250 newer builds: ours (#1) is out of the job's `builds` (the newest 100)
  // and two pages deep in allBuilds.
  control("POST", "/peer/seed?job=busy&count=250");
  JenkinsBuildRunner restarted(data_, server());
  Watch w;
  start(restarted, j, w);
  auto again = wait(w);
  ASSERT_TRUE(again.succeeded) << again.reason;
  EXPECT_EQ(again.artifact_digest, first.artifact_digest);
  EXPECT_EQ(builds_of("busy"), 1);  // adopted #1, did not start a second build
  EXPECT_EQ(restarted.stats().adopted, 1u);
  EXPECT_EQ(restarted.stats().triggered, 0u);
}

TEST_F(JenkinsRunnerTest, StatsCountTriggersCrumbsRetriesAndOutcomes) {
  control("POST", "/peer/jobs", R"({"path":"counted"})");
  JenkinsBuildRunner runner(data_, server());
  auto run = [&](const engine::BuildJob& j) {
    Watch w;
    start(runner, j, w);
    return wait(w);
  };
  control("POST", "/peer/fail?count=1");
  ASSERT_TRUE(run(job("r-count-ok", "counted")).succeeded);
  EXPECT_FALSE(run(job("r-count-bad", "counted", {{"PEER_RESULT", "FAILURE"}})).succeeded);
  const RunnerStats st = runner.stats();
  EXPECT_EQ(st.triggered, 2u);
  EXPECT_EQ(st.adopted, 0u);
  EXPECT_EQ(st.succeeded, 1u);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_EQ(st.cancelled, 0u);
  EXPECT_EQ(st.retries, 1u);        // the one injected 500
  EXPECT_EQ(st.crumb_fetches, 1u);  // asked once (--crumb required), then reused
}

TEST_F(JenkinsRunnerTest, CancelWhileQueuedCancelsTheQueueItem) {
  control("POST", "/peer/jobs", R"({"path":"queued"})");
  control("POST", "/peer/executors?n=0");
  const int64_t cancelled = stat("cancelled");
  JenkinsBuildRunner runner(data_, server());
  Watch w;
  start(runner, job("r-queued", "queued"), w);
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(w.mutex);
    for (auto& p : w.progress) {
      if (p.message.find("Waiting for next available executor") != std::string::npos) return true;
    }
    return false;
  }));
  runner.cancel("r-queued", 1);
  auto o = wait(w);
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.reason.find("cancelled while queued"), std::string::npos) << o.reason;
  EXPECT_EQ(stat("cancelled"), cancelled + 1);
  EXPECT_EQ(builds_of("queued"), 0);
}

TEST_F(JenkinsRunnerTest, CancelWhileRunningStopsTheBuild) {
  control("POST", "/peer/jobs", R"({"path":"long"})");
  JenkinsBuildRunner runner(data_, server());
  Watch w;
  start(runner, job("r-long", "long", {{"PEER_LINES", "400"}}), w);
  ASSERT_TRUE(wait_until([&] { return w.saw(engine::StepProgress::Kind::kStarted); }));
  runner.cancel("r-long", 1);
  auto o = wait(w);
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.reason.find("cancelled (Jenkins build long #1 aborted)"), std::string::npos)
      << o.reason;
  EXPECT_NE(log_of("r-long").find("Finished: ABORTED"), std::string::npos);
  EXPECT_EQ(runner.stats().cancelled, 1u);
  EXPECT_EQ(runner.stats().failed, 0u);
}

TEST_F(JenkinsRunnerTest, AFailedBuildSaysSoWithItsLastLine) {
  auto o =
      build(job("r-fail", "team/app", {{"PEER_RESULT", "FAILURE"}, {"PEER_LINES", "2"}}), server());
  EXPECT_FALSE(o.succeeded);
  EXPECT_EQ(o.reason, "Jenkins build team/app #" + std::to_string(builds_of("team/app")) +
                          " finished FAILURE: [wharf-peer] step 2 of 2");
}

TEST_F(JenkinsRunnerTest, WrongCredentialsAreAReadableFailure) {
  auto o = build(job("r-creds", "team/app"), server("wrong"));
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.reason.find("Jenkins refused user 'wharf'"), std::string::npos) << o.reason;
  EXPECT_NE(o.reason.find("HTTP 401: Error 401 Invalid password/token for user: wharf"),
            std::string::npos)
      << o.reason;
}

// Several Jenkins servers are several targets: a step names one
// (jenkins.server) and the runner takes its URL and user + token from the
// target registry; a step naming none uses the target "jenkins" (serve's
// --jenkins-* shorthand) when no URL is configured.
TEST_F(JenkinsRunnerTest, AStepNamesItsJenkinsTargetAndGetsItsCredentialFromTheRegistry) {
  targets::testing::TestTargets registered;
  auto jenkins = [&](const std::string& name, const std::string& token) {
    wharf::v1::TargetSpec spec;
    spec.set_name(name);
    spec.set_kind(wharf::v1::TARGET_KIND_JENKINS);
    spec.set_url(peer_->url());
    spec.set_credential(wharf::v1::CREDENTIAL_KIND_USER_TOKEN);
    registered.add(spec, {{"user", "wharf"}, {"token", token}});
  };
  jenkins("ci-eu", "s3cret");
  jenkins("ci-stale", "expired");
  jenkins("jenkins", "s3cret");
  registered.kubernetes("k8s", "https://127.0.0.1:1", "", "t");
  ServerConfig calls;  // tries and backoff only: no URL, no credential
  calls.attempts = 3;
  calls.backoff = 20ms;
  JenkinsBuildRunner runner(data_, calls, registered);
  auto run = [&](const std::string& id, const std::string& server) {
    auto j = job(id, "team/app", {{"PEER_LINES", "1"}});
    j.step.mutable_jenkins()->set_server(server);
    Watch w;
    start(runner, j, w);
    return wait(w);
  };
  const auto named = run("r-named", "ci-eu");
  EXPECT_TRUE(named.succeeded) << named.reason;
  const auto shorthand = run("r-shorthand", "");
  EXPECT_TRUE(shorthand.succeeded) << shorthand.reason;
  const auto stale = run("r-stale", "ci-stale");
  EXPECT_FALSE(stale.succeeded);
  EXPECT_NE(stale.reason.find("HTTP 401"), std::string::npos) << stale.reason;
  const auto wrong_kind = run("r-kind", "k8s");
  EXPECT_FALSE(wrong_kind.succeeded);
  EXPECT_NE(wrong_kind.reason.find("target k8s is not a Jenkins target"), std::string::npos)
      << wrong_kind.reason;
  const auto unknown = run("r-unknown", "ci-us");
  EXPECT_FALSE(unknown.succeeded);
  EXPECT_NE(unknown.reason.find("\"ci-us\""), std::string::npos) << unknown.reason;
  // A rotation: the next build uses the new token.
  jenkins("ci-stale", "s3cret");
  const auto rotated = run("r-rotated", "ci-stale");
  EXPECT_TRUE(rotated.succeeded) << rotated.reason;
}

TEST_F(JenkinsRunnerTest, AnUnknownJobIsAReadableFailure) {
  auto o = build(job("r-unknown", "team/nope"), server());
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(
      o.reason.find("Jenkins job 'team/nope' at " + peer_->url() + ": read the job: not found"),
      std::string::npos)
      << o.reason;
}

TEST_F(JenkinsRunnerTest, JenkinsDownIsRetriedThenFails) {
  ServerConfig s = server();
  s.url = "http://127.0.0.1:1";  // nothing listens there
  auto o = build(job("r-down", "team/app"), s);
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.reason.find("Jenkins at http://127.0.0.1:1 failed 3 tries"), std::string::npos)
      << o.reason;
}

TEST_F(JenkinsRunnerTest, OccasionalServerErrorsAreRetried) {
  control("POST", "/peer/fail?count=2");
  auto o = build(job("r-500", "team/app"), server());
  EXPECT_TRUE(o.succeeded) << o.reason;
}

TEST_F(JenkinsRunnerTest, PersistentServerErrorsFailWithJenkinsMessage) {
  control("POST", "/peer/fail?count=3");
  auto o = build(job("r-500s", "team/app"), server());
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.reason.find("HTTP 500: Server Error (injected by the test)"), std::string::npos)
      << o.reason;
}

TEST_F(JenkinsRunnerTest, MalformedJsonIsAReadableFailure) {
  control("POST", "/peer/garbage?count=1");
  auto o = build(job("r-garbage", "team/app"), server());
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.reason.find("with unreadable JSON in the job"), std::string::npos) << o.reason;
}

TEST_F(JenkinsRunnerTest, ConfigXmlCreatesThenUpdatesTheJob) {
  auto j = job("r-create", "team/made");
  j.step.mutable_jenkins()->set_config_xml("<flow-definition>v1</flow-definition>");
  auto o = build(j, server());
  ASSERT_TRUE(o.succeeded) << o.reason;
  EXPECT_NE(log_of("r-create").find("created the Jenkins job team/made"), std::string::npos);
  auto j2 = job("r-update", "team/made");
  j2.step.mutable_jenkins()->set_config_xml("<flow-definition>v2</flow-definition>");
  ASSERT_TRUE(build(j2, server()).succeeded);
  http_client::Request req;
  req.url = peer_->url() + "/job/team/job/made/config.xml";
  req.headers = {{"Authorization", http_client::basic_auth("wharf", "s3cret")}};
  EXPECT_EQ(http_client::send(req)->body, "<flow-definition>v2</flow-definition>");
  EXPECT_EQ(builds_of("team/made"), 2);
}

TEST_F(JenkinsRunnerTest, AnUnknownTemplateFailsBeforeAnythingStarts) {
  const int64_t before = stat("queued");
  auto o = build(job("r-template", "team/app", {{"X", "${nope}"}}), server());
  EXPECT_FALSE(o.succeeded);
  EXPECT_NE(o.reason.find("jenkins parameter X: unknown template ${nope}"), std::string::npos);
  EXPECT_EQ(stat("queued"), before);
}

}  // namespace
}  // namespace wharf::jenkins
