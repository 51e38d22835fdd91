// The local canary router under real traffic (sockets, threads): the weight
// split, header/cookie routing, an abort that holds from the next request,
// 5xx counts per side, and the analysis that aborts a failing canary.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>

#include "adapters/local/process.h"
#include "adapters/router/canary_target.h"
#include "adapters/router/traffic_router.h"
#include "tests/router/test_service.h"

namespace wharf::router {
namespace {

using testing::Client;
using testing::TestService;

Upstream at(const TestService& s) {
  return Upstream{"127.0.0.1", s.port()};
}

class Router : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = TrafficRouter::start("127.0.0.1", 0);
    ASSERT_TRUE(r) << r.error();
    router = std::move(*r);
  }
  void route(uint32_t weight, wharf::v1::CanaryMatch match = {}) {
    Routes routes;
    routes.stable = at(stable);
    routes.canary = at(canary);
    routes.weight = weight;
    routes.match = std::move(match);
    router->set_routes(routes);
  }
  TestService stable{"stable"};
  TestService canary{"canary"};
  std::unique_ptr<TrafficRouter> router;
};

TEST_F(Router, AtWeight10About10PercentOf2000RequestsReachTheCanary) {
  route(10);
  int to_canary = 0;
  // Four keep-alive clients, as a service would see from a few callers.
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(std::make_unique<Client>(router->port()));
  for (int i = 0; i < 2000; ++i) {
    auto a = clients[i % 4]->get();
    ASSERT_EQ(a.status, 200);
    EXPECT_EQ(a.route, a.body);  // the X-Wharf-Route header names who answered
    to_canary += a.body == "canary";
  }
  EXPECT_GE(to_canary, 140);  // 7%
  EXPECT_LE(to_canary, 260);  // 13%
  RouterCounts c = router->counts();
  EXPECT_EQ(c.canary.requests, static_cast<uint64_t>(to_canary));
  EXPECT_EQ(c.stable.requests, static_cast<uint64_t>(2000 - to_canary));
  EXPECT_EQ(canary.requests(), static_cast<uint64_t>(to_canary));
  EXPECT_EQ(c.canary.errors + c.stable.errors, 0u);
}

TEST_F(Router, EveryFlaggedRequestReachesTheCanaryAtAnyWeight) {
  wharf::v1::CanaryMatch m;
  m.set_header("X-Canary");
  m.set_header_value("1");
  m.set_cookie("canary");
  route(0, m);
  Client client(router->port());
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(client.get("/", {{"X-Canary", "1"}}).body, "canary");
    EXPECT_EQ(client.get("/", {{"Cookie", "a=b; canary=1"}}).body, "canary");
    EXPECT_EQ(client.get("/", {{"X-Canary", "0"}}).body, "stable");
    EXPECT_EQ(client.get("/").body, "stable");
  }
  EXPECT_EQ(router->counts().canary.requests, 400u);
}

TEST_F(Router, AnAbortMovesAllTrafficBackFromTheNextRequest) {
  route(100);
  Client client(router->port());  // one keep-alive connection throughout
  EXPECT_EQ(client.get().body, "canary");
  Routes back;
  back.stable = at(stable);
  router->set_routes(back);
  for (int i = 0; i < 500; ++i) ASSERT_EQ(client.get().body, "stable") << "request " << i;
  EXPECT_EQ(router->counts().canary.requests, 1u);
}

TEST_F(Router, FiveHundredsAndADeadUpstreamCountAsErrorsOfTheirSide) {
  canary.set_status(500);
  route(100);
  Client client(router->port());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(client.get().status, 500);
  Routes dead;
  dead.stable = Upstream{"127.0.0.1", 1};  // nothing listens on port 1
  router->set_routes(dead);
  auto a = client.get();
  EXPECT_EQ(a.status, 502);
  RouterCounts c = router->counts();
  EXPECT_EQ(c.canary.requests, 10u);
  EXPECT_EQ(c.canary.errors, 10u);
  EXPECT_EQ(c.stable.requests, 1u);
  EXPECT_EQ(c.stable.errors, 1u);
}

// The canary target: a failing canary at a step is aborted by the analysis
// with what the router measured; the abort then points traffic back.
TEST(LocalCanaryTarget, AFailingCanaryIsAbortedWithTheMeasuredErrorRate) {
  TestService stable("stable");
  TestService canary("canary");
  canary.set_status(500);
  CanaryRouterOptions options;
  options.base_port = 0;
  options.tick = std::chrono::milliseconds(20);
  LocalCanaryTarget target(nullptr, options);

  engine::CanaryTraffic t;
  t.canary_id = "c-1";
  t.project_id = "shop";
  t.environment = "prod";
  t.weight = 50;
  t.stable_url = stable.url();
  t.canary_url = canary.url();
  t.strategy.add_steps()->set_weight(50);
  t.strategy.mutable_analysis()->set_max_error_rate(0.2);
  t.strategy.mutable_analysis()->set_min_requests(20);
  t.strategy.mutable_analysis()->set_interval_s(1);
  std::mutex m;
  std::condition_variable cv;
  std::vector<engine::CanaryVerdict> verdicts;
  target.set(t, [&](const engine::CanaryVerdict& v) {
    std::lock_guard lock(m);
    verdicts.push_back(v);
    cv.notify_all();
  });
  uint16_t port = target.port_of("shop", "prod");
  ASSERT_NE(port, 0);
  Client client(port);
  int canary_answers = 0;
  for (int i = 0; i < 200; ++i) canary_answers += client.get().status == 500;
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return !verdicts.empty(); }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // a second interval passes
  std::lock_guard lock(m);
  ASSERT_EQ(verdicts.size(), 1u);  // one verdict per step
  const auto& f = verdicts[0].figures;
  EXPECT_EQ(f.requests(), static_cast<uint64_t>(canary_answers));
  EXPECT_EQ(f.errors(), static_cast<uint64_t>(canary_answers));
  EXPECT_DOUBLE_EQ(f.error_rate(), 1.0);
  EXPECT_EQ(f.stable_requests(), static_cast<uint64_t>(200 - canary_answers));
  EXPECT_EQ(f.stable_errors(), 0u);
  EXPECT_NE(verdicts[0].reason.find("100.0% over the limit 20.0%"), std::string::npos);

  t.phase = engine::CanaryTraffic::Phase::kAborted;
  target.set(t, {});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(client.get().status, 200);
  auto routers = target.routers();
  ASSERT_EQ(routers.size(), 1u);
  EXPECT_FALSE(routers[0].active);
  EXPECT_EQ(routers[0].weight, 0u);
}

// Each environment's router keeps the port it got from the base port when
// wharf restarts (issue 21), whatever order the canaries come back in: here
// only prod's is still running after the restart, and it must not take
// staging's port.
TEST(LocalCanaryTarget, AnEnvironmentKeepsItsRouterPortAcrossARestart) {
  TestService stable("stable");
  TestService canary("canary");
  const auto dir = std::filesystem::temp_directory_path() /
                   ("wharf-router-ports-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  auto base = local::pick_free_port_run(3);  // staging, prod and qa take base, base + 1, base + 2
  ASSERT_TRUE(base) << base.error();
  CanaryRouterOptions options;
  options.base_port = static_cast<uint16_t>(*base);
  options.ports_file = dir / "canary-router-ports.json";
  auto traffic = [&](const std::string& environment) {
    engine::CanaryTraffic t;
    t.canary_id = "c-" + environment;
    t.project_id = "shop";
    t.environment = environment;
    t.weight = 50;
    t.stable_url = stable.url();
    t.canary_url = canary.url();
    t.strategy.add_steps()->set_weight(50);
    return t;
  };
  auto ignore = [](const engine::CanaryVerdict&) {};
  {
    LocalCanaryTarget first(nullptr, options);
    first.set(traffic("staging"), ignore);
    first.set(traffic("prod"), ignore);
    EXPECT_EQ(first.port_of("shop", "staging"), *base);
    EXPECT_EQ(first.port_of("shop", "prod"), *base + 1);
  }
  LocalCanaryTarget restarted(nullptr, options);
  restarted.set(traffic("prod"), ignore);
  EXPECT_EQ(restarted.port_of("shop", "prod"), *base + 1);
  EXPECT_EQ(Client(static_cast<uint16_t>(*base + 1)).get().status, 200);
  restarted.set(traffic("qa"), ignore);  // a new one takes the next free port
  EXPECT_EQ(restarted.port_of("shop", "qa"), *base + 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace wharf::router
