#pragma once
// Child processes for the local runners: each runs in its own session and
// process group so it can be stopped as a whole, with stdout and stderr
// appended to a log file. Every launch here gives the child its stdin,
// stdout and stderr and no other descriptor of ours (descriptors.h).
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "events/expected.h"

namespace wharf::local {

struct ProcessSpec {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH
  std::map<std::string, std::string> env;  // added to (and overriding) our environment
  std::filesystem::path cwd;               // empty: inherit
  std::filesystem::path log_file;          // stdout+stderr appended; empty: /dev/null
};

// Starts `spec` detached: in a new session (pid == process group id) and not a
// child of this process, so it keeps running when wharf dies and never becomes
// our zombie. Returns its pid.
Expected<pid_t, std::string> spawn_detached(const ProcessSpec& spec);

struct RunResult {
  int exit_code = -1;  // valid when exited normally
  bool timed_out = false;
  bool cancelled = false;
  int signal = 0;  // terminating signal, 0 if it exited
};

// Runs `spec` to completion as our child in its own process group. When
// `timeout` passes or `*cancel` turns true the whole group is killed.
Expected<RunResult, std::string> run_to_completion(const ProcessSpec& spec,
                                                   std::chrono::milliseconds timeout,
                                                   const std::atomic<bool>* cancel = nullptr);

struct PtyProcess {
  pid_t pid = -1;   // our child: reap it with waitpid
  int master = -1;  // the pty's master side (close-on-exec); the caller closes it
};

// Starts `spec` as our child on a new pseudo-terminal of `cols` x `rows`: its
// stdin, stdout and stderr, and its controlling terminal in a session of its
// own (an interactive shell). `log_file` is not used.
Expected<PtyProcess, std::string> spawn_on_pty(const ProcessSpec& spec, uint16_t cols,
                                               uint16_t rows);

// True while `pid` exists and is not a zombie.
bool process_alive(pid_t pid);

// SIGTERM to the group, then SIGKILL when it is still alive after `grace`.
void stop_process_group(pid_t pgid, std::chrono::milliseconds grace);

// A TCP port on 127.0.0.1 that was free a moment ago.
Expected<int, std::string> pick_free_port();

// The first of `count` consecutive ports on 127.0.0.1 that were all free a
// moment ago, chosen below the kernel's ephemeral range so outgoing
// connections of other processes cannot take base + 1 in the meantime.
Expected<int, std::string> pick_free_port_run(int count);

}  // namespace wharf::local
