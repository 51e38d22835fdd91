// The health monitor's own thread against a real HTTP service that turns
// unhealthy and back: each change of state is exactly one HealthChanged,
// intervals that change nothing record nothing.
#include "adapters/runtime/health_monitor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "events/ids.h"
#include "tests/runtime/fake_ports.h"
#include "tests/runtime/runtime_fixture.h"

namespace wharf::runtime::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Answers every request with 200 or 503, as `healthy` says.
class ProbeTarget {
 public:
  ProbeTarget() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        tcp::socket s(io_);
        boost::system::error_code ec;
        acceptor_.accept(s, ec);
        if (ec || stop_) continue;
        asio::streambuf request;
        asio::read_until(s, request, "\r\n\r\n", ec);
        const std::string answer = healthy ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                                           : "HTTP/1.1 503 Service Unavailable\r\n"
                                             "Content-Length: 4\r\n\r\ndown";
        asio::write(s, asio::buffer(answer), ec);
        s.shutdown(tcp::socket::shutdown_both, ec);
      }
    });
  }
  ~ProbeTarget() {
    stop_ = true;
    tcp::socket poke(io_);
    boost::system::error_code ec;
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::atomic<bool> healthy{true};

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void append(events::EventStore& store, const std::string& stream, const wharf::v1::Payload& p) {
  events::Envelope e;
  e.set_event_id(events::new_uuid());
  e.set_occurred_at_us(1);
  e.mutable_actor()->set_id("test");
  *e.mutable_payload() = p;
  ASSERT_TRUE(store.append(stream, events::ExpectedVersion::any(), {e}));
}

TEST(HealthMonitorThread, AFlapHealthyUnhealthyHealthyIsRecordedOncePerChange) {
  TempDir dir;
  auto store = open_store(dir.path());
  SystemClock clock;
  CommandBus bus(*store, clock, 2);
  FakeDeployTarget deploys;
  ProcessManager manager(*store, bus, Ports{nullptr, &deploys, nullptr, nullptr}, clock);
  ProbeTarget service;

  wharf::v1::Payload requested;
  auto* r = requested.mutable_deploy_requested();
  r->set_deploy_id("d-1");
  r->set_project_id("shop");
  r->set_environment("staging");
  r->set_attempt(1);
  r->mutable_spec()->set_version("v1");
  r->mutable_spec()->set_health_path("/healthz");
  append(*store, "env-shop-staging", requested);
  wharf::v1::Payload succeeded;
  auto* s = succeeded.mutable_deploy_succeeded();
  s->set_deploy_id("d-1");
  s->set_project_id("shop");
  s->set_environment("staging");
  s->set_attempt(1);
  *s->mutable_spec() = r->spec();
  s->set_url(service.url());
  append(*store, "env-shop-staging", succeeded);
  ASSERT_TRUE(manager.start());

  HealthMonitorOptions options;
  options.interval = std::chrono::milliseconds(150);
  options.probes_per_interval = 3;
  options.unhealthy_after = 2;
  options.healthy_after = 1;
  HealthMonitor monitor(manager, bus, clock, options);
  auto changes = [&] { return events_of_type(*store, "HealthChanged"); };
  monitor.start();

  ASSERT_TRUE(eventually([&] { return changes().size() == 1; }));
  service.healthy = false;
  ASSERT_TRUE(eventually([&] { return changes().size() == 2; }));
  service.healthy = true;
  ASSERT_TRUE(eventually([&] { return changes().size() == 3; }));
  // Further intervals on a steady service record nothing.
  const uint64_t intervals = monitor.stats().intervals;
  ASSERT_TRUE(eventually([&] { return monitor.stats().intervals >= intervals + 3; }));
  monitor.stop();

  auto all = changes();
  ASSERT_EQ(all.size(), 3u);
  using wharf::v1::HEALTH_STATE_HEALTHY;
  using wharf::v1::HEALTH_STATE_UNHEALTHY;
  using wharf::v1::HEALTH_STATE_UNSPECIFIED;
  const std::vector<std::pair<int, int>> want = {{HEALTH_STATE_UNSPECIFIED, HEALTH_STATE_HEALTHY},
                                                 {HEALTH_STATE_HEALTHY, HEALTH_STATE_UNHEALTHY},
                                                 {HEALTH_STATE_UNHEALTHY, HEALTH_STATE_HEALTHY}};
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& h = all[i].payload().health_changed();
    EXPECT_EQ(std::make_pair(static_cast<int>(h.from()), static_cast<int>(h.to())), want[i]) << i;
    EXPECT_EQ(h.deploy_id(), "d-1");
    EXPECT_EQ(h.url(), service.url() + "/healthz");
  }
  EXPECT_EQ(all[1].payload().health_changed().detail(), "HTTP 503");
  EXPECT_GE(all[1].payload().health_changed().failed_probes(), 2u);
  EXPECT_EQ(monitor.stats().observations, 3u);
  manager.stop();
  bus.stop();
}

}  // namespace
}  // namespace wharf::runtime::testing
