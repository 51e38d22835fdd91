#pragma once
// A real `wharf serve` for end-to-end tests: $WHARF_BIN (or the build tree's
// binary) on one data directory, output appended to DATA/serve.log, started,
// SIGKILLed and started again on the same data. The HTTP port is the free one
// serve picks (--port 0), read from its log, unless fixed_ports() names one
// (and the canary routers' base port) for every start; the admin token is the
// one the first start writes (--first-token-file).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/http/http_client.h"
#include "tests/cli_process.h"
#include "tests/runtime/runtime_fixture.h"
#include "tests/test_paths.h"

namespace wharf::testing {

class ServeProcess {
 public:
  ServeProcess(std::filesystem::path data, std::vector<std::string> args)
      : data_(std::move(data)), args_(std::move(args)) {
    std::filesystem::create_directories(data_);
  }
  ~ServeProcess() { kill_now(); }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Every start from here on binds the API on `api_port` and the first
  // canary router on `router_base_port` (a restart on the same ports).
  void fixed_ports(int api_port, int router_base_port) {
    api_port_ = api_port;
    router_base_port_ = router_base_port;
  }

  // Starts serve and waits until its API answers; throws with the log's tail.
  void start() {
    const auto log_path = data_ / "serve.log";
    const auto offset =
        std::filesystem::exists(log_path) ? std::filesystem::file_size(log_path) : 0;
    std::vector<std::string> argv{wharf_bin(),
                                  "serve",
                                  "--data",
                                  data_.string(),
                                  "--port",
                                  std::to_string(api_port_),
                                  "--canary-router-base-port",
                                  std::to_string(router_base_port_),
                                  "--first-token-file",
                                  (data_ / "admin-token").string()};
    // No relay unless the test asks for one (a flag may be given once).
    if (std::find(args_.begin(), args_.end(), "--kafka-relay") == args_.end()) {
      argv.insert(argv.end(), {"--kafka-relay", "false"});
    }
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::vector<char*> c_argv;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(log, 1);
      dup2(log, 2);
      execv(c_argv[0], c_argv.data());
      _exit(127);
    }
    const std::regex listening(R"(HTTP API listening on (http://[0-9.]+:[0-9]+))");
    const bool up = runtime::testing::eventually(
        [&] {
          std::smatch m;
          const std::string text = log();
          const std::string fresh = text.substr(std::min<size_t>(offset, text.size()));
          if (std::regex_search(fresh, m, listening)) url_ = m[1];
          return !url_.empty() || !alive();
        },
        std::chrono::seconds(60));
    if (!up || url_.empty()) {
      throw std::runtime_error("wharf serve did not start; its log ends:\n" + tail());
    }
    std::ifstream token(data_ / "admin-token");
    if (token_.empty()) std::getline(token, token_);
  }
  // SIGKILL: no drain, no clean close.
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
    url_.clear();
  }
  int terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    url_.clear();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

  // An API call with the admin token; throws when serve does not answer.
  http_client::Response api(const std::string& method, const std::string& path,
                            const std::string& body = {}) const {
    http_client::Request req;
    req.method = method;
    req.url = url_ + path;
    req.body = body;
    req.headers = {{"Authorization", "Bearer " + token_}, {"Content-Type", "application/json"}};
    auto r = http_client::send(req);
    if (!r) throw std::runtime_error(method + " " + path + ": " + r.error());
    return *r;
  }

  std::string log() const {
    std::ifstream in(data_ / "serve.log", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string tail(size_t bytes = 4000) const {
    const std::string text = log();
    return text.size() > bytes ? text.substr(text.size() - bytes) : text;
  }
  const std::string& url() const { return url_; }
  const std::string& token() const { return token_; }
  const std::filesystem::path& data() const { return data_; }

 private:
  std::filesystem::path data_;
  std::vector<std::string> args_;
  int api_port_ = 0;
  int router_base_port_ = 0;
  pid_t pid_ = 0;
  std::string url_;
  std::string token_;
};

// A running serve's target registry, for KubernetesCluster::connect: each
// target is registered through POST /api/v1/targets as admin, so the server
// seals its credential (nothing about it goes into settings).
class ServeTargets {
 public:
  explicit ServeTargets(const ServeProcess& serve) : serve_(serve) {}
  void kubernetes(const std::string& name, const std::string& url, const std::string& ca_file,
                  const std::string& token) const {
    const boost::json::object body{
        {"name", name},
        {"kind", "kubernetes"},
        {"url", url},
        {"ca_file", ca_file},
        {"credential", boost::json::object{{"kind", "bearer_token"}, {"token", token}}}};
    auto r = serve_.api("POST", "/api/v1/targets", boost::json::serialize(body));
    if (r.status != 201) {
      throw std::runtime_error("registering target " + name + ": " + http_client::describe(r));
    }
  }

 private:
  const ServeProcess& serve_;
};

// Creates examples/hello-service (staging with a smoke suite, then prod)
// through `serve`'s API, its repository at `repo`; serve's answer.
inline http_client::Response create_hello_project(const ServeProcess& serve,
                                                  const std::filesystem::path& repo) {
  std::ifstream definition(std::filesystem::path(WHARF_SOURCE_DIR) /
                           "examples/hello-service/wharf-project.json");
  std::stringstream text;
  text << definition.rdbuf();
  boost::json::object project = boost::json::parse(text.str()).as_object();
  project["repository"].as_object()["local_git"].as_object()["path"] = repo.string();
  return serve.api("POST", "/api/v1/projects", boost::json::serialize(project));
}

}  // namespace wharf::testing
