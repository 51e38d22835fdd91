// Maintenance on the environment stream: health verdicts (one HealthChanged
// per change, flaps inside an interval change nothing), named test cases
// (picked, run after a deploy, results linked to the deploy and version), and
// the audit events of log and terminal sessions.
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kV1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const std::string kV2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

wharf::v1::EnvironmentSpec with_cases(std::vector<std::string> after_deploy = {}) {
  auto e = environment("staging");
  for (const char* name : {"smoke", "checkout", "search"}) {
    auto* t = e.add_test_cases();
    t->set_name(name);
    t->set_command(std::string("./cases/") + name);
    t->set_timeout_s(60);
  }
  for (auto& n : after_deploy) e.add_after_deploy_test_cases(n);
  return e;
}

// A manual deploy of `digest` to staging that succeeded; returns its deploy id.
std::string deployed(Log& log, const std::string& digest) {
  RequestDeploy r;
  r.project_id = "shop";
  r.environment = "staging";
  r.spec.set_version(digest);
  r.spec.set_artifact_digest(digest);
  r.spec.set_artifact_uri("cas://" + digest);
  auto requested = log.when(r, "dora");
  EXPECT_TRUE(requested.has_value());
  std::string id = requested->at(0).payload().deploy_requested().deploy_id();
  RecordDeployResult done;
  done.project_id = "shop";
  done.environment = "staging";
  done.deploy_id = id;
  done.attempt = 1;
  done.succeeded = true;
  done.url = "http://127.0.0.1:9001";
  EXPECT_TRUE(log.when(done, "system").has_value());
  return id;
}

ObserveHealth probes(const std::string& deploy_id, std::vector<bool> oks,
                     uint32_t unhealthy_after = 1, uint32_t healthy_after = 1) {
  ObserveHealth o;
  o.project_id = "shop";
  o.environment = "staging";
  o.deploy_id = deploy_id;
  o.url = "http://127.0.0.1:9001/healthz";
  for (bool ok : oks) o.samples.push_back({ok, ok ? "HTTP 200" : "HTTP 503"});
  o.unhealthy_after = unhealthy_after;
  o.healthy_after = healthy_after;
  return o;
}

const wharf::v1::HealthChanged& last_health(const Log& log) {
  return log.last("HealthChanged")->payload().health_changed();
}

TEST(HealthDecider, FirstVerdictThenOnlyChangesAreRecorded) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases()})));
  std::string d1 = deployed(log, kV1);

  auto first = log.when(probes(d1, {true, true}), "system");
  ASSERT_THAT(types(first), ElementsAre("HealthChanged"));
  EXPECT_EQ(last_health(log).from(), wharf::v1::HEALTH_STATE_UNSPECIFIED);
  EXPECT_EQ(last_health(log).to(), wharf::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(last_health(log).version(), kV1);
  EXPECT_EQ(last_health(log).probes(), 2u);

  EXPECT_THAT(types(log.when(probes(d1, {true, true, true}), "system")), ElementsAre());
  auto down = log.when(probes(d1, {true, false, false}), "system");
  ASSERT_THAT(types(down), ElementsAre("HealthChanged"));
  EXPECT_EQ(last_health(log).from(), wharf::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(last_health(log).to(), wharf::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_EQ(last_health(log).detail(), "HTTP 503");
  EXPECT_EQ(last_health(log).failed_probes(), 2u);
  EXPECT_THAT(types(log.when(probes(d1, {false}), "system")), ElementsAre());
  ASSERT_THAT(types(log.when(probes(d1, {true}), "system")), ElementsAre("HealthChanged"));
  EXPECT_EQ(last_health(log).to(), wharf::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(log.count("HealthChanged"), 3u);
}

TEST(HealthDecider, AFlapInsideOneIntervalIsRecordedOncePerChangeOrNotAtAll) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases()})));
  std::string d1 = deployed(log, kV1);
  ASSERT_TRUE(log.when(probes(d1, {true}, 2, 2), "system"));
  // healthy_after = 2: a single passing probe settles nothing.
  EXPECT_EQ(log.count("HealthChanged"), 0u);
  ASSERT_THAT(types(log.when(probes(d1, {true, true}, 2, 2), "system")),
              ElementsAre("HealthChanged"));
  // Flapping fail/pass/fail/pass never reaches two failures in a row: no event.
  EXPECT_THAT(types(log.when(probes(d1, {false, true, false, true, false}, 2, 2), "system")),
              ElementsAre());
  // With a threshold of 1 the flap goes down and comes back inside the
  // interval: the verdict at its end is unchanged, nothing is recorded.
  EXPECT_THAT(types(log.when(probes(d1, {false, true}, 1, 1), "system")), ElementsAre());
  // Down for good inside the interval: exactly one event for the change.
  ASSERT_THAT(types(log.when(probes(d1, {true, false, true, false, false}, 2, 2), "system")),
              ElementsAre("HealthChanged"));
  EXPECT_EQ(last_health(log).to(), wharf::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_EQ(log.count("HealthChanged"), 2u);
}

TEST(HealthDecider, ANewDeployIsProbedAfreshAndOldProbesAreStale) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases()})));
  std::string d1 = deployed(log, kV1);
  ASSERT_TRUE(log.when(probes(d1, {false}), "system"));
  std::string d2 = deployed(log, kV2);
  auto stale = log.when(probes(d1, {true}), "system");
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, Rejection::Code::kStale);
  ASSERT_THAT(types(log.when(probes(d2, {false}), "system")), ElementsAre("HealthChanged"));
  EXPECT_EQ(last_health(log).from(), wharf::v1::HEALTH_STATE_UNSPECIFIED);
  EXPECT_EQ(last_health(log).deploy_id(), d2);
  EXPECT_EQ(last_health(log).version(), kV2);
}

TEST(HealthDecider, NothingDeployedOrNoProbesIsRefused) {
  Log log;
  auto none = log.when(probes("d-1", {true}), "system");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().code, Rejection::Code::kInvalidTransition);
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases()})));
  std::string d1 = deployed(log, kV1);
  auto empty = log.when(probes(d1, {}), "system");
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, Rejection::Code::kInvalidArgument);
}

TEST(HealthVerdict, CountsConsecutiveProbesOnly) {
  int at = -2;
  using S = std::vector<HealthSample>;
  EXPECT_EQ(health_verdict(wharf::v1::HEALTH_STATE_HEALTHY, S{{false, ""}, {true, ""}, {false, ""}},
                           2, 2, &at),
            wharf::v1::HEALTH_STATE_HEALTHY);
  EXPECT_EQ(at, -1);
  EXPECT_EQ(health_verdict(wharf::v1::HEALTH_STATE_HEALTHY,
                           S{{false, ""}, {false, ""}, {false, ""}}, 3, 1, &at),
            wharf::v1::HEALTH_STATE_UNHEALTHY);
  EXPECT_EQ(at, 2);
}

RequestTestCases pick(std::vector<std::string> names) {
  RequestTestCases r;
  r.project_id = "shop";
  r.environment = "staging";
  r.cases = std::move(names);
  return r;
}

TEST(TestCasesDecider, PickedCasesRunInTheOrderPickedAgainstTheCurrentDeploy) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases()})));
  std::string d1 = deployed(log, kV1);
  auto r = log.when(pick({"search", "smoke"}), "tess");
  ASSERT_THAT(types(r), ElementsAre("TestCasesRequested"));
  const auto& req = r->at(0).payload().test_cases_requested();
  ASSERT_EQ(req.cases_size(), 2);
  EXPECT_EQ(req.cases(0).name(), "search");
  EXPECT_EQ(req.cases(0).command(), "./cases/search");
  EXPECT_EQ(req.cases(1).name(), "smoke");
  EXPECT_EQ(req.deploy_id(), d1);
  EXPECT_EQ(req.version(), kV1);
  EXPECT_EQ(req.deploy_event_id(), log.last("DeploySucceeded")->event_id());
  EXPECT_EQ(req.target_url(), "http://127.0.0.1:9001");
  EXPECT_EQ(req.requested_by(), "tess");
  EXPECT_EQ(req.trigger(), "manual");

  RecordTestCaseResults done;
  done.project_id = "shop";
  done.environment = "staging";
  done.test_run_id = req.test_run_id();
  done.passed = false;
  wharf::v1::SuiteResult s1;
  s1.set_name("search");
  s1.set_passed(false);
  s1.set_output("expected 3 hits, got 0\n");
  s1.set_duration_ms(42);
  done.results = {s1};
  done.reason = "test case search: exit 1";
  auto fin = log.when(done, "system");
  ASSERT_THAT(types(fin), ElementsAre("TestCasesFinished"));
  const auto& f = fin->at(0).payload().test_cases_finished();
  EXPECT_FALSE(f.passed());
  EXPECT_EQ(f.deploy_id(), d1);
  EXPECT_EQ(f.version(), kV1);
  EXPECT_EQ(f.results(0).output(), "expected 3 hits, got 0\n");
  auto again = log.when(done, "system");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Rejection::Code::kStale);
}

TEST(TestCasesDecider, EmptyPickMeansEveryDeclaredCase) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases()})));
  deployed(log, kV1);
  auto r = log.when(pick({}));
  ASSERT_THAT(types(r), ElementsAre("TestCasesRequested"));
  EXPECT_EQ(r->at(0).payload().test_cases_requested().cases_size(), 3);
}

TEST(TestCasesDecider, UnknownOrRepeatedNamesAndNothingDeployedAreRefused) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases(), environment("prod")})));
  auto undeployed = log.when(pick({"smoke"}));
  ASSERT_FALSE(undeployed.has_value());
  EXPECT_EQ(undeployed.error().code, Rejection::Code::kInvalidTransition);
  deployed(log, kV1);
  auto unknown = log.when(pick({"smoke", "payments"}));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Rejection::Code::kInvalidArgument);
  EXPECT_THAT(unknown.error().reason,
              HasSubstr("declares no test case payments (declared: smoke, checkout, search)"));
  auto twice = log.when(pick({"smoke", "smoke"}));
  ASSERT_FALSE(twice.has_value());
  EXPECT_THAT(twice.error().reason, HasSubstr("picked twice"));
  auto other = pick({});
  other.environment = "prod";
  auto none = log.when(other);
  ASSERT_FALSE(none.has_value());
  auto missing = pick({});
  missing.environment = "qa";
  auto nf = log.when(missing);
  ASSERT_FALSE(nf.has_value());
  EXPECT_EQ(nf.error().code, Rejection::Code::kNotFound);
}

TEST(TestCasesReactor, AfterDeployCasesRunOncePerDeployAndResultsComeBack) {
  Harness h;
  ASSERT_TRUE(h.command(demo_project("shop", {with_cases({"smoke", "checkout"})})));
  std::string d1 = deployed(h.log, kV1);
  h.pump();
  auto jobs = h.all_of<StartTestCases>();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].job.environment, "staging");
  EXPECT_EQ(jobs[0].job.target_url, "http://127.0.0.1:9001");
  ASSERT_EQ(jobs[0].job.suites.size(), 2u);
  EXPECT_EQ(jobs[0].job.suites[1].name(), "checkout");
  const auto& req = h.log.last("TestCasesRequested")->payload().test_cases_requested();
  EXPECT_EQ(req.trigger(), "after-deploy");
  EXPECT_EQ(req.test_run_id(), jobs[0].job.run_id);

  // After a restart the unfinished run is started again, and not requested twice.
  ProcessState replayed;
  for (const auto& e : h.log.all) replayed.apply(e);
  auto again = recover(replayed);
  size_t starts = 0, requests = 0;
  for (const auto& r : again) {
    starts += std::holds_alternative<StartTestCases>(r);
    if (const auto* i = std::get_if<IssueCommand>(&r)) {
      requests += std::holds_alternative<RequestTestCases>(i->command);
    }
  }
  EXPECT_EQ(starts, 1u);
  EXPECT_EQ(requests, 0u);

  RecordTestCaseResults done;
  done.project_id = "shop";
  done.environment = "staging";
  done.test_run_id = jobs[0].job.run_id;
  done.passed = true;
  ASSERT_TRUE(h.command(done, "system"));
  ProcessState after;
  for (const auto& e : h.log.all) after.apply(e);
  for (const auto& r : recover(after)) EXPECT_FALSE(std::holds_alternative<StartTestCases>(r));
  EXPECT_EQ(h.log.count("TestCasesRequested"), 1u);
}

OpenTerminal terminal(const std::string& session) {
  OpenTerminal o;
  o.project_id = "shop";
  o.environment = "staging";
  o.session_id = session;
  o.where = "local:/data/work/shop";
  o.remote = "127.0.0.1:5555";
  return o;
}

TEST(SessionAudit, LogsAndTerminalSessionsAreRecordedOnceWithWhoAndWhere) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {with_cases()})));
  std::string d1 = deployed(log, kV1);
  OpenServiceLogs logs;
  logs.project_id = "shop";
  logs.environment = "staging";
  logs.session_id = "logs-1";
  logs.source = "local:/data/logs/deploy/x.log";
  logs.follow = true;
  logs.tail_lines = 100;
  ASSERT_THAT(types(log.when(logs, "vic")), ElementsAre("ServiceLogsOpened"));
  EXPECT_EQ(log.last("ServiceLogsOpened")->payload().service_logs_opened().user(), "vic");
  EXPECT_EQ(log.last("ServiceLogsOpened")->payload().service_logs_opened().deploy_id(), d1);
  EXPECT_THAT(types(log.when(logs, "vic")), ElementsAre());

  ASSERT_THAT(types(log.when(terminal("t-1"), "olga")), ElementsAre("TerminalOpened"));
  CloseTerminal close;
  close.project_id = "shop";
  close.environment = "staging";
  close.session_id = "t-1";
  close.duration_ms = 1500;
  close.reason = "idle timeout";
  close.bytes_in = 12;
  close.bytes_out = 300;
  ASSERT_THAT(types(log.when(close, "olga")), ElementsAre("TerminalClosed"));
  const auto& c = log.last("TerminalClosed")->payload().terminal_closed();
  EXPECT_EQ(c.duration_ms(), 1500u);
  EXPECT_EQ(c.reason(), "idle timeout");
  EXPECT_THAT(types(log.when(close, "olga")), ElementsAre());
  EXPECT_THAT(types(log.when(terminal("t-1"), "olga")), ElementsAre());  // closed stays closed
  close.session_id = "t-9";
  auto unknown = log.when(close, "olga");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Rejection::Code::kNotFound);
}

}  // namespace
}  // namespace wharf::engine::testing
