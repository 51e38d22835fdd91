#pragma once
// TrafficRouter: the local canary router (docs/canary.md). An HTTP/1.1
// reverse proxy on one port per environment (Boost.Beast, a thread per
// client connection, one keep-alive upstream connection per side and client
// connection) that sends each request to the stable or the canary instance:
// a request that matches the header/cookie rule always goes to the canary;
// the rest go there with probability weight/100. It counts requests and 5xx
// (including upstream failures, answered 502) per side; the canary analysis
// and /metrics read those counts. Routes change atomically between requests,
// so an abort takes effect from the next request on.
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "events/expected.h"
#include "wharf/v1/canary.pb.h"

namespace wharf::router {

struct Upstream {
  std::string host;
  uint16_t port = 0;
  bool operator==(const Upstream&) const = default;
};

// "http://host:port[/...]" -> Upstream.
Expected<Upstream, std::string> parse_upstream(const std::string& url);

struct Routes {
  std::optional<Upstream> stable;
  std::optional<Upstream> canary;  // absent: everything goes to stable
  uint32_t weight = 0;             // percent of unmatched requests to the canary
  wharf::v1::CanaryMatch match;
};

struct SideCounts {
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx answers and upstream failures
};
struct RouterCounts {
  SideCounts stable;
  SideCounts canary;
};

class TrafficRouter {
 public:
  // Listens on listen:port (0 = a free port; port() tells which).
  static Expected<std::unique_ptr<TrafficRouter>, std::string> start(const std::string& listen,
                                                                     uint16_t port);
  ~TrafficRouter();  // stop()
  TrafficRouter(const TrafficRouter&) = delete;
  TrafficRouter& operator=(const TrafficRouter&) = delete;

  uint16_t port() const { return port_; }
  void set_routes(Routes routes);
  Routes routes() const;
  RouterCounts counts() const;
  // Closes the listener and every client connection; joins their threads.
  void stop();

  struct Impl;

 private:
  TrafficRouter() = default;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

// True when the request's headers select the canary under `match`:
// `header_value` is a header's value ("" when absent), `cookie_header` the
// Cookie header.
bool matches_canary(const wharf::v1::CanaryMatch& match, std::string_view header_value,
                    bool header_present, std::string_view cookie_header);

}  // namespace wharf::router
