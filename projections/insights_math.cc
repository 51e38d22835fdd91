#include "projections/insights_math.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>
#include <tuple>
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

struct Sample {
  int64_t value_us;
  uint64_t position;
  bool operator<(const Sample& o) const {
    return std::tie(value_us, position) < std::tie(o.value_us, o.position);
  }
};

// Median and p90 (nearest rank) of `samples`, with the position each one is.
void percentiles(std::vector<Sample>& samples, double* median_s, double* p90_s,
                 uint64_t* median_position, uint64_t* p90_position) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  const Sample& m = samples[nearest_rank(samples.size(), 50)];
  const Sample& p = samples[nearest_rank(samples.size(), 90)];
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

views::InsightsFigures figures(const std::vector<const views::DeploymentFact*>& facts,
                               int64_t from_us, int64_t to_us, bool detail) {
  views::InsightsFigures out;
  std::vector<Sample> lead, restore;
  for (const auto* f : facts) {
    if (f->rollback()) {
      out.set_rollbacks(out.rollbacks() + 1);
      continue;
    }
    out.set_deployments(out.deployments() + 1);
    if (detail) out.add_deployment_positions(f->position());
    if (f->has_lead_time()) lead.push_back({f->lead_time_us(), f->position()});
    if (!failed(*f)) continue;
    out.set_failed_deployments(out.failed_deployments() + 1);
    if (detail) out.add_failed_positions(f->position());
    if (restored(*f)) {
      restore.push_back({f->restore().at_us() - f->failure().at_us(), f->position()});
    } else {
      out.set_unrestored(out.unrestored() + 1);
    }
  }
  if (to_us > from_us) {
    out.set_deployments_per_day(static_cast<double>(out.deployments()) /
                                (static_cast<double>(to_us - from_us) / kDayUs));
  }
  if (out.deployments() > 0) {
    out.set_change_failure_rate(static_cast<double>(out.failed_deployments()) /
                                static_cast<double>(out.deployments()));
  }
  out.set_lead_time_samples(static_cast<uint32_t>(lead.size()));
  double median = 0, p90 = 0;
  uint64_t median_pos = 0, p90_pos = 0;
  percentiles(lead, &median, &p90, &median_pos, &p90_pos);
  out.set_lead_time_median_s(median);
  out.set_lead_time_p90_s(p90);
  out.set_lead_time_median_position(median_pos);
  out.set_lead_time_p90_position(p90_pos);
  out.set_restores(static_cast<uint32_t>(restore.size()));
  median = p90 = 0;
  median_pos = p90_pos = 0;
  percentiles(restore, &median, &p90, &median_pos, &p90_pos);
  out.set_time_to_restore_median_s(median);
  out.set_time_to_restore_p90_s(p90);
  out.set_time_to_restore_median_position(median_pos);
  out.set_time_to_restore_p90_position(p90_pos);
  return out;
}

views::InsightsReport report(std::vector<const views::DeploymentFact*> all, uint64_t position,
                             int64_t from_us, int64_t to_us, Bucket bucket, bool detail) {
  std::sort(all.begin(), all.end(), [](const auto* a, const auto* b) {
    return std::make_pair(a->deployed_at_us(), a->position()) <
           std::make_pair(b->deployed_at_us(), b->position());
  });
  views::InsightsReport out;
  out.set_position(position);
  out.set_from_us(from_us);
  out.set_to_us(to_us);
  out.set_from(format_rfc3339(from_us));
  out.set_to(format_rfc3339(to_us));
  out.set_bucket(bucket_name(bucket));
  out.set_failure_window_s(kFailureWindowUs / kSecondUs);

  // Keys view into the facts, which outlive the call.
  std::map<std::pair<std::string_view, std::string_view>, std::vector<const views::DeploymentFact*>>
      groups;
  for (const auto* f : all) groups[{f->project_id(), f->environment()}].push_back(f);
  *out.mutable_total() = figures(all, from_us, to_us, detail);
  for (const auto& [key, members] : groups) {
    auto* g = out.add_groups();
    g->set_project_id(std::string(key.first));
    g->set_environment(std::string(key.second));
    *g->mutable_figures() = figures(members, from_us, to_us, detail);
  }
  if (bucket != Bucket::kNone && to_us > from_us) {
    size_t next = 0;  // facts are sorted by time: each bucket takes the next run of them
    for (int64_t start = bucket_start(from_us, bucket); start < to_us;
         start = bucket_end(start, bucket)) {
      const int64_t end = bucket_end(start, bucket);
      std::vector<const views::DeploymentFact*> members;
      while (next < all.size() && all[next]->deployed_at_us() < end) members.push_back(all[next++]);
      auto* b = out.add_buckets();
      b->set_start_us(start);
      b->set_start(format_rfc3339(start));
      b->set_end_us(end);
      *b->mutable_figures() =
          figures(members, std::max(start, from_us), std::min(end, to_us), detail);
    }
  }
  if (detail) {
    for (const auto* f : all) *out.add_deployments() = *f;
  }
  return out;
}

}  // namespace wharf::projections::insights
