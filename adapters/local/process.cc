#include "adapters/local/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/local/descriptors.h"

extern char** environ;

namespace wharf::local {
namespace {

// Everything exec needs, built before fork: after fork in a threaded process
// only async-signal-safe calls are allowed.
struct PreparedExec {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string cwd;
  std::string log_file;

  explicit PreparedExec(const ProcessSpec& spec)
      : argv_storage(spec.argv), cwd(spec.cwd.string()), log_file(spec.log_file.string()) {
    std::map<std::string, std::string> merged;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& [k, v] : spec.env) merged[k] = v;
    for (const auto& [k, v] : merged) env_storage.push_back(k + "=" + v);
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

// In the child: close everything but stdin, stdout and stderr, chdir,
// reset signals, exec. Never returns.
[[noreturn]] void exec_prepared(const PreparedExec& p) {
  close_descriptors_above_stderr();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) signal(sig, SIG_DFL);
  if (!p.cwd.empty() && chdir(p.cwd.c_str()) != 0) _exit(126);
  execvpe(p.argv[0], p.argv.data(), p.envp.data());
  _exit(127);
}

// In the child: stdin from /dev/null, stdout and stderr to the log, then
// exec_prepared. Never returns.
[[noreturn]] void exec_child(const PreparedExec& p) {
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, 0);
  int out = p.log_file.empty() ? open("/dev/null", O_WRONLY)
                               : open(p.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out >= 0) {
    dup2(out, 1);
    dup2(out, 2);
  }
  exec_prepared(p);  // closes devnull and out too
}

void ensure_log_dir(const ProcessSpec& spec) {
  if (!spec.log_file.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(spec.log_file.parent_path(), ec);
  }
}

}  // namespace

Expected<pid_t, std::string> spawn_detached(const ProcessSpec& spec) {
  if (spec.argv.empty()) return unexpected(std::string("empty argv"));
  ensure_log_dir(spec);
  PreparedExec prepared(spec);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return unexpected(std::string("pipe: ") + strerror(errno));
  pid_t middle = fork();
  if (middle < 0) {
    close(fds[0]);
    close(fds[1]);
    return unexpected(std::string("fork: ") + strerror(errno));
  }
  if (middle == 0) {
    // Intermediate: fork the real process, report its pid, leave. The real
    // process starts its own session, so its pid is its process group id.
    close(fds[0]);
    pid_t grandchild = fork();
    if (grandchild == 0) {
      close(fds[1]);
      setsid();
      exec_child(prepared);
    }
    ssize_t ignored = write(fds[1], &grandchild, sizeof grandchild);
    (void)ignored;
    _exit(grandchild > 0 ? 0 : 1);
  }
  close(fds[1]);
  pid_t grandchild = -1;
  ssize_t n;
  do {
    n = read(fds[0], &grandchild, sizeof grandchild);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof grandchild) || grandchild <= 0) {
    return unexpected(std::string("could not start ") + spec.argv[0]);
  }
  return grandchild;
}

Expected<RunResult, std::string> run_to_completion(const ProcessSpec& spec,
                                                   std::chrono::milliseconds timeout,
                                                   const std::atomic<bool>* cancel) {
  if (spec.argv.empty()) return unexpected(std::string("empty argv"));
  ensure_log_dir(spec);
  PreparedExec prepared(spec);
  pid_t pid = fork();
  if (pid < 0) return unexpected(std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    exec_child(prepared);
  }
  setpgid(pid, pid);  // also from the parent, so killpg works before the child runs
  RunResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
      kill(-pid, SIGKILL);  // leftovers of the group (background jobs) go too
      return result;
    }
    if (r < 0 && errno != EINTR) return unexpected(std::string("waitpid: ") + strerror(errno));
    bool cancelled = cancel != nullptr && cancel->load();
    if (cancelled || std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = !cancelled;
      result.cancelled = cancelled;
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
      return result;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

Expected<PtyProcess, std::string> spawn_on_pty(const ProcessSpec& spec, uint16_t cols,
                                               uint16_t rows) {
  if (spec.argv.empty()) return unexpected(std::string("empty argv"));
  PreparedExec prepared(spec);
  auto failed = [](const char* what) {
    return unexpected(std::string(what) + ": " + strerror(errno));
  };
  // Both sides close-on-exec from the start (forkpty's are not): no other
  // launch can inherit them while this one is set up.
  const int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return failed("posix_openpt");
  char name[128];
  if (grantpt(master) != 0 || unlockpt(master) != 0 || ptsname_r(master, name, sizeof name) != 0) {
    auto error = failed("pty");
    close(master);
    return error;
  }
  const int terminal = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (terminal < 0) {
    auto error = failed(name);
    close(master);
    return error;
  }
  winsize size{rows, cols, 0, 0};
  ioctl(master, TIOCSWINSZ, &size);
  const pid_t pid = fork();
  if (pid == 0) {
    // A session of its own with the pty as controlling terminal and as
    // stdin, stdout and stderr (dup2 clears close-on-exec on those).
    setsid();
    ioctl(terminal, TIOCSCTTY, 0);
    // dup2 onto itself would keep close-on-exec: move it above 2 first.
    const int pty = terminal > 2 ? terminal : fcntl(terminal, F_DUPFD, 3);
    for (int fd : {0, 1, 2}) dup2(pty, fd);
    exec_prepared(prepared);
  }
  close(terminal);
  if (pid < 0) {
    auto error = failed("fork");
    close(master);
    return error;
  }
  return PtyProcess{pid, master};
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie still answers kill(); /proc says what it really is. Read with
  // read(2), not a stream: a process that vanishes between open and read
  // fails the read with ESRCH, which libstdc++'s filebuf turns into an
  // exception.
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[1024];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (n <= 0) return false;  // gone meanwhile
  const std::string_view content(buffer, static_cast<size_t>(n));
  auto close_paren = content.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= content.size()) return true;
  char state = content[close_paren + 2];
  return state != 'Z' && state != 'X';
}

namespace {
bool group_alive(pid_t pgid) {
  return kill(-pgid, 0) == 0 || errno != ESRCH;
}
}  // namespace

void stop_process_group(pid_t pgid, std::chrono::milliseconds grace) {
  if (pgid <= 0) return;
  if (kill(-pgid, SIGTERM) != 0 && errno == ESRCH) return;
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_alive(pgid) && !group_alive(pgid)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pgid, SIGKILL);
}

Expected<int, std::string> pick_free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string err = strerror(errno);
    close(fd);
    return unexpected("bind: " + err);
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

namespace {

int lowest_ephemeral_port() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (range >> low && low > 2048) return low;
  return 32768;
}

}  // namespace

Expected<int, std::string> pick_free_port_run(int count) {
  const int ceiling = lowest_ephemeral_port() - count;
  constexpr int kFloor = 10000;
  if (count <= 0 || ceiling <= kFloor)
    return unexpected(std::string("no room below the ephemeral port range"));
  std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> pick(kFloor, ceiling);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = pick(random);
    std::vector<int> held;
    int bound_count = 0;
    for (int port = base; port < base + count; ++port) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) break;
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(port));
      const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      held.push_back(fd);
      if (!bound) break;
      ++bound_count;
    }
    const bool all_bound = bound_count == count;
    // Closed only after every port of the run was tried, so one check sees them all free at once.
    for (int fd : held) close(fd);
    if (all_bound) return base;
  }
  return unexpected("no run of " + std::to_string(count) + " free ports found");
}

}  // namespace wharf::local
