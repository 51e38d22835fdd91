#include "projections/insights_projection.h"

#include <string>

#include "projections/insights_math.h"
#include "projections/insights_rollup.h"
#include "projections/keys.h"

namespace wharf::projections {

using keys::Key;
using wharf::v1::Payload;
using namespace wharf::views::v1;  // insights.pb.h

namespace {

constexpr size_t kMemoEnvironments = 100000;

std::string fact_key(const DeploymentFact& f) {
  return Key('d')
      .add(f.project_id())
      .add(f.environment())
      .pos(static_cast<uint64_t>(f.deployed_at_us()))
      .pos(f.position());
}
std::string global_fact_key(const DeploymentFact& f) {
  return Key('a').pos(static_cast<uint64_t>(f.deployed_at_us())).pos(f.position());
}

EventRef event_ref(const Envelope& event, const char* kind, const std::string& detail) {
  EventRef r;
  r.set_position(event.position());
  r.set_event_id(event.event_id());
  r.set_at_us(event.occurred_at_us());
  r.set_kind(kind);
  r.set_detail(detail);
  return r;
}

template <typename M>
bool get_message(StateBatch& state, const std::string& key, M* out) {
  auto bytes = state.get(key);
  return bytes && out->ParseFromString(*bytes);
}

// One event's changes to one environment: its fold state, its landscape
// cell and the facts the event decides about.
class EnvFold {
 public:
  EnvFold(std::unordered_map<std::string, InsightsEnvState>& memo, const std::string& project,
          const std::string& env, const Envelope& event, StateBatch& state)
      : project_(project),
        env_(env),
        key_(Key('S').add(project).add(env)),
        event_(event),
        state_(state) {
    if (memo.size() >= kMemoEnvironments) memo.clear();
    auto [it, inserted] = memo.try_emplace(key_);
    st_ = &it->second;
    if (!inserted || get_message(state, key_, st_)) return;
    st_->mutable_serving()->set_project_id(project);
    st_->mutable_serving()->set_environment(env);
    state.append(Key('E').add(project).pos(event.position()), env);
  }

  InsightsEnvState& st() { return *st_; }
  LandscapeCell& serving() { return *st_->mutable_serving(); }
  void cell_changed() { cell_changed_ = true; }

  void commit() {
    if (cell_changed_) {
      serving().set_updated_position(event_.position());
      state_.put_version_message(Key('l').add(project_).add(env_), event_.position(), serving());
    }
    state_.put(key_, serialize(*st_));
  }

  void store_fact(const DeploymentFact& f) {
    std::string bytes = serialize(f);
    state_.put(fact_key(f), bytes);
    state_.put(global_fact_key(f), std::move(bytes));
    if (f.failure().position() != 0) {
      state_.append(Key('F').pos(static_cast<uint64_t>(f.deployed_at_us())).pos(f.position()),
                    insights::rollup::encode_outcome(f));
    }
  }

  // A new deployment: its row in the rollup (its day's open chunk).
  void add_to_rollup(const DeploymentFact& f) {
    namespace rollup = insights::rollup;
    const uint64_t day = rollup::day_of(f.deployed_at_us());
    const std::string pointer = Key('B').pos(day);
    uint64_t chunk = 0, rows = 0;
    if (auto p = state_.get(pointer); p && !rollup::decode_pointer(*p, &chunk, &rows)) rows = 0;
    if (rows >= rollup::kRowsPerChunk) {
      ++chunk;
      rows = 0;
    }
    const std::string key = Key('A').pos(day).pos(chunk);
    std::string bytes;
    if (rows > 0) bytes = state_.get(key).value_or(std::string());
    rollup::append_row(bytes, f);
    state_.put(key, std::move(bytes));
    state_.put(pointer, rollup::encode_pointer(chunk, rows + 1));
  }

  // The fact's day in the per-day aggregates of its three scopes (every
  // environment, its environment, its group): `change` edits the counts, and
  // `sample` (if any) goes to the open chunk of `tag` ('H' lead times, 'J'
  // times to restore), numbered by the count of such samples before it.
  void aggregate(const DeploymentFact& f, void (*change)(insights::rollup::DayCounts&),
                 char tag = 0, const insights::Sample* sample = nullptr) {
    namespace rollup = insights::rollup;
    const uint64_t day = rollup::day_of(f.deployed_at_us());
    for (const std::string& scope :
         {rollup::scope_all(), rollup::scope_environment(f.environment()),
          rollup::scope_group(f.project_id(), f.environment())}) {
      std::string key(1, 'G');
      key += scope;
      keys::append_position(key, day);
      rollup::DayCounts counts;
      if (auto bytes = state_.get(key); bytes && !rollup::decode_counts(*bytes, &counts)) {
        counts = {};
      }
      if (sample != nullptr) {
        const uint64_t n = tag == 'H' ? counts.leads : counts.restores;
        std::string chunk_key(1, tag);
        chunk_key += scope;
        keys::append_position(chunk_key, day);
        keys::append_position(chunk_key, n / rollup::kSamplesPerChunk);
        std::string chunk;
        if (n % rollup::kSamplesPerChunk != 0) chunk = state_.get(chunk_key).value_or("");
        rollup::append_sample(chunk, *sample);
        state_.put(chunk_key, std::move(chunk));
      }
      change(counts);
      state_.put(key, rollup::encode_counts(counts));
    }
  }

  // A new deployment in the per-day aggregates (and its group in 'N').
  void aggregate_deployment(const DeploymentFact& f) {
    using insights::rollup::DayCounts;
    const std::string group = Key('N').add(f.project_id()).add(f.environment());
    if (!state_.get(group)) {
      state_.put(group, insights::rollup::group_value(f.project_id(), f.environment()));
    }
    if (f.rollback()) {
      aggregate(f, [](DayCounts& c) { ++c.rollbacks; });
    } else if (f.has_lead_time()) {
      const insights::Sample lead{f.lead_time_us(), f.position()};
      aggregate(
          f,
          [](DayCounts& c) {
            ++c.deployments;
            ++c.leads;
          },
          'H', &lead);
    } else {
      aggregate(f, [](DayCounts& c) { ++c.deployments; });
    }
  }

  // Marks the deployment at `key` failed by `why` when it has not failed yet
  // and `why` is within the failure window; it then waits for a restore.
  void fail(const std::string& key, const EventRef& why) {
    if (key.empty()) return;
    DeploymentFact f;
    if (!get_message(state_, key, &f) || f.failure().position() != 0) return;
    if (!insights::in_failure_window(f.deployed_at_us(), why.at_us())) return;
    *f.mutable_failure() = why;
    store_fact(f);
    if (!f.rollback()) aggregate(f, [](insights::rollup::DayCounts& c) { ++c.failed; });
    st_->add_open_failures(key);
  }

  // A healthy version serves again: every open failure is restored by `how`.
  void restore(const EventRef& how) {
    for (const auto& key : st_->open_failures()) {
      DeploymentFact f;
      if (!get_message(state_, key, &f)) continue;
      *f.mutable_restore() = how;
      store_fact(f);
      if (!f.rollback()) {
        const insights::Sample took{how.at_us() - f.failure().at_us(), f.position()};
        aggregate(
            f, [](insights::rollup::DayCounts& c) { ++c.restores; }, 'J', &took);
      }
    }
    st_->clear_open_failures();
  }

  // The version's last health verdict in this environment.
  wharf::v1::HealthState verdict(const std::string& version) {
    auto v = state_.get(Key('k').add(project_).add(env_).add(version));
    return v ? static_cast<wharf::v1::HealthState>(std::stoi(*v))
             : wharf::v1::HEALTH_STATE_UNSPECIFIED;
  }
  void set_verdict(const std::string& version, wharf::v1::HealthState to) {
    state_.put(Key('k').add(project_).add(env_).add(version), std::to_string(static_cast<int>(to)));
  }
  // A version that starts serving restores: the environment has no health
  // checks at all, or the version's last verdict here was healthy.
  bool known_good(const std::string& version) {
    return !st_->health_seen() || verdict(version) == wharf::v1::HEALTH_STATE_HEALTHY;
  }

 private:
  std::string project_;
  std::string env_;
  std::string key_;
  const Envelope& event_;
  StateBatch& state_;
  InsightsEnvState* st_ = nullptr;
  bool cell_changed_ = false;
};

void deploy_succeeded(std::unordered_map<std::string, InsightsEnvState>& memo,
                      const Envelope& event, StateBatch& state) {
  const auto& s = event.payload().deploy_succeeded();
  EnvFold f(memo, s.project_id(), s.environment(), event, state);
  InsightsPendingDeploy pending;
  get_message(state,
              Key('q')
                  .add(s.project_id())
                  .add(s.environment())
                  .add(s.deploy_id() + "#" + std::to_string(s.attempt())),
              &pending);
  const bool rollback = !s.rollback_id().empty() || !pending.rollback_id().empty();
  const bool canary = s.spec().has_canary();
  InsightsCommitNote version;
  get_message(state, Key('v').add(s.project_id()).add(s.spec().version()), &version);

  LandscapeCell cell;
  cell.set_project_id(s.project_id());
  cell.set_environment(s.environment());
  cell.set_version(s.spec().version());
  cell.set_deploy_id(s.deploy_id());
  cell.set_event_id(event.event_id());
  cell.set_since_position(event.position());
  cell.set_since_us(event.occurred_at_us());
  cell.set_deployed_by(pending.requested_by());
  cell.set_rollback(rollback);
  cell.set_version_ordinal(version.ordinal());
  *(canary ? f.st().mutable_last_canary() : f.st().mutable_stable()) = cell;
  *f.st().mutable_serving() = cell;
  f.cell_changed();

  DeploymentFact fact;
  fact.set_project_id(s.project_id());
  fact.set_environment(s.environment());
  fact.set_position(event.position());
  fact.set_event_id(event.event_id());
  fact.set_deployed_at_us(event.occurred_at_us());
  fact.set_deploy_id(s.deploy_id());
  fact.set_version(s.spec().version());
  fact.set_deployed_by(pending.requested_by());
  fact.set_rollback(rollback);
  fact.set_canary(canary);
  if (!rollback && version.position() != 0) {
    fact.set_commit_sha(version.commit_sha());
    fact.set_commit_at_us(version.at_us());
    fact.set_commit_position(version.position());
    fact.set_commit_event_id(version.event_id());
    if (event.occurred_at_us() >= version.at_us()) {
      fact.set_has_lead_time(true);
      fact.set_lead_time_us(event.occurred_at_us() - version.at_us());
    }
  }
  f.store_fact(fact);
  f.add_to_rollup(fact);
  f.aggregate_deployment(fact);
  if (!rollback) {
    f.st().set_last_change_key(fact_key(fact));
    f.st().set_last_change_deploy_id(s.deploy_id());
    f.st().set_last_change_at_us(event.occurred_at_us());
  }
  if (f.st().open_failures_size() > 0 && f.known_good(s.spec().version())) {
    f.restore(event_ref(event, "deploy_succeeded", s.spec().version()));
  }
  f.commit();
}

void health_changed(std::unordered_map<std::string, InsightsEnvState>& memo, const Envelope& event,
                    StateBatch& state) {
  const auto& h = event.payload().health_changed();
  EnvFold f(memo, h.project_id(), h.environment(), event, state);
  f.st().set_health_seen(true);
  std::string version = h.version();
  for (LandscapeCell* cell :
       {f.st().mutable_serving(), f.st().mutable_stable(), f.st().mutable_last_canary()}) {
    if (cell->deploy_id().empty() || cell->deploy_id() != h.deploy_id()) continue;
    if (version.empty()) version = cell->version();
    cell->set_health(h.to());
    cell->set_health_since_us(event.occurred_at_us());
    cell->set_health_detail(h.detail());
  }
  if (f.serving().deploy_id() == h.deploy_id()) f.cell_changed();
  if (!version.empty()) f.set_verdict(version, h.to());
  if (h.to() == wharf::v1::HEALTH_STATE_UNHEALTHY && !h.deploy_id().empty() &&
      h.deploy_id() == f.st().last_change_deploy_id()) {
    f.fail(f.st().last_change_key(), event_ref(event, "health_unhealthy", h.detail()));
  }
  if (h.to() == wharf::v1::HEALTH_STATE_HEALTHY && f.st().open_failures_size() > 0 &&
      f.serving().deploy_id() == h.deploy_id()) {
    f.restore(event_ref(event, "health_healthy", version));
  }
  f.commit();
}

void canary_event(std::unordered_map<std::string, InsightsEnvState>& memo, const Envelope& event,
                  StateBatch& state) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kCanaryStarted: {
      const auto& c = p.canary_started();
      EnvFold f(memo, c.project_id(), c.environment(), event, state);
      if (f.st().last_change_deploy_id() == c.deploy_id()) {
        (*f.st().mutable_canaries())[c.canary_id()] = f.st().last_change_key();
      }
      for (LandscapeCell* cell : {f.st().mutable_serving(), f.st().mutable_last_canary()}) {
        if (cell->deploy_id() == c.deploy_id()) cell->set_canary_id(c.canary_id());
      }
      if (f.serving().deploy_id() == c.deploy_id()) {
        auto* in = f.serving().mutable_canary();
        in->set_canary_id(c.canary_id());
        in->set_version(c.version());
        in->set_deploy_id(c.deploy_id());
        in->set_since_us(event.occurred_at_us());
        in->set_stable_version(c.stable_version());
        f.cell_changed();
      }
      f.commit();
      break;
    }
    case Payload::kCanaryStepReached: {
      const auto& c = p.canary_step_reached();
      EnvFold f(memo, c.project_id(), c.environment(), event, state);
      if (f.serving().canary().canary_id() == c.canary_id()) {
        auto* in = f.serving().mutable_canary();
        in->set_step(c.step());
        in->set_weight(c.weight());
        in->set_since_us(event.occurred_at_us());
        f.cell_changed();
      }
      f.commit();
      break;
    }
    case Payload::kCanaryPromoted: {
      const auto& c = p.canary_promoted();
      EnvFold f(memo, c.project_id(), c.environment(), event, state);
      f.st().mutable_canaries()->erase(c.canary_id());
      // As the engine's CanaryState: the latest canary deploy becomes stable.
      *f.st().mutable_stable() = f.st().last_canary();
      f.st().mutable_stable()->clear_canary();
      if (f.serving().canary().canary_id() == c.canary_id()) {
        f.serving().clear_canary();
        f.cell_changed();
      }
      f.commit();
      break;
    }
    case Payload::kCanaryAborted: {
      const auto& c = p.canary_aborted();
      EnvFold f(memo, c.project_id(), c.environment(), event, state);
      auto it = f.st().canaries().find(c.canary_id());
      if (it != f.st().canaries().end()) {
        const std::string key = it->second;
        f.st().mutable_canaries()->erase(c.canary_id());
        f.fail(key, event_ref(event, "canary_aborted", c.reason()));
      }
      // EnvironmentState::serving(): an aborted canary that is the latest
      // success hands the environment back to the stable deploy.
      const char* how = "canary_aborted";
      if (f.serving().canary_id() == c.canary_id() && !f.st().stable().deploy_id().empty()) {
        *f.st().mutable_serving() = f.st().stable();
        f.cell_changed();
        how = "canary_aborted_to_stable";
      } else if (f.serving().canary().canary_id() == c.canary_id()) {
        f.serving().clear_canary();
        f.cell_changed();
      }
      // Whatever serves now (the stable deploy, or a later deploy that
      // superseded the canary) restores when it is known good.
      if (f.st().open_failures_size() > 0 && f.serving().canary_id() != c.canary_id() &&
          f.known_good(f.serving().version())) {
        f.restore(event_ref(event, how, f.serving().version()));
      }
      f.commit();
      break;
    }
    default:
      break;
  }
}

}  // namespace

void InsightsProjection::apply(const Envelope& event, StateBatch& state) {
  const auto& p = event.payload();
  switch (p.kind_case()) {
    case Payload::kCommitObserved: {
      const auto& c = p.commit_observed();
      const std::string key = Key('r').add(c.run_id());
      if (c.run_id().empty() || state.get(key)) break;
      InsightsCommitNote note;
      note.set_commit_sha(c.commit_sha());
      note.set_at_us(event.occurred_at_us());
      note.set_position(event.position());
      note.set_event_id(event.event_id());
      state.put(key, serialize(note));
      break;
    }
    case Payload::kVersionRecorded: {
      const auto& v = p.version_recorded();
      const std::string key = Key('v').add(v.project_id()).add(v.version());
      if (state.get(key)) break;
      const std::string counter = Key('o').add(v.project_id());
      auto count = state.get(counter);
      const uint64_t ordinal = (count ? std::stoull(*count) : 0) + 1;
      state.put(counter, std::to_string(ordinal));
      InsightsCommitNote note;
      get_message(state, Key('r').add(v.run_id()), &note);
      if (note.commit_sha().empty()) note.set_commit_sha(v.commit_sha());
      note.set_ordinal(ordinal);
      state.put(key, serialize(note));
      break;
    }
    case Payload::kDeployRequested: {
      const auto& r = p.deploy_requested();
      InsightsPendingDeploy pending;
      pending.set_requested_by(r.requested_by().empty() ? event.actor().id() : r.requested_by());
      pending.set_rollback_id(r.rollback_id());
      state.put(Key('q')
                    .add(r.project_id())
                    .add(r.environment())
                    .add(r.deploy_id() + "#" + std::to_string(r.attempt())),
                serialize(pending));
      break;
    }
    case Payload::kDeploySucceeded:
      deploy_succeeded(memo_, event, state);
      break;
    case Payload::kRollbackRequested: {
      const auto& r = p.rollback_requested();
      EnvFold f(memo_, r.project_id(), r.environment(), event, state);
      f.fail(f.st().last_change_key(), event_ref(event, "rollback_requested", r.reason()));
      f.commit();
      break;
    }
    case Payload::kHealthChanged:
      health_changed(memo_, event, state);
      break;
    case Payload::kCanaryStarted:
    case Payload::kCanaryStepReached:
    case Payload::kCanaryPromoted:
    case Payload::kCanaryAborted:
      canary_event(memo_, event, state);
      break;
    default:
      break;
  }
}

}  // namespace wharf::projections
