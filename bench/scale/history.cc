#include "bench/scale/history.h"

#include <cstdio>
#include <cstdlib>

#include "events/ids.h"

namespace wharf::bench {

namespace {

using wharf::v1::Payload;
constexpr const char* kEnvs[] = {"dev", "staging", "prod"};
constexpr int64_t kYearUs = 365LL * 86'400 * 1'000'000;

std::string hex(std::mt19937_64& rng, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = kDigits[rng() % 16];
  return s;
}

}  // namespace

History::History(events::EventStore& store, HistoryOptions options)
    : store_(store),
      options_(options),
      projects_(options.projects != 0
                    ? options.projects
                    : static_cast<uint32_t>(std::max<uint64_t>(10, options.events / 5000))),
      rng_(options.seed) {
  const int64_t span = static_cast<int64_t>(options.years * static_cast<double>(kYearUs));
  step_ = std::max<int64_t>(1, span / static_cast<int64_t>(std::max<uint64_t>(1, options.events)));
  clock_ = options.end_us - span;
}

std::string History::text(size_t min, size_t max) {
  static constexpr const char* kWords[] = {
      "fix",    "add",   "retry",   "timeout", "cache",    "handler", "config", "deploy",
      "schema", "index", "latency", "client",  "refactor", "metrics", "flag",   "tests"};
  std::string s;
  const size_t n = min + rng_() % (max - min + 1);
  while (s.size() < n) {
    if (!s.empty()) s += ' ';
    s += kWords[rng_() % 16];
  }
  return s;
}

void History::generate() {
  for (uint32_t i = 0; i < projects_; ++i) create_project(i);
  token();
  uint64_t next_report = 1'000'000;
  while (appended_ < options_.events) {
    // A tenth of the projects make half the changes.
    const uint32_t hot = std::max<uint32_t>(1, projects_ / 10);
    const uint32_t p = rng_() % 2 == 0 ? static_cast<uint32_t>(rng_() % hot)
                                       : static_cast<uint32_t>(rng_() % projects_);
    run(p);
    if (rng_() % 200 == 0) access(p);
    if (rng_() % 1000 == 0) token();
    if (appended_ >= next_report) {
      std::fprintf(stderr, "  %llu events\n", static_cast<unsigned long long>(appended_));
      next_report += 1'000'000;
    }
  }
}

void History::create_project(uint32_t i) {
  const std::string p = project_name(i);
  Payload created;
  auto* c = created.mutable_project_created();
  c->set_project_id(p);
  c->set_name("Service " + std::to_string(i) + " (" + text(8, 24) + ")");
  c->set_owner("eng" + std::to_string(i % 500));
  auto* g = c->mutable_repository()->mutable_gerrit();
  g->set_host("review.example.com");
  g->set_project("platform/" + p);
  g->add_branches("main");
  g->add_branches("release/*");
  g->add_trigger_words("recheck");
  g->set_webhook_secret_set(true);
  g->set_webhook_secret_version(1);
  for (const char* env : kEnvs) {
    auto* e = c->add_environments();
    e->set_name(env);
    e->set_target(wharf::v1::TARGET_TYPE_LOCAL);
    e->set_replicas(std::string(env) == "prod" ? 3 : 1);
  }
  append("project-" + p, {created}, c->owner(), wharf::v1::CHANNEL_API);
  Payload grant;
  auto* gr = grant.mutable_permission_granted();
  gr->set_project_id(p);
  gr->set_user(c->owner());
  gr->set_role(wharf::v1::ROLE_OWNER);
  append("access-" + p, {grant}, "system", wharf::v1::CHANNEL_SYSTEM);
}

void History::run(uint32_t project) {
  const std::string p = project_name(project);
  const uint64_t n = runs_++;
  const std::string run = p + "-r" + std::to_string(n);
  const std::string version = run + "-v";
  const std::string sha = hex(rng_, 40);
  const std::string author = "eng" + std::to_string(rng_() % 500);
  if (n % 97 == 0) samples_.push_back({p, run, version});
  Payloads r;
  {
    auto* c = r.emplace_back().mutable_commit_observed();
    c->set_project_id(p);
    c->set_run_id(run);
    c->set_commit_sha(sha);
    c->set_branch("main");
    c->set_ref("refs/changes/" + std::to_string(n % 100) + "/" + std::to_string(n) + "/1");
    c->set_change_number(n);
    c->set_patchset(1);
    c->mutable_author()->set_username(author);
    c->mutable_author()->set_name("Engineer " + author.substr(3));
    c->mutable_author()->set_email(author + "@example.com");
    c->set_subject(text(30, 80));
    c->set_source("gerrit-stream");
    c->set_dedup_key("review.example.com/" + std::to_string(n) + "/1");
    auto* s = r.emplace_back().mutable_pipeline_run_started();
    s->set_run_id(run);
    s->set_project_id(p);
    s->set_commit_sha(sha);
    for (const char* env : kEnvs) {
      s->add_environments(env);
      s->add_stages()->set_name(env);  // the engine's snapshot of the stages
    }
    auto* b = r.emplace_back().mutable_build_requested();
    b->set_run_id(run);
    b->set_project_id(p);
    b->set_attempt(1);
    b->set_commit_sha(sha);
  }
  append("run-" + run, r, "gerrit", wharf::v1::CHANNEL_GERRIT, run);
  r.clear();
  {
    auto* q = r.emplace_back().mutable_build_queued();
    q->set_run_id(run);
    q->set_attempt(1);
    q->set_external_id("queue/" + std::to_string(n));
    auto* st = r.emplace_back().mutable_build_started();
    st->set_run_id(run);
    st->set_attempt(1);
    st->set_external_id("job/" + p + "/" + std::to_string(n));
  }
  append("run-" + run, r, "system", wharf::v1::CHANNEL_SYSTEM, run);
  r.clear();
  if (rng_() % 100 < 5) {
    auto* f = r.emplace_back().mutable_build_failed();
    f->set_run_id(run);
    f->set_attempt(1);
    f->set_reason("unit tests failed: " + text(20, 60));
    f->set_exit_code(1);
    auto* c = r.emplace_back().mutable_pipeline_run_completed();
    c->set_run_id(run);
    c->set_project_id(p);
    c->set_outcome(wharf::v1::RUN_OUTCOME_FAILED);
    append("run-" + run, r, "system", wharf::v1::CHANNEL_SYSTEM, run);
    return;
  }
  {
    auto* s = r.emplace_back().mutable_build_succeeded();
    s->set_run_id(run);
    s->set_attempt(1);
    s->set_artifact_digest("sha256:" + hex(rng_, 64));
    s->set_artifact_uri("registry.example.com/" + p + "@" + s->artifact_digest());
    s->set_duration_ms(60'000 + rng_() % 600'000);
    auto* v = r.emplace_back().mutable_version_recorded();
    v->set_project_id(p);
    v->set_run_id(run);
    v->set_version(version);
    v->set_artifact_digest(s->artifact_digest());
    v->set_artifact_uri(s->artifact_uri());
    v->set_commit_sha(sha);
    v->set_change_number(n);
    v->set_patchset(1);
  }
  append("run-" + run, r, "system", wharf::v1::CHANNEL_SYSTEM, run);
  r.clear();
  deploy(p, "dev", run, version, n, r, false);
  deploy(p, "staging", run, version, n, r, false);
  {
    auto* t = r.emplace_back().mutable_tests_requested();
    t->set_run_id(run);
    t->set_project_id(p);
    t->set_environment("staging");
    t->set_attempt(1);
    for (const char* suite : {"smoke", "api", "e2e"}) {
      auto* s = t->add_suites();
      s->set_name(suite);
      s->set_command(std::string("make test-") + suite);
      s->set_timeout_s(600);
    }
    t->set_target_url("http://staging." + p + ".internal");
    auto* tp = r.emplace_back().mutable_tests_passed();
    tp->set_run_id(run);
    tp->set_environment("staging");
    tp->set_attempt(1);
    for (const char* suite : {"smoke", "api", "e2e"}) {
      auto* s = tp->add_results();
      s->set_name(suite);
      s->set_passed(true);
      s->set_summary(std::to_string(10 + rng_() % 300) + " passed");
      s->set_duration_ms(1000 + rng_() % 60'000);
      s->set_output(text(80, 240));
    }
    auto* ar = r.emplace_back().mutable_approval_required();
    ar->set_run_id(run);
    ar->set_project_id(p);
    ar->set_environment("prod");
  }
  append("run-" + run, r, "system", wharf::v1::CHANNEL_SYSTEM, run);
  r.clear();
  {
    auto* ag = r.emplace_back().mutable_approval_granted();
    ag->set_run_id(run);
    ag->set_environment("prod");
    ag->set_approved_by("lead" + std::to_string(rng_() % 50));
    ag->set_comment(text(0, 30));
  }
  append("run-" + run, r, "lead", wharf::v1::CHANNEL_UI, run);
  r.clear();
  deploy(p, "prod", run, version, n, r, rng_() % 4 == 0);
  auto* c = r.emplace_back().mutable_pipeline_run_completed();
  c->set_run_id(run);
  c->set_project_id(p);
  c->set_outcome(wharf::v1::RUN_OUTCOME_SUCCEEDED);
  append("run-" + run, r, "system", wharf::v1::CHANNEL_SYSTEM, run);
  if (rng_() % 100 < 3) flap(p, "prod");
  if (rng_() % 100 < 2 && previous_prod_.count(p) != 0) rollback(p, n);
}

void History::deploy(const std::string& p, const std::string& env, const std::string& run,
                     const std::string& version, uint64_t n, Payloads& run_events, bool canary) {
  const std::string id = run + "-" + env;
  wharf::v1::DeploySpec spec;
  spec.set_version(version);
  spec.set_artifact_digest("sha256:" + hex(rng_, 64));
  spec.set_artifact_uri("registry.example.com/" + p + "@" + spec.artifact_digest());
  spec.set_replicas(env == "prod" ? 3 : 1);
  spec.set_health_path("/healthz");
  spec.set_target(wharf::v1::TARGET_TYPE_LOCAL);
  (*spec.mutable_config())["LOG_LEVEL"] = env == "prod" ? "warn" : "debug";
  (*spec.mutable_config())["REGION"] = "eu-west-1";
  if (canary) {
    for (uint32_t w : {10u, 50u}) {
      auto* s = spec.mutable_canary()->add_steps();
      s->set_weight(w);
      s->set_pause_s(600);
    }
  }
  auto* sr = run_events.emplace_back().mutable_stage_deploy_requested();
  sr->set_run_id(run);
  sr->set_project_id(p);
  sr->set_environment(env);
  sr->set_deploy_id(id);
  sr->set_attempt(1);
  *sr->mutable_spec() = spec;
  append("run-" + run, run_events, "system", wharf::v1::CHANNEL_SYSTEM, run);
  run_events.clear();

  const std::string stream = "env-" + p + "-" + env;
  Payloads e(3);
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
  pr->set_message("rolling out: 1/" + std::to_string(spec.replicas()) + " ready");
  pr->set_percent(50);
  append(stream, e, "system", wharf::v1::CHANNEL_SYSTEM, run);
  e.clear();
  auto* ok = e.emplace_back().mutable_deploy_succeeded();
  ok->set_deploy_id(id);
  ok->set_project_id(p);
  ok->set_environment(env);
  ok->set_run_id(run);
  *ok->mutable_spec() = spec;
  ok->set_url("http://" + env + "." + p + ".internal");
  ok->set_attempt(1);
  const std::string canary_id = id + "-canary";
  if (canary) {
    auto* cs = e.emplace_back().mutable_canary_started();
    cs->set_canary_id(canary_id);
    cs->set_project_id(p);
    cs->set_environment(env);
    cs->set_deploy_id(id);
    cs->set_attempt(1);
    cs->set_version(version);
    cs->set_stable_version(prod_[p].version);
    cs->set_stable_deploy_event_id(prod_[p].event_id);
    *cs->mutable_strategy() = spec.canary();
    auto* step = e.emplace_back().mutable_canary_step_reached();
    step->set_canary_id(canary_id);
    step->set_project_id(p);
    step->set_environment(env);
    step->set_weight(10);
    step->set_pause_s(600);
  }
  append(stream, e, "system", wharf::v1::CHANNEL_SYSTEM, run);
  const std::string succeeded_event = last_event_id_;
  const std::string url = ok->url();
  e.clear();
  bool aborted = false;
  if (env != "dev") {
    auto* h = e.emplace_back().mutable_health_changed();
    h->set_project_id(p);
    h->set_environment(env);
    h->set_deploy_id(id);
    h->set_version(version);
    h->set_from(wharf::v1::HEALTH_STATE_UNSPECIFIED);
    h->set_to(wharf::v1::HEALTH_STATE_HEALTHY);
    h->set_detail("HTTP 200");
    h->set_probes(3);
    h->set_url(url + "/healthz");
  }
  if (canary) {
    auto* step = e.emplace_back().mutable_canary_step_reached();
    step->set_canary_id(canary_id);
    step->set_project_id(p);
    step->set_environment(env);
    step->set_step(1);
    step->set_weight(50);
    step->set_pause_s(600);
    if (rng_() % 10 != 0) {
      auto* done = e.emplace_back().mutable_canary_promoted();
      done->set_canary_id(canary_id);
      done->set_project_id(p);
      done->set_environment(env);
      done->set_version(version);
      done->set_deploy_id(id);
      done->set_promoted_by("system");
    } else {
      auto* ab = e.emplace_back().mutable_canary_aborted();
      ab->set_canary_id(canary_id);
      ab->set_project_id(p);
      ab->set_environment(env);
      ab->set_reason("error rate 4.1% over 1.0%");
      ab->set_automatic(true);
      ab->set_step(1);
      ab->set_weight(50);
      ab->set_aborted_by("system");
      ab->set_version(version);
      ab->set_stable_version(prod_[p].version);
      aborted = true;  // the stable version keeps serving
    }
  }
  if (!e.empty()) append(stream, e, "system", wharf::v1::CHANNEL_SYSTEM, run);
  if (env == "prod" && !aborted) {
    if (prod_.count(p) != 0) previous_prod_[p] = prod_[p];
    prod_[p] = {version, id, succeeded_event};
  }
  auto* sf = run_events.emplace_back().mutable_stage_deploy_finished();
  sf->set_run_id(run);
  sf->set_environment(env);
  sf->set_deploy_id(id);
  sf->set_attempt(1);
  sf->set_succeeded(true);
  (void)n;
}

void History::flap(const std::string& p, const std::string& env) {
  const auto& serving = prod_[p];
  Payloads e(2);
  for (int i = 0; i < 2; ++i) {
    auto* h = e[static_cast<size_t>(i)].mutable_health_changed();
    h->set_project_id(p);
    h->set_environment(env);
    h->set_deploy_id(serving.deploy_id);
    h->set_version(serving.version);
    h->set_from(i == 0 ? wharf::v1::HEALTH_STATE_HEALTHY : wharf::v1::HEALTH_STATE_UNHEALTHY);
    h->set_to(i == 0 ? wharf::v1::HEALTH_STATE_UNHEALTHY : wharf::v1::HEALTH_STATE_HEALTHY);
    h->set_detail(i == 0 ? "HTTP 503" : "HTTP 200");
    h->set_probes(6);
    h->set_failed_probes(i == 0 ? 4 : 0);
    h->set_url("http://" + env + "." + p + ".internal/healthz");
  }
  append("env-" + p + "-" + env, {e[0]}, "system", wharf::v1::CHANNEL_SYSTEM);
  append("env-" + p + "-" + env, {e[1]}, "system", wharf::v1::CHANNEL_SYSTEM);
}

void History::rollback(const std::string& p, uint64_t n) {
  const Serving target = previous_prod_[p];
  const std::string rb = p + "-rb" + std::to_string(n);
  Payloads e(4);
  auto* r = e[0].mutable_rollback_requested();
  r->set_rollback_id(rb);
  r->set_project_id(p);
  r->set_environment("prod");
  r->set_target_deploy_event_id(target.event_id);
  r->set_target_version(target.version);
  r->set_reason("error rate up after " + prod_[p].version);
  r->set_requested_by("oncall" + std::to_string(n % 20));
  wharf::v1::DeploySpec spec;
  spec.set_version(target.version);
  spec.set_replicas(3);
  auto* rq = e[1].mutable_deploy_requested();
  rq->set_deploy_id(rb + "-d");
  rq->set_project_id(p);
  rq->set_environment("prod");
  *rq->mutable_spec() = spec;
  rq->set_rollback_id(rb);
  rq->set_rollback_of_event_id(target.event_id);
  rq->set_requested_by(r->requested_by());
  auto* st = e[2].mutable_deploy_started();
  st->set_deploy_id(rb + "-d");
  st->set_project_id(p);
  st->set_environment("prod");
  auto* ok = e[3].mutable_deploy_succeeded();
  ok->set_deploy_id(rb + "-d");
  ok->set_project_id(p);
  ok->set_environment("prod");
  *ok->mutable_spec() = spec;
  ok->set_rollback_id(rb);
  ok->set_url("http://prod." + p + ".internal");
  append("env-" + p + "-prod", e, r->requested_by(), wharf::v1::CHANNEL_UI);
  previous_prod_[p] = prod_[p];
  prod_[p] = {target.version, rb + "-d", last_event_id_};
}

void History::access(uint32_t project) {
  const std::string p = project_name(project);
  const std::string user = "eng" + std::to_string(rng_() % 500);
  const std::string id = "req-" + hex(rng_, 12);
  Payload req;
  auto* q = req.mutable_permission_requested();
  q->set_request_id(id);
  q->set_project_id(p);
  q->set_user(user);
  q->set_role(wharf::v1::ROLE_DEPLOYER);
  q->set_reason("on call for " + p + ": " + text(10, 40));
  append("access-" + p, {req}, user, wharf::v1::CHANNEL_UI);
  Payload answer;
  if (rng_() % 5 != 0) {
    auto* g = answer.mutable_permission_granted();
    g->set_project_id(p);
    g->set_user(user);
    g->set_role(wharf::v1::ROLE_DEPLOYER);
    g->set_request_id(id);
    g->set_granted_by("eng" + std::to_string(project % 500));
  } else {
    auto* d = answer.mutable_permission_denied();
    d->set_request_id(id);
    d->set_project_id(p);
    d->set_user(user);
    d->set_role(wharf::v1::ROLE_DEPLOYER);
    d->set_denied_by("eng" + std::to_string(project % 500));
    d->set_reason("not on the rota");
  }
  append("access-" + p, {answer}, "eng" + std::to_string(project % 500), wharf::v1::CHANNEL_UI);
}

void History::token() {
  Payload t;
  auto* i = t.mutable_token_issued();
  i->set_token_id("tok-" + hex(rng_, 16));
  i->set_user("eng" + std::to_string(rng_() % 500));
  i->set_token_sha256(hex(rng_, 64));
  i->set_expires_at_us(clock_ + kYearUs / 4);
  append("tokens", {t}, i->user(), wharf::v1::CHANNEL_CLI);
}

void History::append(const std::string& stream, const Payloads& payloads, const std::string& actor,
                     wharf::v1::Channel channel, const std::string& correlation) {
  std::vector<events::Envelope> batch;
  batch.reserve(payloads.size());
  for (const auto& p : payloads) {
    auto& e = batch.emplace_back();
    e.set_event_id(events::new_uuid());
    clock_ += step_;
    e.set_occurred_at_us(clock_);
    e.mutable_actor()->set_id(actor);
    e.mutable_actor()->set_channel(channel);
    e.set_correlation_id(correlation);
    if (!last_event_id_.empty()) e.set_causation_id(last_event_id_);
    *e.mutable_payload() = p;
  }
  last_event_id_ = batch.back().event_id();
  auto r = store_.append(stream, events::ExpectedVersion::any(), std::move(batch));
  if (!r) {
    std::fprintf(stderr, "append to %s: %s\n", stream.c_str(), r.error().message.c_str());
    std::exit(1);
  }
  appended_ += payloads.size();
}

}  // namespace wharf::bench
