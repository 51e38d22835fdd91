// The router relays HTTP/1.1 byte for byte (adapters/router/http_relay.h):
// chunked and close-delimited answers, interim 100s, bodies larger than a
// read, request bodies, HEAD, pipelined requests, and a precise 400 for a
// request it cannot frame. The upstream here answers with scripted bytes.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>

#include "adapters/router/traffic_router.h"
#include "tests/router/test_service.h"

namespace wharf::router {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

const std::string kBig(1 << 20, 'x');  // 1 MiB: many reads and several flushes

// An upstream whose answer depends on the request target.
class ScriptedUpstream {
 public:
  uint16_t port() const { return server_.port(); }
  std::vector<http::request<http::string_body>> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(req);
      }
      std::string target(req.target());
      std::string bytes;
      bool close = false;
      if (target == "/chunked") {
        bytes =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
      } else if (target == "/until-close") {
        bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody ends at the close";
        close = true;
      } else if (target == "/interim") {
        bytes = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      } else if (target == "/big") {
        bytes =
            "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBig.size()) + "\r\n\r\n" + kBig;
      } else if (req.method() == http::verb::head) {
        bytes = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";  // HEAD: no body follows
      } else {                                                      // echo the body
        bytes = "HTTP/1.1 201 Created\r\nContent-Length: " + std::to_string(req.body().size()) +
                "\r\n\r\n" + req.body();
      }
      asio::write(socket, asio::buffer(bytes), ec);
      if (ec) return;
      if (close) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        return;
      }
    }
  }

  std::mutex mutex_;
  std::vector<http::request<http::string_body>> seen_;
  testing::ConnectionServer server_{[this](tcp::socket& s) { serve(s); }};  // last: stops first
};

class Relay : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = TrafficRouter::start("127.0.0.1", 0);
    ASSERT_TRUE(r) << r.error();
    router = std::move(*r);
    Routes routes;
    routes.stable = Upstream{"127.0.0.1", upstream.port()};
    router->set_routes(routes);
    client.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), router->port()));
  }
  http::response<http::string_body> call(http::request<http::string_body> req) {
    req.set(http::field::host, "127.0.0.1");
    req.prepare_payload();
    http::write(client, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    if (req.method() == http::verb::head) parser.skip(true);
    http::read(client, buffer, parser);
    return parser.release();
  }
  static http::request<http::string_body> get(const std::string& target) {
    return {http::verb::get, target, 11};
  }
  // Everything the router sends until it closes the connection.
  std::string rest_until_close() {
    std::string all(static_cast<const char*>(buffer.data().data()), buffer.size());
    beast::error_code ec;
    for (char chunk[4096];;) {
      std::size_t n = client.read_some(asio::buffer(chunk), ec);
      if (ec) break;
      all.append(chunk, n);
    }
    return all;
  }

  ScriptedUpstream upstream;
  std::unique_ptr<TrafficRouter> router;
  asio::io_context io;
  tcp::socket client{io};
  beast::flat_buffer buffer;
};

TEST_F(Relay, AChunkedAnswerArrivesWholeAndTheConnectionStaysUsable) {
  auto res = call(get("/chunked"));
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "hello world");
  EXPECT_EQ(res["X-Wharf-Route"], "stable");
  EXPECT_EQ(call(get("/chunked")).body(), "hello world");  // same connection
  EXPECT_EQ(upstream.seen().size(), 2u);
}

TEST_F(Relay, AnAnswerLargerThanAReadStreamsThroughIntact) {
  auto res = call(get("/big"));
  ASSERT_EQ(res.body().size(), kBig.size());
  EXPECT_EQ(res.body(), kBig);
  EXPECT_EQ(call(get("/chunked")).body(), "hello world");
}

TEST_F(Relay, ARequestBodyReachesTheUpstreamByteForByte) {
  http::request<http::string_body> post{http::verb::post, "/echo", 11};
  post.set("X-Trace", "abc");
  post.body() = kBig;
  auto res = call(post);
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(res.body(), kBig);
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0]["X-Trace"], "abc");
  EXPECT_EQ(seen[0].target(), "/echo");
}

TEST_F(Relay, AnInterimHundredIsPassedOnBeforeTheFinalAnswer) {
  http::write(client, [] {
    auto req = get("/interim");
    req.set(http::field::host, "h");
    return req;
  }());
  http::response<http::string_body> interim, final_answer;
  http::read(client, buffer, interim);
  EXPECT_EQ(interim.result_int(), 100);
  http::read(client, buffer, final_answer);
  EXPECT_EQ(final_answer.result_int(), 200);
  EXPECT_EQ(final_answer.body(), "ok");
  EXPECT_EQ(final_answer["X-Wharf-Route"], "stable");
}

TEST_F(Relay, AHeadAnswerCarriesNoBody) {
  auto res = call({http::verb::head, "/", 11});
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[http::field::content_length], "1234");
  EXPECT_EQ(call(get("/chunked")).body(), "hello world");  // nothing was left in the stream
}

TEST_F(Relay, ACloseDelimitedAnswerEndsWithTheClientConnectionClosed) {
  std::string req = "GET /until-close HTTP/1.1\r\nHost: h\r\n\r\n";
  asio::write(client, asio::buffer(req));
  std::string all = rest_until_close();
  EXPECT_NE(all.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << all;
  EXPECT_NE(all.find("X-Wharf-Route: stable\r\n"), std::string::npos) << all;
  EXPECT_TRUE(all.ends_with("\r\n\r\nbody ends at the close")) << all;
}

TEST_F(Relay, PipelinedRequestsAreAnsweredInOrder) {
  std::string two =
      "POST /one HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\none"
      "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\ntwo";
  asio::write(client, asio::buffer(two));
  http::response<http::string_body> first, second;
  http::read(client, buffer, first);
  http::read(client, buffer, second);
  EXPECT_EQ(first.body(), "one");
  EXPECT_EQ(second.body(), "two");
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target(), "/one");
  EXPECT_EQ(seen[1].target(), "/two");
}

TEST_F(Relay, ARequestThatCannotBeFramedGetsA400AndReachesNoUpstream) {
  std::string bad = "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: twelve\r\n\r\n";
  asio::write(client, asio::buffer(bad));
  std::string all = rest_until_close();
  EXPECT_TRUE(all.starts_with("HTTP/1.1 400 Bad Request\r\n")) << all;
  EXPECT_NE(all.find("malformed request"), std::string::npos) << all;
  EXPECT_TRUE(upstream.seen().empty());
}

}  // namespace
}  // namespace wharf::router
