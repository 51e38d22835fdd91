// A process that hosts the runtime with the local runners over DATA (store in
// DATA/events, as in `wharf serve`) until SIGTERM, for the SIGKILL tests. Every 100 ms it writes
// DATA/harness-status ("<completed runs> <head position>") so the test can
// follow it without opening the store (RocksDB allows one process at a time).
// With --snapshot-every-event the process manager writes its state snapshot
// after every event it handles, so a SIGKILL lands between appends and
// snapshot writes and a restart starts from a snapshot.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "adapters/runtime/runtime.h"
#include "events/event_store.h"

namespace {
std::atomic<bool> stop{false};
void on_term(int) { stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  const bool snapshot_every_event = argc == 3 && std::string(argv[2]) == "--snapshot-every-event";
  if (argc != 2 && !snapshot_every_event) {
    std::fprintf(stderr, "usage: runtime_harness DATA [--snapshot-every-event]\n");
    return 2;
  }
  std::filesystem::path data = argv[1];
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  auto store = wharf::events::EventStore::open((data / "events").string());
  if (!store) {
    std::fprintf(stderr, "cannot open store: %s\n", store.error().message.c_str());
    return 1;
  }
  wharf::runtime::RuntimeOptions options;
  options.data_dir = data;
  if (snapshot_every_event) options.snapshots = {1, std::chrono::milliseconds(0)};
  wharf::runtime::Runtime runtime(**store, options);
  if (auto started = runtime.start(); !started) {
    std::fprintf(stderr, "cannot start: %s\n", started.error().c_str());
    return 1;
  }
  uint64_t scanned = 0, completed = 0;
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto batch = (*store)->read_all(scanned + 1, 4096);
    if (batch) {
      for (const auto& e : *batch) {
        completed += e.type() == "PipelineRunCompleted";
        scanned = e.position();
      }
    }
    std::ofstream status(data / "harness-status.tmp");
    status << completed << " " << scanned << "\n";
    status.close();
    std::filesystem::rename(data / "harness-status.tmp", data / "harness-status");
  }
  runtime.stop();
  (*store)->close();
  return 0;
}
