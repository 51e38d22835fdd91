#include "adapters/runtime/process_manager.h"

#include <spdlog/spdlog.h>

#include <type_traits>

#include "engine/process_snapshot.h"

namespace wharf::runtime {

ProcessManager::ProcessManager(events::EventStore& store, CommandBus& bus, Ports ports,
                               const Clock& clock, SnapshotPolicy snapshots)
    : store_(store), bus_(bus), ports_(ports), clock_(clock), snapshots_(snapshots) {}

ProcessManager::~ProcessManager() {
  stop();
}

void ProcessManager::CallbackSink::submit(const engine::Command& command,
                                          const std::string& command_id,
                                          const std::string& correlation_id) {
  std::lock_guard lock(mutex);
  if (bus) bus->submit(command, bus->system_context(command_id, correlation_id));
}

Expected<void, std::string> ProcessManager::start() {
  sink_ = std::make_shared<CallbackSink>();
  sink_->bus = &bus_;
  timers_ = std::make_unique<TimerQueue>(clock_);
  std::vector<engine::Reaction> recovered;
  uint64_t head = 0;
  uint64_t folded = 0;
  {
    std::lock_guard lock(state_mutex_);
    state_ = engine::ProcessState{};
    if (auto snapshot =
            events::load_snapshot(store_, kProcessSnapshotName, engine::kProcessStateSchema)) {
      wharf::v1::ProcessStateSnapshot message;
      if (!message.ParseFromString(snapshot->state) ||
          message.last_position() != snapshot->position ||
          !engine::from_snapshot(std::move(message), state_)) {
        events::log_snapshot_refused(kProcessSnapshotName, "its state does not decode");
        state_ = engine::ProcessState{};
      } else {
        counters_.snapshot_position = snapshot->position;
        counters_.snapshot_written_position = snapshot->position;
      }
    }
    const uint64_t from = state_.last_position();
    const uint64_t target = store_.head_position();
    const bool long_fold = target > from && target - from >= events::kFoldProgressEvery;
    auto scanned = store_.scan(from + 1, target, [&](const events::Envelope& event) {
      fold(event);
      if (long_fold && ++folded % events::kFoldProgressEvery == 0) {
        events::log_fold_progress("process manager", folded, target - from);
      }
      return true;
    });
    if (!scanned) return unexpected("cannot read the log: " + scanned.error().message);
    folded = state_.last_position() - from;
    counters_.events_folded += folded;
    head = state_.last_position();
    recovered = engine::recover(state_);
    stats_.recovered = recovered.size();
  }
  auto checkpoint = store_.get_meta(kCheckpointKey);
  spdlog::info(
      "process manager: folded {} events to position {} (snapshot {}, checkpoint {}), "
      "recovering {} reactions",
      folded, head, counters_.snapshot_position.load(),
      checkpoint ? *checkpoint : std::string("none"), recovered.size());
  if (folded >= snapshots_.every_events) write_snapshot();
  last_handled_.store(head);
  checkpoint_written_ = checkpoint ? std::strtoull(checkpoint->c_str(), nullptr, 10) : 0;
  for (const auto& reaction : recovered) carry_out(reaction);
  write_checkpoint(true);
  subscription_ = std::make_unique<events::Subscription>(
      store_, head + 1, [this](const events::Envelope& event) { return handle(event); });
  return {};
}

void ProcessManager::stop() {
  if (sink_) {
    std::lock_guard lock(sink_->mutex);
    sink_->bus = nullptr;
  }
  if (subscription_) {
    subscription_->stop();
    subscription_.reset();
  }
  if (timers_) {
    timers_->stop();
    timers_.reset();
  }
  write_checkpoint(true);
  if (sink_) write_snapshot();
  handled_.notify_all();
}

void ProcessManager::write_snapshot() {
  uint64_t position = 0;
  std::string state;
  {
    std::lock_guard lock(state_mutex_);
    position = state_.last_position();
    if (position == 0 || position == counters_.snapshot_written_position) return;
    state = engine::to_snapshot(state_).SerializeAsString();
  }
  snapshot_at_ = std::chrono::steady_clock::now();
  if (auto saved = events::save_snapshot(store_, kProcessSnapshotName, engine::kProcessStateSchema,
                                         position, state);
      !saved) {
    spdlog::warn("process manager: writing its state snapshot failed: {}", saved.error());
    return;
  }
  counters_.snapshot_written_position = position;
  ++counters_.snapshots_written;
}

bool ProcessManager::handle(const events::Envelope& event) {
  std::vector<engine::Reaction> reactions;
  {
    std::lock_guard lock(state_mutex_);
    fold(event);
    reactions = engine::react(state_, event);
    ++stats_.events;
    ++counters_.events_folded;
  }
  for (const auto& reaction : reactions) carry_out(reaction);
  last_handled_.store(event.position());
  { std::lock_guard lock(handled_mutex_); }
  handled_.notify_all();
  write_checkpoint(false);
  if (event.position() >= counters_.snapshot_written_position + snapshots_.every_events &&
      std::chrono::steady_clock::now() - snapshot_at_ >= snapshots_.min_interval) {
    write_snapshot();
  }
  return true;
}

void ProcessManager::fold(const events::Envelope& event) {
  if (std::string stream = state_.missing_history(event); !stream.empty()) {
    auto earlier =
        store_.read_stream(stream, 1, event.stream_version() - 1, events::Direction::kForward);
    if (earlier) {
      state_.restore_run(*earlier);
    } else {
      spdlog::error("process manager: cannot read {} to reopen its run: {}", stream,
                    earlier.error().message);
    }
  }
  state_.apply(event);
}

void ProcessManager::carry_out(const engine::Reaction& reaction) {
  std::visit(
      [this](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, engine::IssueCommand>) {
          {
            std::lock_guard lock(state_mutex_);
            ++stats_.commands;
          }
          bus_.submit(r.command, r.context);
        } else if constexpr (std::is_same_v<T, engine::StartBuild>) {
          start_build(r.job);
        } else if constexpr (std::is_same_v<T, engine::StartDeploy>) {
          start_deploy(r.job);
        } else if constexpr (std::is_same_v<T, engine::StartTests>) {
          start_tests(r.job);
        } else if constexpr (std::is_same_v<T, engine::StartTestCases>) {
          start_test_cases(r.job);
        } else if constexpr (std::is_same_v<T, engine::ScheduleTimer>) {
          {
            std::lock_guard lock(state_mutex_);
            ++stats_.timers;
          }
          engine::ExpireTimer expire = r.expire;
          engine::Context context = r.context;
          if (context.command_id.empty()) {
            context = bus_.system_context("timer/" + r.key, expire.run_id);
          }
          if (timers_) {
            timers_->schedule(r.key, r.due_us, [this, expire, context]() mutable {
              context.now_us = clock_.now_us();
              bus_.submit(expire, context);
            });
          }
        } else if constexpr (std::is_same_v<T, engine::SetCanaryTraffic>) {
          set_canary_traffic(r.traffic);
        } else if constexpr (std::is_same_v<T, engine::CancelWork>) {
          {
            std::lock_guard lock(state_mutex_);
            ++stats_.cancels;
          }
          switch (r.step) {
            case wharf::v1::STEP_KIND_BUILD:
              if (ports_.build) ports_.build->cancel(r.id, r.attempt);
              break;
            case wharf::v1::STEP_KIND_DEPLOY:
              if (ports_.deploy) ports_.deploy->cancel(r.id, r.attempt);
              break;
            case wharf::v1::STEP_KIND_TESTS:
              if (ports_.tests) ports_.tests->cancel(r.id, r.attempt);
              break;
            default:
              break;
          }
        }
      },
      reaction);
}

namespace {
std::string attempt_key(const std::string& what, const std::string& id, uint32_t attempt) {
  return what + ":" + id + ":" + std::to_string(attempt);
}
}  // namespace

void ProcessManager::start_build(const engine::BuildJob& job) {
  if (!ports_.build) {
    spdlog::error("process manager: no build runner for run {}", job.run_id);
    return;
  }
  {
    std::lock_guard lock(state_mutex_);
    ++stats_.builds_started;
  }
  std::shared_ptr<CallbackSink> sink = sink_;
  engine::Callbacks<engine::BuildOutcome> callbacks;
  callbacks.progress = [sink, job](const engine::StepProgress& p) {
    engine::RecordBuildProgress cmd;
    cmd.run_id = job.run_id;
    cmd.attempt = job.attempt;
    cmd.kind = static_cast<engine::RecordBuildProgress::Kind>(p.kind);
    cmd.external_id = p.external_id;
    cmd.log_ref = p.log_ref;
    cmd.message = p.message;
    sink->submit(cmd, {}, job.run_id);
  };
  callbacks.done = [sink, job](const engine::BuildOutcome& o) {
    engine::RecordBuildResult cmd;
    cmd.run_id = job.run_id;
    cmd.attempt = job.attempt;
    cmd.succeeded = o.succeeded;
    cmd.artifact_digest = o.artifact_digest;
    cmd.artifact_uri = o.artifact_uri;
    cmd.reason = o.reason;
    cmd.exit_code = o.exit_code;
    cmd.duration_ms = o.duration_ms;
    sink->submit(cmd, attempt_key("build-result", job.run_id, job.attempt), job.run_id);
  };
  ports_.build->start(job, std::move(callbacks));
}

void ProcessManager::start_deploy(const engine::DeployJob& job) {
  if (!ports_.deploy) {
    spdlog::error("process manager: no deploy target for deploy {}", job.deploy_id);
    return;
  }
  {
    std::lock_guard lock(state_mutex_);
    ++stats_.deploys_started;
  }
  std::shared_ptr<CallbackSink> sink = sink_;
  engine::Callbacks<engine::DeployOutcome> callbacks;
  callbacks.progress = [sink, job](const engine::StepProgress& p) {
    engine::RecordDeployProgress cmd;
    cmd.project_id = job.project_id;
    cmd.environment = job.environment;
    cmd.deploy_id = job.deploy_id;
    cmd.attempt = job.attempt;
    cmd.kind = static_cast<engine::RecordDeployProgress::Kind>(p.kind);
    cmd.external_id = p.external_id;
    cmd.message = p.message;
    cmd.percent = p.percent;
    sink->submit(cmd, {}, job.run_id.empty() ? job.deploy_id : job.run_id);
  };
  callbacks.done = [sink, job](const engine::DeployOutcome& o) {
    engine::RecordDeployResult cmd;
    cmd.project_id = job.project_id;
    cmd.environment = job.environment;
    cmd.deploy_id = job.deploy_id;
    cmd.attempt = job.attempt;
    cmd.succeeded = o.succeeded;
    cmd.url = o.url;
    cmd.reason = o.reason;
    sink->submit(cmd, attempt_key("deploy-result", job.deploy_id, job.attempt),
                 job.run_id.empty() ? job.deploy_id : job.run_id);
  };
  ports_.deploy->start(job, std::move(callbacks));
}

void ProcessManager::start_tests(const engine::TestJob& job) {
  if (!ports_.tests) {
    spdlog::error("process manager: no test runner for run {}", job.run_id);
    return;
  }
  {
    std::lock_guard lock(state_mutex_);
    ++stats_.tests_started;
  }
  std::shared_ptr<CallbackSink> sink = sink_;
  engine::Callbacks<engine::TestOutcome> callbacks;
  callbacks.progress = [](const engine::StepProgress&) {};  // tests report only their result
  callbacks.done = [sink, job](const engine::TestOutcome& o) {
    engine::RecordTestResult cmd;
    cmd.run_id = job.run_id;
    cmd.environment = job.environment;
    cmd.attempt = job.attempt;
    cmd.passed = o.passed;
    cmd.results = o.results;
    cmd.reason = o.reason;
    sink->submit(cmd, attempt_key("tests-result", job.run_id + "/" + job.environment, job.attempt),
                 job.run_id);
  };
  ports_.tests->start(job, std::move(callbacks));
}

void ProcessManager::start_test_cases(const engine::TestJob& job) {
  if (!ports_.tests) {
    spdlog::error("process manager: no test runner for test cases {}", job.run_id);
    return;
  }
  {
    std::lock_guard lock(state_mutex_);
    ++stats_.test_cases_started;
  }
  std::shared_ptr<CallbackSink> sink = sink_;
  engine::Callbacks<engine::TestOutcome> callbacks;
  callbacks.progress = [](const engine::StepProgress&) {};
  callbacks.done = [sink, job](const engine::TestOutcome& o) {
    engine::RecordTestCaseResults cmd;
    cmd.project_id = job.project_id;
    cmd.environment = job.environment;
    cmd.test_run_id = job.run_id;
    cmd.passed = o.passed;
    cmd.results = o.results;
    cmd.reason = o.reason;
    sink->submit(cmd, attempt_key("test-cases-result", job.run_id, job.attempt), job.run_id);
  };
  ports_.tests->start(job, std::move(callbacks));
}

void ProcessManager::set_canary_traffic(const engine::CanaryTraffic& traffic) {
  if (!ports_.canary) {
    spdlog::warn("process manager: no canary target; canary {} stays at its deploy's traffic",
                 traffic.canary_id);
    return;
  }
  std::shared_ptr<CallbackSink> sink = sink_;
  engine::CanaryTraffic t = traffic;
  ports_.canary->set(traffic, [sink, t](const engine::CanaryVerdict& verdict) {
    engine::AbortCanary cmd;
    cmd.project_id = t.project_id;
    cmd.environment = t.environment;
    cmd.canary_id = t.canary_id;
    cmd.reason = verdict.reason;
    cmd.automatic = true;
    cmd.figures = verdict.figures;
    sink->submit(cmd, "canary-analysis/" + t.canary_id, t.canary_id);
  });
}

void ProcessManager::write_checkpoint(bool force) {
  uint64_t position = last_handled_.load();
  auto now = std::chrono::steady_clock::now();
  if (position == checkpoint_written_) return;
  if (!force && now - checkpoint_at_ < std::chrono::milliseconds(500)) return;
  if (store_.put_meta(kCheckpointKey, std::to_string(position))) {
    checkpoint_written_ = position;
    checkpoint_at_ = now;
  }
}

bool ProcessManager::wait_until_handled(uint64_t position,
                                        std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(handled_mutex_);
  return handled_.wait_until(lock, deadline, [&] { return last_handled_.load() >= position; });
}

std::string ProcessManager::error() const {
  return subscription_ ? subscription_->error() : std::string();
}

void ProcessManager::inspect(const std::function<void(const engine::ProcessState&)>& read) const {
  std::lock_guard lock(state_mutex_);
  read(state_);
}

ProcessManager::Stats ProcessManager::stats() const {
  std::lock_guard lock(state_mutex_);
  return stats_;
}

}  // namespace wharf::runtime
