// The canary analysis's verdicts and the router's header/cookie rule (pure).
#include <gtest/gtest.h>

#include "adapters/router/canary_analysis.h"

namespace wharf::router {
namespace {

wharf::v1::CanaryAnalysis limit(double rate, uint32_t min_requests) {
  wharf::v1::CanaryAnalysis a;
  a.set_max_error_rate(rate);
  a.set_min_requests(min_requests);
  return a;
}

Observation counts(uint64_t canary_requests, uint64_t canary_errors) {
  Observation o;
  o.since_step.canary = {canary_requests, canary_errors};
  o.since_step.stable = {900, 3};
  return o;
}

TEST(CanaryAnalysis, AnErrorRateOverTheLimitAbortsWithTheFigures) {
  auto v = judge(limit(0.05, 20), counts(100, 12));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->reason, "canary error rate 12.0% over the limit 5.0% (12 of 100 requests failed)");
  EXPECT_EQ(v->figures.requests(), 100u);
  EXPECT_EQ(v->figures.errors(), 12u);
  EXPECT_DOUBLE_EQ(v->figures.error_rate(), 0.12);
  EXPECT_EQ(v->figures.stable_requests(), 900u);
  EXPECT_EQ(v->figures.stable_errors(), 3u);
  EXPECT_EQ(v->figures.source(), "router");
}

TEST(CanaryAnalysis, AtOrUnderTheLimitOrWithTooFewRequestsThereIsNoVerdict) {
  EXPECT_FALSE(judge(limit(0.05, 20), counts(100, 5)));  // exactly 5%
  EXPECT_FALSE(judge(limit(0.05, 20), counts(19, 19)));  // too little traffic
  EXPECT_FALSE(judge(limit(0.05, 0), counts(0, 0)));
  EXPECT_FALSE(judge(limit(0.0, 0), counts(100, 100)));  // no error-rate check configured
  EXPECT_TRUE(judge(limit(0.05, 20), counts(20, 2)));
}

TEST(CanaryAnalysis, AFailedHealthCheckAbortsWhateverTheCounts) {
  Observation o = counts(0, 0);
  o.healthy = false;
  auto v = judge(limit(0.0, 0), o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->figures.source(), "health");
  EXPECT_FALSE(v->figures.healthy());
  o.healthy = true;
  EXPECT_FALSE(judge(limit(0.0, 0), o));
}

TEST(CanaryAnalysis, APrometheusRateReplacesTheRoutersCounts) {
  Observation o = counts(0, 0);
  o.external_rate = 0.3;
  auto v = judge(limit(0.1, 50), o);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->figures.source(), "prometheus");
  EXPECT_DOUBLE_EQ(v->figures.error_rate(), 0.3);
  EXPECT_EQ(v->reason, "canary error rate 30.0% over the limit 10.0%");
  o.external_rate = 0.05;
  EXPECT_FALSE(judge(limit(0.1, 50), o));
}

TEST(PrometheusValue, ReadsTheFirstSampleOfAnInstantQuery) {
  auto v = prometheus_value(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"0.125"]}]}})");
  ASSERT_TRUE(v);
  EXPECT_DOUBLE_EQ(*v, 0.125);
  auto empty = prometheus_value(R"({"status":"success","data":{"result":[]}})");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), "the query returned no sample");
  EXPECT_FALSE(prometheus_value("not json"));
  EXPECT_FALSE(prometheus_value(R"({"data":{"result":[{"value":[1,"x"]}]}})"));
}

TEST(MatchesCanary, HeaderWithOrWithoutValueAndCookie) {
  wharf::v1::CanaryMatch m;
  m.set_header("X-Canary");
  m.set_header_value("1");
  EXPECT_TRUE(matches_canary(m, "1", true, ""));
  EXPECT_FALSE(matches_canary(m, "0", true, ""));
  EXPECT_FALSE(matches_canary(m, "", false, ""));
  m.clear_header_value();
  EXPECT_TRUE(matches_canary(m, "anything", true, ""));
  wharf::v1::CanaryMatch c;
  c.set_cookie("canary");
  c.set_cookie_value("yes");
  EXPECT_TRUE(matches_canary(c, "", false, "session=abc; canary=yes"));
  EXPECT_TRUE(matches_canary(c, "", false, "canary = yes ;x=1"));
  EXPECT_FALSE(matches_canary(c, "", false, "canary=no; notcanary=yes"));
  EXPECT_FALSE(matches_canary(c, "", false, ""));
  EXPECT_FALSE(matches_canary(wharf::v1::CanaryMatch{}, "1", true, "canary=yes"));
}

TEST(ParseUpstream, HostAndPortOfAnHttpUrl) {
  auto u = parse_upstream("http://127.0.0.1:9002/x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9002);
  EXPECT_FALSE(parse_upstream("http://127.0.0.1"));
  EXPECT_FALSE(parse_upstream("http://127.0.0.1:0"));
}

}  // namespace
}  // namespace wharf::router
