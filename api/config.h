#pragma once
// Everything the HTTP server can be told. `wharf serve` fills it from flags,
// WHARF_* environment variables and the config file (docs/api.md lists them).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/default_ports.h"

namespace wharf::api {

struct ServerConfig {
  std::string listen = "127.0.0.1";
  uint16_t port = kDefaultApiPort;  // 0 = pick a free port; Server::port() tells which
  unsigned threads = 0;  // 0 = std::thread::hardware_concurrency()
  size_t max_connections = 1024;             // beyond: 503 + Retry-After, then close
  unsigned retry_after_s = 1;                // Retry-After of that 503
  size_t max_body_bytes = 1024 * 1024;       // beyond: 413
  size_t max_header_bytes = 16 * 1024;       // beyond: 431
  std::chrono::milliseconds idle_timeout{60'000};     // keep-alive wait for the next request
  std::chrono::milliseconds request_timeout{15'000};  // a started request must arrive within
  std::chrono::milliseconds write_timeout{30'000};    // a response / SSE frame must drain within
  std::chrono::milliseconds drain_timeout{10'000};    // stop(): in-flight requests may finish
  std::chrono::milliseconds min_position_wait{5'000}; // longest wait for ?min_position=
  std::chrono::milliseconds sse_heartbeat{15'000};    // comment line on idle SSE streams
  size_t max_page = 1000;                    // largest ?limit= on paged routes
  size_t default_page = 100;
  // Rendered answers of the hottest read routes kept while the log's head
  // does not move (api/response_cache.h); 0 disables the cache.
  size_t response_cache_entries = 4096;
  // Built web UI (ui/dist: index.html + assets/) served at / for every GET
  // outside /api (api/static_files.h); empty = no UI.
  std::string ui_dir;
  // The access index (api/access_index.h) is folded once at start (/readyz
  // waits for it); then its state snapshot and the targets catalog's
  // (events/state_snapshot.h) are written every this often when at least
  // state_snapshot_min_events are new, and on stop(). 0: never written (a
  // read-only store, tests).
  std::chrono::seconds state_snapshot_interval{0};
  uint64_t state_snapshot_min_events = 10'000;
};

}  // namespace wharf::api
