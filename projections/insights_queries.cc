// Queries::landscape and Queries::insights (docs/insights.md), read from the
// insights projection (and the projects projection for names and the
// promotion order).
#include "projections/insights_queries.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <set>
#include <string_view>
#include <unordered_map>

#include "projections/insights_rollup.h"
#include "projections/keys.h"
#include "projections/state_reader.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

using keys::Key;
namespace views = wharf::views::v1;

namespace {

bool contains_folded(const std::string& text, const std::string& needle) {
  auto fold = [](unsigned char a, unsigned char b) { return std::tolower(a) == std::tolower(b); };
  return std::search(text.begin(), text.end(), needle.begin(), needle.end(), fold) != text.end();
}

// Environments of `project` that have insights state by `position`, first seen first.
std::vector<std::string> environments_seen(StateReader& reader, const std::string& project,
                                           uint64_t position) {
  std::vector<std::string> envs;
  reader.scan_forward(Key('E').add(project), 0, position, [&](uint64_t, const rocksdb::Slice& v) {
    envs.push_back(v.ToString());
    return true;
  });
  return envs;
}

// Every project's deployments in [from, to) as of `position`, from the
// rollup: the day chunks of the range and the outcomes of the failed ones.
// The rows view `chunks`, which the caller keeps until the report is made.
std::vector<insights::FactRow> rollup_rows(StateReader& reader, const InsightsFilter& filter,
                                           uint64_t position, std::deque<std::string>& chunks) {
  namespace rollup = insights::rollup;
  std::vector<insights::FactRow> rows;
  const uint64_t first_day = rollup::day_of(filter.from_us);
  const uint64_t last_day = rollup::day_of(filter.to_us - 1);
  std::unordered_map<std::string_view, bool> visible;  // per project, views into `chunks`
  reader.scan_forward(Key('A'), first_day, last_day, [&](uint64_t, const rocksdb::Slice& v) {
    const std::string& chunk = chunks.emplace_back(v.data(), v.size());
    const size_t before = rows.size();
    if (!rollup::decode_rows(chunk, rows)) rows.resize(before);
    // Drop what the filter leaves out, in place.
    size_t kept = before;
    for (size_t i = before; i < rows.size(); ++i) {
      const auto& r = rows[i];
      if (r.position > position ||
          !insights::in_range(r.deployed_at_us, filter.from_us, filter.to_us)) {
        continue;
      }
      if (!filter.environment.empty() && r.environment != filter.environment) continue;
      if (filter.visible) {
        auto [it, inserted] = visible.try_emplace(r.project_id, false);
        if (inserted) it->second = filter.visible(std::string(r.project_id));
        if (!it->second) continue;
      }
      rows[kept++] = r;
    }
    rows.resize(kept);
    return true;
  });
  // Failures and restores: few, keyed by the deployment's time too.
  std::unordered_map<uint64_t, rollup::Outcome> outcomes;
  reader.scan_forward(Key('F'), static_cast<uint64_t>(std::max<int64_t>(filter.from_us, 0)),
                      static_cast<uint64_t>(filter.to_us - 1),
                      [&](uint64_t, const rocksdb::Slice& v) {
                        rollup::Outcome o;
                        if (rollup::decode_outcome(std::string_view(v.data(), v.size()), &o)) {
                          outcomes[o.position] = o;
                        }
                        return true;
                      });
  if (!outcomes.empty()) {
    for (auto& r : rows) {
      auto it = outcomes.find(r.position);
      if (it == outcomes.end()) continue;
      r.failure_position = it->second.failure_position;
      r.failure_at_us = it->second.failure_at_us;
      r.restore_position = it->second.restore_position;
      r.restore_at_us = it->second.restore_at_us;
      insights::as_of(r, position);
    }
  }
  return rows;
}

}  // namespace

Expected<views::Landscape, Error> InsightsQueries::landscape(const LandscapeFilter& filter,
                                                             const QueryOptions& o) const {
  auto pos = queries_.resolve({"projects", "insights"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = queries_.runner_.read_lock();
  StateReader projects(queries_.runner_.db().db(), queries_.runner_.db().cf("projects"));
  StateReader cells(queries_.runner_.db().db(), queries_.runner_.db().cf("insights"));
  std::vector<std::string> ids;
  projects.scan_forward(Key('c'), 0, *pos, [&](uint64_t, const rocksdb::Slice& v) {
    ids.push_back(v.ToString());
    return true;
  });
  views::Landscape out;
  out.set_position(*pos);
  for (const auto& id : ids) {
    if (filter.visible && !filter.visible(id)) continue;
    views::ProjectView project;
    if (!projects.get_at(Key('p').add(id), *pos, &project)) continue;
    if (!filter.project.empty() && !contains_folded(project.name(), filter.project) &&
        !contains_folded(id, filter.project)) {
      continue;
    }
    views::LandscapeProject row;
    row.set_project_id(id);
    row.set_name(project.name());
    std::vector<std::string> defined;
    for (const auto& e : project.environments()) defined.push_back(e.name());
    std::vector<std::string> envs = defined;
    for (auto& e : environments_seen(cells, id, *pos)) {
      if (std::find(envs.begin(), envs.end(), e) == envs.end()) envs.push_back(std::move(e));
    }
    std::vector<views::LandscapeCell> row_cells;
    for (const auto& env : envs) {
      views::LandscapeCell cell;
      if (!cells.get_at(Key('l').add(id).add(env), *pos, &cell)) {
        cell.set_project_id(id);
        cell.set_environment(env);
      }
      cell.set_defined(std::find(defined.begin(), defined.end(), env) != defined.end());
      row_cells.push_back(std::move(cell));
    }
    // Drift: each defined environment against the next one in promotion order.
    for (size_t i = 0; i + 1 < defined.size(); ++i) {
      auto& cell = row_cells[i];
      const auto& next = row_cells[i + 1];
      cell.set_next_environment(next.environment());
      if (cell.version_ordinal() > 0 && next.version_ordinal() > 0) {
        cell.set_ahead_of_next(static_cast<int64_t>(cell.version_ordinal()) -
                               static_cast<int64_t>(next.version_ordinal()));
      }
    }
    for (auto& cell : row_cells) {
      if (!filter.environment.empty() && cell.environment() != filter.environment) continue;
      *row.add_environments() = std::move(cell);
    }
    if (row.environments_size() > 0 || filter.environment.empty()) {
      *out.add_projects() = std::move(row);
    }
  }
  return out;
}

Expected<views::InsightsReport, Error> InsightsQueries::insights(const InsightsFilter& filter,
                                                                 const QueryOptions& o) const {
  if (filter.to_us <= filter.from_us) {
    return fail(ErrorCode::kInvalidArgument, "insights: `to` must be after `from`");
  }
  auto pos = queries_.resolve({"insights"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = queries_.runner_.read_lock();
  StateReader reader(queries_.runner_.db().db(), queries_.runner_.db().cf("insights"));
  const uint64_t from = static_cast<uint64_t>(std::max<int64_t>(filter.from_us, 0));
  const uint64_t last = static_cast<uint64_t>(filter.to_us - 1);
  if (filter.project.empty() && !filter.detail) {
    std::deque<std::string> chunks;
    return insights::report(rollup_rows(reader, filter, *pos, chunks), *pos, filter.from_us,
                            filter.to_us, filter.bucket, false);
  }
  // Facts on an arena: a project's year is 10^4 facts, and their strings'
  // mallocs and frees were most of the query's time.
  google::protobuf::Arena arena;
  std::vector<insights::FactRow> rows;
  views::DeploymentFact* spare = nullptr;
  auto keep = [&](const rocksdb::Slice& value) {
    if (spare == nullptr)
      spare = google::protobuf::Arena::CreateMessage<views::DeploymentFact>(&arena);
    views::DeploymentFact& f = *spare;
    if (!f.ParseFromArray(value.data(), static_cast<int>(value.size())) || f.position() > *pos ||
        (!filter.environment.empty() && f.environment() != filter.environment) ||
        (filter.visible && !filter.visible(f.project_id()))) {
      return;  // the spare is parsed over by the next one
    }
    insights::as_of(f, *pos);
    rows.push_back(insights::row_of(f));
    spare = nullptr;
  };
  if (!filter.project.empty()) {
    std::vector<std::string> envs;
    if (filter.environment.empty()) {
      envs = environments_seen(reader, filter.project, *pos);
    } else {
      envs.push_back(filter.environment);
    }
    for (const auto& env : envs) {
      reader.scan_forward(Key('d').add(filter.project).add(env), from, last,
                          [&](uint64_t, const rocksdb::Slice& v) {
                            keep(v);
                            return true;
                          });
    }
  } else {
    reader.scan_forward(Key('a'), from, last, [&](uint64_t, const rocksdb::Slice& v) {
      keep(v);
      return true;
    });
  }
  return insights::report(std::move(rows), *pos, filter.from_us, filter.to_us, filter.bucket,
                          filter.detail);
}

}  // namespace wharf::projections
