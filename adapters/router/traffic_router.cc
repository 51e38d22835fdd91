#include "adapters/router/traffic_router.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <random>

namespace wharf::router {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr uint64_t kBodyLimit = 64ull * 1024 * 1024;

bool roll(uint32_t weight) {
  if (weight == 0) return false;
  if (weight >= 100) return true;
  thread_local std::minstd_rand rng{std::random_device{}()};
  return std::uniform_int_distribution<uint32_t>(0, 99)(rng) < weight;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Expected<Upstream, std::string> parse_upstream(const std::string& url) {
  std::string_view rest = url;
  if (rest.substr(0, 7) == "http://") rest.remove_prefix(7);
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return unexpected("not an http://host:port URL: \"" + url + "\"");
  }
  int port = std::atoi(std::string(rest.substr(colon + 1)).c_str());
  if (port <= 0 || port > 65535) return unexpected("bad port in \"" + url + "\"");
  return Upstream{std::string(rest.substr(0, colon)), static_cast<uint16_t>(port)};
}

bool matches_canary(const wharf::v1::CanaryMatch& match, std::string_view header_value,
                    bool header_present, std::string_view cookie_header) {
  if (!match.header().empty() && header_present &&
      (match.header_value().empty() || header_value == match.header_value())) {
    return true;
  }
  if (match.cookie().empty() || cookie_header.empty()) return false;
  while (!cookie_header.empty()) {
    auto semi = cookie_header.find(';');
    std::string_view pair = trim(cookie_header.substr(0, semi));
    cookie_header =
        semi == std::string_view::npos ? std::string_view{} : cookie_header.substr(semi + 1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != match.cookie()) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (match.cookie_value().empty() || value == match.cookie_value()) return true;
  }
  return false;
}

struct TrafficRouter::Impl {
  struct Session {
    explicit Session(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  // One client connection's upstream connection to one side.
  struct Link {
    asio::io_context& io;
    std::optional<tcp::socket> socket;
    Upstream to;
    beast::flat_buffer buffer;
  };

  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};

  mutable std::mutex routes_mutex;
  std::shared_ptr<const Routes> routes = std::make_shared<Routes>();

  std::atomic<uint64_t> stable_requests{0}, stable_errors{0}, canary_requests{0}, canary_errors{0};

  std::mutex sessions_mutex;
  std::list<std::unique_ptr<Session>> sessions;

  std::shared_ptr<const Routes> snapshot() const {
    std::lock_guard lock(routes_mutex);
    return routes;
  }

  void accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket(io);
      acceptor.accept(socket, ec);
      if (stopping.load()) return;
      if (ec) continue;
      socket.set_option(tcp::no_delay(true), ec);
      std::lock_guard lock(sessions_mutex);
      for (auto it = sessions.begin(); it != sessions.end();) {
        if ((*it)->done.load()) {
          (*it)->thread.join();
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
      auto session = std::make_unique<Session>(std::move(socket));
      Session* s = session.get();
      sessions.push_back(std::move(session));
      s->thread = std::thread([this, s] {
        serve(*s);
        s->done.store(true);
      });
    }
  }

  // Sends `req` over `link` (connecting it first when needed) and reads the
  // answer into `res`. A reused connection the upstream closed meanwhile is
  // reconnected once.
  bool forward(Link& link, const Upstream& to, http::request<http::string_body>& req,
               http::response<http::string_body>& res) {
    for (int tries = 0; tries < 2; ++tries) {
      beast::error_code ec;
      bool fresh = false;
      if (!link.socket || !(link.to == to)) {
        link.socket.emplace(link.io);
        link.buffer.clear();
        auto address = asio::ip::make_address(to.host == "localhost" ? "127.0.0.1" : to.host, ec);
        if (ec) {
          tcp::resolver resolver(link.io);
          auto results = resolver.resolve(to.host, std::to_string(to.port), ec);
          if (ec) break;
          asio::connect(*link.socket, results, ec);
        } else {
          link.socket->connect(tcp::endpoint(address, to.port), ec);
        }
        if (ec) break;
        link.socket->set_option(tcp::no_delay(true), ec);
        link.to = to;
        fresh = true;
      }
      http::write(*link.socket, req, ec);
      if (!ec) {
        http::response_parser<http::string_body> parser;
        parser.body_limit(kBodyLimit);
        if (req.method() == http::verb::head) parser.skip(true);
        http::read(*link.socket, link.buffer, parser, ec);
        if (!ec) {
          res = parser.release();
          if (!res.keep_alive()) link.socket.reset();
          return true;
        }
      }
      link.socket.reset();
      if (fresh) break;  // a new connection failed: the upstream is down
    }
    link.socket.reset();
    return false;
  }

  void serve(Session& s) {
    beast::flat_buffer buffer;
    Link links[2] = {{io, {}, {}, {}}, {io, {}, {}, {}}};  // stable, canary
    for (;;) {
      beast::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.body_limit(kBodyLimit);
      http::read(s.socket, buffer, parser, ec);
      if (ec) break;
      http::request<http::string_body> req = parser.release();
      auto r = snapshot();
      bool canary = false;
      if (r->canary) {
        bool header_present = false;
        std::string_view header_value;
        if (!r->match.header().empty()) {
          auto it = req.find(r->match.header());
          if (it != req.end()) {
            header_present = true;
            header_value = it->value();
          }
        }
        std::string_view cookie;
        if (auto it = req.find(http::field::cookie); it != req.end()) cookie = it->value();
        canary = matches_canary(r->match, header_value, header_present, cookie) || roll(r->weight);
      }
      const std::optional<Upstream>& to = canary ? r->canary : r->stable;
      const bool keep_alive = req.keep_alive();
      http::response<http::string_body> res;
      if (!to || !forward(links[canary ? 1 : 0], *to, req, res)) {
        res = {};
        res.result(http::status::bad_gateway);
        res.version(11);
        res.set(http::field::content_type, "text/plain");
        res.body() = to ? "wharf router: upstream " + to->host + ":" + std::to_string(to->port) +
                              " did not answer\n"
                        : std::string("wharf router: no upstream\n");
        res.prepare_payload();
      }
      auto& requests = canary ? canary_requests : stable_requests;
      auto& errors = canary ? canary_errors : stable_errors;
      requests.fetch_add(1, std::memory_order_relaxed);
      if (res.result_int() >= 500) errors.fetch_add(1, std::memory_order_relaxed);
      res.set("X-Wharf-Route", canary ? "canary" : "stable");
      res.keep_alive(keep_alive);
      http::write(s.socket, res, ec);
      if (ec || !keep_alive) break;
    }
    beast::error_code ec;
    s.socket.shutdown(tcp::socket::shutdown_both, ec);
  }
};

Expected<std::unique_ptr<TrafficRouter>, std::string> TrafficRouter::start(
    const std::string& listen, uint16_t port) {
  std::unique_ptr<TrafficRouter> router(new TrafficRouter());
  router->impl_ = std::make_unique<Impl>();
  Impl& impl = *router->impl_;
  beast::error_code ec;
  auto address = asio::ip::make_address(listen, ec);
  if (ec) return unexpected("bad listen address \"" + listen + "\": " + ec.message());
  tcp::endpoint endpoint(address, port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return unexpected("router cannot listen on " + listen + ":" + std::to_string(port) + ": " +
                      ec.message());
  }
  router->port_ = impl.acceptor.local_endpoint().port();
  impl.accept_thread = std::thread([&impl] { impl.accept_loop(); });
  return router;
}

TrafficRouter::~TrafficRouter() {
  stop();
}

void TrafficRouter::set_routes(Routes routes) {
  auto next = std::make_shared<const Routes>(std::move(routes));
  std::lock_guard lock(impl_->routes_mutex);
  impl_->routes = std::move(next);
}

Routes TrafficRouter::routes() const {
  return *impl_->snapshot();
}

RouterCounts TrafficRouter::counts() const {
  RouterCounts c;
  c.stable.requests = impl_->stable_requests.load();
  c.stable.errors = impl_->stable_errors.load();
  c.canary.requests = impl_->canary_requests.load();
  c.canary.errors = impl_->canary_errors.load();
  return c;
}

void TrafficRouter::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  // shutdown(2) wakes a thread blocked in accept/read on Linux; close comes after the join.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  beast::error_code ec;
  impl_->acceptor.close(ec);
  std::list<std::unique_ptr<Impl::Session>> sessions;
  {
    std::lock_guard lock(impl_->sessions_mutex);
    sessions.swap(impl_->sessions);
  }
  for (auto& s : sessions) ::shutdown(s->socket.native_handle(), SHUT_RDWR);
  for (auto& s : sessions) {
    if (s->thread.joinable()) s->thread.join();
  }
}

}  // namespace wharf::router
