#include "cli/commands.h"

namespace wharf::cli {

void register_gerrit_commands(CLI::App&) {}

}  // namespace wharf::cli
