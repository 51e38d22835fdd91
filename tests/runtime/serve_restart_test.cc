// Issue 21: a real `wharf serve` with local services deployed (staging, prod
// and a canary of prod behind its router) is SIGKILLed and started again on
// the same data directory and the same ports while the services keep
// running. The new serve binds, re-adopts them without a redeploy (no new
// DeployRequested or DeploySucceeded, no new process start), its health
// monitor finds them healthy, the canary router answers on its port again,
// and `wharf logs` and `wharf terminal` reach them.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/local/deploy_target.h"
#include "adapters/local/http_probe.h"
#include "adapters/local/process.h"
#include "tests/runtime/e2e_support.h"
#include "tests/serve_process.h"
#include "tests/test_paths.h"

namespace wharf::runtime::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

int count_of(const wharf::testing::ServeProcess& serve, const std::string& type) {
  auto r = serve.api("GET", "/api/v1/events?limit=1000&type=" + type);
  if (r.status != 200) throw std::runtime_error("GET /api/v1/events: " + r.body);
  return static_cast<int>(json::parse(r.body).as_object().at("events").as_array().size());
}

std::string run_status(const wharf::testing::ServeProcess& serve, const std::string& commit) {
  auto r = serve.api("GET", "/api/v1/projects/hello/runs");
  if (r.status != 200) return "";
  const json::value body = json::parse(r.body);
  for (const auto& run : body.as_object().at("runs").as_array()) {
    if (run.as_object().at("commit_sha").as_string() == commit) {
      return std::string(run.as_object().at("status").as_string());
    }
  }
  return "";
}

bool succeeded(const std::string& status) {
  return status == "succeeded" || status == "RUN_STATUS_SUCCEEDED";
}

json::object canary_of(const wharf::testing::ServeProcess& serve) {
  auto r = serve.api("GET", "/api/v1/projects/hello/environments/prod/canary");
  return r.status == 200 ? json::parse(r.body).as_object() : json::object{};
}

// One sample of /metrics ("name{labels} value"), -2 when absent.
double metric(const wharf::testing::ServeProcess& serve, const std::string& series) {
  const std::string text = serve.api("GET", "/metrics").body;
  const size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? -2 : std::stod(text.substr(at + series.size() + 2));
}

bool answers(int port, const std::string& path = "/healthz") {
  auto r = local::http_get("127.0.0.1", port, path, 2s);
  return r && r->status == 200;
}

TEST(ServeRestart, SigkillWithServicesRunningThenRestartOnTheSamePortsReadoptsThem) {
  TempDir dir;
  const fs::path data = dir.path() / "data";
  const fs::path repo = dir.path() / "repo";
  const std::string first = make_hello_repo(repo);
  auto api_port = local::pick_free_port(), router_port = local::pick_free_port();
  ASSERT_TRUE(api_port && router_port);
  wharf::testing::ServeProcess serve(data, {"--health-interval", "1"});
  serve.fixed_ports(*api_port, *router_port);
  struct StopServices {
    fs::path data;
    ~StopServices() { local::LocalDeployTarget(data).stop_all(); }
  } stop_services{data};
  serve.start();

  // hello: staging (smoke suite) then prod; commit 1 reaches both.
  auto created = wharf::testing::create_hello_project(serve, repo);
  ASSERT_EQ(created.status, 202) << created.body;
  auto run = [&](const std::string& sha) {
    auto r = serve.api("POST", "/api/v1/projects/hello/runs",
                       R"({"commit_sha": ")" + sha + R"(", "branch": "main"})");
    ASSERT_EQ(r.status, 202) << r.body;
  };
  run(first);
  ASSERT_TRUE(eventually([&] { return succeeded(run_status(serve, first)); }, 120s))
      << run_status(serve, first) << "\n"
      << serve.tail();

  // Commit 2 goes to staging, then to prod as a canary at 10% (manual pause):
  // three services and the router's port open.
  auto put = serve.api("PUT", "/api/v1/projects/hello/environments/prod", R"({
    "target": "local", "auto_deploy": true,
    "canary": {"steps": [{"weight": 10, "pause": "manual"}, {"weight": 100}]}})");
  ASSERT_EQ(put.status / 100, 2) << put.body;
  const std::string second = commit_version(repo, "2.0.0");
  run(second);
  ASSERT_TRUE(eventually(
      [&] {
        auto c = canary_of(serve);
        auto* router = c.if_contains("router");
        return c.if_contains("active") && c.at("active").as_bool() && router &&
               router->as_object().at("weight").to_number<int64_t>() == 10;
      },
      120s))
      << json::serialize(canary_of(serve)) << "\n"
      << serve.tail();
  ASSERT_EQ(canary_of(serve).at("router").as_object().at("port").to_number<int64_t>(),
            *router_port);

  local::LocalDeployTarget target(data);
  auto staging = target.serving("hello", "staging");
  auto prod = target.serving("hello", "prod");
  auto canary = target.serving_canary("hello", "prod");
  ASSERT_TRUE(staging && prod && canary);
  const int deploys_requested = count_of(serve, "DeployRequested");
  const int deploys_succeeded = count_of(serve, "DeploySucceeded");
  const size_t starts = read_lines(data / "sideeffects.log").size();
  ASSERT_GE(deploys_succeeded, 3);

  serve.kill_now();
  for (const auto* s : {&*staging, &*prod, &*canary}) {
    EXPECT_TRUE(local::process_alive(s->pid)) << s->deploy_id;
    EXPECT_TRUE(answers(s->port)) << s->url;
  }

  // Same data, same API port, same router base port.
  ASSERT_NO_THROW(serve.start());
  EXPECT_EQ(serve.url(), "http://127.0.0.1:" + std::to_string(*api_port));
  for (const auto* s : {&*staging, &*prod, &*canary}) {
    EXPECT_TRUE(answers(s->port)) << s->url;
    EXPECT_EQ(target.serving_canary("hello", "prod")->pid, canary->pid);
  }
  EXPECT_EQ(target.serving("hello", "staging")->pid, staging->pid);
  EXPECT_EQ(target.serving("hello", "prod")->pid, prod->pid);

  // The router is back on its port and splits between the adopted instances.
  EXPECT_TRUE(eventually([&] { return answers(*router_port, "/"); }, 30s)) << serve.tail();
  // The health monitor of the new serve probes the adopted services.
  EXPECT_TRUE(eventually(
      [&] {
        return metric(serve, R"(wharf_environment_healthy{project="hello",environment="prod"})") ==
                   1 &&
               metric(serve,
                      R"(wharf_environment_healthy{project="hello",environment="staging"})") == 1;
      },
      30s))
      << serve.api("GET", "/metrics").body;

  // Logs and a terminal reach them.
  answers(prod->port, "/after-restart");  // a 404 the service logs
  wharf::testing::CliRunner cli(dir.path());
  const std::string server = " --server " + serve.url() + " --token " + serve.token();
  auto logs = cli.run("logs hello prod --tail 5" + server);
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("GET /after-restart"), std::string::npos) << logs.out;
  auto shell = cli.run("terminal hello prod" + server, "echo in-$((6*7)); pwd\nexit 4\n");
  EXPECT_EQ(shell.exit_code, 4) << shell.err;
  EXPECT_NE(shell.out.find("in-42"), std::string::npos) << shell.out;
  EXPECT_NE(shell.out.find(prod->work_dir), std::string::npos) << shell.out;

  // Nothing was deployed again: no new deploy events, no new process start.
  EXPECT_EQ(count_of(serve, "DeployRequested"), deploys_requested);
  EXPECT_EQ(count_of(serve, "DeploySucceeded"), deploys_succeeded);
  EXPECT_EQ(read_lines(data / "sideeffects.log").size(), starts);
  EXPECT_EQ(serve.terminate(), 0) << serve.tail();
}

}  // namespace
}  // namespace wharf::runtime::testing
