#pragma once
// ProcessManager: the I/O half of engine/reactor.h. It folds the log into the
// engine's ProcessState, asks react() what each new event calls for, and does
// it: commands go to the CommandBus, Start* to a port, timers to a TimerQueue,
// CancelWork to a port's cancel(). Port callbacks come back as Record*
// commands.
//
// Restart: start() folds the log (to the head at that moment) - from its
// state snapshot (events/state_snapshot.h, "process-manager": the
// engine::ProcessState of a position, engine/process_snapshot.h) when there
// is a usable one, else from position 1 - runs engine::recover() - exactly
// the outstanding work and due follow-ups - and then subscribes from head + 1.
// The snapshot is written after a start that folded many events, while it
// runs (SnapshotPolicy) and on stop(); it
// covers exactly the events up to its position, so a crash at any point
// restarts from the same state as a full fold. Ports treat a repeated run/deploy id +
// attempt as the same work, so a step interrupted by a crash is adopted, not
// started twice, and no step is forgotten. The position handled last is kept
// in the store's meta ("runtime/process-manager/checkpoint").
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/runtime/command_bus.h"
#include "adapters/runtime/timer_queue.h"
#include "engine/ports.h"
#include "engine/reactor.h"
#include "events/event_store.h"
#include "events/state_snapshot.h"

namespace wharf::runtime {

struct Ports {
  engine::BuildRunner* build = nullptr;
  engine::DeployTarget* deploy = nullptr;
  engine::TestRunner* tests = nullptr;
  engine::CanaryTarget* canary = nullptr;  // canary traffic (adapters/router); null: none
};

inline constexpr const char* kCheckpointKey = "runtime/process-manager/checkpoint";
inline constexpr const char* kProcessSnapshotName = "process-manager";

// When the process manager writes its state snapshot while it runs: after
// `every_events` handled events, at most once per `min_interval`.
struct SnapshotPolicy {
  uint64_t every_events = 100'000;
  std::chrono::milliseconds min_interval{60'000};
};

class ProcessManager {
 public:
  // `store`, `bus`, the ports and `clock` must outlive this object.
  ProcessManager(events::EventStore& store, CommandBus& bus, Ports ports, const Clock& clock,
                 SnapshotPolicy snapshots = {});
  ~ProcessManager();  // stop()
  ProcessManager(const ProcessManager&) = delete;
  ProcessManager& operator=(const ProcessManager&) = delete;

  // Folds the log, recovers outstanding work, subscribes. Fails when the log
  // cannot be read.
  Expected<void, std::string> start();
  // Stops the subscription and timers and writes the checkpoint. Work already
  // handed to ports keeps running there; its results reach the next start().
  void stop();

  // Position of the last event whose reactions were carried out.
  uint64_t last_handled() const { return last_handled_.load(); }
  // Blocks until last_handled() >= position or the deadline passes.
  bool wait_until_handled(uint64_t position, std::chrono::steady_clock::time_point deadline) const;
  // Set when the subscription failed (it has then stopped).
  std::string error() const;

  // Runs `read` with the folded state under the lock (tests, diagnostics).
  void inspect(const std::function<void(const engine::ProcessState&)>& read) const;

  // Counters for diagnostics and tests.
  struct Stats {
    uint64_t events = 0;
    uint64_t commands = 0;
    uint64_t builds_started = 0;
    uint64_t deploys_started = 0;
    uint64_t tests_started = 0;
    uint64_t test_cases_started = 0;
    uint64_t timers = 0;
    uint64_t cancels = 0;
    uint64_t recovered = 0;  // reactions from recover() at the last start
  };
  Stats stats() const;
  // Where the last start began (its snapshot) and the events folded since.
  const events::FoldCounters& fold_counters() const { return counters_; }

 private:
  bool handle(const events::Envelope& event);
  // state_.apply(event), first restoring a dropped run the event reopens
  // (engine::ProcessState::missing_history) from its stream. state_mutex_ held.
  void fold(const events::Envelope& event);
  void carry_out(const engine::Reaction& reaction);
  void start_build(const engine::BuildJob& job);
  void start_deploy(const engine::DeployJob& job);
  void start_tests(const engine::TestJob& job);
  void set_canary_traffic(const engine::CanaryTraffic& traffic);
  void start_test_cases(const engine::TestJob& job);
  void write_checkpoint(bool force);
  // Encodes the state under state_mutex_ and stores it (a failure is logged).
  void write_snapshot();

  // What port callbacks hold: the bus until stop(), then nothing, so a port
  // that outlives this process manager cannot reach a destroyed bus.
  struct CallbackSink {
    std::mutex mutex;
    CommandBus* bus = nullptr;
    void submit(const engine::Command& command, const std::string& command_id,
                const std::string& correlation_id);
  };

  events::EventStore& store_;
  CommandBus& bus_;
  std::shared_ptr<CallbackSink> sink_;
  Ports ports_;
  const Clock& clock_;
  std::unique_ptr<TimerQueue> timers_;
  std::unique_ptr<events::Subscription> subscription_;

  mutable std::mutex state_mutex_;
  engine::ProcessState state_;
  Stats stats_;

  std::atomic<uint64_t> last_handled_{0};
  mutable std::mutex handled_mutex_;
  mutable std::condition_variable handled_;
  SnapshotPolicy snapshots_;
  events::FoldCounters counters_;
  std::chrono::steady_clock::time_point snapshot_at_{};
  uint64_t checkpoint_written_ = 0;
  std::chrono::steady_clock::time_point checkpoint_at_{};
};

}  // namespace wharf::runtime
