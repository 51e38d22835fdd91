#pragma once
// CommandBus: executes engine commands against the log. For one command:
// read its stream and fold it, load what it reads (the project stream, a
// target event), decide, append with ExpectedVersion::exact(version); on a
// version conflict read again and decide again. The only writer of engine
// events besides tools that import logs.
//
// Folded states are cached per stream (LRU, bounded by count): a command
// reads only the events after the cached version, so a long-lived stream
// (an environment, which grows with every deploy) costs the same per command
// on its 1,000th deploy as on its first. Events are immutable and versions
// dense, so a cached state is always a valid prefix; an append by someone
// else shows up as newer events (or as a conflict, after which the bus
// catches up and decides again).
//
// execute() runs on the caller's thread. submit() queues: commands of one
// stream run one after another in submission order on one worker, commands
// of different streams run in parallel and share the store's group commits.
// A worker does not wait for a command's fsync: it hands the append to the
// store (append_async) and decides the next queued command, so a burst of
// commands on many streams lands in a few group commits instead of one per
// worker per fsync; only a further command of the same stream waits for the
// previous one to be durable. Commands that start a run (ObserveCommit)
// go before queued follow-ups of runs already under way, so a run's first
// step does not wait behind a burst's later steps.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "adapters/runtime/clock.h"
#include "engine/engine.h"
#include "events/event_store.h"

namespace wharf::runtime {

struct CommandResult {
  std::string stream;
  std::vector<std::string> event_ids;  // appended (or found already present)
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  bool nothing_to_do = false;  // decide returned no events: an idempotent repeat
  bool already_present = false;
};

struct CommandError {
  enum class Kind { kRejected, kStore };
  Kind kind = Kind::kRejected;
  engine::Rejection rejection;  // kRejected
  events::Error store_error;    // kStore
  std::string message() const;
  bool stale() const {
    return kind == Kind::kRejected && rejection.code == engine::Rejection::Code::kStale;
  }
};

using CommandOutcome = Expected<CommandResult, CommandError>;

class CommandBus {
 public:
  static constexpr size_t kDefaultCachedStreams = 4096;

  // `cached_streams` bounds the folded-state cache (0 disables it).
  CommandBus(events::EventStore& store, const Clock& clock, size_t workers = 4,
             size_t cached_streams = kDefaultCachedStreams);
  ~CommandBus();  // stop()
  CommandBus(const CommandBus&) = delete;
  CommandBus& operator=(const CommandBus&) = delete;

  // Decides and appends now. Retries version conflicts (up to 50 times).
  CommandOutcome execute(const engine::Command& command, engine::Context context);

  // Queues the command; `done` (optional) runs on the worker with the outcome.
  // After stop() commands are dropped.
  void submit(engine::Command command, engine::Context context,
              std::function<void(const CommandOutcome&)> done = {});

  // Blocks until every submitted command has been executed.
  void drain();
  void stop();

  // A context for a command issued by wharf itself (actor "system").
  engine::Context system_context(std::string command_id, std::string correlation_id = {}) const;
  // A context for a person's command through `channel` with a fresh command id.
  engine::Context user_context(const std::string& user, wharf::v1::Channel channel) const;

  const Clock& clock() const { return clock_; }

  struct CacheStats {
    uint64_t hits = 0;    // a cached state was caught up
    uint64_t misses = 0;  // the stream was folded from its first event
    uint64_t events_read = 0;
  };
  CacheStats cache_stats() const;

 private:
  class StreamCache;
  // The current folded state of `stream`: the cached one caught up with the
  // store, or a full fold. The caller owns it until it hands it back with
  // release() (a stream in use by two threads at once is folded twice).
  Expected<engine::StreamState, events::Error> acquire(const std::string& stream);
  Expected<void, events::Error> catch_up(engine::StreamState& state);
  void release(engine::StreamState state);

  // One round of a command: load its streams, decide. Either the final
  // outcome or the append to make.
  struct Decided {
    CommandResult result;
    events::ExpectedVersion expected;
    std::vector<events::Envelope> events;
  };
  std::variant<CommandOutcome, Decided> decide_round(const engine::Command& command,
                                                     const engine::Context& context,
                                                     const std::string& stream);
  // The outcome of an append of `decided`; nullopt: a version conflict to
  // decide again (round < 50).
  static std::optional<CommandOutcome> conclude(
      CommandResult result, const Expected<events::AppendResult, events::Error>& appended,
      int round);

  struct Queued {
    engine::Command command;
    engine::Context context;
    std::function<void(const CommandOutcome&)> done;
    std::string stream;
    int round = 0;
  };
  struct Completion {
    std::shared_ptr<Queued> item;
    CommandResult result;
    Expected<events::AppendResult, events::Error> appended;
  };
  struct Worker {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::shared_ptr<Queued>> first_steps;  // commands that start a run
    std::deque<std::shared_ptr<Queued>> queue;        // everything else
    std::deque<Completion> completions;               // appends the store answered
    // Streams with a command being decided or an append in flight, and the
    // commands of that stream waiting for it.
    std::unordered_map<std::string, std::deque<std::shared_ptr<Queued>>> in_flight;
    std::deque<std::shared_ptr<Queued>> ready;  // next of a stream whose previous one finished
    bool busy = false;
    std::thread thread;
    bool idle() const {
      return !busy && first_steps.empty() && queue.empty() && ready.empty() &&
             completions.empty() && in_flight.empty();
    }
  };
  void work(Worker& worker);
  // Decides `item` and hands its append to the store (its stream is in flight).
  void run_async(Worker& worker, std::shared_ptr<Queued> item);
  // Answers `item` and lets the next command of its stream go.
  void finish(Worker& worker, Queued& item, const CommandOutcome& outcome);

  events::EventStore& store_;
  const Clock& clock_;
  std::unique_ptr<StreamCache> cache_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex idle_mutex_;
  std::condition_variable idle_;
  std::atomic<bool> stopping_{false};
};

}  // namespace wharf::runtime
