// Kafka subcommands: `wharf audit replay-kafka` (audit from the topic alone)
// and `wharf kafka relay` (run the relay without the server). docs/kafka.md.
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include "adapters/kafka/relay.h"
#include "adapters/kafka/topic_audit.h"
#include "cli/commands.h"
#include "events/hash_chain.h"
#include "projections/runner.h"

namespace wharf::cli {
namespace {

// Folds the verified events into fresh projections and prints their digests,
// the same (name, SHA-256) pairs the server's projections report.
int rebuild_projections(const std::vector<events::Envelope>& events, const std::string& dir) {
  auto runner = projections::ProjectionRunner::open(dir, nullptr);
  if (!runner) throw std::runtime_error("opening projections in " + dir + ": " + runner.error().message);
  constexpr size_t kBatch = 2048;
  for (size_t i = 0; i < events.size(); i += kBatch) {
    std::vector<events::Envelope> batch(events.begin() + i,
                                        events.begin() + std::min(events.size(), i + kBatch));
    if (auto applied = (*runner)->apply(batch); !applied) {
      throw std::runtime_error("applying events to projections: " + applied.error().message);
    }
  }
  auto digests = (*runner)->digests();
  if (!digests) throw std::runtime_error("projection digests: " + digests.error().message);
  std::cout << "projection digests at position " << (*runner)->position() << ":\n";
  for (const auto& [name, digest] : *digests) std::cout << "  " << name << " " << digest << "\n";
  return 0;
}

}  // namespace

int replay_kafka(const ReplayKafkaOptions& options) {
  auto audit = kafka::audit_topic(options.brokers, options.topic,
                                  std::chrono::seconds(options.timeout_s));
  if (!audit) throw std::runtime_error(audit.error());
  std::cout << "topic " << options.topic << " at " << options.brokers << ": " << audit->records
            << " records, " << audit->duplicates << " duplicates dropped by position\n";
  if (!audit->chain_ok) {
    std::cout << "hash chain BROKEN at position " << audit->first_bad_position << ": "
              << audit->message << "\n";
    return 1;
  }
  std::cout << audit->message << "\n";
  if (audit->events.empty()) return 0;
  std::cout << "head position " << audit->events.back().position() << " hash "
            << events::to_hex(audit->head_hash) << "\n";

  std::filesystem::path dir = options.work_dir;
  const bool temporary = dir.empty();
  if (temporary) {
    dir = std::filesystem::temp_directory_path() /
          ("wharf-replay-kafka-" + std::to_string(std::random_device{}()));
  }
  int rc = 0;
  try {
    rc = rebuild_projections(audit->events, dir.string());
  } catch (...) {
    if (temporary) std::filesystem::remove_all(dir);
    throw;
  }
  if (temporary) std::filesystem::remove_all(dir);
  return rc;
}

namespace {

std::atomic<bool> interrupted{false};

struct RelayCommandOptions {
  std::string brokers;
  std::string topic = kafka::kDefaultEventsTopic;
  bool until_caught_up = false;
};

int run_relay(const RelayCommandOptions& options) {
  events::StoreOptions store_options;
  auto store = events::EventStore::open(store_dir(global_options().data_dir), store_options);
  if (!store) throw std::runtime_error("opening the store: " + store.error().message);
  kafka::RelayOptions relay_options;
  relay_options.brokers = options.brokers;
  relay_options.topic = options.topic;
  auto relay = kafka::Relay::create(**store, relay_options);
  if (!relay) throw std::runtime_error(relay.error());
  std::signal(SIGINT, [](int) { interrupted = true; });
  std::signal(SIGTERM, [](int) { interrupted = true; });
  (*relay)->start();
  while (!interrupted) {
    auto stats = (*relay)->stats();
    if (options.until_caught_up && stats.delivered_position >= stats.head_position) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  (*relay)->stop();
  auto stats = (*relay)->stats();
  std::cout << "relayed to " << stats.topic << ": delivered through position "
            << stats.delivered_position << " of " << stats.head_position << ", cursor "
            << stats.persisted_cursor << "\n";
  return 0;
}

}  // namespace

void register_kafka_commands(CLI::App& app) {
  auto& audit = group(app, "audit", "verify and replay the log for auditors");
  auto replay_options = std::make_shared<ReplayKafkaOptions>();
  CLI::App* replay = audit.add_subcommand(
      "replay-kafka",
      "read the events topic from Kafka alone, drop resent records by position, verify the "
      "hash chain and rebuild the projections, printing their digests (no store, no server)");
  replay->add_option("--brokers", replay_options->brokers, "Kafka bootstrap servers, host:port,...")
      ->required();
  replay->add_option("--topic", replay_options->topic, "events topic")->capture_default_str();
  replay->add_option("--work-dir", replay_options->work_dir,
                     "keep the rebuilt projections here (default: a temp dir, removed)");
  replay->add_option("--timeout", replay_options->timeout_s, "seconds to read the topic")
      ->capture_default_str();
  replay->callback([replay_options] {
    if (int rc = replay_kafka(*replay_options); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto& kafka_group = group(app, "kafka", "Kafka relay tools (docs/kafka.md)");
  auto relay_options = std::make_shared<RelayCommandOptions>();
  CLI::App* relay = kafka_group.add_subcommand(
      "relay",
      "relay the store's events to Kafka from the cursor on, without the server (the store "
      "must not be open elsewhere); no --brokers = embedded cluster (memory only)");
  add_data_option(*relay);
  relay->add_option("--brokers", relay_options->brokers, "Kafka bootstrap servers");
  relay->add_option("--topic", relay_options->topic, "events topic")->capture_default_str();
  relay->add_flag("--until-caught-up", relay_options->until_caught_up,
                  "exit once every event is delivered (else run until SIGINT/SIGTERM)");
  relay->callback([relay_options] { run_relay(*relay_options); });
}

}  // namespace wharf::cli
