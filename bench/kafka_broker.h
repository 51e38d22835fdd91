#pragma once
// The broker a Kafka benchmark runs against: a real Apache Kafka started as
// the tests do (tests/peers/kafka/start), or, when none can start (no jars, no
// Java), librdkafka's embedded cluster — and the JSON line says which.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "adapters/kafka/embedded_cluster.h"

namespace wharf::bench {

class BenchBroker {
 public:
  // `topics` are created (with `partitions`) when the embedded cluster is used;
  // a real broker creates them on first use or through the Admin API.
  BenchBroker(const std::string& peer_dir, const std::string& broker_dir,
              const std::vector<std::string>& topics, int partitions)
      : peer_dir_(peer_dir), broker_dir_(broker_dir) {
    try {
      std::string out = run("WHARF_KAFKA_OWNER_PID=" + std::to_string(getpid()) + " " + peer_dir +
                            "/start " + broker_dir);
      bootstrap_ = out.substr(out.rfind("127.0.0.1:"));
      bootstrap_.erase(bootstrap_.find_last_not_of("\n") + 1);
      return;
    } catch (const std::exception& e) {
      why_embedded_ = e.what();
    }
    kind_ = "embedded";
    auto cluster = kafka::EmbeddedCluster::start();
    if (!cluster) throw std::runtime_error("no broker at all: " + cluster.error());
    embedded_ = std::move(*cluster);
    for (const auto& topic : topics) {
      if (!embedded_->create_topic(topic, partitions)) throw std::runtime_error("topic " + topic);
    }
    bootstrap_ = embedded_->bootstrap_servers();
  }
  ~BenchBroker() {
    if (!embedded_) std::system((peer_dir_ + "/stop " + broker_dir_ + " >/dev/null 2>&1").c_str());
  }
  BenchBroker(const BenchBroker&) = delete;
  BenchBroker& operator=(const BenchBroker&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  const std::string& kind() const { return kind_; }  // "apache-kafka" | "embedded"
  const std::string& why_embedded() const { return why_embedded_; }
  bool embedded() const { return embedded_ != nullptr; }

  // Runs `command` through the shell; its output, or throws with it.
  static std::string run(const std::string& command) {
    std::string output;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return {};
    std::array<char, 4096> buffer{};
    while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
    if (pclose(pipe) != 0) throw std::runtime_error(output);
    return output;
  }

 private:
  std::string peer_dir_, broker_dir_;
  std::string kind_ = "apache-kafka";
  std::string bootstrap_, why_embedded_;
  std::unique_ptr<kafka::EmbeddedCluster> embedded_;
};

}  // namespace wharf::bench
