// Transport behaviour: keep-alive, pipelining, limits, timeouts, connection
// cap, drain. Everything over a real socket.
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "events/forwarding_store.h"
#include "tests/api/api_test_support.h"

namespace wharf::api::testing {
namespace {

using beast::http::verb;

// Polls `condition` for up to 10 s.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

TEST(ServerTest, HealthzAnswersOk) {
  ApiHarness h;
  auto r = h.get("/healthz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.json().at("status").as_string(), "ok");
}

TEST(ServerTest, ReadyzFollowsTheReadinessCheck) {
  ApiHarness h;
  // Ready once the access index has folded the log (below).
  ASSERT_TRUE(eventually([&] { return h.get("/readyz").status == 200u; }));
  h.services().ready = [] { return false; };
  auto r = h.get("/readyz");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.json().at("status").as_string(), "not_ready");
}

// A store whose read_all() waits until open() is called: the access index's
// first fold cannot finish before that (ForwardingStore leaves scan and
// read_batch to the base class, which reads through read_all).
class GatedStore : public events::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  Expected<std::vector<events::Envelope>, events::Error> read_all(uint64_t from,
                                                                  size_t max_count) const override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return open_; });
    return ForwardingStore::read_all(from, max_count);
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool open_ = false;
};

// Issue 26: every authenticated request needs the access index, so /readyz
// says ready only once its first fold reached the head.
TEST(ServerTest, ReadyzWaitsForTheAccessIndexToCatchUp) {
  TempDir dir;
  auto store = events::EventStore::open((dir.path() / "events").string());
  ASSERT_TRUE(store);
  ASSERT_TRUE(issue_first_admin_token(**store, now_us()));
  GatedStore gated(**store);
  Services services(gated);
  ServerConfig config = ApiHarness::default_config();
  config.port = 0;
  Server server(config, services);
  server.start();
  Client c(server.port());
  auto r = c.request(verb::get, "/readyz");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.json().at("access_index").as_string(), "catching_up");
  gated.open();
  EXPECT_TRUE(eventually(
      [&] { return Client(server.port()).request(verb::get, "/readyz").status == 200u; }));
  EXPECT_EQ(
      Client(server.port()).request(verb::get, "/readyz").json().at("access_index").as_string(),
      "caught_up");
  EXPECT_EQ(server.app().access().position(), (*store)->head_position());
  server.stop();
}

TEST(ServerTest, MetricsCountRequestsByRouteAndStatus) {
  ApiHarness h;
  h.get("/healthz");
  h.get("/nope");
  auto r = h.get("/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_NE(r.headers["Content-Type"].find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("wharf_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("route=\"unmatched\",status=\"404\""), std::string::npos);
  EXPECT_NE(r.body.find("wharf_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 1"),
            std::string::npos);
  EXPECT_NE(r.body.find("# TYPE wharf_sse_clients gauge"), std::string::npos);
}

TEST(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  ApiHarness h;
  Client c(h.port());
  for (int i = 0; i < 20; ++i) {
    auto r = c.request(verb::get, "/healthz");
    ASSERT_EQ(r.status, 200u);
  }
}

TEST(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  ApiHarness h;
  Client c(h.port());
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read().status, 200u);
  EXPECT_EQ(c.read().status, 404u);
}

TEST(ServerTest, UnknownRouteIs404WithErrorBody) {
  ApiHarness h;
  auto r = h.get("/api/v1/no/such/thing", h.admin_token());
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.error_code(), "route_not_found");
  auto body = r.json();
  EXPECT_TRUE(body.at("error").as_object().contains("message"));
  EXPECT_TRUE(body.at("error").as_object().contains("details"));
}

TEST(ServerTest, WrongMethodIs405WithAllowHeader) {
  ApiHarness h;
  Client c(h.port());
  auto r = c.request(verb::delete_, "/api/v1/events", h.admin_token());
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.headers["Allow"], "GET");
  EXPECT_EQ(r.error_code(), "method_not_allowed");
}

TEST(ServerTest, BodyOverTheLimitIs413) {
  auto config = ApiHarness::default_config();
  config.max_body_bytes = 1024;
  ApiHarness h(config);
  Client c(h.port());
  std::string big = "{\"user\":\"" + std::string(4000, 'a') + "\"}";
  auto r = c.request(verb::post, "/api/v1/tokens", h.admin_token(), big);
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.error_code(), "body_too_large");
}

TEST(ServerTest, HeadersOverTheLimitAre431) {
  auto config = ApiHarness::default_config();
  config.max_header_bytes = 1024;
  ApiHarness h(config);
  Client c(h.port());
  auto r = c.request(verb::get, "/healthz", "", "", {{"X-Padding", std::string(4000, 'p')}});
  EXPECT_EQ(r.status, 431u);
  EXPECT_EQ(r.error_code(), "headers_too_large");
}

TEST(ServerTest, MalformedHttpIs400AndCloses) {
  ApiHarness h;
  Client c(h.port());
  c.send_raw("THIS IS NOT HTTP\r\n\r\n");
  auto r = c.read();
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "bad_request");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ServerTest, BadPercentEscapeInPathIs400) {
  ApiHarness h;
  auto r = h.get("/api/v1/streams/%zz", h.admin_token());
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "bad_target");
}

TEST(ServerTest, IdleKeepAliveConnectionIsClosed) {
  auto config = ApiHarness::default_config();
  config.idle_timeout = std::chrono::milliseconds(200);
  ApiHarness h(config);
  Client c(h.port());
  ASSERT_EQ(c.request(verb::get, "/healthz").status, 200u);
  EXPECT_TRUE(c.closed_by_peer());  // blocks until the server gives up on us
}

TEST(ServerTest, SlowRequestGets408) {
  auto config = ApiHarness::default_config();
  config.request_timeout = std::chrono::milliseconds(200);
  ApiHarness h(config);
  Client c(h.port());
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes the header
  auto r = c.read();
  EXPECT_EQ(r.status, 408u);
  EXPECT_EQ(r.error_code(), "request_timeout");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ServerTest, ConnectionsOverTheCapGet503WithRetryAfter) {
  auto config = ApiHarness::default_config();
  config.max_connections = 2;
  config.retry_after_s = 3;
  ApiHarness h(config);
  Client a(h.port());
  Client b(h.port());
  ASSERT_EQ(a.request(verb::get, "/healthz").status, 200u);
  ASSERT_EQ(b.request(verb::get, "/healthz").status, 200u);
  Client c(h.port());
  auto r = c.read();
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.headers["Retry-After"], "3");
  EXPECT_EQ(r.error_code(), "too_many_connections");
  // The others still work.
  EXPECT_EQ(a.request(verb::get, "/healthz").status, 200u);
}

TEST(ServerTest, StopClosesIdleConnections) {
  ApiHarness h;
  Client c(h.port());
  ASSERT_EQ(c.request(verb::get, "/healthz").status, 200u);
  h.server().stop();
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(ServerTest, StopLetsAnInFlightRequestFinish) {
  ApiHarness h;
  h.create_project("p", "alice", "s3cret");
  std::promise<void> entered;
  std::promise<void> release;
  auto released = release.get_future().share();
  h.services().webhooks["test"] = [&](const WebhookDelivery&) {
    entered.set_value();
    released.wait();
    return WebhookResult{};
  };
  Client c(h.port());
  auto pending = std::async(std::launch::async, [&] {
    return c.request(verb::post, "/api/v1/webhooks/test/p?secret=s3cret", "", "{}");
  });
  entered.get_future().wait();  // the request is inside its handler
  auto stopping = std::async(std::launch::async, [&] { h.server().stop(); });
  EXPECT_EQ(stopping.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  release.set_value();
  auto r = pending.get();
  stopping.get();
  EXPECT_EQ(r.status, 202u);
  EXPECT_EQ(r.headers["Connection"], "close");
}

TEST(ServerTest, RoutesListEveryRouteOnce) {
  ApiHarness h;
  auto routes = h.server().app().routes();
  std::set<std::pair<std::string, std::string>> unique;
  for (const auto& r : routes) unique.insert({r.method, r.pattern});
  EXPECT_EQ(unique.size(), routes.size());
  EXPECT_TRUE(unique.count({"GET", "/api/v1/events/stream"}));
}

}  // namespace
}  // namespace wharf::api::testing
