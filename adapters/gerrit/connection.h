#pragma once
// The live connection to one Gerrit server (Zuul's "connection" role):
//  - a stream thread: SSH `gerrit stream-events`, lines into the ingestor;
//    SSH keepalives; a silent stream is probed (`gerrit version` on a second
//    channel) and, when the probe gets no answer, treated as hung; any end of
//    the session -> reconnect with exponential backoff and full jitter
//    (reset once a session lived `stable_after_s`);
//  - a worker thread: catch-up over REST after every reconnect and every
//    dropped-output (from the last event seen minus a safety margin), release
//    of held ref-updates, the status file and the persisted checkpoint.
// State and counters live in the ingestor's IngestProbe.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/gerrit/catchup.h"
#include "adapters/gerrit/ingestor.h"
#include "adapters/gerrit/ssh_stream.h"

namespace wharf::gerrit {

struct ConnectionOptions {
  SshOptions ssh;
  RestOptions rest;                 // base_url empty: no catch-up (logged once)
  int64_t catchup_margin_s = 120;   // clock skew, events-log style overlap; dedup absorbs it
  int backoff_initial_ms = 500;
  int backoff_max_ms = 60'000;
  double backoff_multiplier = 2.0;
  int stable_after_s = 120;         // a session this old resets the backoff
  int keepalive_interval_s = 15;
  int silence_probe_s = 30;         // no bytes for this long: probe the session
  int probe_timeout_s = 10;         // no answer within: the stream is hung
  std::string status_file;          // empty: none
  // Newest eventCreatedOn seen, persisted so a restarted wharf catches up on
  // its own downtime. Both optional.
  std::function<int64_t()> load_checkpoint;
  std::function<void(int64_t)> save_checkpoint;
};

class GerritConnection {
 public:
  GerritConnection(ConnectionOptions options, Ingestor& ingestor);
  ~GerritConnection();  // stop()
  GerritConnection(const GerritConnection&) = delete;
  GerritConnection& operator=(const GerritConnection&) = delete;

  void start();
  void stop();
  // Asks the worker for a catch-up from `since_s` (epoch seconds, before the margin).
  void request_catchup(int64_t since_s, const std::string& why);
  // Blocks until no catch-up is pending or running, or `timeout_ms` passed.
  bool wait_catchup_idle(int timeout_ms);

 private:
  void stream_loop();
  // One session: returns how long it lived (s); `opened` tells whether it connected.
  int64_t run_session(bool& opened);
  void worker_loop();
  void run_catchup(int64_t since_s, const std::string& why);
  bool sleep_interruptible(int ms);
  int64_t now_us() const;
  int64_t gap_start_s() const;

  ConnectionOptions options_;
  Ingestor& ingestor_;
  std::atomic<bool> stopping_{false};
  std::thread stream_thread_;
  std::thread worker_thread_;
  std::mutex mutex_;  // guards the members below
  std::condition_variable wake_;
  int64_t pending_since_s_ = -1;  // -1: no catch-up requested
  std::string pending_why_;
  bool catchup_running_ = false;
  int64_t first_connected_s_ = 0;
  int64_t checkpoint_s_ = 0;
  uint64_t sessions_ = 0;
};

}  // namespace wharf::gerrit
