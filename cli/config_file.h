#pragma once
// Configuration precedence for long-running commands: flags > environment >
// config file (TOML) > built-in defaults. CLI11 alone would let the file win
// over the environment, so the file is applied after parsing, only to options
// that neither a flag nor an environment variable set.
#include <CLI/CLI.hpp>
#include <string>

namespace wharf::cli {

// Reads `path` (TOML: `key = value`, `[section]` prefixes "section.") and sets
// every option of `cmd` whose long name matches a key and that is still unset.
// Unknown keys are an error naming the key, so a typo never goes unnoticed.
void apply_config_file(CLI::App& cmd, const std::string& path);

}  // namespace wharf::cli
