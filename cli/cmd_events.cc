#include "cli/commands.h"

namespace wharf::cli {

void register_event_commands(CLI::App&) {}

}  // namespace wharf::cli
