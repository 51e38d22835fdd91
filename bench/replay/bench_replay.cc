// bench_replay: see README.md.
#include <rocksdb/db.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "events/event_store.h"
#include "events/ids.h"

using namespace wharf::events;
using Clock = std::chrono::steady_clock;

namespace {

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::max<uint64_t>(1, std::strtoull(v, nullptr, 10)) : fallback;
}

Envelope sample_event(uint64_t i) {
  Envelope e;
  e.set_event_id(new_uuid());
  e.set_occurred_at_us(1700000000000000 + static_cast<int64_t>(i));
  e.mutable_actor()->set_id("gerrit:review.example.org");
  e.mutable_actor()->set_channel(wharf::v1::CHANNEL_GERRIT);
  e.set_correlation_id("run-" + std::to_string(i / 10));
  auto* c = e.mutable_payload()->mutable_commit_observed();
  c->set_project_id("project-payments");
  c->set_commit_sha("3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39");
  c->set_branch("main");
  c->set_subject("Fix rounding of refunds in the settlement export");
  return e;
}

void fill(const std::string& dir, uint64_t count) {
  StoreOptions options;
  options.sync = false;  // the fill is not what is measured
  auto store = EventStore::open(dir, options);
  if (!store) {
    std::fprintf(stderr, "open failed: %s\n", store.error().message.c_str());
    std::exit(1);
  }
  for (uint64_t i = 0; i < count;) {
    std::vector<Envelope> batch;
    for (uint64_t k = 0; k < 1000 && i < count; ++k, ++i) batch.push_back(sample_event(i));
    auto r = (*store)->append("run-" + std::to_string(i % 997), ExpectedVersion::any(), std::move(batch));
    if (!r) {
      std::fprintf(stderr, "append failed: %s\n", r.error().message.c_str());
      std::exit(1);
    }
  }
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the calling thread: on a shared machine the wall clock also
// measures the neighbours; both numbers are reported.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Rate {
  double wall = 0;  // events per wall-clock second
  double cpu = 0;   // events per CPU second of the reading thread
};

// Raw iterator over CF "log": touches every key and value, decodes nothing.
Rate baseline_pass(const std::string& dir, uint64_t expected) {
  std::vector<std::string> names;
  rocksdb::DBOptions options;
  rocksdb::DB::ListColumnFamilies(options, dir, &names).PermitUncheckedError();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &handles, &raw).ok()) std::exit(1);
  rocksdb::ColumnFamilyHandle* log = nullptr;
  for (auto* h : handles) {
    if (h->GetName() == "log") log = h;
  }
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  uint64_t n = 0, bytes = 0;
  auto start = Clock::now();
  double cpu_start = thread_cpu_seconds();
  {
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(ro, log));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++n;
      bytes += it->key().size() + it->value().size();
    }
  }
  double elapsed = seconds_since(start);
  double cpu = thread_cpu_seconds() - cpu_start;
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete raw;
  if (n != expected || bytes == 0) {
    std::fprintf(stderr, "baseline read %llu events, expected %llu\n", static_cast<unsigned long long>(n),
                 static_cast<unsigned long long>(expected));
    std::exit(1);
  }
  return {static_cast<double>(n) / elapsed, static_cast<double>(n) / cpu};
}

// EventStore::scan: every event parsed into an Envelope and looked at.
Rate store_pass(const std::string& dir, uint64_t expected) {
  auto store = EventStore::open(dir);
  if (!store) std::exit(1);
  uint64_t n = 0, checksum = 0;
  auto start = Clock::now();
  double cpu_start = thread_cpu_seconds();
  auto r = (*store)->scan(1, 0, [&](const Envelope& e) {
    ++n;
    checksum += e.stream_version() + e.payload().commit_observed().subject().size();
    return true;
  });
  double elapsed = seconds_since(start);
  double cpu = thread_cpu_seconds() - cpu_start;
  if (!r || n != expected || checksum == 0) {
    std::fprintf(stderr, "replay read %llu events, expected %llu\n", static_cast<unsigned long long>(n),
                 static_cast<unsigned long long>(expected));
    std::exit(1);
  }
  return {static_cast<double>(n) / elapsed, static_cast<double>(n) / cpu};
}

}  // namespace

int main() {
  const uint64_t count = env_u64("BENCH_REPLAY_EVENTS", 300000);
  const uint64_t repeat = env_u64("BENCH_REPEAT", 3);
  const char* base = std::getenv("WHARF_BENCH_DIR");
  const auto dir = (std::filesystem::path(base != nullptr ? base : std::filesystem::temp_directory_path()) /
                    ("wharf-bench-replay-" + std::to_string(::getpid())))
                       .string();
  std::filesystem::remove_all(dir);
  auto fill_start = Clock::now();
  fill(dir, count);
  {
    // Reopen once so the log is read from table files as after a restart.
    auto store = EventStore::open(dir);
    if (!store) std::exit(1);
  }
  std::printf("filled %llu events in %.1f s\n", static_cast<unsigned long long>(count), seconds_since(fill_start));

  Rate best_store, best_baseline;
  for (uint64_t pass = 0; pass < repeat; ++pass) {
    Rate b = baseline_pass(dir, count);
    Rate s = store_pass(dir, count);
    std::printf("pass %llu: raw iterator %.0f events/s (%.0f per CPU-s), EventStore::scan (decode) "
                "%.0f events/s (%.0f per CPU-s)\n",
                static_cast<unsigned long long>(pass + 1), b.wall, b.cpu, s.wall, s.cpu);
    best_baseline = {std::max(best_baseline.wall, b.wall), std::max(best_baseline.cpu, b.cpu)};
    best_store = {std::max(best_store.wall, s.wall), std::max(best_store.cpu, s.cpu)};
  }
  std::filesystem::remove_all(dir);
  std::printf("{\"bench\":\"replay\",\"events_per_s\":%.0f,\"baseline_events_per_s\":%.0f,\"ratio\":%.3f,"
              "\"events_per_cpu_s\":%.0f,\"baseline_events_per_cpu_s\":%.0f,\"events\":%llu}\n",
              best_store.wall, best_baseline.wall, best_store.wall / best_baseline.wall, best_store.cpu,
              best_baseline.cpu, static_cast<unsigned long long>(count));
  return 0;
}
