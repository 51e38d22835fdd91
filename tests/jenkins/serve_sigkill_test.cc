// A real `wharf serve` with a Jenkins build step, SIGKILLed while the Jenkins
// test peer (tests/peers/jenkins/peer.py) runs its build, then started again
// on the same data directory: the restarted serve adopts the build (the peer
// counts exactly one build started for the run), the run completes, and the
// version records the image digest the peer reported. And a SIGKILL
// mid-rollout on a real Kubernetes control plane (one PATCH, then a watch).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/peers/kubernetes_cluster.h"
#include "tests/peers/python_peer.h"
#include "tests/serve_process.h"
#include "tests/test_paths.h"

namespace wharf::jenkins {
namespace {

namespace json = boost::json;
using runtime::testing::eventually;
using namespace std::chrono_literals;

std::string peer_call(const testing::PythonPeer& peer, const std::string& method,
                      const std::string& path, const std::string& body = {},
                      bool authenticated = false) {
  http_client::Request req;
  req.method = method;
  req.url = peer.url() + path;
  req.body = body;
  if (authenticated) req.headers = {{"Authorization", http_client::basic_auth("wharf", "s3cret")}};
  auto r = http_client::send(req);
  if (!r) throw std::runtime_error(r.error());
  return r->body;
}

int64_t builds_of(const testing::PythonPeer& peer, const std::string& job) {
  auto stats = json::parse(peer_call(peer, "GET", "/peer/stats")).as_object();
  auto* n = stats.at("by_job").as_object().if_contains(job);
  return n ? n->as_int64() : 0;
}

// The run of `commit` as GET /api/v1/projects/{p}/runs lists it (null: none yet).
json::object run_of(const testing::ServeProcess& serve, const std::string& project,
                    const std::string& commit) {
  auto r = serve.api("GET", "/api/v1/projects/" + project + "/runs");
  if (r.status != 200) return {};
  auto body = json::parse(r.body);
  for (const auto& run : body.as_object().at("runs").as_array()) {
    if (run.as_object().at("commit_sha").as_string() == commit) return run.as_object();
  }
  return {};
}

std::string status_of(const json::object& run) {
  auto* s = run.if_contains("status");
  return s && s->is_string() ? std::string(s->as_string()) : "";
}

// Value of one sample line of /metrics ("name{labels} value"), -1 if absent.
double metric(const testing::ServeProcess& serve, const std::string& series) {
  const std::string text = serve.api("GET", "/metrics").body;
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(JenkinsServe, SigkillMidBuildThenRestartAdoptsTheOneBuildAndTheRunCompletes) {
  testing::PythonPeer peer(WHARF_JENKINS_PEER, {"--user", "wharf", "--token", "s3cret", "--crumb",
                                                "required", "--step", "0.1", "--queue-s", "0.05"});
  peer_call(peer, "POST", "/peer/jobs", R"({"path":"shop/build"})");
  runtime::testing::TempDir dir;
  testing::ServeProcess serve(dir.path() / "data", {"--jenkins-url", peer.url(), "--jenkins-user",
                                                    "wharf", "--jenkins-token", "s3cret"});
  serve.start();

  // A project whose build step is the Jenkins job shop/build (40 console
  // lines, 4 s on the peer), and no environments: the run ends with its version.
  auto created = serve.api("POST", "/api/v1/projects", R"({
    "project_id": "shop",
    "template": {"build": {"runner": "jenkins", "timeout_s": 300,
      "jenkins": {"job": "shop/build", "poll_interval_ms": 50,
                  "parameters": {"GIT_COMMIT": "${commit}", "BRANCH": "${branch}",
                                 "PEER_LINES": "40"}}}}})");
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string commit = "5a1e5a1e5a1e5a1e5a1e5a1e5a1e5a1e5a1e5a1e";
  auto started = serve.api("POST", "/api/v1/projects/shop/runs",
                           R"({"commit_sha": ")" + commit + R"(", "branch": "main"})");
  ASSERT_EQ(started.status, 202) << started.body;

  // SIGKILL while the peer runs the build (it has started, it has not ended).
  ASSERT_TRUE(eventually([&] { return builds_of(peer, "shop/build") == 1; }, 60s)) << serve.tail();
  auto info = json::parse(peer_call(peer, "GET", "/job/shop/job/build/1/api/json", {}, true));
  ASSERT_TRUE(info.as_object().at("building").as_bool());
  serve.kill_now();

  serve.start();
  json::object run;
  ASSERT_TRUE(eventually(
      [&] {
        run = run_of(serve, "shop", commit);
        const std::string s = status_of(run);
        return !s.empty() && s != "RUN_STATUS_RUNNING" && s != "running";
      },
      120s))
      << serve.tail();
  EXPECT_TRUE(status_of(run) == "RUN_STATUS_SUCCEEDED" || status_of(run) == "succeeded")
      << json::serialize(run) << "\n"
      << serve.tail();
  EXPECT_EQ(builds_of(peer, "shop/build"), 1);  // exactly one build started for the run

  // The restarted serve adopted the build rather than triggering one.
  EXPECT_EQ(metric(serve, R"(wharf_jenkins_builds{event="adopted"})"), 1);
  EXPECT_EQ(metric(serve, R"(wharf_jenkins_builds{event="triggered"})"), 0);
  EXPECT_EQ(metric(serve, R"(wharf_jenkins_builds{event="succeeded"})"), 1);
  EXPECT_NE(serve.log().find("adopts build #1 of shop/build"), std::string::npos);
  EXPECT_EQ(serve.terminate(), 0);

  // The version carries the digest of the image the peer's build archived.
  auto image =
      json::parse(peer_call(peer, "GET", "/job/shop/job/build/1/artifact/image.json", {}, true))
          .as_object();
  auto store = runtime::testing::open_store(dir.path() / "data" / "events");
  auto versions = runtime::testing::events_of_type(*store, "VersionRecorded");
  ASSERT_EQ(versions.size(), 1u);
  const auto& v = versions[0].payload().version_recorded();
  EXPECT_EQ(v.artifact_digest(), std::string(image.at("digest").as_string()));
  EXPECT_EQ(v.artifact_uri(), std::string(image.at("image").as_string()) + "@" +
                                  std::string(image.at("digest").as_string()));
  // One BuildRequested: the restart adopted attempt 1, it did not retry.
  auto requested = runtime::testing::events_of_type(*store, "BuildRequested");
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0].payload().build_requested().attempt(), 1u);
  // The step log holds the whole console, rewritten by the adopting serve.
  const std::string run_id(run.at("run_id").as_string());
  std::ifstream log(dir.path() / "data" / "logs" / run_id / "build-1.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("[wharf-peer] step 40 of 40"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("Finished: SUCCESS"), std::string::npos);
}

// The same on a real Kubernetes control plane: serve is SIGKILLed after it
// patched the Deployment, while the rollout waits (the node is cordoned); the
// restarted serve finds its deploy key on the Deployment and only watches —
// the audit log holds one PATCH — and the deploy succeeds once the rollout
// can finish.
TEST(KubernetesServe, SigkillMidRolloutThenRestartWatchesWithoutPatchingAgain) {
  const auto& k8s = testing::kubernetes_cluster();
  testing::PythonPeer peer(WHARF_JENKINS_PEER, {"--user", "wharf", "--token", "s3cret", "--crumb",
                                                "required", "--step", "0.02", "--queue-s", "0.02"});
  peer_call(peer, "POST", "/peer/jobs", R"({"path":"shop/build"})");
  k8s.create_deployment("shop", "registry.test/shop:none");
  json::object settings{{"deployment", "shop"}, {"container", "app"}, {"rollout_timeout_s", "120"}};
  runtime::testing::TempDir dir;
  testing::ServeProcess serve(dir.path() / "data", {"--jenkins-url", peer.url(), "--jenkins-user",
                                                    "wharf", "--jenkins-token", "s3cret"});
  serve.start();
  k8s.connect(testing::ServeTargets(serve), "k8s");
  auto created = serve.api("POST", "/api/v1/projects",
                           R"({
    "project_id": "shop",
    "environments": [{"name": "prod", "target": "kubernetes", "target_ref": "k8s",
                      "auto_deploy": true,
                      "settings": )" +
                               json::serialize(settings) + R"(}],
    "template": {"build": {"runner": "jenkins", "timeout_s": 300,
      "jenkins": {"job": "shop/build", "poll_interval_ms": 50,
                  "parameters": {"GIT_COMMIT": "${commit}", "PEER_LINES": "1"}}}}})");
  ASSERT_EQ(created.status, 202) << created.body;
  k8s.cordon(true);
  const std::string commit = "6b1e6b1e6b1e6b1e6b1e6b1e6b1e6b1e6b1e6b1e";
  auto started = serve.api("POST", "/api/v1/projects/shop/runs",
                           R"({"commit_sha": ")" + commit + R"(", "branch": "main"})");
  ASSERT_EQ(started.status, 202) << started.body;

  auto image = [&] {
    auto d = k8s.deployment("shop");
    return std::string(
        d["spec"].at("template").at("spec").at("containers").at(0).at("image").as_string());
  };
  ASSERT_TRUE(eventually([&] { return image() != "registry.test/shop:none"; }, 120s))
      << serve.tail();
  serve.kill_now();
  EXPECT_FALSE(k8s.rolled_out("shop", 1s));

  serve.start();
  k8s.cordon(false);
  json::object run;
  ASSERT_TRUE(eventually(
      [&] {
        run = run_of(serve, "shop", commit);
        const std::string s = status_of(run);
        return !s.empty() && s != "RUN_STATUS_RUNNING" && s != "running";
      },
      120s))
      << serve.tail();
  EXPECT_TRUE(status_of(run) == "RUN_STATUS_SUCCEEDED" || status_of(run) == "succeeded")
      << json::serialize(run) << "\n"
      << serve.tail();
  EXPECT_EQ(k8s.writes("patch", "deployments", "shop"), 1) << "one PATCH for the deploy";
  EXPECT_TRUE(k8s.rolled_out("shop", 30s));
  EXPECT_EQ(serve.terminate(), 0);
  auto store = runtime::testing::open_store(dir.path() / "data" / "events");
  EXPECT_EQ(runtime::testing::events_of_type(*store, "DeployRequested").size(), 1u);
  EXPECT_EQ(runtime::testing::events_of_type(*store, "DeploySucceeded").size(), 1u);
}

}  // namespace
}  // namespace wharf::jenkins
