#include "adapters/runtime/command_bus.h"

#include <spdlog/spdlog.h>

#include <list>
#include <optional>
#include <unordered_map>

#include "events/ids.h"

namespace wharf::runtime {

std::string CommandError::message() const {
  if (kind == Kind::kRejected) {
    return std::string("rejected (") + engine::to_string(rejection.code) + "): " + rejection.reason;
  }
  return std::string("store error (") + events::to_string(store_error.code) +
         "): " + store_error.message;
}

// Folded states by stream, least recently used first out. A state is taken
// out while a command uses it and put back after, so no lock is held while
// reading the store or deciding.
class CommandBus::StreamCache {
 public:
  explicit StreamCache(size_t capacity) : capacity_(capacity) {}

  std::optional<engine::StreamState> take(const std::string& stream) {
    std::lock_guard lock(mutex_);
    auto found = index_.find(stream);
    if (found == index_.end()) return std::nullopt;
    engine::StreamState state = std::move(*found->second);
    lru_.erase(found->second);
    index_.erase(found);
    return state;
  }

  void put(engine::StreamState state) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    if (auto found = index_.find(state.stream_id()); found != index_.end()) {
      // Another command on the same stream put its state back first; keep
      // the newer one.
      if (found->second->version() < state.version()) *found->second = std::move(state);
      lru_.splice(lru_.begin(), lru_, found->second);
      return;
    }
    lru_.push_front(std::move(state));
    index_.emplace(lru_.front().stream_id(), lru_.begin());
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().stream_id());
      lru_.pop_back();
    }
  }

  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> events_read{0};

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::list<engine::StreamState> lru_;
  std::unordered_map<std::string, std::list<engine::StreamState>::iterator> index_;
};

CommandBus::CommandBus(events::EventStore& store, const Clock& clock, size_t workers,
                       size_t cached_streams)
    : store_(store), clock_(clock), cache_(std::make_unique<StreamCache>(cached_streams)) {
  if (workers == 0) workers = 1;
  for (size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { work(*worker); });
  }
}

CommandBus::~CommandBus() {
  stop();
}

CommandBus::CacheStats CommandBus::cache_stats() const {
  return {cache_->hits.load(), cache_->misses.load(), cache_->events_read.load()};
}

namespace {

CommandError store_failure(events::Error error) {
  CommandError e;
  e.kind = CommandError::Kind::kStore;
  e.store_error = std::move(error);
  return e;
}

}  // namespace

Expected<void, events::Error> CommandBus::catch_up(engine::StreamState& state) {
  constexpr size_t kBatch = 1024;
  bool refolded = state.version() == 0;
  for (;;) {
    auto batch = store_.read_stream(state.stream_id(), state.version() + 1, kBatch,
                                    events::Direction::kForward);
    if (!batch) {
      if (batch.error().code == events::ErrorCode::kNotFound) return {};
      return unexpected(batch.error());
    }
    cache_->events_read += batch->size();
    bool restart = false;
    for (const auto& event : *batch) {
      if (event.stream_version() != state.version() + 1 && !refolded) {
        // Not the continuation of what was folded (cannot happen with an
        // append-only store): fold the stream again from its start, once.
        state = engine::StreamState(state.stream_id());
        refolded = restart = true;
        break;
      }
      state.apply(event);
    }
    if (!restart && batch->size() < kBatch) return {};  // reached the end
  }
}

Expected<engine::StreamState, events::Error> CommandBus::acquire(const std::string& stream) {
  std::optional<engine::StreamState> state = cache_->take(stream);
  if (state) {
    ++cache_->hits;
  } else {
    ++cache_->misses;
    state.emplace(stream);
  }
  if (auto caught_up = catch_up(*state); !caught_up) return unexpected(caught_up.error());
  return std::move(*state);
}

void CommandBus::release(engine::StreamState state) {
  cache_->put(std::move(state));
}

std::variant<CommandOutcome, CommandBus::Decided> CommandBus::decide_round(
    const engine::Command& command, const engine::Context& context, const std::string& stream) {
  // Hands an acquired state back to the cache on every way out.
  struct Lease {
    CommandBus& bus;
    std::optional<engine::StreamState> state;
    ~Lease() {
      if (state) bus.release(std::move(*state));
    }
  };

  Lease project{*this, std::nullopt};
  if (std::string reads = engine::reads_of(command); !reads.empty()) {
    auto state = acquire(reads);
    if (!state) return CommandOutcome(unexpected(store_failure(state.error())));
    project.state = std::move(*state);
  }
  std::optional<events::Envelope> target;
  if (std::string id = engine::target_event_of(command); !id.empty()) {
    auto event = store_.read_event(id);
    if (event) {
      target = std::move(*event);
    } else if (event.error().code != events::ErrorCode::kNotFound) {
      return CommandOutcome(unexpected(store_failure(event.error())));
    }
  }
  engine::Lookups lookups;
  lookups.project = project.state ? project.state->project() : nullptr;
  lookups.target_event = target ? &*target : nullptr;

  Lease own{*this, std::nullopt};
  {
    auto state = acquire(stream);
    if (!state) return CommandOutcome(unexpected(store_failure(state.error())));
    own.state = std::move(*state);
  }
  auto decided = engine::decide(*own.state, command, context, lookups);
  if (!decided) {
    CommandError e;
    e.rejection = decided.error();
    return CommandOutcome(unexpected(e));
  }
  Decided out;
  out.result.stream = stream;
  if (decided->empty()) {
    out.result.nothing_to_do = true;
    return CommandOutcome(std::move(out.result));
  }
  for (const auto& event : *decided) out.result.event_ids.push_back(event.event_id());
  // The cached state is not advanced with the appended events: the next
  // command reads them back as the store recorded them (positions, hashes).
  out.expected = own.state->version() == 0 ? events::ExpectedVersion::no_stream()
                                           : events::ExpectedVersion::exact(own.state->version());
  out.events = std::move(*decided);
  return out;
}

std::optional<CommandOutcome> CommandBus::conclude(
    CommandResult result, const Expected<events::AppendResult, events::Error>& appended,
    int round) {
  if (appended) {
    result.first_position = appended->first_position;
    result.last_position = appended->last_position;
    result.already_present = appended->already_present;
    return CommandOutcome(std::move(result));
  }
  const auto& error = appended.error();
  // Someone appended since: fold in their events and decide again.
  if (error.code == events::ErrorCode::kConflict && round < 50) return std::nullopt;
  if (error.code == events::ErrorCode::kEventIdConflict) {
    // These ids were appended by an earlier try of the same command (same
    // command id) with other details, e.g. another timestamp: it is done.
    result.nothing_to_do = true;
    result.already_present = true;
    return CommandOutcome(std::move(result));
  }
  return CommandOutcome(unexpected(store_failure(error)));
}

CommandOutcome CommandBus::execute(const engine::Command& command, engine::Context context) {
  if (context.command_id.empty()) context.command_id = events::new_uuid();
  if (context.now_us == 0) context.now_us = clock_.now_us();
  const std::string stream = engine::stream_of(command);
  for (int round = 0;; ++round) {
    auto decided = decide_round(command, context, stream);
    if (auto* outcome = std::get_if<CommandOutcome>(&decided)) return std::move(*outcome);
    auto& append = std::get<Decided>(decided);
    auto appended = store_.append(stream, append.expected, std::move(append.events));
    if (auto outcome = conclude(std::move(append.result), appended, round)) {
      return std::move(*outcome);
    }
  }
}

void CommandBus::submit(engine::Command command, engine::Context context,
                        std::function<void(const CommandOutcome&)> done) {
  auto item = std::make_shared<Queued>();
  item->stream = engine::stream_of(command);
  const bool first_step = std::holds_alternative<engine::ObserveCommit>(command);
  item->command = std::move(command);
  item->context = std::move(context);
  item->done = std::move(done);
  Worker& worker = *workers_[std::hash<std::string>{}(item->stream) % workers_.size()];
  {
    std::lock_guard lock(worker.mutex);
    if (stopping_) return;
    (first_step ? worker.first_steps : worker.queue).push_back(std::move(item));
  }
  worker.wake.notify_one();
}

void CommandBus::run_async(Worker& worker, std::shared_ptr<Queued> item) {
  if (item->context.command_id.empty()) item->context.command_id = events::new_uuid();
  if (item->context.now_us == 0) item->context.now_us = clock_.now_us();
  auto decided = decide_round(item->command, item->context, item->stream);
  if (auto* outcome = std::get_if<CommandOutcome>(&decided)) {
    finish(worker, *item, *outcome);
    return;
  }
  auto& append = std::get<Decided>(decided);
  // Runs on the store's writer thread (or inline): only hands the answer back.
  store_.append_async(
      item->stream, append.expected, std::move(append.events),
      [&worker, item, result = std::move(append.result)](
          Expected<events::AppendResult, events::Error> appended) mutable {
        {
          std::lock_guard lock(worker.mutex);
          worker.completions.push_back({std::move(item), std::move(result), std::move(appended)});
        }
        worker.wake.notify_one();
      });
}

void CommandBus::finish(Worker& worker, Queued& item, const CommandOutcome& outcome) {
  if (!outcome && !outcome.error().stale()) {
    spdlog::warn("command {} ({}): {}", engine::command_name(item.command), item.context.command_id,
                 outcome.error().message());
  }
  if (item.done) item.done(outcome);
  std::lock_guard lock(worker.mutex);
  auto flight = worker.in_flight.find(item.stream);
  if (flight == worker.in_flight.end()) return;
  if (flight->second.empty()) {
    worker.in_flight.erase(flight);
    return;
  }
  // The stream stays in flight: its next command takes the slot.
  worker.ready.push_back(std::move(flight->second.front()));
  flight->second.pop_front();
}

void CommandBus::work(Worker& worker) {
  std::unique_lock lock(worker.mutex);
  for (;;) {
    worker.wake.wait(lock, [&] {
      return stopping_ || !worker.completions.empty() || !worker.first_steps.empty() ||
             !worker.ready.empty() || !worker.queue.empty();
    });
    if (stopping_) {
      // Drop what was not started; wait for the answers to appends the store holds.
      worker.first_steps.clear();
      worker.queue.clear();
      for (const auto& item : worker.ready) worker.in_flight.erase(item->stream);
      worker.ready.clear();
      for (auto& [stream, waiting] : worker.in_flight) waiting.clear();
      if (worker.in_flight.empty()) break;
      worker.wake.wait(lock, [&] { return !worker.completions.empty(); });
    }
    std::shared_ptr<Queued> item;
    std::optional<Completion> completion;
    bool owns_slot = false;  // popped from ready: its stream's slot is already its own
    auto pop = [&](std::deque<std::shared_ptr<Queued>>& from) {
      item = std::move(from.front());
      from.pop_front();
    };
    if (!worker.completions.empty()) {
      completion.emplace(std::move(worker.completions.front()));
      worker.completions.pop_front();
    } else if (!worker.first_steps.empty()) {
      pop(worker.first_steps);
    } else if (!worker.ready.empty()) {
      pop(worker.ready);
      owns_slot = true;
    } else {
      pop(worker.queue);
    }
    if (item && !owns_slot) {
      auto [flight, fresh] = worker.in_flight.try_emplace(item->stream);
      if (!fresh) {  // the stream's previous command is not durable yet
        flight->second.push_back(std::move(item));
        continue;
      }
    }
    worker.busy = true;
    lock.unlock();
    if (completion) {
      const int round = stopping_ ? 50 : completion->item->round;  // no retries while stopping
      auto outcome = conclude(std::move(completion->result), completion->appended, round);
      if (outcome) {
        finish(worker, *completion->item, *outcome);
      } else {
        ++completion->item->round;  // a version conflict: the stream stays in flight
        run_async(worker, std::move(completion->item));
      }
    } else {
      run_async(worker, std::move(item));
    }
    lock.lock();
    worker.busy = false;
    if (worker.idle()) {
      std::lock_guard idle_lock(idle_mutex_);
      idle_.notify_all();
    }
  }
  worker.busy = false;
  std::lock_guard idle_lock(idle_mutex_);
  idle_.notify_all();
}

void CommandBus::drain() {
  for (;;) {
    bool idle = true;
    for (auto& w : workers_) {
      std::lock_guard lock(w->mutex);
      if (!w->idle()) idle = false;
    }
    if (idle) return;
    std::unique_lock lock(idle_mutex_);
    idle_.wait_for(lock, std::chrono::milliseconds(10));
  }
}

void CommandBus::stop() {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mutex);
    stopping_ = true;
  }
  for (auto& w : workers_) {
    w->wake.notify_all();
    if (w->thread.joinable()) w->thread.join();
  }
}

engine::Context CommandBus::system_context(std::string command_id,
                                           std::string correlation_id) const {
  engine::Context context;
  context.actor.set_id("system");
  context.actor.set_channel(wharf::v1::CHANNEL_SYSTEM);
  context.command_id = std::move(command_id);
  context.now_us = clock_.now_us();
  context.correlation_id = std::move(correlation_id);
  return context;
}

engine::Context CommandBus::user_context(const std::string& user,
                                         wharf::v1::Channel channel) const {
  engine::Context context;
  context.actor.set_id(user);
  context.actor.set_channel(channel);
  context.command_id = events::new_uuid();
  context.now_us = clock_.now_us();
  return context;
}

}  // namespace wharf::runtime
