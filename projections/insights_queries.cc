// Queries::landscape and Queries::insights (docs/insights.md), read from the
// insights projection (and the projects projection for names and the
// promotion order).
#include "projections/insights_queries.h"

#include <google/protobuf/arena.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
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
void rollup_rows(StateReader& reader, const InsightsFilter& filter, uint64_t position,
                 std::deque<std::string>& chunks, std::vector<insights::FactRow>& rows) {
  namespace rollup = insights::rollup;
  const size_t first_row = rows.size();
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
      if (!filter.project.empty() && r.project_id != filter.project) continue;
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
    for (size_t i = first_row; i < rows.size(); ++i) {
      auto& r = rows[i];
      auto it = outcomes.find(r.position);
      if (it == outcomes.end()) continue;
      r.failure_position = it->second.failure_position;
      r.failure_at_us = it->second.failure_at_us;
      r.restore_position = it->second.restore_position;
      r.restore_at_us = it->second.restore_at_us;
      insights::as_of(r, position);
    }
  }
}

// The answer over every project at the projection's own `position` (the
// aggregates' state), without detail: the per-day aggregates ('G', 'H',
// 'J') of the range's full UTC days, the rollup's rows of its partial days.
// Visible to all: the totals come from the scope of every environment (or
// the filtered one) and only the page's groups are read; otherwise the
// totals are summed over the visible groups.
views::InsightsReport aggregated(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                 const rocksdb::Snapshot* snapshot, const InsightsFilter& filter,
                                 uint64_t position) {
  namespace rollup = insights::rollup;
  using insights::kDayUs;
  StateReader reader(db, cf, snapshot);
  const int64_t from = filter.from_us, to = filter.to_us;
  // Full days [day0, day1); the rest of the range comes from rows.
  const int64_t day0 = (from + kDayUs - 1) / kDayUs, day1 = to / kDayUs;
  std::vector<std::pair<int64_t, int64_t>> edges;
  if (day0 >= day1) {
    edges.push_back({from, to});
  } else {
    if (from < day0 * kDayUs) edges.push_back({from, day0 * kDayUs});
    if (day1 * kDayUs < to) edges.push_back({day1 * kDayUs, to});
  }
  std::vector<int64_t> starts;
  views::InsightsReport out = insights::report_frame(position, from, to, filter.bucket, &starts);
  insights::Tally total;
  std::vector<insights::Tally> buckets(starts.size());

  std::deque<std::string> chunks;
  std::vector<insights::FactRow> edge_rows;
  for (const auto& [a, b] : edges) {
    InsightsFilter part = filter;
    part.from_us = a;
    part.to_us = b;
    rollup_rows(reader, part, position, chunks, edge_rows);
  }
  using GroupKey = std::pair<std::string_view, std::string_view>;
  std::map<GroupKey, std::vector<const insights::FactRow*>> edge_groups;
  for (const auto& r : edge_rows) {
    total.add(r, false);
    if (auto b = insights::bucket_index(starts, r.deployed_at_us); b >= 0) {
      buckets[static_cast<size_t>(b)].add(r, false);
    }
    edge_groups[{r.project_id, r.environment}].push_back(&r);
  }

  // Adds a scope's full days to `into` (and to `total` and the buckets when
  // `totals`).
  std::vector<insights::Sample> samples;
  auto add_days = [&](const std::string& scope, insights::Tally* into, bool totals) {
    if (day0 >= day1) return;
    auto tallies = [&](uint64_t day, auto&& apply) {
      if (into != nullptr) apply(*into);
      if (!totals) return;
      apply(total);
      if (auto b = insights::bucket_index(starts, static_cast<int64_t>(day) * kDayUs); b >= 0) {
        apply(buckets[static_cast<size_t>(b)]);
      }
    };
    const auto first = static_cast<uint64_t>(day0), last = static_cast<uint64_t>(day1 - 1);
    reader.scan_forward("G" + scope, first, last, [&](uint64_t day, const rocksdb::Slice& v) {
      rollup::DayCounts c;
      if (!rollup::decode_counts(std::string_view(v.data(), v.size()), &c)) return true;
      tallies(day, [&](insights::Tally& t) {
        t.deployments += c.deployments;
        t.rollbacks += c.rollbacks;
        t.failed += c.failed;
        t.unrestored += c.failed - c.restores;
      });
      return true;
    });
    for (const char tag : {'H', 'J'}) {
      reader.scan_forward(
          std::string(1, tag) + scope, first, last, [&](uint64_t day, const rocksdb::Slice& v) {
            samples.clear();
            if (!rollup::decode_samples(std::string_view(v.data(), v.size()), samples)) {
              return true;
            }
            tallies(day, [&](insights::Tally& t) {
              auto& dst = tag == 'H' ? t.lead : t.restore;
              dst.insert(dst.end(), samples.begin(), samples.end());
            });
            return true;
          });
    }
  };

  // One project, or not every project visible: the totals are the sum of
  // the groups read.
  const bool totals_from_groups = filter.visible || !filter.project.empty();
  if (!totals_from_groups) {
    add_days(filter.environment.empty() ? rollup::scope_all()
                                        : rollup::scope_environment(filter.environment),
             nullptr, true);
  }
  // Groups in key order ('N' [project] [env]: the order of (project, env)).
  const insights::GroupPage& page = filter.page;
  const std::string prefix = filter.project.empty() ? Key('N') : Key('N').add(filter.project);
  std::string start = prefix;
  if (page.has_cursor && !totals_from_groups) {
    start = Key('N').add(page.after_project).add(page.after_environment);
  }
  StateReader groups(db, cf, snapshot);
  bool more = false;
  groups.each(prefix, start, [&](const rocksdb::Slice&, const rocksdb::Slice& v) {
    std::string_view p, e;
    if (!rollup::decode_group(std::string_view(v.data(), v.size()), &p, &e)) return true;
    if (!filter.environment.empty() && e != filter.environment) return true;
    const std::string project(p), env(e);
    if (filter.visible && !filter.visible(project)) return true;
    const bool in_page = page.after_cursor(project, env);
    const bool page_full = page.limit != 0 && static_cast<size_t>(out.groups_size()) >= page.limit;
    insights::Tally g;
    add_days(rollup::scope_group(project, env), &g, totals_from_groups);
    if (auto it = edge_groups.find({project, env}); it != edge_groups.end()) {
      for (const auto* r : it->second) g.add(*r, false);
    }
    if (!in_page || g.empty()) return true;
    if (page_full) {
      more = true;
      return totals_from_groups;  // the totals need every visible group
    }
    auto* group = out.add_groups();
    group->set_project_id(project);
    group->set_environment(env);
    *group->mutable_figures() = insights::figures(g, from, to);
    return true;
  });
  if (more) {
    const auto& last = out.groups(out.groups_size() - 1);
    out.set_next_cursor(insights::encode_group_cursor(last.project_id(), last.environment()));
  }
  *out.mutable_total() = insights::figures(total, from, to);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto* b = out.mutable_buckets(static_cast<int>(i));
    *b->mutable_figures() =
        insights::figures(buckets[i], std::max(starts[i], from), std::min(b->end_us(), to));
  }
  return out;
}

}  // namespace

Expected<views::Landscape, Error> InsightsQueries::landscape(const LandscapeFilter& filter,
                                                             const QueryOptions& o) const {
  auto pos = queries_.resolve({"projects", "insights"}, o);
  if (!pos) return wharf::unexpected(pos.error());
  auto lock = queries_.runner_.read_lock();
  StateReader projects(queries_.runner_.db().db(), queries_.runner_.db().cf("projects"));
  StateReader cells(queries_.runner_.db().db(), queries_.runner_.db().cf("insights"));
  std::vector<std::pair<uint64_t, std::string>> ids;
  projects.scan_forward(Key('c'), filter.after + 1, *pos,
                        [&](uint64_t at, const rocksdb::Slice& v) {
                          ids.emplace_back(at, v.ToString());
                          return true;
                        });
  views::Landscape out;
  out.set_position(*pos);
  uint64_t last = 0;  // creation position of the last project listed
  for (const auto& [at, id] : ids) {
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
      if (filter.limit != 0 && static_cast<size_t>(out.projects_size()) == filter.limit) {
        out.set_next_cursor(std::to_string(last));
        break;
      }
      *out.add_projects() = std::move(row);
      last = at;
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
  rocksdb::DB* db = queries_.runner_.db().db();
  rocksdb::ColumnFamilyHandle* cf = queries_.runner_.db().cf("insights");
  StateReader reader(db, cf);
  const uint64_t from = static_cast<uint64_t>(std::max<int64_t>(filter.from_us, 0));
  const uint64_t last = static_cast<uint64_t>(filter.to_us - 1);
  if (!filter.detail) {
    // At the projection's own position (the checkpoint in the same
    // snapshot) the aggregates are exact: without `at` any position at or
    // after the resolved one will do.
    rocksdb::ManagedSnapshot snapshot(db);
    StateReader at(db, cf, snapshot.snapshot());
    uint64_t checkpoint = 0;
    if (auto bytes = at.get(std::string(keys::kCheckpoint)); bytes && bytes->size() == 8) {
      checkpoint = keys::decode_position(*bytes);
    }
    const bool travel = o.at_position.has_value() || o.at_time_us.has_value();
    if (filter.from_us >= insights::kDayUs && checkpoint >= *pos &&
        (!travel || checkpoint == *pos)) {
      return aggregated(db, cf, snapshot.snapshot(), filter, checkpoint);
    }
  }
  if (filter.project.empty() && !filter.detail) {
    std::deque<std::string> chunks;
    std::vector<insights::FactRow> rows;
    rollup_rows(reader, filter, *pos, chunks, rows);
    return insights::report(std::move(rows), *pos, filter.from_us, filter.to_us, filter.bucket,
                            false, filter.page);
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
                          filter.detail, filter.page);
}

}  // namespace wharf::projections
