// bench_insights: a year of deliveries (default 1M events: 100 projects plus
// "one", each change a commit, a version, a staging and a prod deploy and a
// health verdict; 5% of prod deploys rolled back 30 min later) folded by the
// projections; then p99 of GET /api/v1/insights' query (Queries::insights,
// bucket=week) for a year of one project and of all projects, against the
// in-run baseline: scanning + decoding the log and computing the same
// deployment count and lead-time median (it must agree). Last stdout line:
// one JSON object (README.md).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/event_store.h"
#include "events/ids.h"
#include "projections/insights_math.h"
#include "projections/insights_queries.h"
#include "projections/queries.h"
#include "projections/runner.h"
#include "projections/time_format.h"

namespace {

namespace pj = wharf::projections;
using wharf::v1::Envelope;
using wharf::v1::Payload;
using Clock = std::chrono::steady_clock;

// CPU time of this thread: on a shared, loaded machine wall time mostly
// measures the other processes; both are reported.
double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double p99(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[pj::insights::nearest_rank(v.size(), 99)];
}

class Generator {
 public:
  explicit Generator(wharf::events::EventStore& store) : store_(store) {}
  uint64_t appended() const { return appended_; }

  void project(const std::string& p) {
    Payload payload;
    auto* c = payload.mutable_project_created();
    c->set_project_id(p);
    c->set_name(p);
    for (const char* env : {"staging", "prod"}) c->add_environments()->set_name(env);
    append("project-" + p, {{0, payload}});
  }

  // One change of `p` committed at `t`, through staging to prod.
  void change(const std::string& p, uint64_t n, int64_t t, bool rollback) {
    const std::string run = p + "-r" + std::to_string(n), version = p + "-v" + std::to_string(n);
    Payload commit;
    commit.mutable_commit_observed()->set_project_id(p);
    commit.mutable_commit_observed()->set_run_id(run);
    commit.mutable_commit_observed()->set_commit_sha("sha" + std::to_string(n));
    Payload recorded;
    recorded.mutable_version_recorded()->set_project_id(p);
    recorded.mutable_version_recorded()->set_run_id(run);
    recorded.mutable_version_recorded()->set_version(version);
    append("run-" + run, {{t, commit}, {t + 300 * kS, recorded}});
    append("env-" + p + "-staging", deploy(p, "staging", run + "-s", version, t + 600 * kS, ""));
    auto prod = deploy(p, "prod", run + "-p", version, t + (1800 + n % 7200) * kS, "");
    const int64_t ok_at = prod.back().first;
    Payload health;
    auto* h = health.mutable_health_changed();
    h->set_project_id(p);
    h->set_environment("prod");
    h->set_deploy_id(run + "-p");
    h->set_version(version);
    h->set_to(wharf::v1::HEALTH_STATE_HEALTHY);
    prod.push_back({ok_at + 10 * kS, health});
    if (rollback && !last_version_[p].empty()) {
      Payload rb;
      auto* r = rb.mutable_rollback_requested();
      r->set_rollback_id(run + "-rb");
      r->set_project_id(p);
      r->set_environment("prod");
      r->set_target_version(last_version_[p]);
      prod.push_back({ok_at + 1800 * kS, rb});
      for (auto& e :
           deploy(p, "prod", run + "-rbd", last_version_[p], ok_at + 1900 * kS, run + "-rb")) {
        prod.push_back(std::move(e));
      }
    }
    append("env-" + p + "-prod", prod);
    if (!rollback) last_version_[p] = version;
  }

 private:
  static constexpr int64_t kS = 1'000'000;
  using Timed = std::vector<std::pair<int64_t, Payload>>;

  Timed deploy(const std::string& p, const std::string& env, const std::string& id,
               const std::string& version, int64_t at, const std::string& rollback_id) {
    Payload req;
    auto* q = req.mutable_deploy_requested();
    q->set_deploy_id(id);
    q->set_project_id(p);
    q->set_environment(env);
    q->set_attempt(1);
    q->mutable_spec()->set_version(version);
    q->set_rollback_id(rollback_id);
    q->set_requested_by("ci");
    Payload ok;
    auto* s = ok.mutable_deploy_succeeded();
    s->set_deploy_id(id);
    s->set_project_id(p);
    s->set_environment(env);
    s->set_attempt(1);
    s->mutable_spec()->set_version(version);
    s->set_rollback_id(rollback_id);
    return {{at - 60 * kS, req}, {at, ok}};
  }

  void append(const std::string& stream, const Timed& payloads) {
    std::vector<Envelope> batch;
    for (const auto& [t, payload] : payloads) {
      Envelope e;
      e.set_event_id(wharf::events::new_uuid());
      e.set_occurred_at_us(t);
      e.mutable_actor()->set_id("system");
      *e.mutable_payload() = payload;
      batch.push_back(std::move(e));
    }
    auto r = store_.append(stream, wharf::events::ExpectedVersion::any(), batch);
    if (!r) {
      std::fprintf(stderr, "append: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    appended_ += batch.size();
  }

  wharf::events::EventStore& store_;
  uint64_t appended_ = 0;
  std::unordered_map<std::string, std::string> last_version_;
};

// The baseline: scan + decode the whole log and compute deployments and the
// lead-time median (nearest rank) of `project` (empty: all) deployed in [from, to).
struct Scanned {
  uint32_t deployments = 0;
  double lead_median_s = 0;
};
Scanned scan_log(const wharf::events::EventStore& store, const std::string& project, int64_t from,
                 int64_t to) {
  std::unordered_map<std::string, int64_t> commit_at;   // run -> time
  std::unordered_map<std::string, int64_t> version_at;  // project/version -> commit time
  std::unordered_map<std::string, bool> rollback;       // deploy id
  std::vector<int64_t> leads;
  Scanned out;
  auto r = store.scan(1, store.head_position(), [&](const Envelope& e) {
    const auto& p = e.payload();
    switch (p.kind_case()) {
      case Payload::kCommitObserved:
        commit_at.emplace(p.commit_observed().run_id(), e.occurred_at_us());
        break;
      case Payload::kVersionRecorded: {
        const auto& v = p.version_recorded();
        auto c = commit_at.find(v.run_id());
        if (c != commit_at.end()) version_at.emplace(v.project_id() + "/" + v.version(), c->second);
        break;
      }
      case Payload::kDeploySucceeded: {
        const auto& s = p.deploy_succeeded();
        if (!s.rollback_id().empty()) break;
        if (!project.empty() && s.project_id() != project) break;
        if (!pj::insights::in_range(e.occurred_at_us(), from, to)) break;
        ++out.deployments;
        auto v = version_at.find(s.project_id() + "/" + s.spec().version());
        if (v != version_at.end()) leads.push_back(e.occurred_at_us() - v->second);
        break;
      }
      default:
        break;
    }
    return true;
  });
  if (!r) std::fprintf(stderr, "scan: %s\n", r.error().message.c_str());
  if (!leads.empty()) {
    std::sort(leads.begin(), leads.end());
    out.lead_median_s =
        static_cast<double>(leads[pj::insights::nearest_rank(leads.size(), 50)]) / 1e6;
  }
  return out;
}

}  // namespace

int main() {
  const uint64_t target = std::getenv("WHARF_BENCH_EVENTS")
                              ? std::strtoull(std::getenv("WHARF_BENCH_EVENTS"), nullptr, 10)
                              : 1000000;
  const int kProjects = 100;
  const auto root = std::filesystem::temp_directory_path() /
                    ("wharf-bench-insights-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(root);
  wharf::events::StoreOptions options;
  options.sync = false;
  auto opened = wharf::events::EventStore::open((root / "log").string(), options);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  auto& store = **opened;

  const int64_t year_start = *pj::parse_rfc3339("2026-01-01T00:00:00Z");
  const int64_t year_end = *pj::parse_rfc3339("2027-01-01T00:00:00Z");
  const uint64_t changes = target / 7;
  const int64_t step =
      (year_end - year_start - 4 * 3600 * int64_t{1'000'000}) / static_cast<int64_t>(changes);
  auto gen_start = Clock::now();
  Generator gen(store);
  for (int i = 0; i < kProjects; ++i) gen.project("p" + std::to_string(i));
  gen.project("one");
  std::mt19937 rng(7);
  for (uint64_t n = 0; n < changes; ++n) {
    const uint64_t pick = rng() % (kProjects + 1);
    const std::string p = pick == kProjects ? "one" : "p" + std::to_string(pick);
    gen.change(p, n, year_start + static_cast<int64_t>(n) * step, rng() % 100 < 5);
  }
  const uint64_t head = store.head_position();
  std::fprintf(stderr, "generated %llu events in %.1f s\n", static_cast<unsigned long long>(head),
               ms_since(gen_start) / 1000);

  auto runner = pj::ProjectionRunner::open((root / "projections").string(), &store);
  if (!runner) {
    std::fprintf(stderr, "%s\n", runner.error().message.c_str());
    return 1;
  }
  auto fold_start = Clock::now();
  if (auto r = (*runner)->catch_up(); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  const double fold_s = ms_since(fold_start) / 1000;
  std::fprintf(stderr, "projections (all seven) folded in %.1f s\n", fold_s);

  const pj::Queries plain(**runner);
  pj::InsightsQueries queries(plain);
  auto query = [&](const std::string& project) {
    pj::InsightsFilter f;
    f.project = project;
    f.from_us = year_start;
    f.to_us = year_end;
    f.bucket = pj::insights::Bucket::kWeek;
    f.page.limit = 100;  // the API's default page of groups (api/config.h default_page)
    auto r = queries.insights(f, {});
    if (!r) {
      std::fprintf(stderr, "insights: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    return *r;
  };
  std::vector<double> cpu;  // of the last measure()
  auto measure = [&](const std::string& project, int rounds,
                     wharf::views::v1::InsightsReport* last) {
    std::vector<double> ms;
    cpu.clear();
    for (int i = 0; i < rounds; ++i) {
      auto start = Clock::now();
      const double cpu_start = thread_cpu_ms();
      *last = query(project);
      ms.push_back(ms_since(start));
      cpu.push_back(thread_cpu_ms() - cpu_start);
    }
    return ms;
  };
  wharf::views::v1::InsightsReport one, all;
  measure("one", 5, &one);  // warm the block cache
  auto one_ms = measure("one", 200, &one);
  const double one_cpu_p99 = p99(cpu);
  measure("", 2, &all);
  auto all_ms = measure("", 30, &all);
  const double all_cpu_p99 = p99(cpu);

  std::vector<double> base_one_ms, base_all_ms, base_all_cpu;
  Scanned base_one, base_all;
  for (int i = 0; i < 3; ++i) {
    auto start = Clock::now();
    base_one = scan_log(store, "one", year_start, year_end);
    base_one_ms.push_back(ms_since(start));
    start = Clock::now();
    const double cpu_start = thread_cpu_ms();
    base_all = scan_log(store, "", year_start, year_end);
    base_all_ms.push_back(ms_since(start));
    base_all_cpu.push_back(thread_cpu_ms() - cpu_start);
  }
  // Only prod and staging deploys are counted by both; the projection's
  // figures must equal the scan's.
  const bool agree = one.total().deployments() == base_one.deployments &&
                     all.total().deployments() == base_all.deployments &&
                     one.total().lead_time_median_s() == base_one.lead_median_s &&
                     all.total().lead_time_median_s() == base_all.lead_median_s;
  std::fprintf(stderr,
               "one project: %u deployments, lead median %.0f s, CFR %.3f; all: %u deployments, "
               "CFR %.3f; baseline agrees: %s\n",
               one.total().deployments(), one.total().lead_time_median_s(),
               one.total().change_failure_rate(), all.total().deployments(),
               all.total().change_failure_rate(), agree ? "yes" : "NO");
  const double one_p99 = p99(one_ms), all_p99 = p99(all_ms);
  std::printf(
      "{\"bench\":\"bench_insights\",\"events\":%llu,\"p99_ms\":%.3f,\"one_project_p99_ms\":%.3f,"
      "\"all_projects_p99_ms\":%.3f,\"one_project_deployments\":%u,\"all_projects_deployments\":%u,"
      "\"baseline_scan_one_project_ms\":%.1f,\"baseline_scan_all_projects_ms\":%.1f,"
      "\"one_project_p99_cpu_ms\":%.3f,\"all_projects_p99_cpu_ms\":%.3f,"
      "\"baseline_scan_all_projects_cpu_ms\":%.1f,\"fold_all_projections_s\":%.1f,\"agree\":%s}\n",
      static_cast<unsigned long long>(head), std::max(one_p99, all_p99), one_p99, all_p99,
      one.total().deployments(), all.total().deployments(),
      *std::min_element(base_one_ms.begin(), base_one_ms.end()),
      *std::min_element(base_all_ms.begin(), base_all_ms.end()), one_cpu_p99, all_cpu_p99,
      *std::min_element(base_all_cpu.begin(), base_all_cpu.end()), fold_s,
      agree ? "true" : "false");
  runner->reset();
  store.close();
  std::filesystem::remove_all(root);
  return agree ? 0 : 1;
}
