// bench_rebuild: rebuild-all-projections throughput against a scan + decode
// baseline of the same log, p99 of a time-travel query, digest equality of two
// rebuilds (and of a third through the WriteBatch path, bulk SST ingestion
// off: the in-run "before"; WHARF_BENCH_SKIP_WRITEBATCH=1 skips it). Last
// stdout line: one JSON object (see README.md).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "events/event_store.h"
#include "events/ids.h"
#include "projections/queries.h"
#include "projections/runner.h"

namespace {

using wharf::v1::Envelope;
using wharf::v1::Payload;
using Clock = std::chrono::steady_clock;

// CPU seconds (user + system, every thread) of this process so far: on a
// shared machine, events per CPU second compare better than wall time.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Builds the envelopes of one pipeline run and appends them per stream.
class Generator {
 public:
  Generator(wharf::events::EventStore& store, uint32_t seed) : store_(store), rng_(seed) {}

  uint64_t appended() const { return appended_; }

  void project(const std::string& p) {
    Payload payload;
    auto* c = payload.mutable_project_created();
    c->set_project_id(p);
    c->set_name("Project " + p);
    c->set_owner("owner-" + p);
    for (const char* env : {"staging", "prod"}) c->add_environments()->set_name(env);
    append("project-" + p, {payload});
    Payload grant;
    auto* g = grant.mutable_permission_granted();
    g->set_project_id(p);
    g->set_user("owner-" + p);
    g->set_role(wharf::v1::ROLE_OWNER);
    append("access-" + p, {grant});
  }

  // A full run: commit, build (5% fail), version, staging deploy + tests,
  // approval, prod deploy; 3% of runs end with a rollback of prod.
  void run(const std::string& p, uint64_t n, bool full_pipeline) {
    const std::string run = p + "-run-" + std::to_string(n);
    const std::string version = p + "-v" + std::to_string(n);
    const std::string sha = "c0ffee" + std::to_string(n) + p;
    std::vector<Payload> r;
    {
      auto* c = r.emplace_back().mutable_commit_observed();
      c->set_project_id(p);
      c->set_run_id(run);
      c->set_commit_sha(sha);
      c->set_branch("main");
      c->set_change_number(n);
      c->set_patchset(1);
      c->mutable_author()->set_username("dev" + std::to_string(n % 17));
      c->set_subject("change " + std::to_string(n));
      auto* s = r.emplace_back().mutable_pipeline_run_started();
      s->set_run_id(run);
      s->set_project_id(p);
      s->set_commit_sha(sha);
      s->add_environments("staging");
      s->add_environments("prod");
      auto* b = r.emplace_back().mutable_build_requested();
      b->set_run_id(run);
      b->set_project_id(p);
      b->set_attempt(1);
      b->set_commit_sha(sha);
      auto* q = r.emplace_back().mutable_build_queued();
      q->set_run_id(run);
      q->set_attempt(1);
      q->set_external_id("queue/" + run);
      auto* st = r.emplace_back().mutable_build_started();
      st->set_run_id(run);
      st->set_attempt(1);
      st->set_external_id("job/" + run);
    }
    if (full_pipeline && rng_() % 100 < 5) {
      auto* f = r.emplace_back().mutable_build_failed();
      f->set_run_id(run);
      f->set_attempt(1);
      f->set_reason("tests failed");
      auto* c = r.emplace_back().mutable_pipeline_run_completed();
      c->set_run_id(run);
      c->set_project_id(p);
      c->set_outcome(wharf::v1::RUN_OUTCOME_FAILED);
      append("run-" + run, r);
      return;
    }
    {
      auto* s = r.emplace_back().mutable_build_succeeded();
      s->set_run_id(run);
      s->set_attempt(1);
      s->set_artifact_digest("sha256:" + version);
      s->set_duration_ms(1000 + n % 1000);
      auto* v = r.emplace_back().mutable_version_recorded();
      v->set_project_id(p);
      v->set_run_id(run);
      v->set_version(version);
      v->set_artifact_digest("sha256:" + version);
      v->set_commit_sha(sha);
      v->set_change_number(n);
      v->set_patchset(1);
    }
    append("run-" + run, r);
    r.clear();
    if (full_pipeline) {
      deploy(p, "staging", run, version, n, r);
      auto* t = r.emplace_back().mutable_tests_requested();
      t->set_run_id(run);
      t->set_project_id(p);
      t->set_environment("staging");
      t->set_attempt(1);
      auto* tp = r.emplace_back().mutable_tests_passed();
      tp->set_run_id(run);
      tp->set_environment("staging");
      tp->set_attempt(1);
      auto* ar = r.emplace_back().mutable_approval_required();
      ar->set_run_id(run);
      ar->set_project_id(p);
      ar->set_environment("prod");
      auto* ag = r.emplace_back().mutable_approval_granted();
      ag->set_run_id(run);
      ag->set_environment("prod");
      ag->set_approved_by("lead" + std::to_string(n % 5));
      append("run-" + run, r);
      r.clear();
    }
    deploy(p, "prod", run, version, n, r);
    auto* c = r.emplace_back().mutable_pipeline_run_completed();
    c->set_run_id(run);
    c->set_project_id(p);
    c->set_outcome(wharf::v1::RUN_OUTCOME_SUCCEEDED);
    append("run-" + run, r);
    if (rng_() % 100 < 3 && !last_prod_event_[p].empty()) rollback(p, n);
  }

 private:
  // Stage request on the run, then the environment's deploy events.
  void deploy(const std::string& p, const std::string& env, const std::string& run,
              const std::string& version, uint64_t n, std::vector<Payload>& run_events) {
    const std::string id = run + "-" + env;
    wharf::v1::DeploySpec spec;
    spec.set_version(version);
    spec.set_artifact_digest("sha256:" + version);
    spec.set_replicas(2);
    (*spec.mutable_config())["LOG_LEVEL"] = "info";
    auto* sr = run_events.emplace_back().mutable_stage_deploy_requested();
    sr->set_run_id(run);
    sr->set_project_id(p);
    sr->set_environment(env);
    sr->set_deploy_id(id);
    sr->set_attempt(1);
    *sr->mutable_spec() = spec;
    append("run-" + run, run_events);
    run_events.clear();
    std::vector<Payload> e(4);
    auto* rq = e[0].mutable_deploy_requested();
    rq->set_deploy_id(id);
    rq->set_project_id(p);
    rq->set_environment(env);
    rq->set_run_id(run);
    rq->set_attempt(1);
    *rq->mutable_spec() = spec;
    rq->set_requested_by("system");
    auto* st = e[1].mutable_deploy_started();
    st->set_deploy_id(id);
    st->set_project_id(p);
    st->set_environment(env);
    st->set_attempt(1);
    auto* pr = e[2].mutable_deploy_progressed();
    pr->set_deploy_id(id);
    pr->set_message("2/2 ready");
    pr->set_percent(100);
    auto* ok = e[3].mutable_deploy_succeeded();
    ok->set_deploy_id(id);
    ok->set_project_id(p);
    ok->set_environment(env);
    ok->set_run_id(run);
    *ok->mutable_spec() = spec;
    ok->set_url("http://" + env + "." + p);
    ok->set_attempt(1);
    auto positions = append("env-" + p + "-" + env, e);
    if (env == "prod") {
      previous_prod_[p] = last_prod_[p];
      last_prod_[p] = {version, positions};
      last_prod_event_[p] = last_event_id_;
    }
    auto* sf = run_events.emplace_back().mutable_stage_deploy_finished();
    sf->set_run_id(run);
    sf->set_environment(env);
    sf->set_deploy_id(id);
    sf->set_attempt(1);
    sf->set_succeeded(true);
    (void)n;
  }

  void rollback(const std::string& p, uint64_t n) {
    const auto& target = previous_prod_[p].first.empty() ? last_prod_[p] : previous_prod_[p];
    const std::string rb = p + "-rb-" + std::to_string(n);
    std::vector<Payload> e(3);
    auto* r = e[0].mutable_rollback_requested();
    r->set_rollback_id(rb);
    r->set_project_id(p);
    r->set_environment("prod");
    r->set_target_version(target.first);
    r->set_reason("error rate up");
    r->set_requested_by("oncall");
    wharf::v1::DeploySpec spec;
    spec.set_version(target.first);
    spec.set_artifact_digest("sha256:" + target.first);
    auto* rq = e[1].mutable_deploy_requested();
    rq->set_deploy_id(rb + "-d");
    rq->set_project_id(p);
    rq->set_environment("prod");
    *rq->mutable_spec() = spec;
    rq->set_rollback_id(rb);
    rq->set_requested_by("oncall");
    auto* ok = e[2].mutable_deploy_succeeded();
    ok->set_deploy_id(rb + "-d");
    ok->set_project_id(p);
    ok->set_environment("prod");
    *ok->mutable_spec() = spec;
    ok->set_rollback_id(rb);
    append("env-" + p + "-prod", e);
  }

  uint64_t append(const std::string& stream, const std::vector<Payload>& payloads) {
    std::vector<Envelope> events;
    events.reserve(payloads.size());
    for (const auto& p : payloads) {
      Envelope& e = events.emplace_back();
      e.set_event_id(wharf::events::new_uuid());
      e.set_occurred_at_us(++clock_);
      e.mutable_actor()->set_id("system");
      e.mutable_actor()->set_channel(wharf::v1::CHANNEL_SYSTEM);
      *e.mutable_payload() = p;
    }
    last_event_id_ = events.back().event_id();
    auto r = store_.append(stream, wharf::events::ExpectedVersion::any(), std::move(events));
    if (!r) {
      std::fprintf(stderr, "append failed: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    appended_ += payloads.size();
    return r->last_position;
  }

  wharf::events::EventStore& store_;
  std::mt19937 rng_;
  uint64_t appended_ = 0;
  int64_t clock_ = 1'700'000'000'000'000;
  std::string last_event_id_;
  std::unordered_map<std::string, std::pair<std::string, uint64_t>> last_prod_, previous_prod_;
  std::unordered_map<std::string, std::string> last_prod_event_;
};

struct RebuildResult {
  double events_per_s = 0;
  double events_per_cpu_s = 0;
  std::vector<std::pair<std::string, std::string>> digests;
};

// `bulk` false: the WriteBatch path (what a rebuild did before SST ingestion).
RebuildResult rebuild(const std::string& dir, const wharf::events::EventStore& store,
                      bool bulk = true) {
  wharf::projections::RunnerOptions options;
  if (!bulk) options.bulk_segment_bytes = 0;
  if (const char* batch = std::getenv("WHARF_BENCH_BATCH")) {
    options.batch_events = std::strtoull(batch, nullptr, 10);
  }
  auto runner = wharf::projections::ProjectionRunner::open(dir, &store, options);
  if (!runner) {
    std::fprintf(stderr, "%s\n", runner.error().message.c_str());
    std::exit(1);
  }
  auto start = Clock::now();
  const double cpu_start = cpu_seconds();
  auto reached = (*runner)->rebuild({});
  double s = seconds_since(start);
  const double cpu = cpu_seconds() - cpu_start;
  if (!reached) {
    std::fprintf(stderr, "%s\n", reached.error().message.c_str());
    std::exit(1);
  }
  // Bytes of state each projection holds: what the rebuild had to write.
  for (const auto& name : wharf::projections::projection_names()) {
    const auto& db = (*runner)->db();
    std::unique_ptr<rocksdb::Iterator> it(
        db.db()->NewIterator(rocksdb::ReadOptions(), db.cf(name)));
    uint64_t keys = 0, bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++keys;
      bytes += it->key().size() + it->value().size();
    }
    std::fprintf(stderr, "  %-13s %9llu keys %8.1f MB (%.0f B/event)\n", name.c_str(),
                 static_cast<unsigned long long>(keys), static_cast<double>(bytes) / 1e6,
                 static_cast<double>(bytes) / static_cast<double>(*reached));
  }
  return {static_cast<double>(*reached) / s, static_cast<double>(*reached) / cpu,
          *(*runner)->digests()};
}

}  // namespace

int main() {
  const uint64_t target = std::getenv("WHARF_BENCH_EVENTS")
                              ? std::strtoull(std::getenv("WHARF_BENCH_EVENTS"), nullptr, 10)
                              : 300000;
  const int kProjects = 1000, kHotVersions = 10000;
  const auto root = std::filesystem::temp_directory_path() /
                    ("wharf-bench-rebuild-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(root);

  wharf::events::StoreOptions options;
  options.sync = false;
  auto opened = wharf::events::EventStore::open((root / "log").string(), options);
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().message.c_str());
    return 1;
  }
  auto& store = **opened;

  // The log: 1,000 projects with full pipeline runs, and one "hot" project
  // whose 10,000 versions each go to prod, interleaved.
  auto gen_start = Clock::now();
  Generator gen(store, 1);
  for (int i = 0; i < kProjects; ++i) gen.project("p" + std::to_string(i));
  gen.project("hot");
  std::mt19937 rng(2);
  uint64_t hot = 0, n = 0;
  while (gen.appended() < target || hot < static_cast<uint64_t>(kHotVersions)) {
    if (hot < static_cast<uint64_t>(kHotVersions) && (n % 4 == 0 || gen.appended() >= target)) {
      gen.run("hot", hot++, false);
    } else {
      gen.run("p" + std::to_string(rng() % kProjects), n, true);
    }
    ++n;
  }
  const uint64_t head = store.head_position();
  std::fprintf(stderr, "generated %llu events in %.1f s\n", static_cast<unsigned long long>(head),
               seconds_since(gen_start));

  // Baseline: scan + protobuf decode of the whole log, no projection work.
  auto base_start = Clock::now();
  const double base_cpu_start = cpu_seconds();
  uint64_t scanned = 0, bytes = 0;
  for (uint64_t next = 1;;) {
    auto batch = store.read_all(next, 4096);
    if (!batch || batch->empty()) break;
    for (const auto& e : *batch) bytes += e.payload().ByteSizeLong();
    scanned += batch->size();
    next = batch->back().position() + 1;
  }
  const double baseline = static_cast<double>(scanned) / seconds_since(base_start);
  const double baseline_cpu = static_cast<double>(scanned) / (cpu_seconds() - base_cpu_start);
  std::fprintf(stderr,
               "baseline: %llu events scanned+decoded, %.0f events/s, %.0f events/CPU-s (%llu "
               "payload bytes)\n",
               static_cast<unsigned long long>(scanned), baseline, baseline_cpu,
               static_cast<unsigned long long>(bytes));

  auto first = rebuild((root / "projections-a").string(), store);
  std::fprintf(stderr, "rebuild 1: %.0f events/s, %.0f events/CPU-s\n", first.events_per_s,
               first.events_per_cpu_s);
  auto second = rebuild((root / "projections-b").string(), store);
  std::fprintf(stderr, "rebuild 2: %.0f events/s, %.0f events/CPU-s\n", second.events_per_s,
               second.events_per_cpu_s);
  // The same log through the WriteBatch path (bulk ingestion off): the
  // in-run "before", and the digests it must match.
  const bool with_writebatch = std::getenv("WHARF_BENCH_SKIP_WRITEBATCH") == nullptr;
  RebuildResult old_path;
  if (with_writebatch) {
    old_path = rebuild((root / "projections-c").string(), store, false);
    std::fprintf(stderr,
                 "rebuild through WriteBatches (bulk off): %.0f events/s, %.0f events/CPU-s\n",
                 old_path.events_per_s, old_path.events_per_cpu_s);
  }
  const bool digests_equal = first.digests == second.digests && !first.digests.empty() &&
                             (!with_writebatch || old_path.digests == first.digests);
  const double events_per_s = (first.events_per_s + second.events_per_s) / 2;
  const double events_per_cpu_s = (first.events_per_cpu_s + second.events_per_cpu_s) / 2;

  // p99 of "which version ran in prod at random time T" on the hot project.
  auto runner =
      wharf::projections::ProjectionRunner::open((root / "projections-a").string(), &store);
  wharf::projections::Queries queries(**runner);
  auto first_event = store.read_all(1, 1);
  const int64_t t0 = first_event->front().recorded_at_us();
  const int64_t t1 = store.read_all(head, 1)->front().recorded_at_us();
  std::vector<double> latencies_ms;
  uint64_t answered = 0;
  for (int i = 0; i < 20000; ++i) {
    wharf::projections::QueryOptions at;
    at.at_time_us = t0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(t1 - t0 + 1));
    auto start = Clock::now();
    auto env = queries.get_environment("hot", "prod", at);
    latencies_ms.push_back(seconds_since(start) * 1000);
    answered += env.has_value() && env->value.has_current();
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  std::fprintf(stderr, "at-query: %llu/20000 answered with a version; p50 %.3f ms, p99 %.3f ms\n",
               static_cast<unsigned long long>(answered), latencies_ms[latencies_ms.size() / 2],
               p99);

  runner->reset();
  opened->reset();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  std::printf(
      "{\"bench\":\"rebuild\",\"events\":%llu,\"events_per_s\":%.0f,\"baseline_events_per_s\":%.0f,"
      "\"ratio\":%.3f,\"cpu_ratio\":%.3f,\"writebatch_events_per_s\":%.0f,\"writebatch_ratio\":%."
      "3f,"
      "\"p99_at_query_ms\":%.4f,\"digests_equal\":%s}\n",
      static_cast<unsigned long long>(head), events_per_s, baseline, events_per_s / baseline,
      events_per_cpu_s / baseline_cpu, old_path.events_per_s, old_path.events_per_s / baseline, p99,
      digests_equal ? "true" : "false");
  return digests_equal ? 0 : 1;
}
