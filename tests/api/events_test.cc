// GET /api/v1/events, /api/v1/streams/{stream}, and the SSE feed.
#include <atomic>
#include <thread>

#include "tests/api/sse_client.h"

namespace wharf::api::testing {
namespace {

wharf::v1::Payload progress(const std::string& deploy, uint32_t percent) {
  wharf::v1::Payload p;
  p.mutable_deploy_progressed()->set_deploy_id(deploy);
  p.mutable_deploy_progressed()->set_percent(percent);
  return p;
}

wharf::v1::Payload run_started(const std::string& run, const std::string& project) {
  wharf::v1::Payload p;
  p.mutable_pipeline_run_started()->set_run_id(run);
  p.mutable_pipeline_run_started()->set_project_id(project);
  return p;
}

wharf::v1::Payload build_queued(const std::string& run) {
  wharf::v1::Payload p;
  p.mutable_build_queued()->set_run_id(run);
  p.mutable_build_queued()->set_attempt(1);
  return p;
}

TEST(EventsTest, ReadAllPagesWithNextFrom) {
  ApiHarness h;
  for (int i = 0; i < 25; ++i) h.append("s-" + std::to_string(i % 3), progress("d", i));
  const uint64_t head = h.store().head_position();
  std::vector<uint64_t> seen;
  std::string next = "1";
  while (!next.empty()) {
    auto r = h.get("/api/v1/events?limit=10&from=" + next, h.admin_token());
    ASSERT_EQ(r.status, 200u) << r.body;
    auto body = r.json();
    for (const auto& e : body.at("events").as_array()) seen.push_back(e.at("position").to_number<uint64_t>());
    next = body.at("next_from").is_null() ? "" : std::to_string(body.at("next_from").to_number<uint64_t>());
  }
  ASSERT_EQ(seen.size(), head);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST(EventsTest, AtStopsAtAPosition) {
  ApiHarness h;
  const uint64_t mark = h.append("s", progress("d", 1));
  h.append("s", progress("d", 2));
  auto r = h.get("/api/v1/events?limit=1000&at=" + std::to_string(mark), h.admin_token());
  ASSERT_EQ(r.status, 200u);
  auto events = r.json().at("events").as_array();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().at("position").to_number<uint64_t>(), mark);
}

TEST(EventsTest, MinPositionBeyondHeadTimesOutWith503) {
  auto config = ApiHarness::default_config();
  config.min_position_wait = std::chrono::milliseconds(50);
  ApiHarness h(config);
  auto r = h.get("/api/v1/events?min_position=" + std::to_string(h.store().head_position() + 5),
                 h.admin_token());
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.error_code(), "position_not_reached");
}

TEST(EventsTest, EventJsonCarriesEnvelopeAndData) {
  ApiHarness h;
  const uint64_t pos = h.append("s", progress("dep-1", 40), "run-9");
  auto r = h.get("/api/v1/events?from=" + std::to_string(pos), h.admin_token());
  auto e = r.json().at("events").as_array().at(0);
  EXPECT_EQ(e.at("type").as_string(), "DeployProgressed");
  EXPECT_EQ(e.at("stream").as_string(), "s");
  EXPECT_EQ(e.at("correlation_id").as_string(), "run-9");
  EXPECT_EQ(e.at("data").at("deploy_id").as_string(), "dep-1");
  EXPECT_EQ(e.at("data").at("percent").as_int64(), 40);
  EXPECT_EQ(e.at("hash").as_string().size(), 64u);
}

TEST(EventsTest, StreamForwardAndBackward) {
  ApiHarness h;
  for (int i = 1; i <= 5; ++i) h.append("s", progress("d", i));
  auto fwd = h.get("/api/v1/streams/s?limit=2", h.admin_token()).json();
  EXPECT_EQ(fwd.at("stream_version").to_number<uint64_t>(), 5u);
  auto events = fwd.at("events").as_array();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("stream_version").to_number<uint64_t>(), 1u);
  EXPECT_EQ(fwd.at("next_from").to_number<uint64_t>(), 3u);

  auto back = h.get("/api/v1/streams/s?direction=backward&limit=2", h.admin_token()).json();
  auto bevents = back.at("events").as_array();
  ASSERT_EQ(bevents.size(), 2u);
  EXPECT_EQ(bevents[0].at("stream_version").to_number<uint64_t>(), 5u);
  EXPECT_EQ(bevents[1].at("stream_version").to_number<uint64_t>(), 4u);
  EXPECT_EQ(back.at("next_from").to_number<uint64_t>(), 3u);
}

TEST(EventsTest, UnknownStreamIs404) {
  ApiHarness h;
  auto r = h.get("/api/v1/streams/nothing-here", h.admin_token());
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.error_code(), "not_found");
}

TEST(SseTest, StreamsNewEventsWithPositionIds) {
  ApiHarness h;
  SseClient sse(h.port(), "/api/v1/events/stream", h.admin_token());
  ASSERT_TRUE(sse.ok()) << sse.header();
  EXPECT_NE(sse.header().find("text/event-stream"), std::string::npos);
  const uint64_t pos = h.append("s", progress("d", 7));
  auto frame = sse.next();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->id, pos);
  EXPECT_EQ(frame->event, "DeployProgressed");
  EXPECT_EQ(json::parse(frame->data).at("data").at("percent").as_int64(), 7);
}

TEST(SseTest, FiltersByProjectAndRun) {
  ApiHarness h;
  h.create_project("a", "alice");
  h.create_project("b", "alice");
  SseClient by_project(h.port(), "/api/v1/events/stream?project=a&from=1", h.admin_token());
  SseClient by_run(h.port(), "/api/v1/events/stream?run=r2&from=1", h.admin_token());
  h.append("run-r1", run_started("r1", "a"));
  h.append("run-r2", run_started("r2", "b"));
  h.append("run-r2", build_queued("r2"));
  const uint64_t last = h.append("run-r1", build_queued("r1"));

  std::vector<std::string> project_types;
  for (;;) {
    auto f = by_project.next();
    ASSERT_TRUE(f);
    auto d = json::parse(f->data);
    project_types.push_back(std::string(d.at("stream").as_string()));
    if (f->id == last) break;
  }
  EXPECT_EQ(project_types, (std::vector<std::string>{"project-a", "run-r1", "run-r1"}));

  auto f1 = by_run.next();
  auto f2 = by_run.next();
  ASSERT_TRUE(f1 && f2);
  EXPECT_EQ(f1->event, "PipelineRunStarted");
  EXPECT_EQ(f2->event, "BuildQueued");
}

TEST(SseTest, ViewerSeesOnlyTheirProjects) {
  ApiHarness h;
  h.create_project("mine", "alice");
  h.create_project("theirs", "zed");
  const std::string alice = h.token_for("alice");
  SseClient sse(h.port(), "/api/v1/events/stream?from=1", alice);
  ASSERT_TRUE(sse.ok());
  h.append("run-x", run_started("x", "theirs"));
  const uint64_t last = h.append("run-y", run_started("y", "mine"));
  std::vector<uint64_t> ids;
  for (;;) {
    auto f = sse.next();
    ASSERT_TRUE(f);
    auto d = json::parse(f->data);
    EXPECT_NE(d.at("data").at("project_id").as_string(), "theirs");
    ids.push_back(f->id);
    if (f->id == last) break;
  }
  EXPECT_EQ(ids.size(), 2u);  // ProjectCreated(mine) and the run
}

TEST(SseTest, ForbiddenProjectFilterIs403) {
  ApiHarness h;
  h.create_project("theirs", "zed");
  auto r = h.get("/api/v1/events/stream?project=theirs", h.token_for("alice"));
  EXPECT_EQ(r.status, 403u);
}

// Reconnects with Last-Event-ID many times while another thread appends: the
// concatenation of what the client saw is every position exactly once.
TEST(SseTest, ResumeWithLastEventIdHasNoGapAndNoDuplicate) {
  ApiHarness h;
  const bool ci = std::getenv("CI") != nullptr;
  const int total = ci ? 400 : 2000;
  const uint64_t start = h.store().head_position();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < total; ++i) {
      h.append("stream-" + std::to_string(i % 7), progress("d", static_cast<uint32_t>(i)));
    }
    done = true;
  });
  const uint64_t target = start + total;
  std::vector<uint64_t> seen;
  uint64_t last = start;
  int reconnects = 0;
  while (last < target) {
    SseClient sse(h.port(), "/api/v1/events/stream", h.admin_token(), last);
    ASSERT_TRUE(sse.ok()) << sse.header();
    // Take a handful of frames, then drop the connection mid-stream.
    for (int k = 0; k < 37 && last < target; ++k) {
      auto f = sse.next();
      ASSERT_TRUE(f);
      seen.push_back(f->id);
      last = f->id;
    }
    ++reconnects;
  }
  writer.join();
  ASSERT_EQ(seen.size(), static_cast<size_t>(total));
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], start + 1 + i) << "at index " << i;
  EXPECT_GT(reconnects, 5);
}

TEST(SseTest, ClientsGaugeFollowsStreams) {
  ApiHarness h;
  auto& gauge = h.server().metrics().gauge("wharf_sse_clients", "");
  {
    SseClient sse(h.port(), "/api/v1/events/stream", h.admin_token());
    ASSERT_TRUE(sse.ok());
    EXPECT_EQ(gauge.value(), 1);
  }
  while (gauge.value() != 0) std::this_thread::yield();  // closes when the server notices
  SUCCEED();
}

TEST(SseTest, BadLastEventIdIs400) {
  ApiHarness h;
  Client c(h.port());
  auto r = c.request(beast::http::verb::get, "/api/v1/events/stream", h.admin_token(), "",
                     {{"Last-Event-ID", "yesterday"}});
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "wrong_type");
}

}  // namespace
}  // namespace wharf::api::testing
