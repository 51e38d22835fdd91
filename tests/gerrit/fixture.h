#pragma once
// The real Gerrit samples (shared/fixtures/gerrit, copied to data/) and a
// small session captured from Gerrit 3.10 by the integration helpers.
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/test_paths.h"

namespace wharf::gerrit::testing {

inline std::vector<std::string> read_lines(const std::string& name) {
  std::ifstream in(std::string(WHARF_GERRIT_TEST_DATA) + "/" + name);
  if (!in) throw std::runtime_error("cannot open test data " + name);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The 29 lines of stream-events-samples.jsonl; sample(1) is line 1.
inline const std::vector<std::string>& samples() {
  static const std::vector<std::string> lines = read_lines("stream-events-samples.jsonl");
  return lines;
}
inline const std::string& sample(size_t line) {
  return samples().at(line - 1);
}

}  // namespace wharf::gerrit::testing
