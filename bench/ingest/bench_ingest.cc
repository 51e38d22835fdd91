// bench_ingest: Gerrit stream-events lines -> parse + map + dedup + append
// (ObserveCommit through the runtime's command bus into a real RocksDB store,
// fsync on), against a baseline of bare Boost.JSON parsing of the same lines
// in the same run. Lines: the 29 real samples repeated with varied change
// numbers, revisions and times so every repetition is a new Gerrit event.
// Also: p99 latency from a line entering the ingestor to its CommitObserved +
// PipelineRunStarted + BuildRequested being durable (the call returns then).
//
//   bench_ingest [LINES] [--no-fsync]   (default 100000; env WHARF_BENCH_INGEST_LINES)
// Last stdout line: {"bench":"ingest","events_per_s":…,"baseline_events_per_s":…,
//                    "ratio":…,"p99_event_to_build_ms":…}
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "adapters/gerrit/bus_sink.h"
#include "adapters/gerrit/ingestor.h"
#include "adapters/runtime/clock.h"
#include "adapters/runtime/command_bus.h"
#include "bench/sync_append_store.h"
#include "events/event_store.h"
#include "tests/test_paths.h"

namespace {

namespace json = boost::json;
using Steady = std::chrono::steady_clock;

std::vector<std::string> read_samples() {
  std::ifstream in(WHARF_GERRIT_SAMPLES);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.empty()) {
    std::fprintf(stderr, "no samples at %s\n", WHARF_GERRIT_SAMPLES);
    std::exit(2);
  }
  return lines;
}

void bump_number(json::object& o, const char* key, uint64_t by) {
  json::value* v = o.if_contains(key);
  if (!v) return;
  if (v->is_int64()) *v = v->get_int64() + static_cast<int64_t>(by);
  if (v->is_string()) *v = std::to_string(std::stoull(std::string(v->get_string())) + by);
}

void vary_sha(json::object& o, const char* key, uint64_t r) {
  json::value* v = o.if_contains(key);
  if (!v || !v->is_string() || v->get_string().size() != 40) return;
  std::string sha(v->get_string());
  if (sha.find_first_not_of('0') == std::string::npos) return;  // keep deletions deletions
  char prefix[9];
  std::snprintf(prefix, sizeof prefix, "%08llx", static_cast<unsigned long long>(r));
  sha.replace(0, 8, prefix);
  *v = sha;
}

// Repetition r of a sample: a different change / revision / time.
std::string vary(const std::string& line, uint64_t r) {
  json::object o = json::parse(line).as_object();
  if (auto* c = o.if_contains("change"); c && c->is_object()) {
    bump_number(c->as_object(), "number", r * 1000);
  }
  if (auto* ps = o.if_contains("patchSet"); ps && ps->is_object()) {
    vary_sha(ps->as_object(), "revision", r);
  }
  if (auto* ru = o.if_contains("refUpdate"); ru && ru->is_object()) {
    vary_sha(ru->as_object(), "newRev", r);
    vary_sha(ru->as_object(), "oldRev", r + 1);
  }
  vary_sha(o, "newRev", r);
  bump_number(o, "eventCreatedOn", r);
  return json::serialize(o);
}

double seconds(Steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Times each command from the moment its line entered the ingestor to the
// moment its events were durable.
class TimingSink final : public wharf::gerrit::CommitSink {
 public:
  explicit TimingSink(wharf::gerrit::CommitSink& inner) : inner_(inner) {}
  Steady::time_point line_started;  // set by the driver before each line

  wharf::Expected<wharf::gerrit::Observed, std::string> observe(
      const wharf::engine::ObserveCommit& command, const std::string& host) override {
    return inner_.observe(command, host);
  }
  void observe_async(const wharf::engine::ObserveCommit& command, const std::string& host,
                     Done done) override {
    inner_.observe_async(
        command, host,
        [this, start = line_started, done = std::move(done)](
            const wharf::Expected<wharf::gerrit::Observed, std::string>& result) {
          double ms = std::chrono::duration<double, std::milli>(Steady::now() - start).count();
          {
            std::lock_guard lock(mutex_);
            if (result && *result == wharf::gerrit::Observed::kNew) latency_ms_.push_back(ms);
          }
          done(result);
        });
  }
  std::vector<double> latencies() {
    std::lock_guard lock(mutex_);
    return latency_ms_;
  }

 private:
  wharf::gerrit::CommitSink& inner_;
  std::mutex mutex_;
  std::vector<double> latency_ms_;
};

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::err);
  size_t total = 100'000;
  bool fsync = true;
  if (const char* env = std::getenv("WHARF_BENCH_INGEST_LINES")) total = std::stoul(env);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-fsync") {
      fsync = false;
    } else {
      total = std::stoul(a);
    }
  }

  const auto samples = read_samples();
  std::vector<std::string> lines;
  lines.reserve(total);
  for (size_t i = 0; lines.size() < total; ++i) {
    lines.push_back(vary(samples[i % samples.size()], i / samples.size()));
  }
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size();

  // Baseline: bare JSON parsing of the same lines.
  size_t objects = 0;
  auto b0 = Steady::now();
  for (const auto& l : lines) {
    boost::system::error_code ec;
    json::value v = json::parse(l, ec);
    objects += !ec && v.is_object();
  }
  double baseline_s = seconds(Steady::now() - b0);

  // Our path, into a real store.
  auto dir = std::filesystem::temp_directory_path() /
             ("wharf-bench-ingest-" + std::to_string(std::random_device{}()));
  wharf::events::StoreOptions store_options;
  store_options.sync = fsync;
  auto opened = wharf::events::EventStore::open(dir.string(), store_options);
  if (!opened) {
    std::fprintf(stderr, "cannot open store: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& real_store = **opened;
  // WHARF_BENCH_SYNC_APPENDS=1: workers wait for each fsync (before append_async).
  const bool sync_appends = std::getenv("WHARF_BENCH_SYNC_APPENDS") != nullptr;
  wharf::bench::SyncAppendStore sync_store(real_store);
  wharf::events::EventStore& store =
      sync_appends ? static_cast<wharf::events::EventStore&>(sync_store) : real_store;
  wharf::runtime::SystemClock clock;
  // The bus's workers hand appends to the store without waiting for the
  // fsync (append_async), so a few workers fill each group commit.
  size_t workers = 4;
  if (const char* env = std::getenv("WHARF_BENCH_INGEST_WORKERS")) workers = std::stoul(env);
  wharf::runtime::CommandBus bus(store, clock, workers);
  wharf::gerrit::BindingSet bindings;
  const char* projects[] = {"qt/qtbase", "qt/qtopcua",  "qtqa/tqtc-coin-ci", "TestRepo",
                            "TestRepo1", "storj/storj", "qt/qtdeclarative",  "demo"};
  for (const char* p : projects) {
    wharf::engine::CreateProject c;
    c.project_id = std::string("bench-") + (std::strchr(p, '/') ? std::strchr(p, '/') + 1 : p);
    c.name = c.project_id;
    c.owner = "bench";
    c.repository.mutable_gerrit()->set_project(p);
    c.repository.mutable_gerrit()->add_trigger_words("recheck");
    c.pipeline.mutable_build()->set_command("true");
    auto r = bus.execute(c, bus.user_context("bench", wharf::v1::CHANNEL_CLI));
    if (!r) {
      std::fprintf(stderr, "create project: %s\n", r.error().message().c_str());
      return 1;
    }
    wharf::v1::GerritSource source;
    source.set_project(p);
    source.add_trigger_words("recheck");
    bindings.bind(c.project_id, source);
  }
  wharf::gerrit::BusCommitSink bus_sink(bus);
  TimingSink sink(bus_sink);
  wharf::gerrit::IngestProbe probe("review.example.org");
  wharf::gerrit::IngestOptions options;
  options.host = "review.example.org";
  options.ref_update_hold_us = 0;  // latency of branch pushes without the merge-pairing hold
  options.async_sink = true;       // as in wharf serve
  wharf::gerrit::Ingestor ingestor(options, bindings, sink, probe);

  auto t0 = Steady::now();
  for (const auto& l : lines) {
    sink.line_started = Steady::now();
    (void)ingestor.ingest_line(l, "gerrit-stream", clock.now_us());
  }
  bus.drain();  // every event durable
  double ours_s = seconds(Steady::now() - t0);
  std::vector<double> latency_ms = sink.latencies();

  // The same lines again (a reconnect replaying everything): all deduplicated.
  auto d0 = Steady::now();
  size_t repeated_new = 0;
  for (const auto& l : lines) {
    repeated_new += ingestor.ingest_line(l, "gerrit-catchup", clock.now_us()) ==
                    wharf::gerrit::Outcome::kSubmitted;
  }
  bus.drain();
  double dedup_s = seconds(Steady::now() - d0);

  // Latency one event at a time (a Gerrit event arriving at an idle wharf):
  // from the line entering the ingestor to CommitObserved + PipelineRunStarted
  // + BuildRequested durable.
  wharf::gerrit::IngestOptions paced_options = options;
  paced_options.async_sink = false;
  wharf::gerrit::Ingestor paced(paced_options, bindings, bus_sink, probe);
  std::vector<double> paced_ms;
  for (size_t i = 0; paced_ms.size() < 500 && i < 100'000; ++i) {
    std::string line = vary(samples[i % samples.size()], 1'000'000 + i / samples.size());
    auto s0 = Steady::now();
    if (paced.ingest_line(line, "gerrit-stream", clock.now_us()) ==
        wharf::gerrit::Outcome::kObserved) {
      paced_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - s0).count());
    }
  }

  auto stats = probe.snapshot();
  auto pct_of = [](std::vector<double>& v, double p) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
  };
  auto pct = [&](double p) { return pct_of(paced_ms, p); };
  const double burst_p99 = pct_of(latency_ms, 0.99);
  const double events_per_s = lines.size() / ours_s;
  const double baseline_per_s = lines.size() / baseline_s;
  bus.stop();
  store.close();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  std::printf("lines %zu (%.1f MB), fsync %s\n", lines.size(), bytes / 1e6, fsync ? "on" : "off");
  std::printf("baseline bare JSON parse: %.0f lines/s (%zu objects)\n", baseline_per_s, objects);
  std::printf(
      "ingest parse+map+dedup+append: %.0f lines/s, observed %llu (each = 3 events "
      "appended), not bound %llu, unknown %llu\n",
      events_per_s, static_cast<unsigned long long>(stats.observed),
      static_cast<unsigned long long>(stats.not_bound),
      static_cast<unsigned long long>(stats.unknown_types));
  std::printf("replay of the same lines: %.0f lines/s, %zu new (must be 0)\n",
              lines.size() / dedup_s, repeated_new);
  std::printf(
      "event -> BuildRequested durable, one at a time (%zu events): p50 %.3f ms, "
      "p99 %.3f ms\n",
      paced_ms.size(), pct(0.5), pct(0.99));
  std::printf(
      "event -> BuildRequested durable within the %zu-line burst: p50 %.1f ms, "
      "p99 %.1f ms (queueing behind the burst)\n",
      lines.size(), pct_of(latency_ms, 0.5), burst_p99);
  std::printf(
      "{\"bench\":\"ingest\",\"events_per_s\":%.0f,\"baseline_events_per_s\":%.0f,"
      "\"ratio\":%.4f,\"p99_event_to_build_ms\":%.3f,\"burst_p99_ms\":%.1f,\"lines\":%zu,"
      "\"observed\":%llu,\"fsync\":%s,\"bus_workers\":%zu,\"sync_appends\":%s}\n",
      events_per_s, baseline_per_s, events_per_s / baseline_per_s, pct(0.99), burst_p99,
      lines.size(), static_cast<unsigned long long>(stats.observed), fsync ? "true" : "false",
      workers, sync_appends ? "true" : "false");
  return repeated_new == 0 ? 0 : 1;
}
