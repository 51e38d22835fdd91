#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "cli/commands.h"

namespace wharf::cli {

GlobalOptions& global_options() {
  static GlobalOptions options;
  return options;
}

CLI::App& group(CLI::App& parent, const std::string& name, const std::string& description) {
  for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return *sub;
  }
  CLI::App* created = parent.add_subcommand(name, description);
  created->require_subcommand(1);
  return *created;
}

std::string store_dir(const std::string& data_dir) { return data_dir + "/events"; }

void add_data_option(CLI::App& cmd) {
  cmd.add_option("--data", global_options().data_dir, "data directory of the store")
      ->envname("WHARF_DATA")
      ->capture_default_str();
}

}  // namespace wharf::cli

int main(int argc, char** argv) {
  using namespace wharf::cli;
  // Logs go to stderr so that command output on stdout stays parseable.
  spdlog::set_default_logger(spdlog::stderr_color_mt("wharf"));
  CLI::App app{"wharf — event-sourced release orchestration"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "wharf 0.1.0");
  app.add_option("--log-level", global_options().log_level, "trace, debug, info, warn, error")
      ->envname("WHARF_LOG_LEVEL")
      ->capture_default_str();
  app.parse_complete_callback(
      [] { spdlog::set_level(spdlog::level::from_str(global_options().log_level)); });

  register_serve_commands(app);
  register_event_commands(app);
  register_pipeline_commands(app);
  register_projection_commands(app);
  register_access_commands(app);
  register_kafka_commands(app);
  register_gerrit_commands(app);
  register_worker_commands(app);
  register_canary_commands(app);
  register_maintenance_commands(app);
  register_target_commands(app);
  register_cluster_commands(app);
  register_terminal_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
