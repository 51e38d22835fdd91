#include "adapters/gerrit/stream_file.h"

#include <boost/json.hpp>

namespace wharf::gerrit {

StreamFileReport ingest_stream(std::istream& in, Ingestor& ingestor, const std::string& source,
                               const std::function<int64_t()>& now_us,
                               size_t max_line_bytes) {
  StreamFileReport report;
  std::string line;
  char chunk[64 * 1024];
  bool oversized = false;
  auto finish_line = [&] {
    ++report.lines;
    if (oversized) {
      // Only a prefix was kept: let the ingestor count and log it as too large.
      line.resize(max_line_bytes + 1, ' ');
    }
    report.outcomes[ingestor.ingest_line(line, source, now_us())]++;
    line.clear();
    oversized = false;
  };
  while (in) {
    in.read(chunk, sizeof chunk);
    std::string_view data(chunk, static_cast<size_t>(in.gcount()));
    while (!data.empty()) {
      size_t nl = data.find('\n');
      std::string_view part = data.substr(0, nl);
      if (!oversized) {
        line.append(part);
        if (line.size() > max_line_bytes) {
          oversized = true;
          line.resize(std::min<size_t>(line.size(), 256));
        }
      }
      if (nl == std::string_view::npos) break;
      finish_line();
      data.remove_prefix(nl + 1);
    }
  }
  if (!line.empty() || oversized) finish_line();
  ingestor.flush();
  return report;
}

std::string to_json(const StreamFileReport& report) {
  boost::json::object o;
  o["lines"] = report.lines;
  for (const auto& [outcome, n] : report.outcomes) o[to_string(outcome)] = n;
  return boost::json::serialize(o);
}

}  // namespace wharf::gerrit
