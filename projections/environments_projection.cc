#include "projections/environments_projection.h"

#include <optional>

#include "projections/keys.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

using keys::Key;
using wharf::v1::Payload;
using namespace wharf::views::v1;

namespace {

constexpr size_t kMemoEnvironments = 100000;

class EnvFold {
 public:
  // `ordinal` orders environments created by one event (ProjectCreated).
  EnvFold(std::unordered_map<std::string, EnvironmentView>& memo, const std::string& project,
          const std::string& env, const Envelope& event, StateBatch& state, uint64_t ordinal = 0)
      : entity_(Key('s').add(project).add(env)), event_(event), state_(state) {
    if (memo.size() >= kMemoEnvironments) memo.clear();
    auto [it, inserted] = memo.try_emplace(entity_);
    view_ = &it->second;
    if (inserted && state.latest_message(entity_, view_)) return;
    if (!inserted) return;
    view_->set_project_id(project);
    view_->set_environment(env);
    created_ = true;
    state.append(Key('e').add(project).pos(event.position()).pos(ordinal), env);
  }
  EnvironmentView& view() { return *view_; }

  EnvironmentEvent& history(HistoryKind kind) {
    line_.emplace();
    line_->set_position(event_.position());
    line_->set_event_id(event_.event_id());
    line_->set_kind(kind);
    line_->set_at_us(event_.recorded_at_us());
    line_->set_actor(event_.actor().id());
    line_->set_channel(event_.actor().channel());
    return *line_;
  }

  // `view_changed` false: the event changed nothing but the history (its
  // line carries the update); a new environment is written all the same.
  void commit(bool view_changed = true) {
    if (view_changed || created_) {
      view_->set_updated_at_us(event_.recorded_at_us());
      view_->set_updated_position(event_.position());
      state_.put_version_message(entity_, event_.position(), *view_);
    }
    if (line_) {
      state_.append(Key('h').add(view_->project_id()).add(view_->environment()).pos(event_.position()),
                    serialize(*line_));
    }
  }

 private:
  std::string entity_;
  const Envelope& event_;
  StateBatch& state_;
  EnvironmentView* view_ = nullptr;
  bool created_ = false;
  std::optional<EnvironmentEvent> line_;
};

// Index in the queue of the deploy attempt (attempt 0 matches any), or -1.
int queued(const EnvironmentView& view, const std::string& deploy_id, uint32_t attempt) {
  for (int i = 0; i < view.queue_size(); ++i) {
    const auto& r = view.queue(i);
    if (r.deploy_id() == deploy_id && (attempt == 0 || r.attempt() == 0 || r.attempt() == attempt)) {
      return i;
    }
  }
  return -1;
}

void fill_from_record(EnvironmentEvent& line, const DeployRecord& r) {
  line.set_deploy_id(r.deploy_id());
  line.set_version(r.version());
  line.set_artifact_digest(r.artifact_digest());
  line.set_run_id(r.run_id());
  line.set_rollback_id(r.rollback_id());
  line.set_rollback_of_event_id(r.rollback_of_event_id());
  line.set_requested_by(r.requested_by());
  line.set_approved_by(r.approved_by());
}

}  // namespace

void EnvironmentsProjection::apply(const Envelope& event, StateBatch& state) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kProjectCreated:
      for (int i = 0; i < p.project_created().environments_size(); ++i) {
        EnvFold f(memo_, p.project_created().project_id(), p.project_created().environments(i).name(),
                  event, state, static_cast<uint64_t>(i));
        f.commit();
      }
      break;
    case Payload::kEnvironmentDefined: {
      const auto& d = p.environment_defined();
      EnvFold f(memo_, d.project_id(), d.environment().name(), event, state);
      f.commit();
      break;
    }
    case Payload::kApprovalGranted: {
      const auto& a = p.approval_granted();
      state.put(Key('g').add(a.run_id()).add(a.environment()), a.approved_by());
      break;
    }
    case Payload::kRollbackRequested: {
      const auto& r = p.rollback_requested();
      EnvFold f(memo_, r.project_id(), r.environment(), event, state);
      *f.view().mutable_pending_rollback() = r;
      f.view().set_rollbacks(f.view().rollbacks() + 1);
      auto& line = f.history(HISTORY_KIND_ROLLBACK_REQUESTED);
      line.set_rollback_id(r.rollback_id());
      line.set_rollback_of_event_id(r.target_deploy_event_id());
      line.set_version(r.target_version());
      line.set_reason(r.reason());
      line.set_requested_by(r.requested_by());
      line.set_previous_version(f.view().current().version());
      f.commit();
      break;
    }
    case Payload::kDeployRequested: {
      const auto& d = p.deploy_requested();
      EnvFold f(memo_, d.project_id(), d.environment(), event, state);
      DeployRecord rec;
      rec.set_deploy_id(d.deploy_id());
      rec.set_version(d.spec().version());
      rec.set_artifact_digest(d.spec().artifact_digest());
      rec.set_artifact_uri(d.spec().artifact_uri());
      rec.set_run_id(d.run_id());
      rec.set_attempt(d.attempt());
      rec.set_requested_by(d.requested_by());
      rec.set_requested_at_us(event.recorded_at_us());
      rec.set_requested_position(event.position());
      rec.set_rollback_id(d.rollback_id());
      rec.set_rollback_of_event_id(d.rollback_of_event_id());
      if (!d.rollback_id().empty() && f.view().pending_rollback().rollback_id() == d.rollback_id()) {
        rec.set_rollback_reason(f.view().pending_rollback().reason());
        if (rec.requested_by().empty()) rec.set_requested_by(f.view().pending_rollback().requested_by());
        f.view().clear_pending_rollback();
      }
      if (!d.run_id().empty()) {
        rec.set_approved_by(state.get(Key('g').add(d.run_id()).add(d.environment())).value_or(""));
      }
      *f.view().add_queue() = rec;
      auto& line = f.history(HISTORY_KIND_DEPLOY_REQUESTED);
      fill_from_record(line, rec);
      line.set_reason(rec.rollback_reason());
      line.set_previous_version(f.view().current().version());
      f.commit();
      break;
    }
    case Payload::kDeployStarted: {
      const auto& d = p.deploy_started();
      EnvFold f(memo_, d.project_id(), d.environment(), event, state);
      auto& line = f.history(HISTORY_KIND_DEPLOY_STARTED);
      if (int i = queued(f.view(), d.deploy_id(), d.attempt()); i >= 0) {
        fill_from_record(line, f.view().queue(i));
      } else {
        line.set_deploy_id(d.deploy_id());
      }
      f.commit(false);
      break;
    }
    case Payload::kDeploySucceeded: {
      const auto& d = p.deploy_succeeded();
      EnvFold f(memo_, d.project_id(), d.environment(), event, state);
      auto& view = f.view();
      DeployRecord rec;
      int i = queued(view, d.deploy_id(), d.attempt());
      if (i >= 0) {
        rec = view.queue(i);
        view.mutable_queue()->DeleteSubrange(i, 1);
      }
      rec.set_deploy_id(d.deploy_id());
      rec.set_version(d.spec().version());
      rec.set_artifact_digest(d.spec().artifact_digest());
      rec.set_artifact_uri(d.spec().artifact_uri());
      if (!d.run_id().empty()) rec.set_run_id(d.run_id());
      if (!d.rollback_id().empty()) rec.set_rollback_id(d.rollback_id());
      rec.set_deployed_at_us(event.recorded_at_us());
      rec.set_position(event.position());
      rec.set_event_id(event.event_id());
      rec.set_url(d.url());
      std::string previous_version = view.current().version();
      if (view.has_current()) *view.mutable_previous() = view.current();
      *view.mutable_current() = rec;
      view.set_deploys_succeeded(view.deploys_succeeded() + 1);
      view.set_health(wharf::v1::HEALTH_STATE_UNSPECIFIED);  // the new deploy is probed afresh
      view.clear_health_detail();
      auto& line = f.history(HISTORY_KIND_DEPLOY_SUCCEEDED);
      fill_from_record(line, rec);
      line.set_url(d.url());
      line.set_reason(rec.rollback_reason());
      line.set_previous_version(previous_version);
      f.commit();
      break;
    }
    case Payload::kDeployFailed: {
      const auto& d = p.deploy_failed();
      EnvFold f(memo_, d.project_id(), d.environment(), event, state);
      auto& view = f.view();
      auto& line = f.history(HISTORY_KIND_DEPLOY_FAILED);
      if (int i = queued(view, d.deploy_id(), d.attempt()); i >= 0) {
        fill_from_record(line, view.queue(i));
        view.mutable_queue()->DeleteSubrange(i, 1);
      } else {
        line.set_deploy_id(d.deploy_id());
        line.set_run_id(d.run_id());
      }
      line.set_reason(d.cancelled() ? "cancelled: " + d.reason() : d.reason());
      line.set_previous_version(view.current().version());
      view.set_deploys_failed(view.deploys_failed() + 1);
      f.commit();
      break;
    }
    case Payload::kHealthChanged: {
      const auto& h = p.health_changed();
      EnvFold f(memo_, h.project_id(), h.environment(), event, state);
      f.view().set_health(h.to());
      f.view().set_health_detail(h.detail());
      f.view().set_health_changed_at_us(event.recorded_at_us());
      f.view().set_health_changes(f.view().health_changes() + 1);
      auto& line = f.history(HISTORY_KIND_HEALTH_CHANGED);
      line.set_deploy_id(h.deploy_id());
      line.set_version(h.version());
      line.set_health(h.to());
      line.set_reason(h.detail());
      line.set_url(h.url());
      f.commit();
      break;
    }
    case Payload::kTestCasesRequested: {
      const auto& r = p.test_cases_requested();
      EnvFold f(memo_, r.project_id(), r.environment(), event, state);
      TestCasesSummary& t = *f.view().mutable_last_test_cases();
      t.Clear();
      t.set_test_run_id(r.test_run_id());
      t.set_deploy_id(r.deploy_id());
      t.set_version(r.version());
      t.set_trigger(r.trigger());
      t.set_requested_by(r.requested_by());
      for (const auto& c : r.cases()) t.add_cases(c.name());
      t.set_status("running");
      t.set_requested_at_us(event.recorded_at_us());
      auto& line = f.history(HISTORY_KIND_TEST_CASES_REQUESTED);
      line.set_deploy_id(r.deploy_id());
      line.set_version(r.version());
      line.set_test_run_id(r.test_run_id());
      line.set_requested_by(r.requested_by());
      line.set_url(r.target_url());
      line.set_reason(r.trigger());
      *line.mutable_test_cases() = t.cases();
      f.commit();
      break;
    }
    case Payload::kTestCasesFinished: {
      const auto& r = p.test_cases_finished();
      EnvFold f(memo_, r.project_id(), r.environment(), event, state);
      TestCasesSummary& t = *f.view().mutable_last_test_cases();
      const bool latest = t.test_run_id() == r.test_run_id();
      if (latest) {
        t.set_status(r.passed() ? "passed" : "failed");
        t.set_finished_at_us(event.recorded_at_us());
        uint64_t duration_ms = 0;
        for (const auto& c : r.results()) {
          if (c.passed()) {
            t.set_passed(t.passed() + 1);
          } else {
            t.set_failed(t.failed() + 1);
          }
          duration_ms += c.duration_ms();
        }
        t.set_duration_ms(duration_ms);
      }
      auto& line = f.history(HISTORY_KIND_TEST_CASES_FINISHED);
      line.set_deploy_id(r.deploy_id());
      line.set_version(r.version());
      line.set_test_run_id(r.test_run_id());
      line.set_passed(r.passed());
      line.set_reason(r.reason());
      *line.mutable_test_results() = r.results();
      f.commit(latest);
      break;
    }
    case Payload::kCanaryStarted: {
      const auto& c = p.canary_started();
      EnvFold f(memo_, c.project_id(), c.environment(), event, state);
      auto& line = f.history(HISTORY_KIND_CANARY_STARTED);
      line.set_canary_id(c.canary_id());
      line.set_deploy_id(c.deploy_id());
      line.set_version(c.version());
      line.set_previous_version(c.stable_version());
      line.set_requested_by(c.requested_by());
      line.set_url(c.url());
      f.commit(false);
      break;
    }
    case Payload::kCanaryStepReached: {
      const auto& c = p.canary_step_reached();
      EnvFold f(memo_, c.project_id(), c.environment(), event, state);
      auto& line = f.history(HISTORY_KIND_CANARY_STEP_REACHED);
      line.set_canary_id(c.canary_id());
      line.set_weight(c.weight());
      line.set_requested_by(c.promoted_by());
      line.set_reason("step " + std::to_string(c.step() + 1) + " at " + std::to_string(c.weight()) +
                      "%" +
                      (c.manual()        ? ", waits for a promote"
                       : c.pause_s() > 0 ? ", pause " + std::to_string(c.pause_s()) + " s"
                                         : ""));
      f.commit(false);
      break;
    }
    case Payload::kCanaryPromoted: {
      const auto& c = p.canary_promoted();
      EnvFold f(memo_, c.project_id(), c.environment(), event, state);
      auto& line = f.history(HISTORY_KIND_CANARY_PROMOTED);
      line.set_canary_id(c.canary_id());
      line.set_deploy_id(c.deploy_id());
      line.set_version(c.version());
      line.set_weight(100);
      line.set_requested_by(c.promoted_by());
      f.commit(false);
      break;
    }
    case Payload::kCanaryAborted: {
      const auto& c = p.canary_aborted();
      EnvFold f(memo_, c.project_id(), c.environment(), event, state);
      auto& line = f.history(HISTORY_KIND_CANARY_ABORTED);
      line.set_canary_id(c.canary_id());
      line.set_version(c.version());
      line.set_previous_version(c.stable_version());
      line.set_weight(c.weight());
      line.set_requested_by(c.aborted_by());
      line.set_reason(c.automatic() ? "automatic: " + c.reason() : c.reason());
      // The canary's DeploySucceeded made it current; aborted, the stable
      // version it ran beside is the one serving again (issue 24, item 5).
      auto& view = f.view();
      const bool canary_current = view.current().version() == c.version() &&
                                  view.has_previous() &&
                                  view.previous().version() == c.stable_version();
      if (canary_current) {
        DeployRecord aborted = view.current();
        *view.mutable_current() = view.previous();
        *view.mutable_previous() = std::move(aborted);
      }
      f.commit(canary_current);
      break;
    }
    default: break;
  }
}

bool environment_at(StateReader& reader, const std::string& project_id,
                    const std::string& environment, uint64_t position, EnvironmentView* out) {
  if (!reader.get_at(Key('s').add(project_id).add(environment), position, out)) return false;
  if (out->queue_size() > 0) *out->mutable_in_flight() = out->queue(0);
  reader.scan_backward(Key('h').add(project_id).add(environment), out->updated_position() + 1,
                       position, [&](uint64_t at, const rocksdb::Slice& value) {
                         EnvironmentEvent line;
                         line.ParseFromArray(value.data(), static_cast<int>(value.size()));
                         out->set_updated_position(at);
                         out->set_updated_at_us(line.at_us());
                         return false;
                       });
  return true;
}

void read_history_line(const rocksdb::Slice& value, const std::string& project_id,
                       const std::string& environment, EnvironmentEvent* out) {
  out->ParseFromArray(value.data(), static_cast<int>(value.size()));
  out->set_project_id(project_id);
  out->set_environment(environment);
}

}  // namespace wharf::projections
