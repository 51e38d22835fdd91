// `wharf gerrit ingest --file F`: a saved stream-events file through the same
// parser, mapper and dedup as the live connection. `wharf gerrit status`: the
// connection state the serve process records. See docs/gerrit.md.
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "adapters/gerrit/bindings.h"
#include "adapters/gerrit/bus_sink.h"
#include "adapters/gerrit/ingestor.h"
#include "adapters/gerrit/status_file.h"
#include "adapters/gerrit/stream_file.h"
#include "adapters/runtime/clock.h"
#include "adapters/runtime/command_bus.h"
#include "cli/commands.h"
#include "events/event_store.h"

namespace wharf::cli {
namespace {

struct IngestArgs {
  std::string file;
  std::string host = "gerrit";
  size_t max_line_bytes = 1 << 20;
  bool json = false;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "wharf: %s\n", message.c_str());
  std::fflush(stderr);
  throw CLI::RuntimeError(1);
}

void run_ingest(const IngestArgs& args) {
  std::ifstream in(args.file, std::ios::binary);
  if (!in) fail("cannot open " + args.file);
  events::StoreOptions options;
  options.create_if_missing = false;
  const std::string dir = store_dir(global_options().data_dir);
  auto store = events::EventStore::open(dir, options);
  if (!store) {
    fail("cannot open the store at " + dir + ": " + store.error().message +
         " (is `wharf serve` running on it? stop it first)");
  }
  gerrit::BindingSet bindings;
  for (uint64_t from = 1;;) {
    auto batch = (*store)->read_all(from, 4096);
    if (!batch) fail("cannot read the log: " + batch.error().message);
    if (batch->empty()) break;
    for (const auto& e : *batch) bindings.apply(e);
    from = batch->back().position() + 1;
  }
  if (bindings.size() == 0) {
    spdlog::warn("no project is bound to a Gerrit project: nothing will be observed");
  } else {
    const auto hosts = bindings.hosts();
    bool any = false;
    std::string listed;
    for (const auto& h : hosts) {
      any = any || gerrit::host_matches(h, args.host);
      listed += (listed.empty() ? "" : ", ") + h;
    }
    if (!any) {
      spdlog::warn(
          "--host {} matches no Gerrit binding (bound hosts: {}): every event will be \"not "
          "bound\"",
          args.host, listed);
    }
  }
  runtime::SystemClock clock;
  {
    runtime::CommandBus bus(**store, clock, 2);
    gerrit::BusCommitSink sink(bus);
    gerrit::IngestProbe probe(args.host);
    gerrit::IngestOptions ingest_options;
    ingest_options.host = args.host;
    ingest_options.limits.max_line_bytes = args.max_line_bytes;
    gerrit::Ingestor ingestor(ingest_options, bindings, sink, probe);
    auto report = gerrit::ingest_stream(
        in, ingestor, "gerrit-file", [&] { return clock.now_us(); }, args.max_line_bytes);
    gerrit::IngestStats stats = probe.snapshot(clock.now_us());
    if (args.json) {
      // The per-line outcomes, with the totals of what was recorded taken from
      // the probe: a ref-update released from the hold at end of file is
      // observed after its line was counted as held (text mode shows the same).
      boost::json::object counts;
      counts["lines"] = report.lines;
      for (const auto& [outcome, n] : report.outcomes) counts[gerrit::to_string(outcome)] = n;
      counts["observed"] = stats.observed;
      counts["deduplicated"] = stats.deduplicated;
      counts["not_bound"] = stats.not_bound;
      counts["sink_error"] = stats.sink_errors;
      std::cout << boost::json::serialize(counts) << "\n";
    } else {
      using gerrit::Outcome;
      std::cout << "lines:           " << report.lines << "\n"
                << "observed:        " << stats.observed << " (CommitObserved + run started)\n"
                << "deduplicated:    " << stats.deduplicated << "\n"
                << "not bound:       " << stats.not_bound << "\n"
                << "not a trigger:   " << report.count(Outcome::kNotATrigger) << "\n"
                << "unknown types:   " << stats.unknown_types << "\n"
                << "dropped-output:  " << stats.dropped_output << "\n"
                << "bad lines:       " << stats.bad_lines << "\n"
                << "too large:       " << stats.too_large << "\n"
                << "errors:          " << stats.sink_errors << "\n";
    }
    bus.stop();
    if (stats.sink_errors > 0) {
      (*store)->close();
      fail(std::to_string(stats.sink_errors) +
           " event(s) could not be recorded: " + stats.last_error);
    }
  }
  (*store)->close();
}

std::string age(int64_t then_us, int64_t now_us) {
  if (then_us <= 0) return "never";
  return std::to_string((now_us - then_us) / 1'000'000) + "s ago";
}

void run_status(bool json) {
  auto all = gerrit::read_status_files(global_options().data_dir);
  if (all.empty()) {
    fail("no Gerrit connection recorded in " + global_options().data_dir +
         " (does `wharf serve` run with a Gerrit host configured?)");
  }
  const int64_t now = runtime::SystemClock().now_us();
  for (const auto& s : all) {
    if (json) {
      std::cout << gerrit::to_json(s) << "\n";
      continue;
    }
    std::cout << "gerrit " << s.host << ": " << s.state
              << (s.connected ? " (connected " + age(s.connected_since_us, now) + ")" : "") << "\n"
              << "  status written:   " << age(s.updated_us, now) << "\n"
              << "  last event:       " << age(s.last_event_received_us, now) << " (eventCreatedOn "
              << s.last_event_created_s << ")\n"
              << "  reconnects:       " << s.reconnects << "\n"
              << "  observed:         " << s.observed << "\n"
              << "  deduplicated:     " << s.deduplicated << "\n"
              << "  dropped-output:   " << s.dropped_output << "\n"
              << "  catch-ups:        " << s.catchups << " (" << s.catchup_events << " events)\n"
              << "  bad / too large:  " << s.bad_lines << " / " << s.too_large << "\n"
              << "  unknown types:    " << s.unknown_types << "\n";
    for (const auto& [type, n] : s.events_by_type) {
      std::cout << "  events " << type << ": " << n << "\n";
    }
    if (!s.last_error.empty()) std::cout << "  last error:       " << s.last_error << "\n";
  }
}

}  // namespace

void register_gerrit_commands(CLI::App& app) {
  CLI::App& gerrit = group(app, "gerrit", "Gerrit ingestion: saved streams and connection state");

  auto args = std::make_shared<IngestArgs>();
  CLI::App* ingest = gerrit.add_subcommand(
      "ingest",
      "Feed a saved stream-events file (one JSON event per line, from `ssh gerrit\n"
      "stream-events` or the events-log plugin) through the same parser, mapper and\n"
      "dedup as the live connection. Events already observed are not observed again.\n"
      "Needs exclusive access to the store: stop `wharf serve` first.");
  add_data_option(*ingest);
  ingest->add_option("--file", args->file, "the stream file")->required();
  ingest
      ->add_option("--host", args->host,
                   "the Gerrit server the file came from (as in project bindings and dedup keys)")
      ->capture_default_str();
  ingest->add_option("--max-line-bytes", args->max_line_bytes, "longer lines are dropped")
      ->capture_default_str();
  ingest->add_flag("--json", args->json, "print the counts as one JSON object");
  ingest->callback([args] { run_ingest(*args); });

  auto json = std::make_shared<bool>(false);
  CLI::App* status = gerrit.add_subcommand(
      "status",
      "Show each Gerrit connection of the running `wharf serve`: connected or not, last\n"
      "event, reconnects, events by type, dropped-output, deduplicated.");
  add_data_option(*status);
  status->add_flag("--json", *json, "one JSON object per connection");
  status->callback([json] { run_status(*json); });
}

}  // namespace wharf::cli
