#include "projections/runs_projection.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "projections/keys.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

using keys::Key;
using wharf::v1::Payload;
using namespace wharf::views::v1;

namespace {

// Which run an event belongs to; empty when it belongs to none.
std::string run_of(const Envelope& event, StateBatch& state) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kCommitObserved: return p.commit_observed().run_id();
    case Payload::kPipelineRunStarted: return p.pipeline_run_started().run_id();
    case Payload::kPipelineRunCompleted: return p.pipeline_run_completed().run_id();
    case Payload::kPipelineRunCancelled: return p.pipeline_run_cancelled().run_id();
    case Payload::kBuildRequested: return p.build_requested().run_id();
    case Payload::kBuildQueued: return p.build_queued().run_id();
    case Payload::kBuildStarted: return p.build_started().run_id();
    case Payload::kBuildSucceeded: return p.build_succeeded().run_id();
    case Payload::kBuildFailed: return p.build_failed().run_id();
    case Payload::kVersionRecorded: return p.version_recorded().run_id();
    case Payload::kDeployRequested: return p.deploy_requested().run_id();
    case Payload::kStageDeployRequested: return p.stage_deploy_requested().run_id();
    case Payload::kStageDeployFinished: return p.stage_deploy_finished().run_id();
    case Payload::kDeploySucceeded: return p.deploy_succeeded().run_id();
    case Payload::kDeployFailed: {
      if (!p.deploy_failed().run_id().empty()) return p.deploy_failed().run_id();
      return state.get(Key('d').add(p.deploy_failed().deploy_id())).value_or("");
    }
    case Payload::kDeployStarted:
      return state.get(Key('d').add(p.deploy_started().deploy_id())).value_or("");
    case Payload::kDeployProgressed:
      return state.get(Key('d').add(p.deploy_progressed().deploy_id())).value_or("");
    case Payload::kTestsRequested: return p.tests_requested().run_id();
    case Payload::kTestsPassed: return p.tests_passed().run_id();
    case Payload::kTestsFailed: return p.tests_failed().run_id();
    case Payload::kApprovalRequired: return p.approval_required().run_id();
    case Payload::kApprovalGranted: return p.approval_granted().run_id();
    case Payload::kStepTimedOut: return p.step_timed_out().run_id();
    default: return "";
  }
}

// Steps fold() may have changed (it adds new ones at the end): only these
// are serialized and compared with their stored bytes afterwards.
thread_local std::vector<const TimelineStep*> touched;

// The newest step matching kind/environment/attempt (attempt 0 = any); created
// when absent so a history with gaps (a filtered export) still folds.
TimelineStep* step(RunView& run, StepKind kind, const std::string& environment, uint32_t attempt,
                   const Envelope& event) {
  for (int i = run.steps_size() - 1; i >= 0; --i) {
    auto* s = run.mutable_steps(i);
    if (s->kind() == kind && s->environment() == environment &&
        (attempt == 0 || s->attempt() == attempt)) {
      touched.push_back(s);
      return s;
    }
  }
  auto* s = run.add_steps();
  s->set_kind(kind);
  s->set_environment(environment);
  s->set_attempt(attempt);
  s->set_status(STEP_STATUS_REQUESTED);
  s->set_requested_at_us(event.recorded_at_us());
  s->set_requested_position(event.position());
  return s;
}

TimelineStep* deploy_step(RunView& run, const std::string& deploy_id) {
  for (int i = run.steps_size() - 1; i >= 0; --i) {
    if (run.steps(i).kind() == STEP_KIND_DEPLOY && run.steps(i).deploy_id() == deploy_id) {
      touched.push_back(&run.steps(i));
      return run.mutable_steps(i);
    }
  }
  return nullptr;
}

bool open(StepStatus status);

// The deploy step of `deploy_id`, opened (and routed) on first sight: the run
// stream's StageDeployRequested and the environment's DeployRequested both
// name it.
TimelineStep* open_deploy_step(RunView& run, const std::string& deploy_id,
                               const std::string& environment, uint32_t attempt,
                               const Envelope& event, StateBatch& state) {
  if (auto* s = deploy_step(run, deploy_id)) return s;
  state.put(Key('d').add(deploy_id), run.run_id());
  auto* s = run.add_steps();
  s->set_kind(STEP_KIND_DEPLOY);
  s->set_environment(environment);
  s->set_attempt(attempt);
  s->set_status(STEP_STATUS_REQUESTED);
  s->set_requested_at_us(event.recorded_at_us());
  s->set_requested_position(event.position());
  s->set_deploy_id(deploy_id);
  return s;
}

void end_step(TimelineStep* s, StepStatus status, const Envelope& event) {
  s->set_status(status);
  s->set_ended_at_us(event.recorded_at_us());
  s->set_ended_position(event.position());
}

void start_step(TimelineStep* s, const Envelope& event) {
  s->set_status(STEP_STATUS_RUNNING);
  if (s->started_at_us() == 0) s->set_started_at_us(event.recorded_at_us());
}

bool open(StepStatus status) {
  return status == STEP_STATUS_REQUESTED || status == STEP_STATUS_QUEUED ||
         status == STEP_STATUS_RUNNING || status == STEP_STATUS_WAITING;
}

void fold(RunView& run, const Envelope& event, StateBatch& state) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kCommitObserved: {
      const auto& c = p.commit_observed();
      run.set_project_id(c.project_id());
      run.set_commit_sha(c.commit_sha());
      run.set_branch(c.branch());
      run.set_ref(c.ref());
      run.set_change_number(c.change_number());
      run.set_patchset(c.patchset());
      *run.mutable_author() = c.author();
      run.set_subject(c.subject());
      run.set_source(c.source());
      break;
    }
    case Payload::kPipelineRunStarted: {
      const auto& s = p.pipeline_run_started();
      run.set_project_id(s.project_id());
      if (run.commit_sha().empty()) run.set_commit_sha(s.commit_sha());
      *run.mutable_environments() = s.environments();
      run.set_status(RUN_STATUS_RUNNING);
      run.set_started_at_us(event.recorded_at_us());
      break;
    }
    case Payload::kPipelineRunCompleted: {
      const auto& c = p.pipeline_run_completed();
      run.set_status(c.outcome() == wharf::v1::RUN_OUTCOME_SUCCEEDED ? RUN_STATUS_SUCCEEDED
                                                                     : RUN_STATUS_FAILED);
      run.set_reason(c.reason());
      run.set_ended_at_us(event.recorded_at_us());
      run.clear_waiting_for_approval();
      break;
    }
    case Payload::kPipelineRunCancelled: {
      const auto& c = p.pipeline_run_cancelled();
      run.set_status(RUN_STATUS_CANCELLED);
      run.set_reason(c.reason());
      run.set_cancelled_by(c.cancelled_by());
      run.set_ended_at_us(event.recorded_at_us());
      run.clear_waiting_for_approval();
      for (auto& s : *run.mutable_steps()) {
        if (open(s.status())) {
          end_step(&s, STEP_STATUS_CANCELLED, event);
          touched.push_back(&s);
        }
      }
      break;
    }
    case Payload::kBuildRequested: {
      const auto& b = p.build_requested();
      if (run.project_id().empty()) run.set_project_id(b.project_id());
      step(run, STEP_KIND_BUILD, "", b.attempt(), event);
      break;
    }
    case Payload::kBuildQueued: {
      auto* s = step(run, STEP_KIND_BUILD, "", p.build_queued().attempt(), event);
      s->set_status(STEP_STATUS_QUEUED);
      s->set_external_id(p.build_queued().external_id());
      break;
    }
    case Payload::kBuildStarted: {
      auto* s = step(run, STEP_KIND_BUILD, "", p.build_started().attempt(), event);
      start_step(s, event);
      s->set_external_id(p.build_started().external_id());
      s->set_log_ref(p.build_started().log_ref());
      break;
    }
    case Payload::kBuildSucceeded: {
      auto* s = step(run, STEP_KIND_BUILD, "", p.build_succeeded().attempt(), event);
      end_step(s, STEP_STATUS_SUCCEEDED, event);
      s->set_artifact_digest(p.build_succeeded().artifact_digest());
      break;
    }
    case Payload::kBuildFailed: {
      const auto& f = p.build_failed();
      auto* s = step(run, STEP_KIND_BUILD, "", f.attempt(), event);
      end_step(s, STEP_STATUS_FAILED, event);
      s->set_detail(f.reason());
      if (f.timed_out()) s->set_timed_out(true);
      break;
    }
    case Payload::kVersionRecorded: run.set_version(p.version_recorded().version()); break;
    case Payload::kStageDeployRequested: {
      const auto& d = p.stage_deploy_requested();
      auto* s = open_deploy_step(run, d.deploy_id(), d.environment(), d.attempt(), event, state);
      s->set_artifact_digest(d.spec().artifact_digest());
      if (run.waiting_for_approval() == d.environment()) run.clear_waiting_for_approval();
      break;
    }
    case Payload::kDeployRequested: {
      const auto& d = p.deploy_requested();
      auto* s = open_deploy_step(run, d.deploy_id(), d.environment(), d.attempt(), event, state);
      s->set_artifact_digest(d.spec().artifact_digest());
      s->set_actor(d.requested_by());
      if (run.waiting_for_approval() == d.environment()) run.clear_waiting_for_approval();
      break;
    }
    case Payload::kStageDeployFinished: {
      const auto& d = p.stage_deploy_finished();
      auto* s = deploy_step(run, d.deploy_id());
      if (s != nullptr && open(s->status())) {
        end_step(s, d.succeeded() ? STEP_STATUS_SUCCEEDED : STEP_STATUS_FAILED, event);
        s->set_detail(d.succeeded() ? d.url() : d.reason());
      }
      break;
    }
    case Payload::kDeployStarted: {
      if (auto* s = deploy_step(run, p.deploy_started().deploy_id())) {
        start_step(s, event);
        s->set_external_id(p.deploy_started().external_id());
      }
      break;
    }
    case Payload::kDeployProgressed: {
      if (auto* s = deploy_step(run, p.deploy_progressed().deploy_id())) {
        s->set_detail(p.deploy_progressed().message());
        s->set_percent(p.deploy_progressed().percent());
      }
      break;
    }
    case Payload::kDeploySucceeded: {
      if (auto* s = deploy_step(run, p.deploy_succeeded().deploy_id())) {
        end_step(s, STEP_STATUS_SUCCEEDED, event);
        s->set_detail(p.deploy_succeeded().url());
        s->set_percent(100);
      }
      break;
    }
    case Payload::kDeployFailed: {
      if (auto* s = deploy_step(run, p.deploy_failed().deploy_id())) {
        end_step(s, STEP_STATUS_FAILED, event);
        s->set_detail(p.deploy_failed().reason());
        if (p.deploy_failed().timed_out()) s->set_timed_out(true);
      }
      break;
    }
    case Payload::kTestsRequested: {
      const auto& t = p.tests_requested();
      auto* s = run.add_steps();
      s->set_kind(STEP_KIND_TESTS);
      s->set_environment(t.environment());
      s->set_attempt(t.attempt());
      s->set_status(STEP_STATUS_RUNNING);
      s->set_requested_at_us(event.recorded_at_us());
      s->set_started_at_us(event.recorded_at_us());
      s->set_requested_position(event.position());
      s->set_detail(t.target_url());
      break;
    }
    case Payload::kTestsPassed: {
      const auto& t = p.tests_passed();
      auto* s = step(run, STEP_KIND_TESTS, t.environment(), t.attempt(), event);
      end_step(s, STEP_STATUS_SUCCEEDED, event);
      *s->mutable_results() = t.results();
      break;
    }
    case Payload::kTestsFailed: {
      const auto& t = p.tests_failed();
      auto* s = step(run, STEP_KIND_TESTS, t.environment(), t.attempt(), event);
      end_step(s, STEP_STATUS_FAILED, event);
      *s->mutable_results() = t.results();
      s->set_detail(t.reason());
      break;
    }
    case Payload::kApprovalRequired: {
      const auto& a = p.approval_required();
      auto* s = run.add_steps();
      s->set_kind(STEP_KIND_APPROVAL);
      s->set_environment(a.environment());
      s->set_status(STEP_STATUS_WAITING);
      s->set_requested_at_us(event.recorded_at_us());
      s->set_requested_position(event.position());
      run.set_waiting_for_approval(a.environment());
      break;
    }
    case Payload::kApprovalGranted: {
      const auto& a = p.approval_granted();
      auto* s = step(run, STEP_KIND_APPROVAL, a.environment(), 0, event);
      end_step(s, STEP_STATUS_APPROVED, event);
      s->set_actor(a.approved_by());
      s->set_detail(a.comment());
      if (run.waiting_for_approval() == a.environment()) run.clear_waiting_for_approval();
      break;
    }
    case Payload::kStepTimedOut: {
      const auto& t = p.step_timed_out();
      StepKind kind = t.step() == wharf::v1::STEP_KIND_BUILD    ? STEP_KIND_BUILD
                      : t.step() == wharf::v1::STEP_KIND_DEPLOY ? STEP_KIND_DEPLOY
                                                                : STEP_KIND_TESTS;
      std::string environment = kind == STEP_KIND_BUILD ? "" : t.environment();
      step(run, kind, environment, t.attempt(), event)->set_timed_out(true);
      break;
    }
    default: break;
  }
}

}  // namespace

namespace {

std::string step_entity(const std::string& run_id, uint64_t index) {
  return Key('s').add(run_id).pos(index);
}

constexpr size_t kMemoRuns = 100000;

}  // namespace

bool RunsProjection::load(const std::string& run_id, StateBatch& state, Run& run) {
  auto header = state.latest(Key('r').add(run_id));
  if (!header) return false;
  run.view.ParseFromString(*header);
  run.header = std::move(*header);
  for (uint64_t i = 0;; ++i) {
    auto step = state.latest(step_entity(run_id, i));
    if (!step) break;
    run.view.add_steps()->ParseFromString(*step);
    run.steps.push_back(std::move(*step));
  }
  return true;
}

void RunsProjection::apply(const Envelope& event, StateBatch& state) {
  std::string run_id = run_of(event, state);
  if (run_id.empty()) return;
  if (memo_.size() >= kMemoRuns) memo_.clear();
  auto [it, inserted] = memo_.try_emplace(run_id);
  Run& m = it->second;
  RunView& run = m.view;
  touched.clear();
  if (!(inserted ? load(run_id, state, m) : !m.header.empty())) {
    run.set_run_id(run_id);
    run.set_status(RUN_STATUS_RUNNING);
    run.set_created_position(event.position());
    run.set_started_at_us(event.recorded_at_us());
    fold(run, event, state);
    if (!run.project_id().empty()) {
      state.append(Key('i').add(run.project_id()).pos(event.position()), run_id);
    }
    state.append(Key('a').pos(event.position()), run_id);
  } else {
    bool had_project = !run.project_id().empty();
    fold(run, event, state);
    // Indexed when the project becomes known, never back-dated: time travel
    // to an earlier position must not list the run under the project.
    if (!had_project && !run.project_id().empty()) {
      state.append(Key('i').add(run.project_id()).pos(event.position()), run_id);
    }
  }
  // Write what changed: each changed step, and the header when it changed or
  // nothing else did (so the run's newest key is this event's position).
  bool wrote = false;
  for (int i = 0; i < run.steps_size(); ++i) {
    const size_t index = static_cast<size_t>(i);
    if (index < m.steps.size() &&
        std::find(touched.begin(), touched.end(), &run.steps(i)) == touched.end()) {
      continue;
    }
    std::string bytes = serialize(run.steps(i));
    if (index < m.steps.size() && m.steps[index] == bytes) continue;
    state.put_version(step_entity(run_id, index), event.position(), bytes);
    if (index < m.steps.size()) {
      m.steps[index] = std::move(bytes);
    } else {
      m.steps.push_back(std::move(bytes));
    }
    wrote = true;
  }
  google::protobuf::RepeatedPtrField<TimelineStep> steps;
  steps.Swap(run.mutable_steps());
  std::string header = serialize(run);
  steps.Swap(run.mutable_steps());
  if (!wrote || header != m.header) {
    state.put_version(Key('r').add(run_id), event.position(), header);
    m.header = std::move(header);
  }
}

void add_steps_at(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* runs, const std::string& run_id,
                  uint64_t position, uint64_t header_position, RunView* out) {
  out->clear_steps();
  uint64_t updated = header_position;
  const std::string prefix = Key('s').add(run_id);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), runs));
  // Keys sort by (step index, position): the last key of each index at or
  // before `position` is that step as of `position`.
  std::optional<uint64_t> index;
  std::string value;
  auto emit = [&] {
    if (index) out->add_steps()->ParseFromString(value);
  };
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    auto key = it->key();
    if (!key.starts_with(prefix) || key.size() != prefix.size() + 16) break;
    uint64_t i = keys::decode_position(std::string_view(key.data() + prefix.size(), 8));
    uint64_t at = keys::decode_position(std::string_view(key.data() + prefix.size() + 8, 8));
    if (at > position) continue;
    if (index && *index != i) emit();
    index = i;
    value.assign(it->value().data(), it->value().size());
    updated = std::max(updated, at);
  }
  emit();
  out->set_updated_position(updated);
}

bool run_at(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* runs, const std::string& run_id,
            uint64_t position, RunView* out) {
  const std::string entity = Key('r').add(run_id);
  std::string target = entity;
  keys::append_position(target, position);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), runs));
  it->SeekForPrev(target);
  if (!it->Valid()) return false;
  auto key = it->key();
  if (key.size() != entity.size() + 8 || !key.starts_with(entity)) return false;
  if (!out->ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) return false;
  add_steps_at(db, runs, run_id, position,
               keys::decode_position(std::string_view(key.data() + entity.size(), 8)), out);
  return true;
}

}  // namespace wharf::projections
