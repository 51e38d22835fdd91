#include "cli/commands.h"

namespace wharf::cli {

void register_pipeline_commands(CLI::App&) {}

}  // namespace wharf::cli
