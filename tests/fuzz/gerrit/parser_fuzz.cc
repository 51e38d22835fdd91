// Fuzz target over the Gerrit event parser, mapper and ingestor: any bytes,
// one or many lines. Must never crash, hang or throw; a line that parses must
// give the same dedup key when parsed again (the key is deterministic).
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "adapters/gerrit/event_parser.h"
#include "adapters/gerrit/ingestor.h"
#include "adapters/gerrit/stream_file.h"
#include "adapters/gerrit/trigger.h"

namespace {

// Accepts every command: the fuzz target exercises our code, not the store.
class CountingSink final : public wharf::gerrit::CommitSink {
 public:
  wharf::Expected<wharf::gerrit::Observed, std::string> observe(
      const wharf::engine::ObserveCommit& command, const std::string&) override {
    if (command.commit_sha.empty() || command.dedup_key.empty()) std::abort();
    return wharf::gerrit::Observed::kNew;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (spdlog::set_level(spdlog::level::off), true);
  (void)quiet;
  std::string input(reinterpret_cast<const char*>(data), size);
  wharf::gerrit::ParseLimits limits{8192};
  auto first = wharf::gerrit::parse_event(input, limits);
  if (first) {
    auto again = wharf::gerrit::parse_event(input, limits);
    if (!again || again->event_key != first->event_key) std::abort();
    (void)wharf::gerrit::to_trigger(*first, "fuzz.example.org");
  }

  static wharf::gerrit::BindingSet bindings;
  static bool bound = [] {
    for (const char* project : {"qt/qtbase", "TestRepo", "demo", "storj/storj"}) {
      wharf::v1::GerritSource source;
      source.set_project(project);
      source.add_trigger_words("recheck");
      bindings.bind(std::string("p-") + project, source);
    }
    return true;
  }();
  (void)bound;
  CountingSink sink;
  wharf::gerrit::IngestProbe probe("fuzz");
  wharf::gerrit::IngestOptions options;
  options.host = "fuzz.example.org";
  options.limits = limits;
  options.dedup_window = 64;
  wharf::gerrit::Ingestor ingestor(options, bindings, sink, probe);
  std::istringstream in(input);
  int64_t now = 0;
  (void)wharf::gerrit::ingest_stream(in, ingestor, "gerrit-fuzz", [&] { return now += 1000; },
                                     limits.max_line_bytes);
  return 0;
}
