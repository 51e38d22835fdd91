// The Swarm deploy target against tests/peers/portainer (a test peer speaking
// Portainer's API and its Docker proxy over a real socket).
#include "adapters/swarm/deploy_target.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>

#include "adapters/http/http_client.h"
#include "tests/peers/python_peer.h"
#include "tests/targets/test_targets.h"
#include "tests/test_paths.h"

namespace wharf::swarm {
namespace {

class PortainerPeer {
 public:
  PortainerPeer() : process_(WHARF_PORTAINER_PEER, {"--step", "0.3"}) {}
  const std::string& url() const { return process_.url(); }
  void post(const std::string& path, const std::string& body = "{}") {
    http_client::Request req;
    req.method = "POST";
    req.url = url() + path;
    req.body = body;
    auto r = http_client::send(req);
    if (!r || r->status >= 300) throw std::runtime_error("peer: POST " + path + " failed");
  }
  void create(const std::string& name, const std::string& image) {
    post("/peer/services",
         boost::json::serialize(boost::json::object{{"name", name}, {"image", image}}));
  }
  boost::json::object inspect(const std::string& name) {
    http_client::Request req;
    req.url = url() + "/api/endpoints/1/docker/v1.41/services/" + name;
    req.headers = {{"X-API-Key", "ptr_testkey"}};
    return boost::json::parse(http_client::send(req).value().body).as_object();
  }
  int64_t updates(const std::string& name) {
    http_client::Request req;
    req.url = url() + "/peer/stats";
    auto stats = boost::json::parse(http_client::send(req).value().body).as_object();
    auto* n = stats.if_contains(name);
    return n ? n->as_int64() : 0;
  }

 private:
  wharf::testing::PythonPeer process_;
};

PortainerPeer& peer() {
  static PortainerPeer p;
  return p;
}

// The peer registered three ways: a login, a wrong password, an access token.
targets::testing::TestTargets& portainers() {
  static targets::testing::TestTargets t;
  static const bool registered = [] {
    t.portainer("peer", peer().url(), "1", {{"username", "admin"}, {"password", "hunter2hunter2"}});
    t.portainer("peer-wrong", peer().url(), "1", {{"username", "admin"}, {"password", "nope"}});
    t.portainer("peer-keyed", peer().url(), "1", {{"api_key", "ptr_testkey"}});
    return true;
  }();
  (void)registered;
  return t;
}

engine::DeployJob job(const std::string& service, const std::string& version) {
  engine::DeployJob j;
  j.deploy_id = "d-" + service + "-" + version;
  j.project_id = "web";
  j.environment = "prod";
  j.attempt = 1;
  j.spec.set_version(version);
  j.spec.set_target(wharf::v1::TARGET_TYPE_SWARM);
  (*j.spec.mutable_config())["GREETING"] = "hello";
  j.spec.set_target_ref("peer");
  auto& s = *j.spec.mutable_target_settings();
  s["service"] = service;
  s["image"] = "registry.example/web:{version}";
  s["url"] = "https://web.example";
  s["update_timeout_s"] = "30";
  return j;
}

engine::DeployOutcome deploy(SwarmDeployTarget& target, const engine::DeployJob& j) {
  auto promise = std::make_shared<std::promise<engine::DeployOutcome>>();
  target.start(j, {nullptr, [promise](const engine::DeployOutcome& o) { promise->set_value(o); }});
  auto future = promise->get_future();
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    throw std::runtime_error("no deploy outcome within 60 s");
  }
  return future.get();
}

std::string image_of(const boost::json::object& service) {
  return std::string(
      service.at("Spec").at("TaskTemplate").at("ContainerSpec").at("Image").as_string());
}

TEST(SwarmDeployTarget, UpdatesTheServiceAndWaitsForCompletion) {
  peer().create("web-a", "registry.example/web:1.0.0");
  SwarmDeployTarget target(portainers(), std::chrono::milliseconds(50));
  const auto outcome = deploy(target, job("web-a", "1.1.0"));
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  EXPECT_EQ(outcome.url, "https://web.example");
  auto service = peer().inspect("web-a");
  EXPECT_EQ(image_of(service), "registry.example/web:1.1.0");
  EXPECT_EQ(service.at("UpdateStatus").at("State").as_string(), "completed");
  // The full spec went back: the env kept what it had and gained the config.
  EXPECT_EQ(
      boost::json::serialize(service.at("Spec").at("TaskTemplate").at("ContainerSpec").at("Env")),
      R"(["GREETING=hello","KEEP=1"])");
  EXPECT_EQ(
      service.at("PreviousSpec").at("TaskTemplate").at("ContainerSpec").at("Image").as_string(),
      "registry.example/web:1.0.0");
}

TEST(SwarmDeployTarget, ARepeatedStartWatchesWithoutUpdatingAgain) {
  peer().create("web-b", "registry.example/web:1.0.0");
  {
    SwarmDeployTarget first(portainers(), std::chrono::milliseconds(50));
    ASSERT_TRUE(deploy(first, job("web-b", "2.0.0")).succeeded);
  }
  SwarmDeployTarget after_restart(portainers(), std::chrono::milliseconds(50));
  const auto again = deploy(after_restart, job("web-b", "2.0.0"));
  EXPECT_TRUE(again.succeeded) << again.reason;
  EXPECT_EQ(peer().updates("web-b"), 1);
}

TEST(SwarmDeployTarget, AnUpdateOutOfSequenceIsSentAgainAtTheNewVersion) {
  peer().create("web-c", "registry.example/web:1.0.0");
  peer().post("/peer/bump?service=web-c");
  SwarmDeployTarget target(portainers(), std::chrono::milliseconds(50));
  const auto outcome = deploy(target, job("web-c", "1.2.0"));
  ASSERT_TRUE(outcome.succeeded) << outcome.reason;
  EXPECT_EQ(image_of(peer().inspect("web-c")), "registry.example/web:1.2.0");
  EXPECT_EQ(peer().updates("web-c"), 1);
}

TEST(SwarmDeployTarget, APausedUpdateFailsTheDeployWithTheDaemonsMessage) {
  peer().create("web-d", "registry.example/web:1.0.0");
  SwarmDeployTarget target(portainers(), std::chrono::milliseconds(50));
  const auto outcome = deploy(target, job("web-d", "crashloop"));
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.reason,
            "service update paused: update paused due to failure or early termination of task x1");
}

TEST(SwarmDeployTarget, CredentialsAndSessions) {
  peer().create("web-e", "registry.example/web:1.0.0");
  SwarmDeployTarget target(portainers(), std::chrono::milliseconds(50));
  auto wrong = job("web-e", "1.0.1");
  wrong.spec.set_target_ref("peer-wrong");
  const auto refused = deploy(target, wrong);
  EXPECT_FALSE(refused.succeeded);
  EXPECT_EQ(refused.reason, "Portainer login: HTTP 422: Invalid credentials");

  // An access token instead of a login.
  auto keyed = job("web-e", "1.0.2");
  keyed.spec.set_target_ref("peer-keyed");
  EXPECT_TRUE(deploy(target, keyed).succeeded);

  // Sessions that expire mid-deploy are renewed once.
  peer().post("/peer/expire");
  EXPECT_TRUE(deploy(target, job("web-e", "1.0.3")).succeeded);

  const auto missing = deploy(target, job("no-such-service", "1.0.0"));
  EXPECT_FALSE(missing.succeeded);
  EXPECT_NE(missing.reason.find("HTTP 404: service no-such-service not found"), std::string::npos)
      << missing.reason;
}

}  // namespace
}  // namespace wharf::swarm
