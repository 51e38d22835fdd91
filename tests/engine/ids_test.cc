// Deterministic ids: SHA-1, name-based UUIDs, and the envelope metadata decide() fills in.
#include "engine/ids.h"

#include <regex>

#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

TEST(Ids, Sha1MatchesKnownVectors) {
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(hex(sha1(std::string(1000000, 'a'))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Ids, NameUuidsAreVersion5AndDeterministic) {
  std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  EXPECT_TRUE(std::regex_match(name_uuid("x"), uuid));
  EXPECT_EQ(name_uuid("x"), name_uuid("x"));
  EXPECT_NE(name_uuid("x"), name_uuid("y"));
  EXPECT_EQ(derived_event_id("cmd-1", 0), derived_event_id("cmd-1", 0));
  EXPECT_NE(derived_event_id("cmd-1", 0), derived_event_id("cmd-1", 1));
  EXPECT_EQ(short_id("r", "seed").size(), 14u);
}

TEST(Ids, ValidNames) {
  EXPECT_TRUE(valid_project_id("hello-service"));
  EXPECT_FALSE(valid_project_id(""));
  EXPECT_FALSE(valid_project_id("a/b"));
  EXPECT_TRUE(valid_environment_name("prod_eu"));
  EXPECT_FALSE(valid_environment_name("prod-eu"));
}

TEST(Engine, DecideFillsTheEnvelopesReadyToAppend) {
  Log log;
  ASSERT_TRUE(log.when(demo_project()));
  Context ctx;
  ctx.actor.set_id("gerrit:review");
  ctx.actor.set_channel(wharf::v1::CHANNEL_GERRIT);
  ctx.command_id = "ingest-77";
  ctx.now_us = 42;
  ctx.causation_id = "gerrit-event-9";
  Inputs in;
  in.project_history = log.streams["project-shop"];
  auto r = handle({}, commit("abc", "shop", "r-5"), ctx, in);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const auto& e = r->at(i);
    EXPECT_EQ(e.stream_id(), "run-r-5");
    EXPECT_EQ(e.stream_version(), i + 1);
    EXPECT_EQ(e.occurred_at_us(), 42);
    EXPECT_EQ(e.actor().id(), "gerrit:review");
    EXPECT_EQ(e.actor().channel(), wharf::v1::CHANNEL_GERRIT);
    EXPECT_EQ(e.correlation_id(), "r-5");
  }
  EXPECT_EQ(r->at(0).causation_id(), "gerrit-event-9");
  EXPECT_EQ(r->at(1).causation_id(), r->at(0).event_id());
  EXPECT_EQ(r->at(1).event_id(), derived_event_id("ingest-77", 1));
  EXPECT_EQ(r->at(2).type(), "BuildRequested");
  // The same command decided again gives the same events, byte for byte.
  auto again = handle({}, commit("abc", "shop", "r-5"), ctx, in);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(r->at(2).SerializeAsString(), again->at(2).SerializeAsString());
}

TEST(Engine, RoutingAndWrongStreams) {
  EXPECT_EQ(stream_of(CancelRun{"r-1", ""}), "run-r-1");
  EXPECT_EQ(stream_of(CancelDeploy{"shop", "prod", "d", 1, ""}), "env-shop-prod");
  EXPECT_EQ(stream_of(GrantPermission{"shop", "u", wharf::v1::ROLE_VIEWER, ""}), "access-shop");
  ExpireTimer deploy_timer;
  deploy_timer.step = wharf::v1::STEP_KIND_DEPLOY;
  deploy_timer.project_id = "shop";
  deploy_timer.environment = "prod";
  EXPECT_EQ(stream_of(deploy_timer), "env-shop-prod");
  EXPECT_EQ(reads_of(commit("a")), "project-shop");
  EXPECT_EQ(reads_of(RequestDeploy{"shop", "prod", "", "r-1", 1, {}}), "");
  EXPECT_EQ(reads_of(RequestDeploy{"shop", "prod", "", "", 1, {}}), "project-shop");
  EXPECT_EQ(stream_kind("env-a-b"), StreamKind::kEnvironment);
  EXPECT_STREQ(command_name(Approve{}), "Approve");

  StreamState wrong("run-r-2");
  Context ctx;
  ctx.command_id = "c";
  auto r = decide(wrong, CancelRun{"r-1", ""}, ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Rejection::Code::kWrongStream);
  auto no_id = decide(StreamState("run-r-1"), CancelRun{"r-1", ""}, Context{});
  ASSERT_FALSE(no_id.has_value());
  EXPECT_EQ(no_id.error().reason, "the command has no command id");
  ExpireTimer no_step;
  no_step.run_id = "r-1";
  auto timer = decide(StreamState("run-r-1"), no_step, ctx);
  ASSERT_FALSE(timer.has_value());
  EXPECT_EQ(timer.error().code, Rejection::Code::kInvalidArgument);
  EXPECT_EQ(run_stream("x"), "run-x");
}

}  // namespace
}  // namespace wharf::engine::testing
