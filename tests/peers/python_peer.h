#pragma once
// Starts a Python test peer (tests/peers/<system>/peer.py) that prints
// "listening 127.0.0.1:PORT" once ready, and stops it (SIGTERM) at the end.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace wharf::testing {

class PythonPeer {
 public:
  PythonPeer(const std::string& script, std::vector<std::string> args) {
    std::vector<std::string> argv{"env", "python3", script};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c_argv;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execv("/usr/bin/env", c_argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* in = fdopen(out[0], "r");
    char line[256] = {};
    const bool started = fgets(line, sizeof line, in) != nullptr;
    fclose(in);
    const std::string text(line);
    if (!started || text.find("127.0.0.1:") == std::string::npos) {
      throw std::runtime_error("the test peer " + script + " did not start");
    }
    url_ = "http://" + text.substr(text.find("127.0.0.1:"));
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == '\r')) url_.pop_back();
  }
  ~PythonPeer() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  PythonPeer(const PythonPeer&) = delete;
  PythonPeer& operator=(const PythonPeer&) = delete;

  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = 0;
  std::string url_;
};

}  // namespace wharf::testing
