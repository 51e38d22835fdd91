#include "adapters/runtime/command_bus.h"

#include <spdlog/spdlog.h>

#include "events/ids.h"

namespace wharf::runtime {

std::string CommandError::message() const {
  if (kind == Kind::kRejected) {
    return std::string("rejected (") + engine::to_string(rejection.code) + "): " + rejection.reason;
  }
  return std::string("store error (") + events::to_string(store_error.code) +
         "): " + store_error.message;
}

CommandBus::CommandBus(events::EventStore& store, const Clock& clock, size_t workers)
    : store_(store), clock_(clock) {
  if (workers == 0) workers = 1;
  for (size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { work(*worker); });
  }
}

CommandBus::~CommandBus() { stop(); }

namespace {

Expected<std::vector<events::Envelope>, events::Error> read_whole_stream(
    const events::EventStore& store, const std::string& stream) {
  std::vector<events::Envelope> all;
  uint64_t from = 1;
  for (;;) {
    auto batch = store.read_stream(stream, from, 1024, events::Direction::kForward);
    if (!batch) {
      if (batch.error().code == events::ErrorCode::kNotFound) return all;
      return unexpected(batch.error());
    }
    if (batch->empty()) return all;
    from = batch->back().stream_version() + 1;
    for (auto& e : *batch) all.push_back(std::move(e));
  }
}

CommandError store_failure(events::Error error) {
  CommandError e;
  e.kind = CommandError::Kind::kStore;
  e.store_error = std::move(error);
  return e;
}

}  // namespace

CommandOutcome CommandBus::execute(const engine::Command& command, engine::Context context) {
  if (context.command_id.empty()) context.command_id = events::new_uuid();
  if (context.now_us == 0) context.now_us = clock_.now_us();
  const std::string stream = engine::stream_of(command);

  // What the command reads besides its own stream does not change its
  // append's expected version, so it is loaded once.
  std::optional<engine::StreamState> project;
  if (std::string reads = engine::reads_of(command); !reads.empty()) {
    auto history = read_whole_stream(store_, reads);
    if (!history) return unexpected(store_failure(history.error()));
    project = engine::fold(reads, *history);
  }
  std::optional<events::Envelope> target;
  if (std::string id = engine::target_event_of(command); !id.empty()) {
    auto event = store_.read_event(id);
    if (event) {
      target = std::move(*event);
    } else if (event.error().code != events::ErrorCode::kNotFound) {
      return unexpected(store_failure(event.error()));
    }
  }
  engine::Lookups lookups;
  lookups.project = project ? project->project() : nullptr;
  lookups.target_event = target ? &*target : nullptr;

  for (int round = 0;; ++round) {
    auto history = read_whole_stream(store_, stream);
    if (!history) return unexpected(store_failure(history.error()));
    engine::StreamState own = engine::fold(stream, *history);
    auto decided = engine::decide(own, command, context, lookups);
    if (!decided) {
      CommandError e;
      e.rejection = decided.error();
      return unexpected(e);
    }
    CommandResult result;
    result.stream = stream;
    if (decided->empty()) {
      result.nothing_to_do = true;
      return result;
    }
    for (const auto& event : *decided) result.event_ids.push_back(event.event_id());
    auto expected = own.version() == 0 ? events::ExpectedVersion::no_stream()
                                       : events::ExpectedVersion::exact(own.version());
    auto appended = store_.append(stream, expected, std::move(*decided));
    if (appended) {
      result.first_position = appended->first_position;
      result.last_position = appended->last_position;
      result.already_present = appended->already_present;
      return result;
    }
    const auto& error = appended.error();
    if (error.code == events::ErrorCode::kConflict && round < 50) continue;
    if (error.code == events::ErrorCode::kEventIdConflict) {
      // These ids were appended by an earlier try of the same command (same
      // command id) with other details, e.g. another timestamp: it is done.
      result.nothing_to_do = true;
      result.already_present = true;
      return result;
    }
    return unexpected(store_failure(error));
  }
}

void CommandBus::submit(engine::Command command, engine::Context context,
                        std::function<void(const CommandOutcome&)> done) {
  const std::string stream = engine::stream_of(command);
  Worker& worker = *workers_[std::hash<std::string>{}(stream) % workers_.size()];
  {
    std::lock_guard lock(worker.mutex);
    if (stopping_) return;
    worker.queue.push_back({std::move(command), std::move(context), std::move(done)});
  }
  worker.wake.notify_one();
}

void CommandBus::work(Worker& worker) {
  std::unique_lock lock(worker.mutex);
  for (;;) {
    worker.wake.wait(lock, [&] { return stopping_ || !worker.queue.empty(); });
    if (worker.queue.empty()) {  // stopping with nothing left
      break;
    }
    if (stopping_) {
      worker.queue.clear();
      break;
    }
    Queued item = std::move(worker.queue.front());
    worker.queue.pop_front();
    worker.busy = true;
    lock.unlock();
    auto outcome = execute(item.command, item.context);
    if (!outcome && !outcome.error().stale()) {
      spdlog::warn("command {} ({}): {}", engine::command_name(item.command),
                   item.context.command_id, outcome.error().message());
    }
    if (item.done) item.done(outcome);
    lock.lock();
    worker.busy = false;
    if (worker.queue.empty()) {
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
      if (w->busy || !w->queue.empty()) idle = false;
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
