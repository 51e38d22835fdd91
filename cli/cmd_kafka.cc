#include "cli/commands.h"

namespace wharf::cli {

void register_kafka_commands(CLI::App&) {}

}  // namespace wharf::cli
