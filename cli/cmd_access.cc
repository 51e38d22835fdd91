#include "cli/commands.h"

namespace wharf::cli {

void register_access_commands(CLI::App&) {}

}  // namespace wharf::cli
