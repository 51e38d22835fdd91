#include "cli/commands.h"

namespace wharf::cli {

void register_projection_commands(CLI::App&) {}

}  // namespace wharf::cli
