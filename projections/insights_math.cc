#include "projections/insights_math.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "projections/time_format.h"

namespace wharf::projections::insights {

namespace views = wharf::views::v1;

namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::chrono::year_month_day civil(int64_t t_us) {
  return std::chrono::year_month_day{
      std::chrono::sys_days{std::chrono::days{floor_div(t_us, kDayUs)}}};
}

int64_t to_us(std::chrono::year_month_day day) {
  return static_cast<int64_t>(std::chrono::sys_days{day}.time_since_epoch().count()) * kDayUs;
}

double seconds(int64_t us) {
  return static_cast<double>(us) / static_cast<double>(kSecondUs);
}

// Median and p90 (nearest rank) of `samples`, with the position each one is.
// (value, position) is a total order, so nth_element picks exactly the
// sample a full sort would put at that rank.
void percentiles(std::vector<Sample>& samples, double* median_s, double* p90_s,
                 uint64_t* median_position, uint64_t* p90_position) {
  if (samples.empty()) return;
  auto pick = [&](unsigned percent) {
    auto at = samples.begin() + static_cast<std::ptrdiff_t>(nearest_rank(samples.size(), percent));
    std::nth_element(samples.begin(), at, samples.end());
    return *at;
  };
  const Sample m = pick(50);
  const Sample p = pick(90);
  *median_s = seconds(m.value_us);
  *median_position = m.position;
  *p90_s = seconds(p.value_us);
  *p90_position = p.position;
}

bool failed(const views::DeploymentFact& f) {
  return f.failure().position() != 0;
}
bool restored(const views::DeploymentFact& f) {
  return f.restore().position() != 0;
}

}  // namespace

bool in_failure_window(int64_t deployed_at_us, int64_t failed_at_us) {
  return failed_at_us >= deployed_at_us && failed_at_us - deployed_at_us <= kFailureWindowUs;
}

size_t nearest_rank(size_t n, unsigned percent) {
  if (n == 0) return 0;
  size_t rank = (static_cast<size_t>(percent) * n + 99) / 100;  // ceil(p * n / 100)
  rank = std::clamp<size_t>(rank, 1, n);
  return rank - 1;
}

std::optional<Bucket> parse_bucket(std::string_view name) {
  if (name == "none") return Bucket::kNone;
  if (name == "day") return Bucket::kDay;
  if (name == "week") return Bucket::kWeek;
  if (name == "month") return Bucket::kMonth;
  return std::nullopt;
}

const char* bucket_name(Bucket bucket) {
  switch (bucket) {
    case Bucket::kDay:
      return "day";
    case Bucket::kWeek:
      return "week";
    case Bucket::kMonth:
      return "month";
    case Bucket::kNone:
      break;
  }
  return "none";
}

int64_t bucket_start(int64_t t_us, Bucket bucket) {
  const int64_t day = floor_div(t_us, kDayUs);
  switch (bucket) {
    case Bucket::kDay:
      return day * kDayUs;
    case Bucket::kWeek: {
      // 1970-01-01 was a Thursday: (day + 3) mod 7 is days since Monday.
      const int64_t since_monday = ((day + 3) % 7 + 7) % 7;
      return (day - since_monday) * kDayUs;
    }
    case Bucket::kMonth: {
      auto ymd = civil(t_us);
      return to_us(ymd.year() / ymd.month() / std::chrono::day{1});
    }
    case Bucket::kNone:
      break;
  }
  return t_us;
}

int64_t bucket_end(int64_t start_us, Bucket bucket) {
  switch (bucket) {
    case Bucket::kDay:
      return start_us + kDayUs;
    case Bucket::kWeek:
      return start_us + 7 * kDayUs;
    case Bucket::kMonth: {
      auto ymd = civil(start_us);
      auto next = std::chrono::year_month{ymd.year(), ymd.month()} + std::chrono::months{1};
      return to_us(next / std::chrono::day{1});
    }
    case Bucket::kNone:
      break;
  }
  return INT64_MAX;
}

void as_of(views::DeploymentFact& fact, uint64_t position) {
  if (fact.failure().position() > position) fact.clear_failure();
  if (fact.has_restore() && (!failed(fact) || fact.restore().position() > position)) {
    fact.clear_restore();
  }
}

void as_of(FactRow& row, uint64_t position) {
  if (row.failure_position > position) row.failure_position = row.failure_at_us = 0;
  if (row.failure_position == 0 || row.restore_position > position) {
    row.restore_position = row.restore_at_us = 0;
  }
}

FactRow row_of(const views::DeploymentFact& f) {
  FactRow r;
  r.project_id = f.project_id();
  r.environment = f.environment();
  r.position = f.position();
  r.deployed_at_us = f.deployed_at_us();
  r.rollback = f.rollback();
  r.has_lead_time = f.has_lead_time();
  r.lead_time_us = f.lead_time_us();
  if (failed(f)) {
    r.failure_position = f.failure().position();
    r.failure_at_us = f.failure().at_us();
    if (restored(f)) {
      r.restore_position = f.restore().position();
      r.restore_at_us = f.restore().at_us();
    }
  }
  r.fact = &f;
  return r;
}

void Tally::add(const FactRow& f, bool detail) {
  if (f.rollback) {
    ++rollbacks;
    return;
  }
  ++deployments;
  if (detail) deployment_positions.push_back(f.position);
  if (f.has_lead_time) lead.push_back({f.lead_time_us, f.position});
  if (f.failure_position == 0) return;
  ++failed;
  if (detail) failed_positions.push_back(f.position);
  if (f.restore_position != 0) {
    restore.push_back({f.restore_at_us - f.failure_at_us, f.position});
  } else {
    ++unrestored;
  }
}

views::InsightsFigures figures(Tally& t, int64_t from_us, int64_t to_us) {
  views::InsightsFigures out;
  for (uint64_t p : t.deployment_positions) out.add_deployment_positions(p);
  for (uint64_t p : t.failed_positions) out.add_failed_positions(p);
  out.set_deployments(static_cast<uint32_t>(t.deployments));
  out.set_rollbacks(static_cast<uint32_t>(t.rollbacks));
  out.set_failed_deployments(static_cast<uint32_t>(t.failed));
  out.set_unrestored(static_cast<uint32_t>(t.unrestored));
  if (to_us > from_us) {
    out.set_deployments_per_day(static_cast<double>(out.deployments()) /
                                (static_cast<double>(to_us - from_us) / kDayUs));
  }
  if (out.deployments() > 0) {
    out.set_change_failure_rate(static_cast<double>(out.failed_deployments()) /
                                static_cast<double>(out.deployments()));
  }
  out.set_lead_time_samples(static_cast<uint32_t>(t.lead.size()));
  double median = 0, p90 = 0;
  uint64_t median_pos = 0, p90_pos = 0;
  percentiles(t.lead, &median, &p90, &median_pos, &p90_pos);
  out.set_lead_time_median_s(median);
  out.set_lead_time_p90_s(p90);
  out.set_lead_time_median_position(median_pos);
  out.set_lead_time_p90_position(p90_pos);
  out.set_restores(static_cast<uint32_t>(t.restore.size()));
  median = p90 = 0;
  median_pos = p90_pos = 0;
  percentiles(t.restore, &median, &p90, &median_pos, &p90_pos);
  out.set_time_to_restore_median_s(median);
  out.set_time_to_restore_p90_s(p90);
  out.set_time_to_restore_median_position(median_pos);
  out.set_time_to_restore_p90_position(p90_pos);
  return out;
}

views::InsightsFigures figures(const std::vector<const FactRow*>& rows, int64_t from_us,
                               int64_t to_us, bool detail) {
  Tally t;
  t.lead.reserve(rows.size());
  for (const auto* f : rows) t.add(*f, detail);
  return figures(t, from_us, to_us);
}

bool GroupPage::after_cursor(std::string_view project, std::string_view env) const {
  if (!has_cursor) return true;
  const std::string_view p = after_project, e = after_environment;
  return project != p ? project > p : env > e;
}

namespace {

void append_hex(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
}

bool parse_hex(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

}  // namespace

std::string encode_group_cursor(std::string_view project, std::string_view env) {
  std::string out;
  append_hex(out, project);
  out.push_back('.');
  append_hex(out, env);
  return out;
}

bool decode_group_cursor(std::string_view cursor, GroupPage* page) {
  const size_t dot = cursor.find('.');
  if (dot == std::string_view::npos || !parse_hex(cursor.substr(0, dot), &page->after_project) ||
      !parse_hex(cursor.substr(dot + 1), &page->after_environment)) {
    return false;
  }
  page->has_cursor = true;
  return true;
}

views::InsightsReport report_frame(uint64_t position, int64_t from_us, int64_t to_us, Bucket bucket,
                                   std::vector<int64_t>* starts) {
  views::InsightsReport out;
  out.set_position(position);
  out.set_from_us(from_us);
  out.set_to_us(to_us);
  out.set_from(format_rfc3339(from_us));
  out.set_to(format_rfc3339(to_us));
  out.set_bucket(bucket_name(bucket));
  out.set_failure_window_s(kFailureWindowUs / kSecondUs);
  starts->clear();
  if (bucket != Bucket::kNone && to_us > from_us) {
    for (int64_t start = bucket_start(from_us, bucket); start < to_us;
         start = bucket_end(start, bucket)) {
      starts->push_back(start);
      auto* b = out.add_buckets();
      b->set_start_us(start);
      b->set_start(format_rfc3339(start));
      b->set_end_us(bucket_end(start, bucket));
    }
  }
  return out;
}

ptrdiff_t bucket_index(const std::vector<int64_t>& starts, int64_t t_us) {
  auto it = std::upper_bound(starts.begin(), starts.end(), t_us);
  return it == starts.begin() ? -1 : (it - starts.begin() - 1);
}

views::InsightsReport report(std::vector<FactRow> rows, uint64_t position, int64_t from_us,
                             int64_t to_us, Bucket bucket, bool detail, const GroupPage& page) {
  // Only the lists of `detail` depend on the order of the rows.
  if (detail) {
    std::sort(rows.begin(), rows.end(), [](const FactRow& a, const FactRow& b) {
      return std::tie(a.deployed_at_us, a.position) < std::tie(b.deployed_at_us, b.position);
    });
  }
  std::vector<int64_t> starts;
  views::InsightsReport out = report_frame(position, from_us, to_us, bucket, &starts);
  using GroupKey = std::pair<std::string_view, std::string_view>;
  struct GroupHash {
    size_t operator()(const GroupKey& k) const {
      return std::hash<std::string_view>()(k.first) * 31 + std::hash<std::string_view>()(k.second);
    }
  };
  std::unordered_map<GroupKey, std::vector<const FactRow*>, GroupHash> groups;
  std::vector<std::vector<const FactRow*>> buckets(starts.size());
  std::vector<const FactRow*> all;
  all.reserve(rows.size());
  for (const auto& r : rows) {
    all.push_back(&r);
    groups[{r.project_id, r.environment}].push_back(&r);
    const ptrdiff_t b = bucket_index(starts, r.deployed_at_us);
    if (b >= 0) buckets[static_cast<size_t>(b)].push_back(&r);
  }
  *out.mutable_total() = figures(all, from_us, to_us, detail);
  std::vector<GroupKey> keys;
  keys.reserve(groups.size());
  for (const auto& [key, members] : groups) {
    if (page.after_cursor(key.first, key.second)) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  for (const auto& key : keys) {
    if (page.limit != 0 && static_cast<size_t>(out.groups_size()) == page.limit) {
      const auto& last = out.groups(out.groups_size() - 1);
      out.set_next_cursor(encode_group_cursor(last.project_id(), last.environment()));
      break;
    }
    auto* g = out.add_groups();
    g->set_project_id(std::string(key.first));
    g->set_environment(std::string(key.second));
    *g->mutable_figures() = figures(groups[key], from_us, to_us, detail);
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    auto* b = out.mutable_buckets(static_cast<int>(i));
    *b->mutable_figures() =
        figures(buckets[i], std::max(starts[i], from_us), std::min(b->end_us(), to_us), detail);
  }
  if (detail) {
    for (const auto& r : rows) *out.add_deployments() = *r.fact;
  }
  return out;
}

}  // namespace wharf::projections::insights
