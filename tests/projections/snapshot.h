#pragma once
// Everything the query API answers for the ids of a RandomHistory, as one
// string: two runners that answer equally give equal snapshots.
#include <google/protobuf/message.h>

#include <string>

#include "projections/insights_queries.h"
#include "projections/queries.h"
#include "projections/state_batch.h"
#include "tests/projections/random_history.h"

namespace wharf::projections::testing {

template <typename T>
void add_answer(std::string& out, const char* what, const Expected<T, Error>& answer) {
  out += what;
  if (!answer) {
    out += " error " + std::string(to_string(answer.error().code)) + "\n";
    return;
  }
  if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
    out += " " + serialize(*answer) + "\n";
  } else {
    out += " @" + std::to_string(answer->position) + " ";
    if constexpr (std::is_base_of_v<google::protobuf::Message, decltype(answer->value)>) {
      out += serialize(answer->value);
    } else {
      out += std::to_string(static_cast<int>(answer->value));
    }
    out += "\n";
  }
}

inline std::string snapshot(const Queries& q, const QueryOptions& o) {
  using R = RandomHistory;
  std::string out;
  add_answer(out, "projects", q.list_projects(o));
  add_answer(out, "tokens", q.list_tokens(o));
  add_answer(out, "requests", q.permission_requests("", false, o));
  RunFilter all_runs;
  all_runs.limit = 3;
  add_answer(out, "runs", q.list_runs(all_runs, o));
  for (int u = 0; u < R::kUsers; ++u) {
    add_answer(out, "projects-of", q.list_projects(o, R::user(u)));
    add_answer(out, "user-perms", q.user_permissions(R::user(u), o));
    add_answer(out, "admin", q.is_admin(R::user(u), o));
  }
  for (int r = 0; r < R::kRuns; ++r) add_answer(out, "run", q.get_run(R::run(r), o));
  for (int p = 0; p < R::kProjects; ++p) {
    const std::string id = R::project(p);
    add_answer(out, "project", q.get_project(id, o));
    RunFilter runs;
    runs.project_id = id;
    add_answer(out, "project-runs", q.list_runs(runs, o));
    add_answer(out, "versions", q.list_versions(id, 0, 4, o));
    for (int v = 0; v < R::kVersions; ++v)
      add_answer(out, "version", q.get_version(id, R::version(v), o));
    add_answer(out, "envs", q.list_environments(id, o));
    for (const auto& env : R::envs()) {
      add_answer(out, "env", q.get_environment(id, env, o));
      add_answer(out, "history", q.environment_history(id, env, o));
    }
    add_answer(out, "members", q.project_permissions(id, o));
    add_answer(out, "pending", q.permission_requests(id, true, o));
    for (int u = 0; u < R::kUsers; ++u) add_answer(out, "role", q.role_of(id, R::user(u), o));
    AuditFilter by_project;
    by_project.project_id = id;
    by_project.limit = 5;
    add_answer(out, "audit-project", q.audit(by_project, o));
  }
  AuditFilter text;
  text.text = "rollback";
  add_answer(out, "audit-text", q.audit(text, o));
  AuditFilter type;
  type.type = "DeploySucceeded";
  type.oldest_first = true;
  add_answer(out, "audit-type", q.audit(type, o));
  AuditFilter actor;
  actor.actor = R::user(1);
  add_answer(out, "audit-actor", q.audit(actor, o));
  return out;
}

// What the landscape and the delivery metrics answer (insights_queries.h).
inline std::string insights_snapshot(const Queries& plain, const QueryOptions& o) {
  using R = RandomHistory;
  InsightsQueries q(plain);
  std::string out;
  InsightsFilter metrics;
  metrics.from_us = 0;
  metrics.to_us = int64_t{4'000'000'000'000'000};
  metrics.bucket = insights::Bucket::kNone;
  metrics.detail = true;
  add_answer(out, "insights", q.insights(metrics, o));
  for (int p = 0; p < R::kProjects; ++p) {
    metrics.project = R::project(p);
    add_answer(out, "insights-project", q.insights(metrics, o));
  }
  add_answer(out, "landscape", q.landscape({}, o));
  return out;
}

}  // namespace wharf::projections::testing
