// Child process of crash_test: appends from many threads forever and writes
// "<position> <event_id>\n" to stdout for every event whose append was
// acknowledged, one write(2) per line (< PIPE_BUF, so lines never interleave).
// The parent SIGKILLs it at a random moment.
//   usage: events_crash_child DIR THREADS
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "events/event_store.h"
#include "events/ids.h"

using namespace wharf::events;

namespace {

Envelope event_of(std::mt19937_64& rng) {
  Envelope e;
  e.set_event_id(new_uuid());
  e.set_occurred_at_us(static_cast<int64_t>(rng() % 1000000));
  e.mutable_actor()->set_id("crash-child");
  auto* p = e.mutable_payload()->mutable_commit_observed();
  p->set_project_id("p");
  p->set_commit_sha(std::to_string(rng()));
  p->set_subject(std::string(200, static_cast<char>('a' + rng() % 26)));  // ~300-byte events
  return e;
}

void report(const AppendResult& r, const std::vector<Envelope>& events) {
  for (size_t i = 0; i < events.size(); ++i) {
    std::string line = std::to_string(r.first_position + i) + " " + events[i].event_id() + "\n";
    if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(3);
  }
}

void run(EventStore& store, int thread) {
  std::mt19937_64 rng(std::random_device{}());
  const std::string own = "crash-own-" + std::to_string(thread);
  uint64_t own_version = store.stream_version(own);
  while (true) {
    std::vector<Envelope> events;
    size_t n = rng() % 4 == 0 ? 1 + rng() % 5 : 1;
    for (size_t i = 0; i < n; ++i) events.push_back(event_of(rng));
    bool exact = rng() % 2 == 0;
    const std::string stream = exact ? own : "crash-shared-" + std::to_string(rng() % 3);
    auto r = store.append(stream, exact ? ExpectedVersion::exact(own_version) : ExpectedVersion::any(),
                          events);
    if (!r) {
      std::fprintf(stderr, "append failed: %s\n", r.error().message.c_str());
      std::_Exit(2);
    }
    if (exact) own_version = r->stream_version;
    report(*r, events);
    if (rng() % 8 == 0) {  // a retry must be idempotent: same positions, nothing written
      auto again = store.append(stream, ExpectedVersion::any(), events);
      if (!again || !again->already_present || again->first_position != r->first_position) {
        std::fprintf(stderr, "idempotent retry failed\n");
        std::_Exit(4);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR THREADS\n", argv[0]);
    return 64;
  }
  auto store = EventStore::open(argv[1]);
  if (!store) {
    std::fprintf(stderr, "open failed: %s\n", store.error().message.c_str());
    return 1;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < std::atoi(argv[2]); ++t) threads.emplace_back([&, t] { run(**store, t); });
  for (auto& t : threads) t.join();
}
