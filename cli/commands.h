#pragma once
// The `wharf` command line. main.cc builds the root app; each area registers
// its subcommands from its own cmd_<area>.cc so the CLI grows by files, not by
// edits to one switch.
#include <CLI/CLI.hpp>
#include <string>

#include "events/checkpoint.h"

namespace wharf::cli {

// Options every subcommand shares; filled before a subcommand's callback runs.
struct GlobalOptions {
  std::string data_dir = "./wharf-data";  // --data, WHARF_DATA
  std::string log_level = "info";         // --log-level, WHARF_LOG_LEVEL
};

GlobalOptions& global_options();

// `wharf serve --ui-dir` default: the web UI scripts/build-ui builds (ui/dist).
// Generated in cli/CMakeLists.txt, one unit, so that no -D flag with an
// absolute path keeps another clone's build from the compiler cache.
extern const char kDefaultUiDir[];

// Returns the subcommand `name` of `parent`, creating it when absent, so two
// areas can add commands under one group ("audit verify", "audit export").
CLI::App& group(CLI::App& parent, const std::string& name, const std::string& description);

// Layout of a data directory: the event log in <data>/events, projections in
// <data>/projections, the local runners' work, logs, artifacts and targets beside.
std::string store_dir(const std::string& data_dir);

// Adds `--data` to a subcommand (bound to global_options().data_dir).
void add_data_option(CLI::App& cmd);

// `wharf audit replay-kafka`, also reached as `wharf audit replay --brokers`:
// reads the events topic alone, verifies the chain, prints projection digests.
struct ReplayKafkaOptions {
  std::string brokers;
  std::string topic = "wharf.events";
  std::string work_dir;  // projections are rebuilt here; default: a temp dir, removed after
  int timeout_s = 120;
};
int replay_kafka(const ReplayKafkaOptions& options);  // cmd_kafka.cc; exit status

// The Ed25519 key of `wharf audit keygen`; exits with its error when unreadable.
events::SigningKey load_audit_key(const std::string& path);  // cmd_events.cc

void register_serve_commands(CLI::App& app);        // cmd_serve.cc
void register_event_commands(CLI::App& app);        // cmd_events.cc: events *, audit verify
void register_pipeline_commands(CLI::App& app);     // cmd_pipeline.cc: project, runs, deploy, rollback
void register_projection_commands(CLI::App& app);   // cmd_projections.cc: projections *, audit export/replay/report
void register_access_commands(CLI::App& app);       // cmd_access.cc: token create
void register_kafka_commands(CLI::App& app);        // cmd_kafka.cc: kafka relay, audit replay-kafka
void register_gerrit_commands(CLI::App& app);       // cmd_gerrit.cc: gerrit ingest/status
void register_canary_commands(CLI::App& app);       // cmd_canary.cc: canary status|promote|abort
void register_worker_commands(CLI::App& app);       // cmd_worker.cc: worker
void register_maintenance_commands(CLI::App& app);  // cmd_maintenance.cc: logs, health, testcases
void register_target_commands(CLI::App& app);       // cmd_targets.cc: target *, targets migrate
void register_cluster_commands(CLI::App& app);      // cmd_cluster.cc: cluster status
void register_terminal_command(CLI::App& app);      // cmd_terminal.cc: terminal

}  // namespace wharf::cli
