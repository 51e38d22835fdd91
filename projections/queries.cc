#include "projections/queries.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "projections/audit_projection.h"
#include "projections/environments_projection.h"
#include "projections/keys.h"
#include "projections/runs_projection.h"
#include "projections/state_reader.h"
#include "projections/time_format.h"

namespace wharf::projections {

using keys::Key;

namespace {

Error not_found(const std::string& what, uint64_t position) {
  return Error{ErrorCode::kNotFound, what + " not found at position " + std::to_string(position)};
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

Expected<QueryOptions, Error> with_at(QueryOptions options, std::string_view at) {
  if (at.empty()) return options;
  if (std::all_of(at.begin(), at.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (at.size() > 19) return fail(ErrorCode::kInvalidArgument, "at: position too large");
    options.at_position = std::stoull(std::string(at));
    return options;
  }
  auto t = parse_rfc3339(at);
  if (!t) {
    return fail(ErrorCode::kInvalidArgument,
                "at: expected a log position or an RFC 3339 time (2026-03-03T14:00:00Z), got '" +
                    std::string(at) + "'");
  }
  options.at_time_us = *t;
  return options;
}

Expected<uint64_t, Error> Queries::resolve(std::initializer_list<const char*> projections,
                                           const QueryOptions& o) const {
  std::vector<std::string> names(projections.begin(), projections.end());
  uint64_t wait = o.min_position;
  if (o.at_position && runner_.store() != nullptr) {
    wait = std::max(wait, std::min(*o.at_position, runner_.store()->head_position()));
  }
  if (o.at_time_us) names.push_back("audit");
  if (wait > 0) {
    if (auto r = runner_.wait_for(wait, o.timeout, names); !r) return wharf::unexpected(r.error());
  }
  uint64_t position = UINT64_MAX;
  for (const auto& n : names) position = std::min(position, runner_.position(n));
  if (o.at_position) position = std::min(position, *o.at_position);
  if (o.at_time_us) position = std::min(position, runner_.position_at_time(*o.at_time_us));
  return position;
}

Expected<views::ProjectList, Error> Queries::list_projects(const QueryOptions& o,
                                                           const std::string& user,
                                                           const ProjectPage& page) const {
  auto pos = user.empty() ? resolve({"projects"}, o) : resolve({"projects", "permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader projects(runner_.db().db(), runner_.db().cf("projects"));
  StateReader perms(runner_.db().db(), runner_.db().cf("permissions"));
  views::ProjectList out;
  out.set_position(*pos);
  uint64_t last = 0;  // position of the last project listed
  // Lists the project created (granted) at `at`; false once the page is full
  // and another one follows.
  auto add = [&](uint64_t at, const std::string& id) {
    if (page.visible && !page.visible(id)) return true;
    if (!user.empty()) {
      views::RoleAssignment a;
      if (!perms.get_at(Key('g').add(id).add(user), *pos, &a) ||
          a.role() == wharf::v1::ROLE_UNSPECIFIED) {
        return true;
      }
    }
    views::ProjectView view;
    if (!projects.get_at(Key('p').add(id), *pos, &view)) return true;
    if (page.limit != 0 && static_cast<size_t>(out.projects_size()) == page.limit) {
      out.set_next_cursor(std::to_string(last));
      return false;
    }
    *out.add_projects() = std::move(view);
    last = at;
    return true;
  };
  // The index first (the visits below read other keys with the same readers).
  std::vector<std::pair<uint64_t, std::string>> ids;
  auto collect = [&](uint64_t at, const rocksdb::Slice& v) {
    ids.emplace_back(at, v.ToString());
    return true;
  };
  if (user.empty()) {
    projects.scan_forward(Key('c'), page.after + 1, *pos, collect);
  } else {
    perms.scan_forward(Key('u').add(user), page.after + 1, *pos, collect);
  }
  for (const auto& [at, id] : ids) {
    if (!add(at, id)) break;
  }
  return out;
}

Expected<Answer<views::ProjectView>, Error> Queries::get_project(const std::string& project_id,
                                                                 const QueryOptions& o) const {
  auto pos = resolve({"projects"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader reader(runner_.db().db(), runner_.db().cf("projects"));
  Answer<views::ProjectView> out{*pos, {}};
  if (!reader.get_at(Key('p').add(project_id), *pos, &out.value)) {
    return wharf::unexpected(not_found("project " + project_id, *pos));
  }
  return out;
}

Expected<views::RunList, Error> Queries::list_runs(const RunFilter& filter,
                                                   const QueryOptions& o) const {
  auto pos = resolve({"runs"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader index(runner_.db().db(), runner_.db().cf("runs"));
  views::RunList out;
  out.set_position(*pos);
  uint64_t max = *pos;
  if (filter.before > 0) max = std::min(max, filter.before - 1);
  std::string prefix =
      filter.project_id.empty() ? Key('a').str() : Key('i').add(filter.project_id).str();
  size_t limit = std::max<size_t>(filter.limit, 1);
  uint64_t last_indexed = 0;
  index.scan_backward(prefix, 0, max, [&](uint64_t indexed, const rocksdb::Slice& v) {
    views::RunView run;
    if (!run_at(runner_.db().db(), runner_.db().cf("runs"), v.ToString(), *pos, &run)) return true;
    if (!filter.project_id.empty() && run.project_id() != filter.project_id) return true;
    if (filter.status && run.status() != *filter.status) return true;
    if (!filter.commit_sha.empty() && !run.commit_sha().starts_with(filter.commit_sha)) return true;
    if (static_cast<size_t>(out.runs_size()) == limit) {
      out.set_next_before(last_indexed);
      return false;
    }
    last_indexed = indexed;
    *out.add_runs() = std::move(run);
    return true;
  });
  return out;
}

Expected<Answer<views::RunView>, Error> Queries::get_run(const std::string& run_id,
                                                         const QueryOptions& o) const {
  auto pos = resolve({"runs"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  Answer<views::RunView> out{*pos, {}};
  if (!run_at(runner_.db().db(), runner_.db().cf("runs"), run_id, *pos, &out.value)) {
    return wharf::unexpected(not_found("run " + run_id, *pos));
  }
  return out;
}

Expected<views::VersionList, Error> Queries::list_versions(const std::string& project_id,
                                                           uint64_t before, size_t limit,
                                                           const QueryOptions& o) const {
  auto pos = resolve({"versions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader index(runner_.db().db(), runner_.db().cf("versions"));
  StateReader versions(runner_.db().db(), runner_.db().cf("versions"));
  views::VersionList out;
  out.set_position(*pos);
  uint64_t max = before > 0 ? std::min(*pos, before - 1) : *pos;
  limit = std::max<size_t>(limit, 1);
  index.scan_backward(
      Key('i').add(project_id), 0, max, [&](uint64_t recorded, const rocksdb::Slice& v) {
        if (static_cast<size_t>(out.versions_size()) == limit) {
          out.set_next_before(out.versions(out.versions_size() - 1).recorded_position());
          return false;
        }
        (void)recorded;
        views::VersionView view;
        if (versions.get_at(Key('v').add(project_id).add(v.ToString()), *pos, &view)) {
          *out.add_versions() = std::move(view);
        }
        return true;
      });
  return out;
}

Expected<Answer<views::VersionView>, Error> Queries::get_version(const std::string& project_id,
                                                                 const std::string& version,
                                                                 const QueryOptions& o) const {
  auto pos = resolve({"versions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader reader(runner_.db().db(), runner_.db().cf("versions"));
  Answer<views::VersionView> out{*pos, {}};
  if (!reader.get_at(Key('v').add(project_id).add(version), *pos, &out.value)) {
    return wharf::unexpected(not_found("version " + version + " of " + project_id, *pos));
  }
  return out;
}

Expected<views::EnvironmentList, Error> Queries::list_environments(const std::string& project_id,
                                                                   const QueryOptions& o) const {
  auto pos = resolve({"environments"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader index(runner_.db().db(), runner_.db().cf("environments"));
  StateReader envs(runner_.db().db(), runner_.db().cf("environments"));
  views::EnvironmentList out;
  out.set_position(*pos);
  index.scan_forward(Key('e').add(project_id), 0, *pos, [&](uint64_t, const rocksdb::Slice& v) {
    views::EnvironmentView view;
    if (environment_at(envs, project_id, v.ToString(), *pos, &view)) {
      *out.add_environments() = std::move(view);
    }
    return true;
  });
  return out;
}

Expected<Answer<views::EnvironmentView>, Error> Queries::get_environment(
    const std::string& project_id, const std::string& environment, const QueryOptions& o) const {
  auto pos = resolve({"environments"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader reader(runner_.db().db(), runner_.db().cf("environments"));
  Answer<views::EnvironmentView> out{*pos, {}};
  if (!environment_at(reader, project_id, environment, *pos, &out.value)) {
    return wharf::unexpected(not_found("environment " + environment + " of " + project_id, *pos));
  }
  return out;
}

Expected<views::EnvironmentHistory, Error> Queries::environment_history(
    const std::string& project_id, const std::string& environment, const QueryOptions& o) const {
  return environment_history(project_id, environment, o, 0, 0);
}

Expected<views::EnvironmentHistory, Error> Queries::environment_history(
    const std::string& project_id, const std::string& environment, const QueryOptions& o,
    uint64_t before, size_t limit) const {
  auto pos = resolve({"environments"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader reader(runner_.db().db(), runner_.db().cf("environments"));
  views::EnvironmentHistory out;
  out.set_position(*pos);
  if (!environment_at(reader, project_id, environment, *pos, out.mutable_environment())) {
    return wharf::unexpected(not_found("environment " + environment + " of " + project_id, *pos));
  }
  const uint64_t max = before > 0 ? std::min(*pos, before - 1) : *pos;
  const std::string prefix = Key('h').add(project_id).add(environment);
  if (limit == 0) {
    reader.scan_forward(prefix, 0, max, [&](uint64_t, const rocksdb::Slice& v) {
      read_history_line(v, project_id, environment, out.add_events());
      return true;
    });
    return out;
  }
  std::vector<std::pair<uint64_t, std::string>> newest;  // newest first
  bool more = false;
  reader.scan_backward(prefix, 0, max, [&](uint64_t at, const rocksdb::Slice& v) {
    if (newest.size() == limit) {
      more = true;
      return false;
    }
    newest.emplace_back(at, v.ToString());
    return true;
  });
  for (auto it = newest.rbegin(); it != newest.rend(); ++it) {
    read_history_line(it->second, project_id, environment, out.add_events());
  }
  if (more) out.set_next_before(newest.back().first);
  return out;
}

namespace {

// Role assignments as of `pos`, walking an index ('m' by project or 'u' by
// user) whose values name the other half of each grant key.
views::PermissionList assignments_at(
    const ProjectionRunner& runner, uint64_t pos, const std::string& index_key,
    const std::function<std::string(const std::string&)>& grant_key) {
  auto lock = runner.read_lock();
  StateReader index(runner.db().db(), runner.db().cf("permissions"));
  StateReader grants(runner.db().db(), runner.db().cf("permissions"));
  views::PermissionList out;
  out.set_position(pos);
  index.scan_forward(index_key, 0, pos, [&](uint64_t, const rocksdb::Slice& v) {
    views::RoleAssignment a;
    if (grants.get_at(grant_key(v.ToString()), pos, &a) && a.roles_size() > 0) {
      *out.add_assignments() = std::move(a);
    }
    return true;
  });
  return out;
}

}  // namespace

Expected<views::PermissionList, Error> Queries::project_permissions(const std::string& project_id,
                                                                    const QueryOptions& o) const {
  auto pos = resolve({"permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  return assignments_at(runner_, *pos, Key('m').add(project_id), [&](const std::string& user) {
    return Key('g').add(project_id).add(user).str();
  });
}

Expected<views::PermissionList, Error> Queries::user_permissions(const std::string& user,
                                                                 const QueryOptions& o) const {
  auto pos = resolve({"permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  return assignments_at(runner_, *pos, Key('u').add(user), [&](const std::string& project_id) {
    return Key('g').add(project_id).add(user).str();
  });
}

Expected<Answer<wharf::v1::Role>, Error> Queries::role_of(const std::string& project_id,
                                                          const std::string& user,
                                                          const QueryOptions& o) const {
  auto pos = resolve({"permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader reader(runner_.db().db(), runner_.db().cf("permissions"));
  views::RoleAssignment a;
  Answer<wharf::v1::Role> out{*pos, wharf::v1::ROLE_UNSPECIFIED};
  if (reader.get_at(Key('g').add(project_id).add(user), *pos, &a)) out.value = a.role();
  return out;
}

Expected<views::RequestList, Error> Queries::permission_requests(const std::string& project_id,
                                                                 bool pending_only,
                                                                 const QueryOptions& o) const {
  auto pos = resolve({"permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader index(runner_.db().db(), runner_.db().cf("permissions"));
  StateReader requests(runner_.db().db(), runner_.db().cf("permissions"));
  views::RequestList out;
  out.set_position(*pos);
  std::string prefix = project_id.empty() ? Key('O').str() : Key('o').add(project_id).str();
  index.scan_backward(prefix, 0, *pos, [&](uint64_t, const rocksdb::Slice& v) {
    views::PermissionRequestView r;
    if (requests.get_at(Key('q').add(v.ToString()), *pos, &r) &&
        (!pending_only || r.status() == views::REQUEST_STATUS_PENDING)) {
      *out.add_requests() = std::move(r);
    }
    return true;
  });
  return out;
}

Expected<views::TokenList, Error> Queries::list_tokens(const QueryOptions& o) const {
  auto pos = resolve({"permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader index(runner_.db().db(), runner_.db().cf("permissions"));
  StateReader tokens(runner_.db().db(), runner_.db().cf("permissions"));
  views::TokenList out;
  out.set_position(*pos);
  index.scan_forward(Key('T'), 0, *pos, [&](uint64_t, const rocksdb::Slice& v) {
    views::TokenView t;
    if (tokens.get_at(Key('t').add(v.ToString()), *pos, &t)) *out.add_tokens() = std::move(t);
    return true;
  });
  return out;
}

Expected<Answer<views::TokenView>, Error> Queries::token_by_sha256(const std::string& token_sha256,
                                                                   const QueryOptions& o) const {
  auto pos = resolve({"permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader reader(runner_.db().db(), runner_.db().cf("permissions"));
  Answer<views::TokenView> out{*pos, {}};
  auto id = reader.get(Key('h').add(token_sha256));
  if (!id || !reader.get_at(Key('t').add(*id), *pos, &out.value)) {
    return wharf::unexpected(not_found("token", *pos));
  }
  return out;
}

Expected<Answer<bool>, Error> Queries::is_admin(const std::string& user,
                                                const QueryOptions& o) const {
  auto pos = resolve({"permissions"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = runner_.read_lock();
  StateReader reader(runner_.db().db(), runner_.db().cf("permissions"));
  return Answer<bool>{*pos, reader.get_at(Key('A').add(user), *pos).has_value()};
}

Expected<views::AuditPage, Error> Queries::audit(const AuditFilter& f,
                                                 const QueryOptions& o) const {
  auto pos = resolve({"audit"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  uint64_t lo = f.from_position;
  uint64_t hi = f.to_position == 0 ? *pos : std::min(*pos, f.to_position);
  if (f.from_time_us) lo = std::max(lo, runner_.position_at_time(*f.from_time_us - 1) + 1);
  if (f.to_time_us) hi = std::min(hi, runner_.position_at_time(*f.to_time_us));
  if (f.cursor > 0) {
    if (f.oldest_first) {
      lo = std::max(lo, f.cursor + 1);
    } else {
      hi = std::min(hi, f.cursor - 1);
    }
  }
  auto lock = runner_.read_lock();
  StateReader index(runner_.db().db(), runner_.db().cf("audit"));
  StateReader entries(runner_.db().db(), runner_.db().cf("audit"));
  // Walk the most selective index the filter allows; check the rest per entry.
  std::string prefix;
  if (!f.project_id.empty()) {
    prefix = Key('p').add(f.project_id);
  } else if (!f.actor.empty()) {
    prefix = Key('a').add(f.actor);
  } else if (!f.type.empty()) {
    prefix = Key('y').add(f.type);
  } else {
    prefix = Key('e');
  }
  const bool direct = prefix == Key('e').str();
  const std::string needle = lower(f.text);
  const size_t limit = std::max<size_t>(f.limit, 1);
  views::AuditPage out;
  out.set_position(*pos);
  auto visit = [&](uint64_t position, const rocksdb::Slice& value) {
    views::AuditEntry e;
    if (direct) {
      read_audit_entry(value, position, &e);
    } else if (auto bytes = entries.get(Key('e').pos(position))) {
      read_audit_entry(*bytes, position, &e);
    } else {
      return true;
    }
    if (!f.project_id.empty() && e.project_id() != f.project_id) return true;
    if (!f.actor.empty() && e.actor() != f.actor) return true;
    if (!f.type.empty() && e.type() != f.type) return true;
    if (!needle.empty()) {
      std::string hay =
          lower(e.summary() + "\n" + e.type() + "\n" + e.actor() + "\n" + e.stream_id() + "\n" +
                e.project_id() + "\n" + e.event_id() + "\n" + e.correlation_id());
      if (hay.find(needle) == std::string::npos) return true;
    }
    if (static_cast<size_t>(out.entries_size()) == limit) {
      out.set_next_cursor(out.entries(out.entries_size() - 1).position());
      return false;
    }
    *out.add_entries() = std::move(e);
    return true;
  };
  if (f.oldest_first) {
    index.scan_forward(prefix, lo, hi, visit);
  } else {
    index.scan_backward(prefix, lo, hi, visit);
  }
  return out;
}

}  // namespace wharf::projections
