#pragma once
// Clean shutdown for long-running commands (serve, worker).
#include <signal.h>

namespace wharf::cli {

// Blocks SIGTERM/SIGINT in every thread started after this, then waits for one.
class ShutdownSignal {
 public:
  ShutdownSignal() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  int wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }

 private:
  sigset_t set_{};
};

}  // namespace wharf::cli
