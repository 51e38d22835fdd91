#pragma once
// Runs the `wharf` binary as a user would: $WHARF_BIN (set by scripts/test)
// or this build tree's (WHARF_DEFAULT_BIN), stdin from a file, stdout and
// stderr captured, the exit status returned.
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/test_paths.h"

namespace wharf::testing {

inline std::string wharf_bin() {
  const char* env = std::getenv("WHARF_BIN");
  return env != nullptr && *env != '\0' ? env : WHARF_DEFAULT_BIN;
}

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Each run gets its own files under `scratch`, so runs may overlap.
class CliRunner {
 public:
  explicit CliRunner(std::filesystem::path scratch) : scratch_(std::move(scratch)) {}

  CliRun run(const std::string& args, const std::string& stdin_text = "") {
    const std::string n = std::to_string(runs_++);
    const auto in = scratch_ / ("stdin" + n), out = scratch_ / ("stdout" + n),
               err = scratch_ / ("stderr" + n);
    std::ofstream(in, std::ios::trunc) << stdin_text;
    const std::string command = "'" + wharf_bin() + "' " + args + " <'" + in.string() + "' >'" +
                                out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(command.c_str());
    CliRun r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

 private:
  static std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::filesystem::path scratch_;
  std::atomic<int> runs_{0};
};

}  // namespace wharf::testing
