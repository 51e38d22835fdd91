#pragma once
// A real Apache Kafka broker for the integration tests, started once per test
// binary through tests/peers/kafka/start (KRaft, single node, 127.0.0.1, free
// port) and stopped at exit. When it cannot start (jars not fetched, no
// Java) every test that needs it FAILS with the reason; nothing is skipped.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "tests/kafka/kafka_test_util.h"
#include "tests/test_paths.h"

namespace wharf::kafka::testing {

// Runs `command` through the shell; returns its stdout, throws with its
// output on a non-zero exit.
inline std::string run_command(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  const int status = pclose(pipe);
  if (status != 0) throw std::runtime_error(command + " failed:\n" + output);
  return output;
}

class KafkaBroker {
 public:
  static KafkaBroker& shared() {
    static KafkaBroker broker;
    return broker;
  }

  // Starts the broker (first call) and returns its bootstrap address, or
  // throws with the reason it could not start.
  const std::string& bootstrap() {
    if (!started_ && error_.empty()) start();
    if (!error_.empty()) throw std::runtime_error(error_);
    return bootstrap_;
  }

  // SIGKILL: the broker dies without a clean shutdown.
  void kill() { run_command(script("stop") + " " + dir_.path() + " --kill"); }
  // Starts again from the same directory: same port, same data.
  void restart() {
    std::string out = run_command(script("start") + " " + dir_.path());
    if (out.find(bootstrap_) == std::string::npos) {
      throw std::runtime_error("broker restarted on another address: " + out);
    }
  }
  ~KafkaBroker() {
    if (started_) std::system((script("stop") + " " + dir_.path() + " >/dev/null 2>&1").c_str());
  }

 private:
  // The broker dies with this process even when it crashes (start's watchdog).
  static std::string script(const std::string& name) {
    return "WHARF_KAFKA_OWNER_PID=" + std::to_string(getpid()) + " " +
           std::string(WHARF_KAFKA_PEER_DIR) + "/" + name;
  }
  void start() {
    try {
      std::string out = run_command(script("start") + " " + dir_.path());
      auto line_start = out.rfind("127.0.0.1:");
      if (line_start == std::string::npos) throw std::runtime_error("no address in: " + out);
      bootstrap_ = out.substr(line_start, out.find('\n', line_start) - line_start);
      started_ = true;
    } catch (const std::exception& e) {
      error_ = std::string("cannot start the Apache Kafka broker for this test: ") + e.what() +
               "\n(The broker jars come from Maven Central: run tests/peers/kafka/fetch; "
               "scripts/test does. Without them these integration tests fail, by design.)";
    }
  }
  TempDir dir_;
  std::string bootstrap_;
  std::string error_;
  bool started_ = false;
};

}  // namespace wharf::kafka::testing
