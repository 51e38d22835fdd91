#include "cli/config_file.h"

#include <fstream>
#include <stdexcept>

namespace wharf::cli {

void apply_config_file(CLI::App& cmd, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read config file " + path);
  const auto items = CLI::ConfigTOML().from_config(in);
  for (const auto& item : items) {
    std::string key = item.fullname();
    if (key == "++" || key == "--" || item.inputs.empty()) continue;  // section markers
    for (char& c : key) {
      if (c == '.' || c == '_') c = '-';
    }
    CLI::Option* opt = nullptr;
    try {
      opt = cmd.get_option("--" + key);
    } catch (const CLI::OptionNotFound&) {
      throw std::runtime_error("config file " + path + ": unknown setting '" + item.fullname() +
                               "' (see `" + cmd.get_name() + " --help`)");
    }
    if (opt->count() > 0) continue;  // a flag or an environment variable already set it
    for (const auto& value : item.inputs) opt->add_result(value);
    opt->run_callback();
  }
}

}  // namespace wharf::cli
