// Child process for the SIGKILL test: rebuilds (or catches up) the
// projections of a store, printing each committed position on stdout so the
// parent can kill it mid-way.
//   projections_rebuild_child STORE_DIR PROJECTIONS_DIR rebuild|catchup BATCH SEGMENT_BYTES
// (SEGMENT_BYTES: RunnerOptions::bulk_segment_bytes, 0 = the WriteBatch path)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "events/event_store.h"
#include "projections/runner.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr,
                 "usage: %s STORE_DIR PROJECTIONS_DIR rebuild|catchup BATCH SEGMENT_BYTES\n",
                 argv[0]);
    return 2;
  }
  wharf::events::StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = wharf::events::EventStore::open(argv[1], store_options);
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.error().message.c_str());
    return 1;
  }
  wharf::projections::RunnerOptions options;
  options.batch_events = static_cast<size_t>(std::atoi(argv[4]));
  options.bulk_segment_bytes = static_cast<size_t>(std::strtoull(argv[5], nullptr, 10));
  auto runner = wharf::projections::ProjectionRunner::open(argv[2], store->get(), options);
  if (!runner) {
    std::fprintf(stderr, "projections: %s\n", runner.error().message.c_str());
    return 1;
  }
  auto progress = [](uint64_t position, uint64_t) {
    std::printf("%llu\n", static_cast<unsigned long long>(position));
    std::fflush(stdout);
  };
  auto reached = std::string(argv[3]) == "rebuild" ? (*runner)->rebuild({}, progress)
                                                   : (*runner)->catch_up(progress);
  if (!reached) {
    std::fprintf(stderr, "%s\n", reached.error().message.c_str());
    return 1;
  }
  std::printf("done\n");
  return 0;
}
