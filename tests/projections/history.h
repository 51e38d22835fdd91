#pragma once
// Scripted event histories for projection tests: builds payloads with the
// shapes the engine emits and appends them to a real EventStore.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "events/event_store.h"
#include "events/ids.h"

namespace wharf::projections::testing {

using wharf::v1::Envelope;
using wharf::v1::Payload;

// A temporary directory removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("wharf-proj-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path(const std::string& sub = "") const { return (path_ / sub).string(); }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<events::EventStore> open_store(const std::string& dir) {
  events::StoreOptions options;
  options.sync = false;
  auto store = events::EventStore::open(dir, options);
  EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
  return store ? std::move(*store) : nullptr;
}

// Appends payloads as one actor; returns positions.
class History {
 public:
  explicit History(events::EventStore& store) : store_(store) {}

  // The next event added occurs at `time_us` (then each one 1 µs later).
  void set_clock(int64_t time_us) { clock_us_ = time_us - 1; }

  uint64_t add(const std::string& stream, Payload payload, const std::string& actor = "system",
               wharf::v1::Channel channel = wharf::v1::CHANNEL_SYSTEM) {
    Envelope e;
    e.set_event_id(events::new_uuid());
    e.set_occurred_at_us(++clock_us_);
    e.mutable_actor()->set_id(actor);
    e.mutable_actor()->set_channel(channel);
    *e.mutable_payload() = std::move(payload);
    auto r = store_.append(stream, events::ExpectedVersion::any(), {e});
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? r->last_position : 0;
  }

 private:
  events::EventStore& store_;
  int64_t clock_us_ = 1'700'000'000'000'000;
};

// ---- payload builders (only the fields projections read) -------------------

inline Payload project_created(const std::string& id, const std::vector<std::string>& envs,
                               const std::string& owner) {
  Payload p;
  auto* c = p.mutable_project_created();
  c->set_project_id(id);
  c->set_name("Project " + id);
  c->set_owner(owner);
  for (const auto& e : envs) c->add_environments()->set_name(e);
  c->mutable_repository()->mutable_local_git()->set_path("/srv/" + id);
  return p;
}

inline Payload environment_defined(const std::string& project, const std::string& env,
                                   uint32_t order) {
  Payload p;
  auto* d = p.mutable_environment_defined();
  d->set_project_id(project);
  d->mutable_environment()->set_name(env);
  d->set_order(order);
  return p;
}

inline Payload pipeline_template_updated(const std::string& project,
                                         const std::string& build_command) {
  Payload p;
  auto* u = p.mutable_pipeline_template_updated();
  u->set_project_id(project);
  u->mutable_template_()->mutable_build()->set_command(build_command);
  return p;
}

inline Payload commit_observed(const std::string& project, const std::string& run,
                               const std::string& sha, const std::string& author) {
  Payload p;
  auto* c = p.mutable_commit_observed();
  c->set_project_id(project);
  c->set_run_id(run);
  c->set_commit_sha(sha);
  c->set_branch("main");
  c->set_change_number(100);
  c->set_patchset(2);
  c->mutable_author()->set_username(author);
  c->set_subject("change " + sha.substr(0, 6));
  c->set_source("gerrit-stream");
  return p;
}

inline Payload run_started(const std::string& project, const std::string& run,
                           const std::string& sha) {
  Payload p;
  auto* s = p.mutable_pipeline_run_started();
  s->set_project_id(project);
  s->set_run_id(run);
  s->set_commit_sha(sha);
  s->add_environments("staging");
  s->add_environments("prod");
  return p;
}

inline Payload build_requested(const std::string& project, const std::string& run,
                               uint32_t attempt) {
  Payload p;
  auto* b = p.mutable_build_requested();
  b->set_project_id(project);
  b->set_run_id(run);
  b->set_attempt(attempt);
  return p;
}

inline Payload build_started(const std::string& run, uint32_t attempt) {
  Payload p;
  auto* b = p.mutable_build_started();
  b->set_run_id(run);
  b->set_attempt(attempt);
  b->set_external_id("job-" + run + "-" + std::to_string(attempt));
  b->set_log_ref("logs/" + run);
  return p;
}

inline Payload build_succeeded(const std::string& run, uint32_t attempt,
                               const std::string& digest) {
  Payload p;
  auto* b = p.mutable_build_succeeded();
  b->set_run_id(run);
  b->set_attempt(attempt);
  b->set_artifact_digest(digest);
  b->set_duration_ms(1234);
  return p;
}

inline Payload build_failed(const std::string& run, uint32_t attempt, const std::string& reason) {
  Payload p;
  auto* b = p.mutable_build_failed();
  b->set_run_id(run);
  b->set_attempt(attempt);
  b->set_reason(reason);
  b->set_exit_code(2);
  return p;
}

inline Payload version_recorded(const std::string& project, const std::string& run,
                                const std::string& version, const std::string& sha,
                                const std::string& author) {
  Payload p;
  auto* v = p.mutable_version_recorded();
  v->set_project_id(project);
  v->set_run_id(run);
  v->set_version(version);
  v->set_artifact_digest("sha256:" + version);
  v->set_commit_sha(sha);
  v->set_change_number(100);
  v->set_patchset(2);
  v->mutable_author()->set_username(author);
  return p;
}

inline Payload deploy_requested(const std::string& project, const std::string& env,
                                const std::string& deploy_id, const std::string& run,
                                const std::string& version, const std::string& by,
                                const std::string& rollback_id = "",
                                const std::string& rollback_of = "") {
  Payload p;
  auto* d = p.mutable_deploy_requested();
  d->set_deploy_id(deploy_id);
  d->set_project_id(project);
  d->set_environment(env);
  d->set_run_id(run);
  d->set_attempt(1);
  d->mutable_spec()->set_version(version);
  d->mutable_spec()->set_artifact_digest("sha256:" + version);
  (*d->mutable_spec()->mutable_config())["B"] = "2";
  (*d->mutable_spec()->mutable_config())["A"] = "1";
  d->set_rollback_id(rollback_id);
  d->set_rollback_of_event_id(rollback_of);
  d->set_requested_by(by);
  return p;
}

inline Payload deploy_started(const std::string& project, const std::string& env,
                              const std::string& deploy_id) {
  Payload p;
  auto* d = p.mutable_deploy_started();
  d->set_deploy_id(deploy_id);
  d->set_project_id(project);
  d->set_environment(env);
  d->set_attempt(1);
  return p;
}

inline Payload deploy_succeeded(const std::string& project, const std::string& env,
                                const std::string& deploy_id, const std::string& run,
                                const std::string& version, const std::string& rollback_id = "") {
  Payload p;
  auto* d = p.mutable_deploy_succeeded();
  d->set_deploy_id(deploy_id);
  d->set_project_id(project);
  d->set_environment(env);
  d->set_run_id(run);
  d->mutable_spec()->set_version(version);
  d->mutable_spec()->set_artifact_digest("sha256:" + version);
  d->set_url("http://" + env + "." + project);
  d->set_rollback_id(rollback_id);
  d->set_attempt(1);
  return p;
}

inline Payload deploy_failed(const std::string& project, const std::string& env,
                             const std::string& deploy_id, const std::string& run,
                             const std::string& reason) {
  Payload p;
  auto* d = p.mutable_deploy_failed();
  d->set_deploy_id(deploy_id);
  d->set_project_id(project);
  d->set_environment(env);
  d->set_run_id(run);
  d->set_reason(reason);
  d->set_attempt(1);
  return p;
}

inline Payload rollback_requested(const std::string& project, const std::string& env,
                                  const std::string& rollback_id, const std::string& target_event,
                                  const std::string& version, const std::string& reason,
                                  const std::string& by) {
  Payload p;
  auto* r = p.mutable_rollback_requested();
  r->set_rollback_id(rollback_id);
  r->set_project_id(project);
  r->set_environment(env);
  r->set_target_deploy_event_id(target_event);
  r->set_target_version(version);
  r->set_reason(reason);
  r->set_requested_by(by);
  return p;
}

inline Payload approval_required(const std::string& project, const std::string& run,
                                 const std::string& env) {
  Payload p;
  auto* a = p.mutable_approval_required();
  a->set_project_id(project);
  a->set_run_id(run);
  a->set_environment(env);
  return p;
}

inline Payload approval_granted(const std::string& run, const std::string& env,
                                const std::string& by) {
  Payload p;
  auto* a = p.mutable_approval_granted();
  a->set_run_id(run);
  a->set_environment(env);
  a->set_approved_by(by);
  a->set_comment("looks good");
  return p;
}

inline Payload tests_requested(const std::string& project, const std::string& run,
                               const std::string& env) {
  Payload p;
  auto* t = p.mutable_tests_requested();
  t->set_project_id(project);
  t->set_run_id(run);
  t->set_environment(env);
  t->set_attempt(1);
  return p;
}

inline Payload tests_passed(const std::string& run, const std::string& env) {
  Payload p;
  auto* t = p.mutable_tests_passed();
  t->set_run_id(run);
  t->set_environment(env);
  t->set_attempt(1);
  auto* r = t->add_results();
  r->set_name("smoke");
  r->set_passed(true);
  return p;
}

inline Payload run_completed(const std::string& project, const std::string& run, bool ok,
                             const std::string& reason = "") {
  Payload p;
  auto* c = p.mutable_pipeline_run_completed();
  c->set_project_id(project);
  c->set_run_id(run);
  c->set_outcome(ok ? wharf::v1::RUN_OUTCOME_SUCCEEDED : wharf::v1::RUN_OUTCOME_FAILED);
  c->set_reason(reason);
  return p;
}

inline Payload run_cancelled(const std::string& project, const std::string& run,
                             const std::string& by) {
  Payload p;
  auto* c = p.mutable_pipeline_run_cancelled();
  c->set_project_id(project);
  c->set_run_id(run);
  c->set_cancelled_by(by);
  c->set_reason("superseded");
  return p;
}

inline Payload permission_requested(const std::string& request, const std::string& project,
                                    const std::string& user, wharf::v1::Role role) {
  Payload p;
  auto* r = p.mutable_permission_requested();
  r->set_request_id(request);
  r->set_project_id(project);
  r->set_user(user);
  r->set_role(role);
  r->set_reason("on call");
  return p;
}

inline Payload permission_granted(const std::string& project, const std::string& user,
                                  wharf::v1::Role role, const std::string& by,
                                  const std::string& request = "") {
  Payload p;
  auto* g = p.mutable_permission_granted();
  g->set_project_id(project);
  g->set_user(user);
  g->set_role(role);
  g->set_granted_by(by);
  g->set_request_id(request);
  return p;
}

inline Payload permission_denied(const std::string& request, const std::string& project,
                                 const std::string& user, const std::string& by) {
  Payload p;
  auto* d = p.mutable_permission_denied();
  d->set_request_id(request);
  d->set_project_id(project);
  d->set_user(user);
  d->set_role(wharf::v1::ROLE_OWNER);
  d->set_denied_by(by);
  d->set_reason("not needed");
  return p;
}

inline Payload permission_revoked(const std::string& project, const std::string& user,
                                  wharf::v1::Role role, const std::string& by) {
  Payload p;
  auto* r = p.mutable_permission_revoked();
  r->set_project_id(project);
  r->set_user(user);
  r->set_role(role);
  r->set_revoked_by(by);
  r->set_reason("left the team");
  return p;
}

inline Payload token_issued(const std::string& id, const std::string& user, bool admin) {
  Payload p;
  auto* t = p.mutable_token_issued();
  t->set_token_id(id);
  t->set_user(user);
  t->set_admin(admin);
  t->set_token_sha256("sha-" + id);
  return p;
}

}  // namespace wharf::projections::testing
