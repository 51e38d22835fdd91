// bench_append: see README.md. Every phase runs for the same wall time on a
// fresh directory of the same disk.
#include <rocksdb/db.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "events/event_store.h"
#include "events/hash_chain.h"
#include "events/ids.h"

using namespace wharf::events;
using Clock = std::chrono::steady_clock;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::max(1, std::atoi(v)) : fallback;
}

std::string fresh_dir(const std::string& phase) {
  const char* base = std::getenv("WHARF_BENCH_DIR");
  std::filesystem::path root = base != nullptr ? base : std::filesystem::temp_directory_path();
  auto dir = root / ("wharf-bench-append-" + std::to_string(::getpid()) + "-" + phase);
  std::filesystem::remove_all(dir);
  return dir.string();
}

// ~300 bytes serialized once the store has added position, hashes and times.
Envelope sample_event(std::mt19937_64& rng) {
  Envelope e;
  e.set_event_id(new_uuid());
  e.set_occurred_at_us(1700000000000000 + static_cast<int64_t>(rng() % 1000000));
  e.mutable_actor()->set_id("gerrit:review.example.org");
  e.mutable_actor()->set_channel(wharf::v1::CHANNEL_GERRIT);
  e.set_correlation_id("run-0b7e4c2a");
  auto* c = e.mutable_payload()->mutable_commit_observed();
  c->set_project_id("project-payments");
  c->set_commit_sha("3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39");
  c->set_branch("main");
  c->set_subject("Fix rounding of refunds in the settlement export");
  return e;
}

struct Result {
  double events_per_s = 0;
  double p99_us = 0;
  uint64_t events = 0;
  double cpu_us_per_event = 0;  // process CPU (all threads, incl. RocksDB's) per event
};

// CPU seconds used by the whole process so far. The machine is shared, so
// wall-clock rates also measure the neighbours; CPU per event does not.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double p99(std::vector<uint32_t>& samples) {
  if (samples.empty()) return 0;
  size_t k = samples.size() * 99 / 100;
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(k), samples.end());
  return samples[k];
}

// Runs `writers` threads calling `one_call` (returns events written) for `seconds`.
template <typename F>
Result run_phase(int writers, int seconds, F one_call) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> events{0};
  std::vector<std::vector<uint32_t>> latencies(static_cast<size_t>(writers));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<uint64_t>(w) * 7919 + 1);
      uint64_t local = 0;
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        auto t0 = Clock::now();
        local += one_call(w, i, rng);
        latencies[static_cast<size_t>(w)].push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
      }
      events += local;
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = process_cpu_seconds() - cpu_start;
  std::vector<uint32_t> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  Result r;
  r.events = events.load();
  r.events_per_s = static_cast<double>(r.events) / elapsed;
  r.p99_us = p99(all);
  r.cpu_us_per_event = r.events > 0 ? cpu * 1e6 / static_cast<double>(r.events) : 0;
  return r;
}

Result baseline_raw_rocksdb(int writers, int seconds) {
  const std::string dir = fresh_dir("baseline");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, dir, &raw).ok()) {
    std::fprintf(stderr, "cannot open baseline db\n");
    std::exit(1);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::mt19937_64 seed_rng(1);
  const std::string value = sample_event(seed_rng).SerializeAsString() + std::string(100, 'x');
  rocksdb::WriteOptions w;
  w.sync = true;
  auto r = run_phase(writers, seconds, [&](int writer, uint64_t i, std::mt19937_64&) -> uint64_t {
    char key[32];
    std::snprintf(key, sizeof key, "%04d-%016llu", writer, static_cast<unsigned long long>(i));
    if (!db->Put(w, key, value).ok()) std::abort();
    return 1;
  });
  db.reset();
  std::filesystem::remove_all(dir);
  std::fprintf(stderr, "baseline: value %zu bytes\n", value.size());
  return r;
}

Result store_phase(const std::string& name, int writers, int seconds, size_t batch, bool hash_chain) {
  const std::string dir = fresh_dir(name);
  StoreOptions options;
  options.compute_hash_chain = hash_chain;
  options.sync = env_int("BENCH_SYNC", 1) != 0 && std::getenv("BENCH_NO_SYNC") == nullptr;
  auto opened = EventStore::open(dir, options);
  if (!opened) {
    std::fprintf(stderr, "open failed: %s\n", opened.error().message.c_str());
    std::exit(1);
  }
  auto& store = *opened.value();
  auto r = run_phase(writers, seconds, [&](int writer, uint64_t, std::mt19937_64& rng) -> uint64_t {
    std::vector<Envelope> events;
    events.reserve(batch);
    for (size_t i = 0; i < batch; ++i) events.push_back(sample_event(rng));
    auto appended = store.append("bench-" + std::to_string(writer), ExpectedVersion::any(), std::move(events));
    if (!appended) {
      std::fprintf(stderr, "append failed: %s\n", appended.error().message.c_str());
      std::abort();
    }
    return batch;
  });
  if (hash_chain) {
    auto last = store.read_all(store.head_position(), 1);
    std::fprintf(stderr, "%s: stored event size %zu bytes\n", name.c_str(),
                 last->empty() ? size_t{0} : last->front().ByteSizeLong());
  }
  opened.value().reset();
  std::filesystem::remove_all(dir);
  return r;
}

// CPU cost of the chain per event: one deterministic serialization is paid
// anyway; the chain adds SHA-256 of the canonical bytes and of 64 bytes.
double hash_us_per_event() {
  std::mt19937_64 rng(3);
  Envelope e = sample_event(rng);
  e.set_position(123456);
  e.set_stream_version(7);
  e.set_recorded_at_us(1700000000000000);
  const std::string bytes = serialize_deterministic(e);
  std::string prev = zero_hash();
  const int n = 200000;
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) prev = chain_hash(prev, sha256(bytes));
  double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n;
  if (prev.size() != 32) std::abort();
  return us;
}

}  // namespace

int main() {
  const int seconds = env_int("BENCH_SECONDS", 6);
  const int writers = env_int("BENCH_WRITERS", 32);
  const int batch_writers = env_int("BENCH_BATCH_WRITERS", 4);

  Result baseline = baseline_raw_rocksdb(writers, seconds);
  std::printf("baseline raw RocksDB Put(sync) %d writers: %.0f writes/s, p99 %.0f us, %.1f CPU-us/write\n",
              writers, baseline.events_per_s, baseline.p99_us, baseline.cpu_us_per_event);
  Result single = store_phase("single", writers, seconds, 1, true);
  std::printf("EventStore %d writers x 1 event: %.0f events/s, p99 %.0f us, %.1f CPU-us/event\n", writers,
              single.events_per_s, single.p99_us, single.cpu_us_per_event);
  Result single_nohash = store_phase("single-nohash", writers, seconds, 1, false);
  std::printf("  same without hash chain: %.0f events/s, p99 %.0f us\n", single_nohash.events_per_s,
              single_nohash.p99_us);
  Result batch = store_phase("batch", batch_writers, seconds, 100, true);
  std::printf("EventStore %d writers x 100-event batches: %.0f events/s, p99 %.0f us per batch, %.1f CPU-us/event\n",
              batch_writers, batch.events_per_s, batch.p99_us, batch.cpu_us_per_event);
  Result batch_nohash = store_phase("batch-nohash", batch_writers, seconds, 100, false);
  std::printf("  same without hash chain: %.0f events/s, %.1f CPU-us/event\n", batch_nohash.events_per_s,
              batch_nohash.cpu_us_per_event);
  const double hash_us = hash_us_per_event();
  std::printf("hash chain CPU: %.2f us/event (%.1f%% of one core at the batch rate)\n",
              hash_us, 100.0 * hash_us * batch.events_per_s / 1e6);

  const double ratio = single.events_per_s / baseline.events_per_s;
  std::printf(
      "{\"bench\":\"append\",\"events_per_s_single\":%.0f,\"events_per_s_batch100\":%.0f,"
      "\"baseline_events_per_s_single\":%.0f,\"ratio\":%.3f,\"p99_append_us\":%.0f,"
      "\"events_per_s_single_no_hash\":%.0f,\"events_per_s_batch100_no_hash\":%.0f,"
      "\"hash_chain_us_per_event\":%.2f,\"cpu_us_per_event_single\":%.1f,\"cpu_us_per_event_batch100\":%.1f,"
      "\"cpu_us_per_event_batch100_no_hash\":%.1f,\"writers\":%d,\"batch_writers\":%d,\"seconds_per_phase\":%d}\n",
      single.events_per_s, batch.events_per_s, baseline.events_per_s, ratio, single.p99_us,
      single_nohash.events_per_s, batch_nohash.events_per_s, hash_us, single.cpu_us_per_event,
      batch.cpu_us_per_event, batch_nohash.cpu_us_per_event, writers, batch_writers, seconds);
  return 0;
}
