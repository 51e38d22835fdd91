#pragma once
// A saved stream: a file of stream-events lines (captured from SSH, or
// exported from the events-log plugin) fed through the same ingestor as live
// events, for migrating history and reproducing incidents.
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <string>

#include "adapters/gerrit/ingestor.h"

namespace wharf::gerrit {

struct StreamFileReport {
  uint64_t lines = 0;
  std::map<Outcome, uint64_t> outcomes;
  uint64_t count(Outcome o) const {
    auto it = outcomes.find(o);
    return it == outcomes.end() ? 0 : it->second;
  }
};

// Reads `in` line by line (a line longer than the ingestor's limit is skipped
// without being held in memory), then releases held ref-updates. `now_us`
// supplies the wall clock.
StreamFileReport ingest_stream(std::istream& in, Ingestor& ingestor, const std::string& source,
                               const std::function<int64_t()>& now_us,
                               size_t max_line_bytes);

std::string to_json(const StreamFileReport& report);

}  // namespace wharf::gerrit
