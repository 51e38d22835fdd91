// bench_pipeline: N concurrent pipeline runs through the real engine, command
// bus, event store and process manager with no-op ports, against a baseline
// of raw appends of the same number of events in the same run; then commits
// at a sustained rate (WHARF_BENCH_SUSTAINED_PER_S, default 200, for
// WHARF_BENCH_SUSTAINED_S = 10 s) and the p99 of commit -> build requested.
// README.md.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "adapters/runtime/runtime.h"
#include "bench/sync_append_store.h"
#include "events/ids.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace wharf;

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

// Ports that finish every step at once; the build port notes when each run's
// build was handed out.
class NoopPorts : public engine::BuildRunner,
                  public engine::DeployTarget,
                  public engine::TestRunner {
 public:
  void start(const engine::BuildJob& job, engine::Callbacks<engine::BuildOutcome> cb) override {
    {
      std::lock_guard lock(mutex_);
      build_started_.emplace(job.run_id, Clock::now());
    }
    engine::BuildOutcome o;
    o.succeeded = true;
    o.artifact_digest = "sha256:" + std::string(64, 'b');
    o.artifact_uri = "/dev/null";
    cb.done(o);
  }
  void start(const engine::DeployJob&, engine::Callbacks<engine::DeployOutcome> cb) override {
    cb.done({true, "http://127.0.0.1:1", ""});
  }
  void start(const engine::TestJob&, engine::Callbacks<engine::TestOutcome> cb) override {
    engine::TestOutcome o;
    o.passed = true;
    cb.done(o);
  }
  void cancel(const std::string&, uint32_t) override {}

  std::unordered_map<std::string, Clock::time_point> build_started() {
    std::lock_guard lock(mutex_);
    return build_started_;
  }
  // One run's build start, without copying the map (polled every 100 us).
  std::optional<Clock::time_point> build_started(const std::string& run_id) {
    std::lock_guard lock(mutex_);
    auto it = build_started_.find(run_id);
    if (it == build_started_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> build_started_;
};

engine::CreateProject project(const std::string& id) {
  engine::CreateProject c;
  c.project_id = id;
  c.name = id;
  c.repository.mutable_local_git()->set_path("/srv/git/" + id);
  c.repository.mutable_local_git()->set_branch("main");
  c.pipeline.mutable_build()->set_command("make");
  c.pipeline.mutable_build()->set_artifact_path("out");
  c.pipeline.set_start_command("./run");
  c.pipeline.set_health_path("/healthz");
  for (const char* name : {"staging", "prod"}) {
    wharf::v1::EnvironmentSpec env;
    env.set_name(name);
    env.set_target(wharf::v1::TARGET_TYPE_LOCAL);
    env.set_auto_deploy(true);
    if (std::string(name) == "staging") {
      auto* suite = env.add_post_deploy_tests();
      suite->set_name("smoke");
      suite->set_command("true");
    }
    c.environments.push_back(env);
  }
  return c;
}

// The baseline: the events the runs produced, appended again straight to the
// store - same streams (renamed), same grouping into appends (consecutive
// events of one stream), same number of writers - with no deciding, folding
// or reacting. Returns events per second.
double baseline_append_rate(events::EventStore& store, uint64_t from, uint64_t to, size_t threads) {
  std::vector<std::pair<std::string, std::vector<events::Envelope>>> groups;
  for (uint64_t next = from; next <= to;) {
    auto batch = store.read_all(next, 4096);
    if (!batch || batch->empty()) break;
    for (auto e : *batch) {
      if (e.position() > to) break;
      next = e.position() + 1;
      std::string stream = "baseline-" + e.stream_id();
      if (groups.empty() || groups.back().first != stream) groups.push_back({stream, {}});
      events::Envelope copy;
      copy.set_event_id(events::new_uuid());
      copy.set_occurred_at_us(e.occurred_at_us());
      *copy.mutable_actor() = e.actor();
      copy.set_correlation_id(e.correlation_id());
      copy.set_causation_id(e.causation_id());
      *copy.mutable_payload() = e.payload();
      groups.back().second.push_back(std::move(copy));
    }
  }
  size_t total = 0;
  for (const auto& g : groups) total += g.second.size();
  std::printf("baseline: %zu events in %zu appends\n", total, groups.size());
  std::atomic<size_t> next{0};
  auto began = Clock::now();
  std::vector<std::thread> writers;
  for (size_t t = 0; t < threads; ++t) {
    writers.emplace_back([&] {
      for (size_t i = next++; i < groups.size(); i = next++) {
        auto r = store.append(groups[i].first, events::ExpectedVersion::any(), groups[i].second);
        if (!r) std::fprintf(stderr, "baseline append failed: %s\n", r.error().message.c_str());
      }
    });
  }
  for (auto& w : writers) w.join();
  double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  return static_cast<double>(total) / seconds;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(values.size() * p))];
}

}  // namespace

int main() {
  const size_t runs = env_size("WHARF_BENCH_RUNS", 1000);
  const size_t projects = std::max<size_t>(1, env_size("WHARF_BENCH_PROJECTS", 100));
  const size_t workers = env_size("WHARF_BENCH_WORKERS", 8);
  const bool sync_appends = std::getenv("WHARF_BENCH_SYNC_APPENDS") != nullptr;
  std::random_device rd;
  auto dir =
      std::filesystem::temp_directory_path() / ("wharf-bench-pipeline-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);

  double runs_per_s = 0, p99_ms = 0, events_per_run = 0, baseline = 0;
  double sustained_p99_ms = 0, sustained_per_s = 0;
  {
    auto opened = events::EventStore::open((dir / "store").string());
    if (!opened) {
      std::fprintf(stderr, "cannot open store: %s\n", opened.error().message.c_str());
      return 1;
    }
    auto& real_store = **opened;
    // WHARF_BENCH_SYNC_APPENDS=1: workers wait for each fsync (before append_async).
    wharf::bench::SyncAppendStore sync_store(real_store);
    events::EventStore& store =
        sync_appends ? static_cast<events::EventStore&>(sync_store) : real_store;
    NoopPorts ports;
    runtime::RuntimeOptions options;
    options.data_dir = dir;
    options.command_workers = workers;
    runtime::Runtime rt(store, options, runtime::Ports{&ports, &ports, &ports});
    if (auto started = rt.start(); !started) {
      std::fprintf(stderr, "cannot start: %s\n", started.error().c_str());
      return 1;
    }
    auto& bus = rt.commands();
    for (size_t p = 0; p < projects; ++p) {
      auto r = bus.execute(project("p" + std::to_string(p)),
                           bus.user_context("bench", wharf::v1::CHANNEL_API));
      if (!r) {
        std::fprintf(stderr, "create project: %s\n", r.error().message().c_str());
        return 1;
      }
    }
    rt.commands().drain();
    // Let the owner grants of project creation settle before measuring.
    rt.process_manager().wait_until_handled(store.head_position(),
                                            Clock::now() + std::chrono::seconds(30));
    rt.commands().drain();
    const uint64_t head_before = store.head_position();

    std::vector<std::string> run_ids(runs);
    std::vector<Clock::time_point> submitted(runs);
    auto began = Clock::now();
    for (size_t i = 0; i < runs; ++i) {
      engine::ObserveCommit c;
      c.project_id = "p" + std::to_string(i % projects);
      c.commit_sha = "c" + std::to_string(i);
      c.branch = "main";
      c.source = "bench";
      run_ids[i] = engine::run_id_of(c);
      submitted[i] = Clock::now();
      bus.submit(c, bus.user_context("bench", wharf::v1::CHANNEL_API));
    }
    // Wait until every run completed.
    size_t completed = 0;
    uint64_t scanned = head_before;
    auto deadline = Clock::now() + std::chrono::minutes(10);
    while (completed < runs && Clock::now() < deadline) {
      store.wait_for_head_beyond(scanned, Clock::now() + std::chrono::milliseconds(50));
      auto batch = store.read_all(scanned + 1, 4096);
      if (!batch) break;
      for (const auto& e : *batch) {
        completed += e.type() == "PipelineRunCompleted";
        scanned = e.position();
      }
    }
    double seconds = std::chrono::duration<double>(Clock::now() - began).count();
    if (completed < runs) {
      std::fprintf(stderr, "only %zu of %zu runs completed\n", completed, runs);
      return 1;
    }
    rt.commands().drain();
    const uint64_t run_events = store.head_position() - head_before;
    runs_per_s = static_cast<double>(runs) / seconds;
    events_per_run = static_cast<double>(run_events) / static_cast<double>(runs);

    auto started = ports.build_started();
    std::vector<double> latencies;
    for (size_t i = 0; i < runs; ++i) {
      auto it = started.find(run_ids[i]);
      if (it == started.end()) continue;
      latencies.push_back(
          std::chrono::duration<double, std::milli>(it->second - submitted[i]).count());
    }
    p99_ms = percentile(latencies, 0.99);
    const uint64_t head_after = store.head_position();

    // The same path with nothing else in flight: one commit at a time.
    std::vector<double> paced;
    for (size_t i = 0; i < 100; ++i) {
      engine::ObserveCommit c;
      c.project_id = "p" + std::to_string(i % projects);
      c.commit_sha = "paced" + std::to_string(i);
      c.branch = "main";
      c.source = "bench";
      std::string run = engine::run_id_of(c);
      auto t0 = Clock::now();
      bus.submit(c, bus.user_context("bench", wharf::v1::CHANNEL_API));
      while (Clock::now() - t0 < std::chrono::seconds(5)) {
        if (auto at = ports.build_started(run)) {
          paced.push_back(std::chrono::duration<double, std::milli>(*at - t0).count());
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      rt.commands().drain();
    }
    // Sustained: commits arrive at a steady rate (what an organisation sends),
    // each build's start measured from its commit's submission.
    const size_t rate = std::max<size_t>(1, env_size("WHARF_BENCH_SUSTAINED_PER_S", 200));
    const size_t sustained_n = rate * std::max<size_t>(1, env_size("WHARF_BENCH_SUSTAINED_S", 10));
    std::vector<std::string> sustained_runs(sustained_n);
    std::vector<Clock::time_point> sustained_at(sustained_n);
    const auto period = std::chrono::nanoseconds(1'000'000'000 / rate);
    const auto sustained_began = Clock::now();
    for (size_t i = 0; i < sustained_n; ++i) {
      std::this_thread::sleep_until(sustained_began + period * static_cast<int64_t>(i));
      engine::ObserveCommit c;
      c.project_id = "p" + std::to_string(i % projects);
      c.commit_sha = "steady" + std::to_string(i);
      c.branch = "main";
      c.source = "bench";
      sustained_runs[i] = engine::run_id_of(c);
      sustained_at[i] = Clock::now();
      bus.submit(c, bus.user_context("bench", wharf::v1::CHANNEL_API));
    }
    std::vector<double> sustained;
    Clock::time_point last_build = sustained_began;
    for (size_t i = 0; i < sustained_n; ++i) {
      const auto give_up = Clock::now() + std::chrono::seconds(30);
      std::optional<Clock::time_point> at;
      while (!(at = ports.build_started(sustained_runs[i])) && Clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (!at) continue;
      sustained.push_back(std::chrono::duration<double, std::milli>(*at - sustained_at[i]).count());
      last_build = std::max(last_build, *at);
    }
    rt.commands().drain();
    sustained_p99_ms = percentile(sustained, 0.99);
    // Commits whose build started, over the time from the first submission to
    // the last build start: the offered rate when the engine keeps up.
    sustained_per_s = static_cast<double>(sustained.size()) /
                      std::chrono::duration<double>(last_build - sustained_began).count();
    std::printf(
        "sustained: %zu commits offered at %zu/s, %zu builds started, %.1f commits/s; "
        "commit->build p50 %.2f ms p99 %.2f ms\n",
        sustained_n, rate, sustained.size(), sustained_per_s, percentile(sustained, 0.5),
        sustained_p99_ms);

    const auto cache = rt.commands().cache_stats();
    rt.stop();

    // Twice, keeping the faster, so noise on this shared machine does not flatter the ratio.
    baseline = std::max(baseline_append_rate(store, head_before + 1, head_after, workers),
                        baseline_append_rate(store, head_before + 1, head_after, workers));
    std::printf(
        "pipeline: %zu runs over %zu projects, %zu command workers: %.2f s, %.1f runs/s, "
        "%.1f events/run (%.0f events/s); commit->build under load p50 %.2f ms p99 %.2f ms, "
        "one at a time p50 %.2f ms p99 %.2f ms; baseline (same events, same appends, raw) "
        "%.0f events/s\n",
        runs, projects, workers, seconds, runs_per_s, events_per_run, runs_per_s * events_per_run,
        percentile(latencies, 0.5), p99_ms, percentile(paced, 0.5), percentile(paced, 0.99),
        baseline);
    // Deterministic where timings are noisy: how much history each command read.
    const uint64_t commands = cache.hits + cache.misses;
    std::printf(
        "command bus: %llu stream loads (%llu from cache), %llu events read, %.2f events read "
        "per load\n",
        static_cast<unsigned long long>(commands), static_cast<unsigned long long>(cache.hits),
        static_cast<unsigned long long>(cache.events_read),
        commands ? static_cast<double>(cache.events_read) / static_cast<double>(commands) : 0.0);
    store.close();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::printf(
      "{\"bench\":\"pipeline\",\"runs_per_s\":%.1f,\"p99_commit_to_build_ms\":%.2f,"
      "\"p99_commit_to_build_ms_sustained\":%.2f,\"sustained_commits_per_s\":%.1f,"
      "\"events_per_run\":%.1f,\"ratio\":%.3f,\"sync_appends\":%s}\n",
      runs_per_s, p99_ms, sustained_p99_ms, sustained_per_s, events_per_run,
      runs_per_s * events_per_run / baseline, sync_appends ? "true" : "false");
  return 0;
}
