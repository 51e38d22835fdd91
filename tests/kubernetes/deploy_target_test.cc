// The Kubernetes deploy target against tests/peers/kubernetes (a test peer
// speaking the apps/v1 Deployment API over a real socket).
#include "adapters/kubernetes/deploy_target.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>

#include "adapters/http/http_client.h"
#include "adapters/runtime/runtime.h"
#include "tests/peers/python_peer.h"
#include "tests/runtime/e2e_support.h"

namespace wharf::kubernetes {
namespace {

// The peer process; stopped at exit.
class KubernetesPeer {
 public:
  KubernetesPeer()
      : process_(WHARF_K8S_PEER, {"--token", "s3cret", "--step", "0.15", "--deadline", "1.5"}) {}
  const std::string& url() const { return process_.url(); }

  void create(const std::string& name, const std::string& image, int replicas = 2) {
    http_client::Request req;
    req.method = "POST";
    req.url = url() + "/peer/deployments";
    req.body = boost::json::serialize(boost::json::object{
        {"name", name}, {"image", image}, {"replicas", replicas}, {"container", "app"}});
    auto r = http_client::send(req);
    if (!r || r->status != 201) throw std::runtime_error("peer: cannot create " + name);
  }
  boost::json::object get(const std::string& name) {
    http_client::Request req;
    req.url = url() + "/apis/apps/v1/namespaces/default/deployments/" + name;
    req.headers = {{"Authorization", "Bearer s3cret"}};
    auto r = http_client::send(req);
    return boost::json::parse(r.value().body).as_object();
  }
  int64_t patches(const std::string& name) {
    http_client::Request req;
    req.url = url() + "/peer/stats";
    auto stats = boost::json::parse(http_client::send(req).value().body).as_object();
    auto* n = stats.if_contains("default/" + name);
    return n ? n->as_int64() : 0;
  }

 private:
  wharf::testing::PythonPeer process_;
};

KubernetesPeer& peer() {
  static KubernetesPeer p;
  return p;
}

engine::DeployJob job(const std::string& deployment, const std::string& version,
                      const std::string& token = "s3cret") {
  engine::DeployJob j;
  j.deploy_id = "d-" + deployment + "-" + version;
  j.project_id = "web";
  j.environment = "prod";
  j.attempt = 1;
  j.spec.set_version(version);
  j.spec.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  (*j.spec.mutable_config())["GREETING"] = "hello";
  auto& s = *j.spec.mutable_target_settings();
  s["api_url"] = peer().url();
  s["deployment"] = deployment;
  s["container"] = "app";
  s["image"] = "registry.example/web:{version}";
  s["token"] = token;
  s["url"] = "https://web.example";
  s["rollout_timeout_s"] = "30";
  return j;
}

struct Result {
  engine::DeployOutcome outcome;
  std::vector<std::string> progress;
};

Result deploy(KubernetesDeployTarget& target, const engine::DeployJob& j) {
  auto promise = std::make_shared<std::promise<engine::DeployOutcome>>();
  auto progress = std::make_shared<std::vector<std::string>>();
  auto mutex = std::make_shared<std::mutex>();
  target.start(j, {[progress, mutex](const engine::StepProgress& p) {
                     std::lock_guard lock(*mutex);
                     progress->push_back(p.message);
                   },
                   [promise](const engine::DeployOutcome& o) { promise->set_value(o); }});
  auto future = promise->get_future();
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    throw std::runtime_error("no deploy outcome within 60 s");
  }
  std::lock_guard lock(*mutex);
  return {future.get(), *progress};
}

TEST(KubernetesDeployTarget, PatchesTheImageAndWaitsForTheRollout) {
  peer().create("web-a", "registry.example/web:1.0.0", 3);
  KubernetesDeployTarget target(std::chrono::milliseconds(50));
  const Result r = deploy(target, job("web-a", "1.1.0"));
  ASSERT_TRUE(r.outcome.succeeded) << r.outcome.reason;
  EXPECT_EQ(r.outcome.url, "https://web.example");
  auto d = peer().get("web-a");
  const auto& containers = d["spec"].at("template").at("spec").at("containers").as_array();
  ASSERT_EQ(containers.size(), 2u);  // the sidecar survived the strategic merge
  EXPECT_EQ(containers[0].at("image").as_string(), "registry.example/web:1.1.0");
  EXPECT_EQ(containers[1].at("image").as_string(), "envoy:1");
  EXPECT_EQ(d["status"].at("updatedReplicas").as_int64(), 3);
  EXPECT_EQ(d["status"].at("availableReplicas").as_int64(), 3);
  // The rollout was watched, not assumed.
  bool saw_waiting = false;
  for (const auto& m : r.progress)
    saw_waiting |=
        m.find("replicas") != std::string::npos || m.find("observed") != std::string::npos;
  EXPECT_TRUE(saw_waiting);
}

TEST(KubernetesDeployTarget, ARepeatedStartWatchesWithoutPatchingAgain) {
  peer().create("web-b", "registry.example/web:1.0.0");
  {
    KubernetesDeployTarget first(std::chrono::milliseconds(50));
    ASSERT_TRUE(deploy(first, job("web-b", "2.0.0")).outcome.succeeded);
  }
  KubernetesDeployTarget after_restart(std::chrono::milliseconds(50));
  const Result again = deploy(after_restart, job("web-b", "2.0.0"));
  EXPECT_TRUE(again.outcome.succeeded) << again.outcome.reason;
  EXPECT_EQ(peer().patches("web-b"), 1);
}

TEST(KubernetesDeployTarget, ProgressDeadlineExceededFailsTheDeploy) {
  peer().create("web-c", "registry.example/web:1.0.0");
  KubernetesDeployTarget target(std::chrono::milliseconds(50));
  const Result r = deploy(target, job("web-c", "crashloop"));
  EXPECT_FALSE(r.outcome.succeeded);
  EXPECT_NE(r.outcome.reason.find("exceeded its progress deadline"), std::string::npos)
      << r.outcome.reason;
}

TEST(KubernetesDeployTarget, AWrongTokenOrAMissingDeploymentIsAClearFailure) {
  KubernetesDeployTarget target(std::chrono::milliseconds(50));
  peer().create("web-d", "registry.example/web:1.0.0");
  const Result unauthorized = deploy(target, job("web-d", "1.0.1", "wrong"));
  EXPECT_FALSE(unauthorized.outcome.succeeded);
  EXPECT_NE(unauthorized.outcome.reason.find("HTTP 401"), std::string::npos)
      << unauthorized.outcome.reason;
  EXPECT_EQ(peer().patches("web-d"), 0);

  const Result missing = deploy(target, job("no-such-deployment", "1.0.0"));
  EXPECT_FALSE(missing.outcome.succeeded);
  EXPECT_NE(missing.outcome.reason.find("\"no-such-deployment\" not found"), std::string::npos)
      << missing.outcome.reason;

  auto incomplete = job("web-d", "1.0.2");
  incomplete.spec.mutable_target_settings()->erase("api_url");
  const Result bad_settings = deploy(target, incomplete);
  EXPECT_FALSE(bad_settings.outcome.succeeded);
  EXPECT_EQ(bad_settings.outcome.reason, "kubernetes target needs settings.api_url");
}

// The engine routes a Kubernetes environment's deploys here; a rollback
// replays the recorded spec, so the old image is patched back.
TEST(KubernetesPipeline, ARunDeploysToKubernetesAndARollbackPatchesTheOldImageBack) {
  using namespace wharf::runtime::testing;
  peer().create("hello", "registry.example/hello:0.0.0");
  TempDir dir;
  const fs::path repo = dir.path() / "repo";
  const std::string first = make_hello_repo(repo);
  const std::string second = commit_version(repo, "2.0.0");
  auto store = open_store(dir.path() / "events", true);
  runtime::Runtime rt(*store, runtime::RuntimeOptions{.data_dir = dir.path() / "data"});
  ASSERT_TRUE(rt.start());
  auto ctx = [&] { return rt.commands().user_context("alice", wharf::v1::CHANNEL_CLI); };

  engine::CreateProject project = hello_project("hello", repo);
  project.environments.resize(1);  // one environment: prod on Kubernetes
  wharf::v1::EnvironmentSpec& prod = project.environments[0];
  prod.set_name("prod");
  prod.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  prod.clear_post_deploy_tests();
  auto& settings = *prod.mutable_settings();
  settings["api_url"] = peer().url();
  settings["deployment"] = "hello";
  settings["container"] = "app";
  settings["image"] = "registry.example/hello:{version}";
  settings["token"] = "s3cret";
  ASSERT_TRUE(rt.commands().execute(project, ctx()));

  auto image = [&] {
    auto d = peer().get("hello");
    return std::string(
        d["spec"].at("template").at("spec").at("containers").as_array()[0].at("image").as_string());
  };
  std::vector<std::string> images;
  for (const auto& sha : {first, second}) {
    auto commit = make_commit("hello", sha);
    ASSERT_TRUE(rt.commands().execute(commit, ctx()));
    const std::string run = engine::run_id_of(commit);
    ASSERT_TRUE(eventually(
        [&] {
          return run_completed(*store, run) ||
                 run_completed(*store, run, wharf::v1::RUN_OUTCOME_FAILED);
        },
        std::chrono::seconds(90)));
    ASSERT_TRUE(run_completed(*store, run)) << "run " << run << " failed";
    images.push_back(image());
  }
  // Each run's image is the one its recorded DeploySpec names.
  auto requested = events_of_type(*store, "DeployRequested");
  ASSERT_EQ(requested.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(images[i], "registry.example/hello:" +
                             requested[i].payload().deploy_requested().spec().version());
  }
  EXPECT_NE(images[0], images[1]);

  auto succeeded = events_of_type(*store, "DeploySucceeded");
  ASSERT_EQ(succeeded.size(), 2u);
  engine::RequestRollback rollback;
  rollback.project_id = "hello";
  rollback.environment = "prod";
  rollback.target_deploy_event_id = succeeded[0].event_id();
  rollback.reason = "2.0.0 breaks checkout";
  ASSERT_TRUE(rt.commands().execute(rollback, ctx()));
  ASSERT_TRUE(eventually([&] { return events_of_type(*store, "DeploySucceeded").size() == 3; },
                         std::chrono::seconds(60)));
  EXPECT_EQ(image(), images[0]);
  EXPECT_EQ(events_of_type(*store, "DeployFailed").size(), 0u);
  rt.stop();
}

}  // namespace
}  // namespace wharf::kubernetes
