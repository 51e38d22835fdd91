#pragma once
// A real Gerrit 3.10 for integration tests, driven through the scripts in
// tests/peers/gerrit (start/stop) and Gerrit's own SSH commands and git.
// Failures throw with Gerrit's words; tests turn them into failures, never skips.
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tests/test_paths.h"

namespace wharf::gerrit::testing {

struct CommandResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Change {
  uint64_t number = 0;
  std::string sha;
};

class GerritPeer {
 public:
  explicit GerritPeer(std::string site) : site_(std::move(site)) {}

  // Starts Gerrit (initialising the site on first use) and reads peer.env.
  void start() {
    auto r = run_command(script("start") + " " + quote(site_));
    if (r.status != 0) throw std::runtime_error("Gerrit did not start: " + r.output);
    last_start_output_ = r.output;
    std::ifstream env(site_ + "/peer.env");
    std::map<std::string, std::string> values;
    for (std::string line; std::getline(env, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    http_port = std::stoi(values.at("GERRIT_HTTP_PORT"));
    ssh_port = std::stoi(values.at("GERRIT_SSH_PORT"));
    key_file = values.at("GERRIT_KEY");
    init_ms = std::stoll(values.at("GERRIT_INIT_MS"));
    start_ms = std::stoll(values.at("GERRIT_START_MS"));
  }

  void stop() { run_command(script("stop") + " " + quote(site_)); }

  std::string http_url() const { return "http://127.0.0.1:" + std::to_string(http_port); }

  // Runs a Gerrit SSH command as admin; throws on failure.
  std::string ssh(const std::string& command) const {
    auto r = run_command(ssh_prefix() + " -p " + std::to_string(ssh_port) + " admin@127.0.0.1 " +
                         quote(command));
    if (r.status != 0) throw std::runtime_error("ssh " + command + ": " + r.output);
    return r.output;
  }

  void create_project(const std::string& project) const {
    ssh("gerrit create-project " + project + " --empty-commit");
  }

  // Commits a new file on top of the current master and pushes it for review.
  Change push_change(const std::string& project, const std::string& subject) {
    const std::string wc = site_ + "/wc-" + project;
    const std::string git = "GIT_SSH_COMMAND=" + quote(ssh_prefix()) + " git -C " + quote(wc);
    if (run_command("test -d " + quote(wc)).status != 0) {
      must("GIT_SSH_COMMAND=" + quote(ssh_prefix()) + " git clone -q ssh://admin@127.0.0.1:" +
           std::to_string(ssh_port) + "/" + project + " " + quote(wc));
      must("git -C " + quote(wc) + " config user.email admin@example.com");
      must("git -C " + quote(wc) + " config user.name Administrator");
    }
    must(git + " fetch -q origin");
    must(git + " checkout -q --detach origin/master");
    std::ofstream(wc + "/" + std::to_string(++counter_) + ".txt") << subject << "\n";
    must(git + " add -A");
    std::mt19937_64 rng(std::random_device{}());
    char change_id[48];
    std::snprintf(change_id, sizeof change_id, "I%016llx%016llx%08x",
                  static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(rng()),
                  static_cast<unsigned>(rng()));
    must(git + " commit -q -m " + quote(subject + "\n\nChange-Id: " + change_id));
    Change c;
    c.sha = must(git + " rev-parse HEAD");
    while (!c.sha.empty() && c.sha.back() == '\n') c.sha.pop_back();
    std::string out = must(git + " push origin HEAD:refs/for/master");
    std::smatch m;
    if (!std::regex_search(out, m, std::regex("/\\+/([0-9]+)"))) {
      throw std::runtime_error("no change number in push output: " + out);
    }
    c.number = std::stoull(m[1]);
    return c;
  }

  void approve_and_submit(const Change& c) const {
    ssh("gerrit review --code-review +2 --submit " + c.sha);
  }
  void comment(const Change& c, const std::string& message) const {
    ssh("gerrit review -m " + quote(message) + " " + c.sha);
  }

  int http_port = 0;
  int ssh_port = 0;
  std::string key_file;
  int64_t init_ms = 0;
  int64_t start_ms = 0;
  std::string last_start_output_;

 private:
  static std::string script(const std::string& name) {
    return std::string(WHARF_SOURCE_DIR) + "/tests/peers/gerrit/" + name;
  }
  std::string ssh_prefix() const {
    return "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
           "-o BatchMode=yes -i " +
           key_file;
  }
  static std::string must(const std::string& command) {
    auto r = run_command(command);
    if (r.status != 0) throw std::runtime_error(command + ": " + r.output);
    return r.output;
  }

  std::string site_;
  int counter_ = 0;
};

}  // namespace wharf::gerrit::testing
