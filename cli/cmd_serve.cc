#include "cli/commands.h"

namespace wharf::cli {

void register_serve_commands(CLI::App&) {}

}  // namespace wharf::cli
