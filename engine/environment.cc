#include "engine/environment.h"

#include <optional>

#include "engine/ids.h"

namespace wharf::engine {
namespace {

using Code = Rejection::Code;

std::string where(const std::string& project_id, const std::string& environment) {
  return environment + " of project " + project_id;
}

std::string digest_hex(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest : digest.substr(colon + 1);
}

// Checks a port report about deploy `deploy_id` attempt `attempt`: it must be
// the one in flight.
std::optional<Rejection> check_in_flight(const EnvironmentState& env, const std::string& project,
                                         const std::string& environment,
                                         const std::string& deploy_id, uint32_t attempt,
                                         const char* action) {
  const QueuedDeploy* queued = env.find(deploy_id, attempt);
  if (queued == nullptr) {
    if (env.find_finished(deploy_id, attempt) != nullptr) {
      return Rejection{Code::kStale, "deploy " + deploy_id + " (attempt " +
                                         std::to_string(attempt) + ") to " + environment +
                                         " already finished; cannot " + action};
    }
    return Rejection{Code::kNotFound, "no deploy " + deploy_id + " (attempt " +
                                          std::to_string(attempt) + ") in " +
                                          where(project, environment)};
  }
  if (queued != env.in_flight()) {
    return Rejection{Code::kInvalidTransition,
                     "deploy " + deploy_id + " is waiting behind deploy " +
                         env.in_flight()->deploy_id + " in " + environment +
                         " (one deploy at a time); cannot " + action};
  }
  return std::nullopt;
}

NewEvent event_for(const QueuedDeploy& d) {
  NewEvent e;
  e.correlation_id =
      !d.run_id.empty() ? d.run_id : (!d.rollback_id.empty() ? d.rollback_id : d.deploy_id);
  return e;
}

std::vector<NewEvent> one(NewEvent e) {
  std::vector<NewEvent> out;
  out.push_back(std::move(e));
  return out;
}

NewEvent deploy_failed(const QueuedDeploy& d, const std::string& project,
                       const std::string& environment, std::string reason) {
  NewEvent e = event_for(d);
  auto* f = e.payload.mutable_deploy_failed();
  f->set_deploy_id(d.deploy_id);
  f->set_project_id(project);
  f->set_environment(environment);
  f->set_reason(std::move(reason));
  f->set_run_id(d.run_id);
  f->set_attempt(d.attempt);
  return e;
}

Decision decide_request(const EnvironmentState& env, const RequestDeploy& c, const Context& ctx,
                        const ProjectState* project) {
  if (!valid_project_id(c.project_id) || !valid_environment_name(c.environment)) {
    return reject(Code::kInvalidArgument,
                  "invalid project id or environment name: " + where(c.project_id, c.environment));
  }
  std::string deploy_id = c.deploy_id.empty() ? short_id("d", ctx.command_id) : c.deploy_id;
  if (env.find(deploy_id, c.attempt) || env.find_finished(deploy_id, c.attempt)) {
    return std::vector<NewEvent>{};  // the same request again
  }
  wharf::v1::DeploySpec spec = c.spec;
  if (c.run_id.empty()) {
    // Manual: the project supplies everything but the version.
    if (project == nullptr || !project->exists) {
      return reject(Code::kNotFound, "project " + c.project_id + " does not exist");
    }
    const auto* stage = project->find_environment(c.environment);
    if (stage == nullptr) {
      return reject(Code::kNotFound, "project " + c.project_id + " has no environment " +
                                         c.environment);
    }
    if (spec.artifact_digest().empty() && !spec.version().empty()) {
      if (const auto* seen = env.latest_of_version(spec.version())) {
        spec.set_artifact_digest(seen->spec.artifact_digest());
        spec.set_artifact_uri(seen->spec.artifact_uri());
        spec.set_version(seen->spec.version());
      }
    }
    if (spec.artifact_digest().empty()) {
      return reject(Code::kInvalidArgument,
                    "deploy of version \"" + spec.version() + "\" to " +
                        where(c.project_id, c.environment) +
                        " needs its artifact digest (the version was never deployed here)");
    }
    if (spec.version().empty()) spec.set_version(spec.artifact_digest());
    const auto& pipeline = project->pipeline;
    for (const auto& [k, v] : pipeline.config()) spec.mutable_config()->insert({k, v});
    if (spec.replicas() == 0) spec.set_replicas(stage->replicas() == 0 ? 1 : stage->replicas());
    if (spec.start_command().empty()) spec.set_start_command(pipeline.start_command());
    if (spec.health_path().empty()) spec.set_health_path(pipeline.health_path());
    if (spec.target() == wharf::v1::TARGET_TYPE_UNSPECIFIED) spec.set_target(stage->target());
    if (spec.target_settings().empty()) *spec.mutable_target_settings() = stage->settings();
    if (spec.target_ref().empty()) spec.set_target_ref(stage->target_ref());
    if (!spec.has_canary() && stage->has_canary()) *spec.mutable_canary() = stage->canary();
  } else if (spec.artifact_digest().empty()) {
    return reject(Code::kInvalidArgument, "deploy " + deploy_id + " has no artifact digest");
  }
  if (env.canary.active) {
    return reject(Code::kInvalidTransition,
                  "canary " + env.canary.canary_id + " (version " + env.canary.version +
                      ") is in progress in " + where(c.project_id, c.environment) +
                      "; promote or abort it before deploying again");
  }
  // A canary needs a stable version beside it; the first deploy goes out whole.
  if (spec.has_canary() &&
      (spec.canary().steps().empty() || env.canary.stable_event_id.empty())) {
    spec.clear_canary();
  }
  NewEvent e;
  e.correlation_id = c.run_id.empty() ? deploy_id : c.run_id;
  auto* r = e.payload.mutable_deploy_requested();
  r->set_deploy_id(deploy_id);
  r->set_project_id(c.project_id);
  r->set_environment(c.environment);
  r->set_run_id(c.run_id);
  r->set_attempt(c.attempt);
  *r->mutable_spec() = std::move(spec);
  r->set_requested_by(ctx.actor.id());
  return one(std::move(e));
}

Decision decide_progress(const EnvironmentState& env, const RecordDeployProgress& c) {
  if (auto r = check_in_flight(env, c.project_id, c.environment, c.deploy_id, c.attempt,
                               "record deploy progress")) {
    return unexpected(*r);
  }
  const QueuedDeploy& d = *env.in_flight();
  using Kind = RecordDeployProgress::Kind;
  std::vector<NewEvent> out;
  if (c.kind == Kind::kStarted || c.kind == Kind::kQueued) {
    if (d.started) return out;
    NewEvent e = event_for(d);
    auto* s = e.payload.mutable_deploy_started();
    s->set_deploy_id(d.deploy_id);
    s->set_project_id(c.project_id);
    s->set_environment(c.environment);
    s->set_attempt(d.attempt);
    s->set_external_id(c.external_id);
    out.push_back(std::move(e));
  } else {
    NewEvent e = event_for(d);
    auto* p = e.payload.mutable_deploy_progressed();
    p->set_deploy_id(d.deploy_id);
    p->set_message(c.message);
    p->set_percent(c.percent);
    out.push_back(std::move(e));
  }
  return out;
}

Decision decide_result(const EnvironmentState& env, const RecordDeployResult& c) {
  if (auto r = check_in_flight(env, c.project_id, c.environment, c.deploy_id, c.attempt,
                               "record deploy result")) {
    return unexpected(*r);
  }
  const QueuedDeploy& d = *env.in_flight();
  if (!c.succeeded) return one(deploy_failed(d, c.project_id, c.environment, c.reason));
  NewEvent e = event_for(d);
  auto* s = e.payload.mutable_deploy_succeeded();
  s->set_deploy_id(d.deploy_id);
  s->set_project_id(c.project_id);
  s->set_environment(c.environment);
  s->set_run_id(d.run_id);
  *s->mutable_spec() = d.spec;
  s->set_url(c.url);
  s->set_rollback_id(d.rollback_id);
  s->set_attempt(d.attempt);
  std::vector<NewEvent> out = one(std::move(e));
  if (d.spec.has_canary()) {
    for (auto& n : canary_started(env, d.spec, d.deploy_id, d.attempt, c.url, "", 0)) {
      out.push_back(std::move(n));
    }
  }
  return out;
}

Decision decide_cancel(const EnvironmentState& env, const CancelDeploy& c) {
  const QueuedDeploy* d = env.find(c.deploy_id, c.attempt);
  if (d == nullptr) return std::vector<NewEvent>{};  // already gone
  NewEvent e = deploy_failed(*d, c.project_id, c.environment, "cancelled: " + c.reason);
  e.payload.mutable_deploy_failed()->set_cancelled(true);
  return one(std::move(e));
}

Decision decide_timer(const EnvironmentState& env, const ExpireTimer& c) {
  const QueuedDeploy* d = env.in_flight();
  if (d == nullptr || d->deploy_id != c.deploy_id || d->attempt != c.attempt) {
    return std::vector<NewEvent>{};  // ended (or never started) before its timer
  }
  std::vector<NewEvent> out;
  NewEvent t = event_for(*d);
  auto* s = t.payload.mutable_step_timed_out();
  s->set_run_id(d->run_id);
  s->set_step(wharf::v1::STEP_KIND_DEPLOY);
  s->set_environment(c.environment);
  s->set_attempt(c.attempt);
  s->set_timeout_s(c.timeout_s);
  out.push_back(std::move(t));
  NewEvent f = deploy_failed(*d, c.project_id, c.environment,
                             "timed out after " + std::to_string(c.timeout_s) + "s");
  f.payload.mutable_deploy_failed()->set_timed_out(true);
  f.caused_by = 0;
  out.push_back(std::move(f));
  return out;
}

Decision decide_rollback(const EnvironmentState& env, const RequestRollback& c, const Context& ctx,
                         const wharf::v1::Envelope* target_event) {
  const bool by_event = !c.target_deploy_event_id.empty();
  if (by_event == !c.target_version.empty()) {
    return reject(Code::kInvalidArgument,
                  "a rollback names exactly one target: a deploy event id or a version");
  }
  std::string rollback_id = c.rollback_id.empty() ? short_id("rb", ctx.command_id) : c.rollback_id;
  if (env.rollbacks.count(rollback_id)) return std::vector<NewEvent>{};  // the same request again
  const std::string here = where(c.project_id, c.environment);
  const SucceededDeploy* target = nullptr;
  if (by_event) {
    if (target_event != nullptr) {
      const auto& p = target_event->payload();
      if (!p.has_deploy_succeeded()) {
        std::string type = p.kind_case() == wharf::v1::Payload::KIND_NOT_SET
                               ? std::string("an empty event")
                               : std::string(p.GetDescriptor()
                                                 ->FindFieldByNumber(p.kind_case())
                                                 ->message_type()
                                                 ->name());
        return reject(Code::kInvalidArgument,
                      "event " + c.target_deploy_event_id + " is a " + type +
                          ", not a DeploySucceeded; only a successful deploy can be a rollback "
                          "target");
      }
      const auto& s = p.deploy_succeeded();
      if (s.project_id() != c.project_id) {
        return reject(Code::kInvalidArgument, "event " + c.target_deploy_event_id +
                                                  " belongs to project " + s.project_id() +
                                                  ", not " + c.project_id);
      }
      if (s.environment() != c.environment) {
        return reject(Code::kInvalidArgument, "event " + c.target_deploy_event_id +
                                                  " is a deploy to " + s.environment() +
                                                  ", not to " + c.environment);
      }
    }
    target = env.find_succeeded(c.target_deploy_event_id);
    if (target == nullptr) {
      return reject(Code::kNotFound, "event " + c.target_deploy_event_id +
                                         " is not a successful deploy in " + here);
    }
  } else {
    target = env.latest_of_version(c.target_version);
    if (target == nullptr) {
      return reject(Code::kNotFound,
                    "version " + c.target_version + " never succeeded in " + here);
    }
  }
  // The recorded spec, byte for byte: from the event itself when the runtime
  // loaded it, else from this stream's copy of the same event.
  wharf::v1::DeploySpec spec =
      (target_event != nullptr) ? target_event->payload().deploy_succeeded().spec() : target->spec;
  spec.clear_canary();  // a rollback goes out whole, never as a canary
  if (env.canary.active) {
    return reject(Code::kInvalidTransition, "canary " + env.canary.canary_id +
                                                " is in progress in " + here +
                                                "; abort it to return to the stable version");
  }

  std::vector<NewEvent> out;
  NewEvent r;
  r.correlation_id = rollback_id;
  auto* rb = r.payload.mutable_rollback_requested();
  rb->set_rollback_id(rollback_id);
  rb->set_project_id(c.project_id);
  rb->set_environment(c.environment);
  rb->set_target_deploy_event_id(target->event_id);
  rb->set_target_version(spec.version());
  rb->set_reason(c.reason);
  rb->set_requested_by(ctx.actor.id());
  out.push_back(std::move(r));

  NewEvent d;
  d.correlation_id = rollback_id;
  d.caused_by = 0;
  auto* dr = d.payload.mutable_deploy_requested();
  dr->set_deploy_id(short_id("d", rollback_id));
  dr->set_project_id(c.project_id);
  dr->set_environment(c.environment);
  dr->set_attempt(1);
  *dr->mutable_spec() = spec;
  dr->set_rollback_id(rollback_id);
  dr->set_rollback_of_event_id(target->event_id);
  dr->set_requested_by(ctx.actor.id());
  out.push_back(std::move(d));
  return out;
}

// Takes deploy `key` out of the queue.
void remove(EnvironmentState& env, const std::string& deploy_id, uint32_t attempt, int64_t at_us) {
  env.queued.erase(deploy_key(deploy_id, attempt));
  for (auto it = env.queue.begin(); it != env.queue.end(); ++it) {
    if (it->deploy_id == deploy_id && it->attempt == attempt) {
      env.last_removed_was_in_flight = it == env.queue.begin();
      env.queue.erase(it);
      if (env.last_removed_was_in_flight) env.in_flight_since_us = at_us;
      return;
    }
  }
  env.last_removed_was_in_flight = false;
}

}  // namespace

std::string deploy_key(const std::string& deploy_id, uint32_t attempt) {
  return deploy_id + "#" + std::to_string(attempt);
}

const QueuedDeploy* EnvironmentState::find(const std::string& deploy_id, uint32_t attempt) const {
  if (queue.empty()) return nullptr;
  const QueuedDeploy& front = queue.front();
  if (front.deploy_id == deploy_id && front.attempt == attempt) return &front;
  // Long queues (a burst of runs) are the case to keep cheap: absent keys
  // answer from the set; present ones are usually recent, so scan from the back.
  if (!queued.count(deploy_key(deploy_id, attempt))) return nullptr;
  for (auto it = queue.rbegin(); it != queue.rend(); ++it) {
    if (it->deploy_id == deploy_id && it->attempt == attempt) return &*it;
  }
  return nullptr;
}

const FinishedDeploy* EnvironmentState::find_finished(const std::string& deploy_id,
                                                      uint32_t attempt) const {
  auto it = finished.find(deploy_key(deploy_id, attempt));
  return it == finished.end() ? nullptr : &it->second;
}

const SucceededDeploy* EnvironmentState::find_succeeded(const std::string& event_id) const {
  for (const auto& s : succeeded) {
    if (s.event_id == event_id) return &s;
  }
  return nullptr;
}

const SucceededDeploy* EnvironmentState::serving() const {
  if (succeeded.empty()) return nullptr;
  const SucceededDeploy& latest = succeeded.back();
  if (!latest.spec.has_canary()) return &latest;
  auto ended = canary.finished.find(canary_id_of(latest.deploy_id, latest.attempt));
  if (ended == canary.finished.end() || ended->second != "aborted") return &latest;
  const SucceededDeploy* stable = find_succeeded(canary.stable_event_id);
  return stable != nullptr ? stable : &latest;
}

const SucceededDeploy* EnvironmentState::latest_of_version(const std::string& version) const {
  for (auto it = succeeded.rbegin(); it != succeeded.rend(); ++it) {
    const auto& spec = it->spec;
    if (spec.version() == version || spec.artifact_digest() == version) return &*it;
    std::string hex = digest_hex(spec.artifact_digest());
    if (version.size() >= 7 && hex.compare(0, version.size(), version) == 0) return &*it;
  }
  return nullptr;
}

void apply(EnvironmentState& env, const wharf::v1::Envelope& event) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case wharf::v1::Payload::kDeployRequested: {
      const auto& r = p.deploy_requested();
      env.project_id = r.project_id();
      env.environment = r.environment();
      if (env.queue.empty()) env.in_flight_since_us = event.occurred_at_us();
      QueuedDeploy d;
      d.deploy_id = r.deploy_id();
      d.attempt = r.attempt();
      d.run_id = r.run_id();
      d.rollback_id = r.rollback_id();
      d.request_event_id = event.event_id();
      d.spec = r.spec();
      env.queued.insert(deploy_key(d.deploy_id, d.attempt));
      env.queue.push_back(std::move(d));
      break;
    }
    case wharf::v1::Payload::kDeployStarted:
      for (auto& d : env.queue) {
        if (d.deploy_id == p.deploy_started().deploy_id() &&
            d.attempt == p.deploy_started().attempt()) {
          d.started = true;
        }
      }
      break;
    case wharf::v1::Payload::kDeploySucceeded: {
      const auto& s = p.deploy_succeeded();
      SucceededDeploy done;
      done.event_id = event.event_id();
      done.deploy_id = s.deploy_id();
      done.attempt = s.attempt();
      done.run_id = s.run_id();
      done.spec = s.spec();
      done.url = s.url();
      done.occurred_at_us = event.occurred_at_us();
      env.succeeded.push_back(std::move(done));
      env.finished[deploy_key(s.deploy_id(), s.attempt())] =
          FinishedDeploy{true, false, s.run_id(), s.url(), "", event.event_id()};
      remove(env, s.deploy_id(), s.attempt(), event.occurred_at_us());
      break;
    }
    case wharf::v1::Payload::kDeployFailed: {
      const auto& f = p.deploy_failed();
      env.finished[deploy_key(f.deploy_id(), f.attempt())] =
          FinishedDeploy{false, f.cancelled(), f.run_id(), "", f.reason(), event.event_id()};
      remove(env, f.deploy_id(), f.attempt(), event.occurred_at_us());
      break;
    }
    case wharf::v1::Payload::kRollbackRequested:
      env.rollbacks.insert(p.rollback_requested().rollback_id());
      break;
    default:
      break;
  }
  apply(env.maintenance, event);
  apply_canary(env.canary, event);
}

Decision decide(const EnvironmentState& env, const Command& command, const Context& context,
                const ProjectState* project, const wharf::v1::Envelope* target_event) {
  if (is_maintenance(command)) return decide_maintenance(env, command, context, project);
  if (auto canary = decide_canary(env, command, context)) return std::move(*canary);
  if (const auto* c = std::get_if<RequestDeploy>(&command)) {
    return decide_request(env, *c, context, project);
  }
  if (const auto* c = std::get_if<RecordDeployProgress>(&command)) return decide_progress(env, *c);
  if (const auto* c = std::get_if<RecordDeployResult>(&command)) return decide_result(env, *c);
  if (const auto* c = std::get_if<CancelDeploy>(&command)) return decide_cancel(env, *c);
  if (const auto* c = std::get_if<RequestRollback>(&command)) {
    return decide_rollback(env, *c, context, target_event);
  }
  if (const auto* c = std::get_if<ExpireTimer>(&command)) {
    if (c->step == wharf::v1::STEP_KIND_DEPLOY) return decide_timer(env, *c);
  }
  return reject(Code::kWrongStream, std::string(command_name(command)) +
                                        " is not decided on an environment stream");
}

}  // namespace wharf::engine
