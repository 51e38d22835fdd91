#pragma once
// Real Dubbo peers for wharf's Dubbo canary tests and bench_dubbo_canary
// (tests/peers/dubbo): a ZooKeeper 3.9.5 server, Dubbo 3.3.6 providers of
// demo.Greeter (stable, or canary through DUBBO_LABELS=env=canary) and a
// consumer driven over HTTP, all inside a network namespace this process
// makes and joins (Dubbo never registers a loopback address, and tag rules
// never match one): lo plus a veth pair whose end v0 holds 198.51.100.10.
// Needs root (CI has it) and the jars of tests/peers/dubbo/fetch.
//
// enter_namespace() must run first, while the process has one thread: every
// thread and child after it lives in the namespace.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/local/http_probe.h"
#include "tests/test_paths.h"

namespace wharf::dubbo::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline constexpr char kHostAddress[] = "198.51.100.10";  // a documentation address, v0's

inline std::string run_command(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen: " + command);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) throw std::runtime_error(command + " failed: " + out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The namespace "wharf-dubbo-<pid>", made and joined; deleted by leave_namespace().
inline std::string& namespace_name() {
  static std::string name;
  return name;
}

inline void enter_namespace() {
  if (::geteuid() != 0) throw std::runtime_error("the Dubbo peers need root (ip netns)");
  std::string& ns = namespace_name();
  ns = "wharf-dubbo-" + std::to_string(::getpid());
  run_command("ip netns add " + ns);
  run_command("ip -n " + ns + " link set lo up");
  run_command("ip -n " + ns + " link add v0 type veth peer name v1");
  run_command("ip -n " + ns + " addr add " + kHostAddress + "/32 dev v0");
  run_command("ip -n " + ns + " link set v0 up");
  run_command("ip -n " + ns + " link set v1 up");
  const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
    throw std::runtime_error("cannot join network namespace " + ns);
  }
  ::close(fd);
}

inline void leave_namespace() {
  if (!namespace_name().empty()) {
    std::system(("ip netns del " + namespace_name() + " >/dev/null 2>&1").c_str());
  }
}

inline std::string peer_dir() {
  return WHARF_DUBBO_PEER_DIR;
}

// A child process in its own process group, output to `log`.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
        const fs::path& log) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::setenv("TMPDIR", log.parent_path().c_str(), 1);  // the JVMs' user.home go there
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
  }
  ~Child() { stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  void stop() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

struct Split {
  int canary = 0;
  int stable = 0;
  int errors = 0;
  int total() const { return canary + stable; }
  double canary_share() const { return total() == 0 ? 0.0 : double(canary) / total(); }
};

// The peers of one test binary, started once.
class DubboPeers {
 public:
  explicit DubboPeers(fs::path dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    run_command(peer_dir() + "/fetch >/dev/null");
    run_command(peer_dir() + "/compile " + (dir_ / "classes").string());
    start_zookeeper();
    consumer_port_ = 18100;
    consumer_ = std::make_unique<Child>(
        std::vector<std::string>{peer_dir() + "/app", (dir_ / "classes").string(), "demo.Consumer"},
        std::map<std::string, std::string>{{"ZK", zk_}, {"PORT", std::to_string(consumer_port_)}},
        dir_ / "consumer.log");
  }
  ~DubboPeers() {
    providers_.clear();  // the Dubbo JVMs before ZooKeeper, or they hang on shutdown
    consumer_.reset();
    stop_zookeeper(true);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  const std::string& zookeeper() const { return zk_; }
  const fs::path& dir() const { return dir_; }

  void start_zookeeper() {
    zk_ = run_command("WHARF_ZK_OWNER_PID=" + std::to_string(::getpid()) + " " + peer_dir() +
                      "/zk-start " + (dir_ / "zk").string());
  }
  void stop_zookeeper(bool kill = false) {
    std::system((peer_dir() + "/zk-stop " + (dir_ / "zk").string() + (kill ? " --kill" : "") +
                 " >/dev/null 2>&1")
                    .c_str());
  }

  // A provider on Dubbo port `port`; `canary` gives it DUBBO_LABELS=env=canary.
  void start_provider(const std::string& name, int port, bool canary) {
    std::map<std::string, std::string> env{
        {"ZK", zk_}, {"PORT", "0"}, {"DUBBO_PORT", std::to_string(port)}, {"WHARF_VERSION", name}};
    if (canary) env["DUBBO_LABELS"] = "env=canary";
    providers_[name] = std::make_unique<Child>(
        std::vector<std::string>{peer_dir() + "/app", (dir_ / "classes").string(), "demo.Provider"},
        env, dir_ / (name + ".log"));
  }
  void stop_provider(const std::string& name) { providers_.erase(name); }

  // `n` calls through the consumer, tagged dubbo.tag=`tag` when not empty.
  Split calls(int n, const std::string& tag = "") const {
    auto r =
        local::http_get("127.0.0.1", consumer_port_,
                        "/calls?n=" + std::to_string(n) + (tag.empty() ? "" : "&tag=" + tag), 60s);
    if (!r || r->status != 200) return Split{0, 0, n};
    Split s;
    std::sscanf(r->body.c_str(), "canary %d stable %d errors %d", &s.canary, &s.stable, &s.errors);
    return s;
  }

  // Until `ok` holds for a window of `window` calls, or `timeout`.
  template <typename Ok>
  bool until_split(Ok ok, std::chrono::milliseconds timeout, int window = 100) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ok(calls(window))) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::string log_tail(const std::string& name) const {
    try {
      return run_command("tail -n 30 " + (dir_ / (name + ".log")).string());
    } catch (const std::exception& e) {
      return e.what();
    }
  }

 private:
  fs::path dir_;
  std::string zk_;
  int consumer_port_ = 0;
  std::unique_ptr<Child> consumer_;
  std::map<std::string, std::unique_ptr<Child>> providers_;
};

}  // namespace wharf::dubbo::testing
