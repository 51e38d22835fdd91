// The build path end to end, every system over a real socket: a change pushed
// to a real Gerrit 3.10 (tests/peers/gerrit) reaches a real `wharf serve`
// over stream-events, its run builds on the Jenkins test peer with the
// change's parameters, the version records the image digest the build
// archived, the staging environment deploys that pinned image to a real
// Kubernetes control plane (tests/peers/kubernetes_cluster.h), and a rollback
// puts the first image back.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/gerrit/gerrit_peer.h"
#include "tests/peers/kubernetes_cluster.h"
#include "tests/peers/python_peer.h"
#include "tests/serve_process.h"
#include "tests/test_paths.h"

namespace wharf::jenkins {
namespace {

namespace json = boost::json;
using runtime::testing::eventually;
using namespace std::chrono_literals;

json::value call(const std::string& url, const std::string& method = "GET",
                 const std::string& body = {},
                 decltype(http_client::Request::headers) headers = {}) {
  http_client::Request req;
  req.method = method;
  req.url = url;
  req.body = body;
  req.headers = std::move(headers);
  auto r = http_client::send(req);
  if (!r) throw std::runtime_error(method + " " + url + ": " + r.error());
  if (r->status >= 300) {
    throw std::runtime_error(method + " " + url + ": HTTP " + std::to_string(r->status) + " " +
                             r->body);
  }
  return r->body.empty() ? json::value() : json::parse(r->body);
}

std::string text(const json::value& v, const char* key) {
  auto* s = v.as_object().if_contains(key);
  return s && s->is_string() ? std::string(s->as_string()) : "";
}

class GerritToKubernetes : public ::testing::Test {
 protected:
  void SetUp() override {
    gerrit_ = std::make_unique<gerrit::testing::GerritPeer>((dir_.path() / "gerrit").string());
    try {
      gerrit_->start();
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
  }
  void TearDown() override {
    serve_.reset();
    if (gerrit_) gerrit_->stop();
  }

  // The image the cluster's Deployment "shop" runs, once it rolled out.
  std::string deployed_image() {
    EXPECT_TRUE(k8s().rolled_out("shop", 30s));
    auto d = k8s().deployment("shop");
    return text(d.at("spec").at("template").at("spec").at("containers").as_array()[0], "image");
  }
  static const testing::KubernetesCluster& k8s() { return testing::kubernetes_cluster(); }
  // The run of `commit` once it ended (empty object on timeout).
  json::object finished_run(const std::string& commit) {
    json::object found;
    eventually(
        [&] {
          auto r = serve_->api("GET", "/api/v1/projects/shop/runs");
          if (r.status != 200) return false;
          const json::value runs = json::parse(r.body);  // outlives the loop
          for (const auto& run : runs.at("runs").as_array()) {
            const std::string status = text(run, "status");
            if (text(run, "commit_sha") == commit && status != "RUN_STATUS_RUNNING" &&
                status != "running" && !status.empty()) {
              found = run.as_object();
              return true;
            }
          }
          return false;
        },
        180s);
    return found;
  }
  static bool succeeded(const json::object& run) {
    const std::string s = run.contains("status") ? text(run, "status") : "";
    return s == "RUN_STATUS_SUCCEEDED" || s == "succeeded";
  }
  // The parameters and archived image of build #n of shop/build on the peer.
  std::map<std::string, std::string> build_parameters(int n) {
    auto info = call(jenkins_.url() + "/job/shop/job/build/" + std::to_string(n) + "/api/json",
                     "GET", {}, {{"Authorization", http_client::basic_auth("wharf", "s3cret")}});
    std::map<std::string, std::string> out;
    for (auto& a : info.at("actions").as_array()) {
      for (auto& p : a.at("parameters").as_array()) out[text(p, "name")] = text(p, "value");
    }
    return out;
  }
  json::value image_of_build(int n) {
    return call(
        jenkins_.url() + "/job/shop/job/build/" + std::to_string(n) + "/artifact/image.json", "GET",
        {}, {{"Authorization", http_client::basic_auth("wharf", "s3cret")}});
  }

  runtime::testing::TempDir dir_;
  std::unique_ptr<gerrit::testing::GerritPeer> gerrit_;
  testing::PythonPeer jenkins_{WHARF_JENKINS_PEER,
                               {"--user", "wharf", "--token", "s3cret", "--crumb", "required",
                                "--step", "0.05", "--queue-s", "0.05"}};
  std::unique_ptr<testing::ServeProcess> serve_;
};

TEST_F(GerritToKubernetes, PushBuildsOnJenkinsDeploysTheDigestAndRollsBack) {
  gerrit_->create_project("shop");
  call(jenkins_.url() + "/peer/jobs", "POST", R"({"path":"shop/build"})");
  k8s().create_deployment("shop", "registry.test/shop:none");
  json::object settings{{"deployment", "shop"}, {"container", "app"}, {"rollout_timeout_s", "60"}};

  serve_ = std::make_unique<testing::ServeProcess>(
      dir_.path() / "data",
      std::vector<std::string>{
          "--gerrit-host", "127.0.0.1", "--gerrit-port", std::to_string(gerrit_->ssh_port),
          "--gerrit-user", "admin", "--gerrit-key-file", gerrit_->key_file, "--gerrit-known-hosts",
          (dir_.path() / "known_hosts").string(), "--jenkins-url", jenkins_.url(), "--jenkins-user",
          "wharf", "--jenkins-token", "s3cret"});
  serve_->start();
  // The cluster is a registered target; its token goes to the sealed store.
  k8s().connect(testing::ServeTargets(*serve_), "k8s");
  const std::string project = R"({
    "project_id": "shop",
    "repository": {"gerrit": {"host": "127.0.0.1", "project": "shop", "branches": ["master"]}},
    "environments": [{"name": "staging", "target": "kubernetes", "target_ref": "k8s",
      "auto_deploy": true, "settings": )" +
                              json::serialize(settings) +
                              R"(}],
    "template": {"build": {"runner": "jenkins", "timeout_s": 300,
      "jenkins": {"job": "shop/build", "poll_interval_ms": 50,
        "parameters": {"GIT_COMMIT": "${commit}", "GERRIT_CHANGE": "${change}/${patchset}",
                       "BRANCH": "${branch}"}}}}})";
  auto created = serve_->api("POST", "/api/v1/projects", project);
  ASSERT_EQ(created.status, 202) << created.body;
  // Push only once serve's stream-events session is up.
  ASSERT_TRUE(eventually(
      [&] {
        return serve_->api("GET", "/metrics").body.find("\nwharf_gerrit_connected 1") !=
               std::string::npos;
      },
      120s))
      << serve_->tail();

  std::vector<std::string> uris;
  for (int i = 1; i <= 2; ++i) {
    const auto change = gerrit_->push_change("shop", "shop change " + std::to_string(i));
    const json::object run = finished_run(change.sha);
    ASSERT_TRUE(succeeded(run)) << json::serialize(run) << "\n" << serve_->tail();
    // Jenkins built this change with its commit, change/patch set and branch.
    auto params = build_parameters(i);
    EXPECT_EQ(params["GIT_COMMIT"], change.sha);
    EXPECT_EQ(params["GERRIT_CHANGE"], std::to_string(change.number) + "/1");
    EXPECT_EQ(params["BRANCH"], "master");
    const auto image = image_of_build(i);
    const std::string uri = text(image, "image") + "@" + text(image, "digest");
    // Staging runs the pinned image of this build.
    EXPECT_EQ(deployed_image(), uri);
    uris.push_back(uri);
  }
  ASSERT_EQ(uris.size(), 2u);
  EXPECT_NE(uris[0], uris[1]);

  // Roll staging back to the first version: the first image is patched back.
  auto versions = json::parse(serve_->api("GET", "/api/v1/projects/shop/versions").body);
  std::string first_version;
  for (const auto& v : versions.at("versions").as_array()) {
    if (text(v, "artifact_uri") == uris[0]) first_version = text(v, "version");
  }
  ASSERT_FALSE(first_version.empty()) << json::serialize(versions);
  auto rolled = serve_->api(
      "POST", "/api/v1/projects/shop/environments/staging/rollback",
      R"({"target_version": ")" + first_version + R"(", "reason": "change 2 breaks checkout"})");
  ASSERT_EQ(rolled.status, 202) << rolled.body;
  EXPECT_TRUE(eventually([&] { return deployed_image() == uris[0]; }, 60s)) << serve_->tail();
  // ... and its rollout is watched to the end (the third DeploySucceeded).
  EXPECT_TRUE(eventually(
      [&] {
        const json::value events =
            json::parse(serve_->api("GET", "/api/v1/events?type=DeploySucceeded").body);
        return events.at("events").as_array().size() == 3;
      },
      60s))
      << serve_->tail();
  EXPECT_EQ(serve_->terminate(), 0);

  // The log: two versions with the peer's digests, three deploys, the rollback.
  auto store = runtime::testing::open_store(dir_.path() / "data" / "events");
  auto recorded = runtime::testing::events_of_type(*store, "VersionRecorded");
  ASSERT_EQ(recorded.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& v = recorded[i].payload().version_recorded();
    EXPECT_EQ(v.artifact_uri(), uris[i]);
    EXPECT_EQ(v.artifact_digest(), text(image_of_build(static_cast<int>(i) + 1), "digest"));
    EXPECT_GT(v.change_number(), 0u);
  }
  EXPECT_EQ(runtime::testing::events_of_type(*store, "DeploySucceeded").size(), 3u);
  EXPECT_EQ(runtime::testing::events_of_type(*store, "RollbackRequested").size(), 1u);
  EXPECT_EQ(runtime::testing::events_of_type(*store, "DeployFailed").size(), 0u);
}

}  // namespace
}  // namespace wharf::jenkins
