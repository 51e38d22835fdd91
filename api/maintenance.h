#pragma once
// Application maintenance over the API (docs/operations.md): the service
// logs of an environment followed live (chunked text or SSE), and a terminal
// over WebSocket. Both take their connection over from the Server
// (Reply::takeover) and run on a thread of their own that MaintenanceHost
// owns; every open is audited by an event (ServiceLogsOpened, TerminalOpened
// / TerminalClosed) before the first byte flows.
#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "adapters/runtime/shell_channel.h"
#include "events/expected.h"

namespace boost::asio {
class io_context;
}
namespace wharf::local {
class LocalDeployTarget;
}

namespace wharf::api {

struct MaintenanceOptions {
  std::chrono::seconds terminal_idle_timeout{600};  // no input for this long closes a terminal
  std::string shell = "/bin/sh";                    // started with -i in the service's directory
  size_t max_sessions = 32;                         // log followers + terminals at once
  std::chrono::milliseconds follow_poll{200};       // how often a followed file is checked
};

// What a log reader writes to; returns false once the client is gone.
using LogSink = std::function<bool(std::string_view chunk)>;

// One environment's service output: where it comes from ("local:<file>",
// "kubernetes:<namespace>/<pod>", "swarm:<service>") and how to read it. `run`
// writes the last `tail_lines` lines, then, with `follow`, what arrives until
// the sink or `stop` says to end. An error before the first byte is reported.
struct LogStream {
  std::string source;
  std::function<Expected<void, std::string>(uint32_t tail_lines, bool follow, const LogSink& sink,
                                            const std::atomic<bool>& stop)>
      run;
};

// Resolves (project, environment, target settings) to a LogStream; set per
// target type by the composition root. Empty result: no reader.
struct LogTarget {
  std::string project_id;
  std::string environment;
  int target = 0;  // wharf::v1::TargetType
  std::map<std::string, std::string> settings;
  std::string target_ref;  // the registered target (docs/targets.md)
  std::string deploy_id;
  std::string version;
};
using LogResolver = std::function<Expected<LogStream, std::string>(const LogTarget&)>;

// One environment's terminal: where the shell runs ("local:<dir>",
// "kubernetes:<namespace>/<pod>", "swarm:<service>"), recorded in
// TerminalOpened, and how to open it on the session's io_context (blocking:
// the remote handshake happens there).
struct TerminalTarget {
  std::string where;
  std::function<Expected<std::unique_ptr<runtime::ShellChannel>, std::string>(
      boost::asio::io_context& io)>
      open;
};
using TerminalResolver = std::function<Expected<TerminalTarget, std::string>(const LogTarget&)>;

class MaintenanceHost {
 public:
  explicit MaintenanceHost(MaintenanceOptions options = {});
  ~MaintenanceHost();  // stop()
  MaintenanceHost(const MaintenanceHost&) = delete;
  MaintenanceHost& operator=(const MaintenanceHost&) = delete;

  const MaintenanceOptions& options() const { return options_; }

  // The local deploy target: logs (its instance's log file) and terminals
  // (in its working directory) of local environments.
  void set_local(local::LocalDeployTarget* local);
  local::LocalDeployTarget* local() const { return local_; }
  // Readers and terminals for Kubernetes and Swarm environments
  // (api/cluster_sessions.h registers them).
  void set_log_resolver(int target_type, LogResolver resolver);
  void set_terminal_resolver(int target_type, TerminalResolver resolver);
  // has_*: whether the target type has a resolver at all (else 501).
  bool has_log_reader(int target_type) const { return resolvers_.count(target_type) > 0; }
  bool has_terminal(int target_type) const { return terminals_.count(target_type) > 0; }
  Expected<LogStream, std::string> log_stream(const LogTarget& target) const;
  Expected<TerminalTarget, std::string> terminal_target(const LogTarget& target) const;

  // Runs `session` on a thread of its own; false (and nothing runs) when
  // max_sessions are open or the host is stopping.
  bool spawn(std::function<void(const std::atomic<bool>& stop)> session);
  size_t open_sessions() const;
  // Asks every session to end and joins them.
  void stop();

 private:
  struct Session {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void reap();  // joins finished sessions (mutex_ held)

  MaintenanceOptions options_;
  local::LocalDeployTarget* local_ = nullptr;
  std::map<int, LogResolver> resolvers_;
  std::map<int, TerminalResolver> terminals_;
  mutable std::mutex mutex_;
  std::list<Session> sessions_;
  std::atomic<bool> stopping_{false};
};

// The local reader: the instance's log file (DATA/logs/deploy/...), tailed.
LogStream local_log_stream(const std::string& path, std::chrono::milliseconds poll);

// The local terminal: `shell -i` on a new pty (forkpty) in `work_dir`, with
// WHARF_PROJECT and WHARF_ENVIRONMENT set (api/terminal.cc).
TerminalTarget local_terminal(const std::string& work_dir, const std::string& shell,
                              const std::string& project_id, const std::string& environment);

// The last `lines` lines of `text` (all when lines is 0 or more are there).
std::string_view last_lines(std::string_view text, uint32_t lines);

}  // namespace wharf::api
