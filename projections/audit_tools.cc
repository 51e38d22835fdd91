#include "projections/audit_tools.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "projections/event_fields.h"
#include "projections/time_format.h"

namespace wharf::projections {

namespace views = wharf::views::v1;

uint64_t log_position_at_time(const events::EventStore& store, int64_t time_us) {
  uint64_t lo = 1, hi = store.head_position(), found = 0;
  while (lo <= hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    auto events = store.read_all(mid, 1);
    if (!events || events->empty()) break;
    if (events->front().recorded_at_us() <= time_us) {
      found = events->front().position();
      lo = mid + 1;
    } else {
      if (mid == 0) break;
      hi = mid - 1;
    }
  }
  return found;
}

std::function<bool(const wharf::v1::Envelope&)> project_filter(const events::EventStore& store,
                                                               const std::string& project_id) {
  auto run_projects = std::make_shared<std::unordered_map<std::string, std::string>>();
  return [&store, project_id, run_projects](const wharf::v1::Envelope& e) {
    std::string project = payload_field(e, "project_id");
    if (!project.empty()) return project == project_id;
    std::string run = payload_field(e, "run_id");
    if (!run.empty()) {
      auto it = run_projects->find(run);
      if (it == run_projects->end()) {
        std::string owner;
        // The run stream opens with CommitObserved/PipelineRunStarted, which name the project.
        if (auto first = store.read_stream("run-" + run, 1, 4, events::Direction::kForward)) {
          for (const auto& f : *first) {
            owner = payload_field(f, "project_id");
            if (!owner.empty()) break;
          }
        }
        it = run_projects->emplace(run, owner).first;
      }
      if (!it->second.empty()) return it->second == project_id;
    }
    const std::string& s = e.stream_id();
    return s == "project-" + project_id || s == "access-" + project_id ||
           s.starts_with("env-" + project_id + "-");
  };
}

Expected<ReplaySummary, Error> replay_export(const std::string& file, ProjectionRunner& runner) {
  ReplaySummary summary;
  summary.verify = events::verify_export(file);
  if (!summary.verify.ok) {
    return fail(ErrorCode::kCorruption, "export " + file + " does not verify: " +
                                            summary.verify.message);
  }
  auto exported = events::read_export(file);
  if (!exported) return fail(ErrorCode::kLog, "reading " + file + ": " + exported.error().message);
  summary.header = exported->header;
  std::vector<wharf::v1::Envelope> batch;
  for (auto& record : exported->records) {
    if (record.has_omitted()) {
      ++summary.events_omitted;
      continue;
    }
    if (!record.has_event()) continue;
    batch.push_back(std::move(*record.mutable_event()));
    if (batch.size() == 2048) {
      if (auto r = runner.apply(batch); !r) return wharf::unexpected(r.error());
      summary.events_applied += batch.size();
      batch.clear();
    }
  }
  if (auto r = runner.apply(batch); !r) return wharf::unexpected(r.error());
  summary.events_applied += batch.size();
  return summary;
}

namespace {

// Prints rows as left-aligned columns, two spaces apart.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
}

std::string when(int64_t us) { return us == 0 ? "-" : format_rfc3339(us).substr(0, 19) + "Z"; }
std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

const char* what(const views::EnvironmentEvent& e) {
  switch (e.kind()) {
    case views::HISTORY_KIND_DEPLOY_REQUESTED:
      return e.rollback_id().empty() ? "deploy requested" : "rollback deploy requested";
    case views::HISTORY_KIND_DEPLOY_STARTED: return "deploy started";
    case views::HISTORY_KIND_DEPLOY_SUCCEEDED:
      return e.rollback_id().empty() ? "deployed" : "rolled back to";
    case views::HISTORY_KIND_DEPLOY_FAILED:
      return e.rollback_id().empty() ? "deploy FAILED" : "rollback FAILED";
    case views::HISTORY_KIND_ROLLBACK_REQUESTED: return "rollback requested";
    default: return "?";
  }
}

bool reportable(const views::EnvironmentEvent& e) {
  return e.kind() == views::HISTORY_KIND_DEPLOY_SUCCEEDED ||
         e.kind() == views::HISTORY_KIND_DEPLOY_FAILED ||
         e.kind() == views::HISTORY_KIND_ROLLBACK_REQUESTED;
}

std::vector<views::EnvironmentEvent> history_lines(const Queries& queries,
                                                   const std::string& project_id, uint64_t from,
                                                   uint64_t to, const QueryOptions& at) {
  std::vector<views::EnvironmentEvent> lines;
  auto envs = queries.list_environments(project_id, at);
  if (!envs) return lines;
  for (const auto& env : envs->environments()) {
    auto history = queries.environment_history(project_id, env.environment(), at);
    if (!history) continue;
    for (const auto& e : history->events()) {
      if (e.position() >= from && e.position() <= to && reportable(e)) lines.push_back(e);
    }
  }
  std::sort(lines.begin(), lines.end(),
            [](const auto& a, const auto& b) { return a.position() < b.position(); });
  return lines;
}

}  // namespace

void print_version_history(std::ostream& out, const Queries& queries, const std::string& project_id,
                           const QueryOptions& at) {
  std::vector<views::VersionView> all;
  uint64_t before = 0;
  do {
    auto page = queries.list_versions(project_id, before, 500, at);
    if (!page) {
      out << "error: " << page.error().message << "\n";
      return;
    }
    for (const auto& v : page->versions()) all.push_back(v);
    before = page->next_before();
  } while (before != 0);
  std::reverse(all.begin(), all.end());
  out << "Version history of " << project_id << " (" << all.size() << " versions)\n";
  std::vector<std::vector<std::string>> rows{
      {"RECORDED", "VERSION", "COMMIT", "CHANGE", "AUTHOR", "RUN", "DIGEST", "DEPLOYED TO"}};
  for (const auto& v : all) {
    std::string deployed;
    for (const auto& d : v.deployments()) {
      if (!deployed.empty()) deployed += ", ";
      deployed += d.environment() + "@" + when(d.deployed_at_us());
      if (!d.rollback_id().empty()) deployed += "(rollback)";
    }
    std::string change = v.change_number() == 0 ? "-"
                                                : std::to_string(v.change_number()) + "/" +
                                                      std::to_string(v.patchset());
    std::string author = v.author().username().empty() ? v.author().name() : v.author().username();
    rows.push_back({when(v.recorded_at_us()), v.version(), or_dash(v.commit_sha().substr(0, 12)),
                    change, or_dash(author), or_dash(v.run_id()),
                    or_dash(v.artifact_digest().substr(0, 19)), or_dash(deployed)});
  }
  print_table(out, rows);
}

void print_environment_timeline(std::ostream& out, const Queries& queries,
                                const std::string& project_id, uint64_t from, uint64_t to,
                                const QueryOptions& at) {
  auto lines = history_lines(queries, project_id, from, to, at);
  out << "Environment timeline of " << project_id << " (" << lines.size() << " entries)\n";
  std::vector<std::vector<std::string>> rows{
      {"TIME", "POSITION", "ENVIRONMENT", "WHAT", "VERSION", "PREVIOUS", "BY", "APPROVED BY", "WHY"}};
  for (const auto& e : lines) {
    rows.push_back({when(e.at_us()), std::to_string(e.position()), e.environment(), what(e),
                    or_dash(e.version()), or_dash(e.previous_version()),
                    or_dash(e.requested_by().empty() ? e.actor() : e.requested_by()),
                    or_dash(e.approved_by()), or_dash(e.reason())});
  }
  print_table(out, rows);
}

void print_deploy_report(std::ostream& out, const Queries& queries, const std::string& project_id,
                         uint64_t from, uint64_t to, const QueryOptions& at) {
  // Projects with deploy activity in the range, from the audit view (works on
  // a filtered export whose ProjectCreated lies before the range).
  std::set<std::string> projects;
  if (!project_id.empty()) {
    projects.insert(project_id);
  } else {
    for (const char* type : {"DeployRequested", "DeploySucceeded", "DeployFailed", "RollbackRequested"}) {
      AuditFilter f;
      f.type = type;
      f.from_position = from;
      f.to_position = to;
      f.limit = 1000;
      for (;;) {
        auto page = queries.audit(f, at);
        if (!page) break;
        for (const auto& e : page->entries()) {
          if (!e.project_id().empty()) projects.insert(e.project_id());
        }
        if (page->next_cursor() == 0) break;
        f.cursor = page->next_cursor();
      }
    }
  }
  std::vector<views::EnvironmentEvent> lines;
  for (const auto& p : projects) {
    auto part = history_lines(queries, p, from, to, at);
    lines.insert(lines.end(), part.begin(), part.end());
  }
  std::sort(lines.begin(), lines.end(),
            [](const auto& a, const auto& b) { return a.position() < b.position(); });
  out << "Deploy report";
  if (!project_id.empty()) out << " of " << project_id;
  if (from > 1 || to != UINT64_MAX) {
    out << ", positions " << from << ".." << (to == UINT64_MAX ? std::string("head") : std::to_string(to));
  }
  out << ": " << lines.size() << " entries\n";
  std::vector<std::vector<std::string>> rows{{"TIME", "PROJECT", "ENVIRONMENT", "WHAT", "VERSION",
                                              "PREVIOUS", "BY", "APPROVED BY", "RUN", "WHY"}};
  for (const auto& e : lines) {
    rows.push_back({when(e.at_us()), e.project_id(), e.environment(), what(e), or_dash(e.version()),
                    or_dash(e.previous_version()),
                    or_dash(e.requested_by().empty() ? e.actor() : e.requested_by()),
                    or_dash(e.approved_by()), or_dash(e.run_id()), or_dash(e.reason())});
  }
  print_table(out, rows);
}

}  // namespace wharf::projections
