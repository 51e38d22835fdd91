#include "adapters/router/traffic_router.h"

#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/error.hpp>
#include <random>

#include "adapters/local/descriptors.h"
#include "adapters/router/http_relay.h"

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
    beast::flat_buffer in;  // read from upstream, not yet relayed
  };
  enum class Exchange { answered, no_answer, broken_answer };

  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};

  mutable std::mutex routes_mutex;
  std::shared_ptr<const Routes> routes = std::make_shared<Routes>();

  // Counted before the answer's last byte goes out, so a client that has its
  // answer sees it counted.
  struct SideCounters {
    std::atomic<uint64_t> requests{0}, errors{0};
    void record(int status) {
      requests.fetch_add(1, std::memory_order_relaxed);
      if (status >= 500) errors.fetch_add(1, std::memory_order_relaxed);
    }
  };
  SideCounters stable_counts, canary_counts;

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
      local::set_close_on_exec(socket.native_handle());
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

  bool connect(Link& link, const Upstream& to) {
    beast::error_code ec;
    link.socket.emplace(link.io);
    link.in.clear();
    auto address = asio::ip::make_address(to.host == "localhost" ? "127.0.0.1" : to.host, ec);
    if (ec) {
      tcp::resolver resolver(link.io);
      auto results = resolver.resolve(to.host, std::to_string(to.port), ec);
      if (!ec) asio::connect(*link.socket, results, ec);
    } else {
      link.socket->connect(tcp::endpoint(address, to.port), ec);
    }
    if (ec) {
      link.socket.reset();
      return false;
    }
    local::set_close_on_exec(link.socket->native_handle());
    link.socket->set_option(tcp::no_delay(true), ec);
    link.to = to;
    return true;
  }

  // Sends the request's bytes over `link` (connecting it first when needed)
  // and relays the answer to `client`, with the route header added. A reused
  // connection the upstream closed meanwhile is reconnected once.
  Exchange exchange(Link& link, const Upstream& to, const std::string& request, bool head,
                    tcp::socket& client, std::string_view route, std::string& answer,
                    SideCounters& side, bool& keep_alive) {
    for (int tries = 0; tries < 2; ++tries) {
      const bool fresh = !link.socket || !(link.to == to);
      if (fresh && !connect(link, to)) break;
      beast::error_code ec;
      asio::write(*link.socket, asio::buffer(request), ec);
      std::optional<Framing<false>> response;
      bool interim_sent = false;
      answer.clear();
      // Interim 1xx answers go to the client as they come; the final one follows.
      while (!ec) {
        response.emplace(nullptr);
        response->body_limit(boost::none);  // streamed, never held whole
        if (head) response->skip(true);
        if (!relay(*link.socket, link.in, *response, Until::head, answer, nullptr, ec)) break;
        const int code = response->status();
        if (code < 100 || code >= 200) break;
        if (code == 101) {  // a protocol switch would need a tunnel
          ec = http::error::bad_version;
          break;
        }
        asio::write(client, asio::buffer(answer), ec);
        answer.clear();
        interim_sent = true;
      }
      if (ec) {
        const bool stale = !fresh && !interim_sent && (!response || !response->got_some());
        link.socket.reset();
        if (stale) continue;
        break;
      }
      add_header(answer, "X-Wharf-Route", route);
      response->eager(true);
      Sink sink{client};
      if (!relay(*link.socket, link.in, *response, Until::end, answer, &sink, ec)) {
        link.socket.reset();
        if (sink.written == 0) return Exchange::no_answer;
        side.record(502);  // the client got part of an answer: the upstream failed
        return Exchange::broken_answer;
      }
      side.record(response->status());
      keep_alive = response->keep_alive();
      if (!keep_alive) link.socket.reset();
      asio::write(client, asio::buffer(answer), ec);
      return ec ? Exchange::broken_answer : Exchange::answered;
    }
    link.socket.reset();
    return Exchange::no_answer;
  }

  // An answer of the router's own (the upstream is down, the request is bad).
  static void answer_plain(tcp::socket& client, int status, std::string_view reason,
                           std::string_view route, bool keep_alive, const std::string& body) {
    std::string bytes =
        "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
        "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (!route.empty()) bytes.append("X-Wharf-Route: ").append(route).append("\r\n");
    bytes.append(keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    bytes += body;
    beast::error_code ec;
    asio::write(client, asio::buffer(bytes), ec);
  }

  bool route_to_canary(const Routes& r, const RequestFacts& facts) {
    if (!r.canary) return false;
    return matches_canary(r.match, facts.header_value, facts.header_present, facts.cookie) ||
           roll(r.weight);
  }

  void serve(Session& s) {
    beast::flat_buffer in;
    std::string request, answer;
    RequestFacts facts;
    Link links[2] = {{io, {}, {}, {}}, {io, {}, {}, {}}};  // stable, canary
    for (;;) {
      facts.match_header = snapshot()->match.header();
      facts.clear_seen();
      Framing<true> parser(&facts);
      parser.body_limit(kBodyLimit);
      request.clear();
      beast::error_code ec;
      if (!relay(s.socket, in, parser, Until::end, request, nullptr, ec)) {
        if (ec == http::error::body_limit) {
          answer_plain(s.socket, 413, "Payload Too Large", "", false,
                       "wharf router: request body over the limit\n");
        } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                   ec != http::error::end_of_stream && ec != http::error::partial_message) {
          answer_plain(s.socket, 400, "Bad Request", "", false,
                       "wharf router: malformed request: " + ec.message() + "\n");
        }
        break;
      }
      // The routes are read after the request, so a change applies from the
      // next request on even on a connection that sat idle.
      auto r = snapshot();
      if (r->match.header() != facts.match_header) {
        facts.match_header = r->match.header();
        scan_request_head(request, facts);
      }
      const bool canary = route_to_canary(*r, facts);
      const std::optional<Upstream>& to = canary ? r->canary : r->stable;
      const std::string_view route = canary ? "canary" : "stable";
      SideCounters& side = canary ? canary_counts : stable_counts;
      bool keep_alive = parser.keep_alive();
      bool upstream_keep_alive = true;
      Exchange outcome = to ? exchange(links[canary ? 1 : 0], *to, request, facts.head, s.socket,
                                       route, answer, side, upstream_keep_alive)
                            : Exchange::no_answer;
      if (outcome == Exchange::no_answer) {
        side.record(502);
        answer_plain(s.socket, 502, "Bad Gateway", route, keep_alive,
                     to ? "wharf router: upstream " + to->host + ":" + std::to_string(to->port) +
                              " did not answer\n"
                        : std::string("wharf router: no upstream\n"));
      }
      if (outcome == Exchange::broken_answer || !keep_alive || !upstream_keep_alive) break;
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
  local::open_close_on_exec(impl.acceptor, endpoint.protocol(), ec);
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
  c.stable.requests = impl_->stable_counts.requests.load();
  c.stable.errors = impl_->stable_counts.errors.load();
  c.canary.requests = impl_->canary_counts.requests.load();
  c.canary.errors = impl_->canary_counts.errors.load();
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
