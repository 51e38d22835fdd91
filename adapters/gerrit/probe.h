#pragma once
// The Gerrit connection's metrics (Redpanda's "probe"): what the transports
// and the ingestor count, readable as a snapshot for /metrics, the status
// file and `wharf gerrit status`. Thread-safe; counters only grow.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "events/expected.h"

namespace wharf::gerrit {

// A plain copy of the probe at one moment.
struct IngestStats {
  std::string host;
  std::string state = "idle";  // idle | connecting | streaming | backoff | stopped | file
  bool connected = false;
  int64_t last_event_created_s = 0;   // newest eventCreatedOn seen
  int64_t last_event_received_us = 0;  // wall clock when the last line arrived
  int64_t connected_since_us = 0;
  uint64_t reconnects = 0;
  uint64_t lines = 0;
  uint64_t bad_lines = 0;
  uint64_t too_large = 0;
  uint64_t unknown_types = 0;
  uint64_t dropped_output = 0;  // dropped-output markers from Gerrit
  uint64_t deduplicated = 0;    // triggers already observed (window or store)
  uint64_t not_bound = 0;       // triggers no project listens to
  uint64_t observed = 0;        // ObserveCommit commands that appended events
  uint64_t sink_errors = 0;
  uint64_t catchups = 0;
  uint64_t catchup_events = 0;
  std::map<std::string, uint64_t> events_by_type;
  std::string last_error;
  int64_t updated_us = 0;
};

std::string to_json(const IngestStats& stats);
Expected<IngestStats, std::string> stats_from_json(const std::string& text);
// Prometheus text exposition, metric names "wharf_gerrit_*" labelled by host.
std::string to_prometheus(const IngestStats& stats);

class IngestProbe {
 public:
  explicit IngestProbe(std::string host = {});

  void line() { lines_++; }
  void bad_line() { bad_lines_++; }
  void too_large() { too_large_++; }
  // Returns true the first time `type` is seen as unknown (log it once).
  bool unknown_type(const std::string& type);
  void event(const std::string& type, int64_t created_on_s, int64_t received_us);
  void dropped_output() { dropped_output_++; }
  void deduplicated() { deduplicated_++; }
  void not_bound() { not_bound_++; }
  void observed() { observed_++; }
  void sink_error(const std::string& message);
  void catchup(uint64_t events) {
    catchups_++;
    catchup_events_ += events;
  }
  void set_state(const std::string& state, bool connected, int64_t now_us);
  void reconnect() { reconnects_++; }
  void error(const std::string& message);

  int64_t last_event_created_s() const { return last_event_created_s_.load(); }
  IngestStats snapshot(int64_t now_us = 0) const;

 private:
  std::string host_;
  std::atomic<uint64_t> lines_{0}, bad_lines_{0}, too_large_{0}, unknown_types_{0},
      dropped_output_{0}, deduplicated_{0}, not_bound_{0}, observed_{0}, sink_errors_{0},
      catchups_{0}, catchup_events_{0}, reconnects_{0};
  std::atomic<int64_t> last_event_created_s_{0}, last_event_received_us_{0};
  mutable std::mutex mutex_;  // guards the fields below
  std::map<std::string, uint64_t> by_type_;
  std::map<std::string, bool> unknown_seen_;
  std::string state_ = "idle";
  bool connected_ = false;
  int64_t connected_since_us_ = 0;
  std::string last_error_;
};

}  // namespace wharf::gerrit
