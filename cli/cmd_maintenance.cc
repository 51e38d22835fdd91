// `wharf logs`, `wharf health`, `wharf testcases list|run`: application
// maintenance of a running server's environments (docs/operations.md)
// through its HTTP API (--server, WHARF_SERVER; --token, WHARF_TOKEN).
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <ctime>
#include <memory>
#include <stdexcept>

#include "adapters/http/http_stream.h"
#include "cli/api_client.h"
#include "cli/commands.h"

namespace wharf::cli {
namespace {

namespace json = boost::json;

struct MaintenanceArgs {
  ServerOptions api;
  std::string project, environment;
  bool follow = false;
  uint32_t tail = 100;
  std::vector<std::string> cases;
  bool json_out = false;
};

// A request to the project's resource `path` ("" for the project itself).
http_client::Request project_request(const MaintenanceArgs& a, const std::string& method,
                                     const std::string& path) {
  return api_request(a.api, method, "/projects/" + a.project + path);
}

json::value get_json(const MaintenanceArgs& a, const std::string& path) {
  return json::parse(call_api(a.api, project_request(a, "GET", path)));
}

std::string text(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

int64_t number(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_string()) return std::stoll(std::string(v->as_string()));  // 64-bit ints as strings
  return 0;
}

std::string when(int64_t us) {
  if (us <= 0) return "-";
  const std::time_t t = static_cast<std::time_t>(us / 1000000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string health_word(const std::string& state) {
  if (state == "HEALTH_STATE_HEALTHY") return "healthy";
  if (state == "HEALTH_STATE_UNHEALTHY") return "unhealthy";
  return "not probed";
}

void print_logs(const MaintenanceArgs& a) {
  auto request =
      project_request(a, "GET",
                      "/environments/" + a.environment + "/logs?tail=" + std::to_string(a.tail) +
                          (a.follow ? "&follow=true" : ""));
  request.timeout = std::chrono::seconds(30);
  std::atomic<bool> stop{false};
  auto streamed = http_client::stream_body(
      request,
      [](std::string_view chunk) {
        if (!chunk.empty()) {
          std::fwrite(chunk.data(), 1, chunk.size(), stdout);
          std::fflush(stdout);
        }
        return !std::ferror(stdout);
      },
      stop);
  if (!streamed) throw std::runtime_error(streamed.error());
}

void print_health(const MaintenanceArgs& a) {
  std::vector<json::object> envs;
  if (!a.environment.empty()) {
    envs.push_back(get_json(a, "/environments/" + a.environment).as_object());
  } else {
    auto list = get_json(a, "/environments");
    for (const char* key : {"items", "environments"}) {
      if (auto* items = list.as_object().if_contains(key); items && items->is_array()) {
        for (const auto& e : items->as_array()) envs.push_back(e.as_object());
      }
    }
  }
  if (a.json_out) {
    json::array out;
    for (auto& e : envs) out.push_back(e);
    std::printf("%s\n", json::serialize(out).c_str());
    return;
  }
  std::printf("%-16s %-11s %-10s %-21s %-8s %s\n", "ENVIRONMENT", "HEALTH", "VERSION", "SINCE",
              "CHANGES", "DETAIL");
  for (const auto& e : envs) {
    std::string version = "-";
    if (auto* c = e.if_contains("current"); c && c->is_object()) {
      version = text(c->as_object(), "version");
      if (version.empty()) version = "-";
    }
    std::printf("%-16s %-11s %-10s %-21s %-8lld %s\n", text(e, "environment").c_str(),
                health_word(text(e, "health")).c_str(), version.c_str(),
                when(number(e, "health_changed_at_us")).c_str(),
                static_cast<long long>(number(e, "health_changes")),
                text(e, "health_detail").c_str());
  }
}

void list_test_cases(const MaintenanceArgs& a) {
  auto project = get_json(a, "").as_object();
  const json::object* spec = nullptr;
  if (auto* envs = project.if_contains("environments"); envs && envs->is_array()) {
    for (const auto& e : envs->as_array()) {
      if (e.is_object() && text(e.as_object(), "name") == a.environment) spec = &e.as_object();
    }
  }
  if (spec == nullptr) {
    throw std::runtime_error("project " + a.project + " has no environment " + a.environment);
  }
  std::vector<std::string> after;
  if (auto* v = spec->if_contains("after_deploy_test_cases"); v && v->is_array()) {
    for (const auto& n : v->as_array()) after.emplace_back(n.as_string());
  }
  std::printf("%-20s %-8s %-12s %s\n", "CASE", "TIMEOUT", "AFTER-DEPLOY", "COMMAND");
  if (auto* cases = spec->if_contains("test_cases"); cases && cases->is_array()) {
    for (const auto& c : cases->as_array()) {
      const auto& o = c.as_object();
      const std::string name = text(o, "name");
      const bool auto_run = std::find(after.begin(), after.end(), name) != after.end();
      std::printf("%-20s %-8s %-12s %s\n", name.c_str(),
                  (std::to_string(number(o, "timeout_s")) + "s").c_str(), auto_run ? "yes" : "no",
                  text(o, "command").c_str());
    }
  }
  auto env = get_json(a, "/environments/" + a.environment).as_object();
  if (auto* last = env.if_contains("last_test_cases"); last && last->is_object()) {
    const auto& l = last->as_object();
    if (!text(l, "test_run_id").empty()) {
      std::printf("\nlast run %s (%s, %s): %s, %lld passed, %lld failed, %lld ms\n",
                  text(l, "test_run_id").c_str(), text(l, "trigger").c_str(),
                  text(l, "version").c_str(), text(l, "status").c_str(),
                  static_cast<long long>(number(l, "passed")),
                  static_cast<long long>(number(l, "failed")),
                  static_cast<long long>(number(l, "duration_ms")));
    }
  }
}

void run_test_cases(const MaintenanceArgs& a) {
  auto request = project_request(a, "POST", "/environments/" + a.environment + "/test-cases");
  json::array cases;
  for (const auto& c : a.cases) cases.emplace_back(c);
  request.headers.push_back({"Content-Type", "application/json"});
  request.body = json::serialize(json::object{{"cases", std::move(cases)}});
  std::printf("%s\n", call_api(a.api, request).c_str());
}

}  // namespace

void register_maintenance_commands(CLI::App& app) {
  auto args = std::make_shared<MaintenanceArgs>();
  auto* logs = app.add_subcommand(
      "logs",
      "print an environment's service logs (local process, Kubernetes pod, Swarm service) from a "
      "running server; --follow keeps printing (docs/operations.md)");
  logs->add_option("project", args->project, "project id")->required();
  logs->add_option("environment", args->environment, "environment name")->required();
  logs->add_flag("-f,--follow", args->follow, "keep the stream open and print what arrives");
  logs->add_option("--tail", args->tail, "lines from the end to start with (0 = all)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  add_server_options(logs, args->api, "a viewer's");
  logs->callback([args] { print_logs(*args); });

  auto* health =
      app.add_subcommand("health",
                         "the health verdict of a project's environments (or one), as the server's "
                         "health monitor recorded it");
  health->add_option("project", args->project, "project id")->required();
  health->add_option("environment", args->environment, "environment name (default: all)");
  health->add_flag("--json", args->json_out, "print the environment views as JSON");
  add_server_options(health, args->api, "a viewer's");
  health->callback([args] { print_health(*args); });

  auto& testcases = group(app, "testcases",
                          "an environment's named test cases: list them and their last run, or "
                          "run some now against the current deploy");
  auto* list = testcases.add_subcommand("list", "declared test cases and the last run");
  list->add_option("project", args->project, "project id")->required();
  list->add_option("environment", args->environment, "environment name")->required();
  add_server_options(list, args->api, "a viewer's");
  list->callback([args] { list_test_cases(*args); });
  auto* run = testcases.add_subcommand(
      "run", "run test cases against the current deploy (none named: every declared case)");
  run->add_option("project", args->project, "project id")->required();
  run->add_option("environment", args->environment, "environment name")->required();
  run->add_option("cases", args->cases, "case names, in the order to run");
  add_server_options(run, args->api, "a deployer's");
  run->callback([args] { run_test_cases(*args); });
}

}  // namespace wharf::cli
