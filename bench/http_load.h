#pragma once
// Keep-alive HTTP load for the benchmarks: N connections each sending the
// next request (a random one of `targets`) when the last answer arrived,
// until a deadline; latencies per request. Used by bench_http and bench_scale.
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace wharf::bench {

namespace http_load_detail {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
}  // namespace http_load_detail

using namespace http_load_detail;

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct LoadResult {
  std::vector<double> latencies;
  double seconds = 0;
  size_t bytes = 0;
  double req_per_s = 0;
  double p99_ms = 0;
  double p50_ms = 0;
  double mean_body = 0;
  size_t errors = 0;
};

// Sums rounds measured in alternation with the other side, so a change in
// machine load (other processes) hits both sides alike.
inline void merge(LoadResult& into, const LoadResult& round) {
  into.latencies.insert(into.latencies.end(), round.latencies.begin(), round.latencies.end());
  into.seconds += round.seconds;
  into.bytes += round.bytes;
  into.errors += round.errors;
  into.req_per_s = static_cast<double>(into.latencies.size()) / into.seconds;
  into.p99_ms = percentile(into.latencies, 0.99);
  into.p50_ms = percentile(into.latencies, 0.50);
  into.mean_body = static_cast<double>(into.bytes) / static_cast<double>(into.latencies.size());
}

class Load {
 public:
  Load(uint16_t port, size_t connections, std::vector<std::string> targets, std::string token)
      : port_(port), targets_(std::move(targets)), token_(std::move(token)) {
    for (size_t i = 0; i < connections; ++i) conns_.push_back(std::make_unique<Conn>(ioc_, i));
  }

  LoadResult run(std::chrono::seconds duration) {
    const auto end = Clock::now() + duration;
    end_ = end;
    for (auto& c : conns_) {
      c->socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
      c->socket.set_option(tcp::no_delay(true));
      send(*c);
    }
    const auto started = Clock::now();
    ioc_.run();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    LoadResult r;
    std::vector<double> all;
    size_t bytes = 0;
    for (auto& c : conns_) {
      all.insert(all.end(), c->latencies.begin(), c->latencies.end());
      bytes += c->bytes;
      r.errors += c->errors;
    }
    r.seconds = seconds;
    r.bytes = bytes;
    r.latencies = all;
    r.req_per_s = static_cast<double>(all.size()) / seconds;
    r.p99_ms = percentile(all, 0.99);
    r.p50_ms = percentile(all, 0.50);
    r.mean_body = all.empty() ? 0 : static_cast<double>(bytes) / static_cast<double>(all.size());
    return r;
  }

 private:
  struct Conn {
    Conn(asio::io_context& ioc, size_t i) : socket(ioc), rng(i) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    std::optional<http::response_parser<http::string_body>> parser;
    Clock::time_point sent;
    std::vector<double> latencies;
    size_t bytes = 0;
    size_t errors = 0;
    std::mt19937 rng;
  };

  void send(Conn& c) {
    if (Clock::now() >= end_) return;
    c.req =
        http::request<http::empty_body>(http::verb::get, targets_[c.rng() % targets_.size()], 11);
    c.req.set(http::field::host, "127.0.0.1");
    c.req.set(http::field::authorization, "Bearer " + token_);
    c.sent = Clock::now();
    http::async_write(c.socket, c.req, [this, &c](beast::error_code ec, size_t) {
      if (ec) return;
      c.parser.emplace();
      c.parser->body_limit(16 * 1024 * 1024);
      http::async_read(c.socket, c.buffer, *c.parser, [this, &c](beast::error_code ec2, size_t) {
        if (ec2) return;
        const auto& res = c.parser->get();
        if (res.result() != http::status::ok) ++c.errors;
        c.bytes += res.body().size();
        c.latencies.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - c.sent).count());
        send(c);
      });
    });
  }

  asio::io_context ioc_;
  uint16_t port_;
  std::vector<std::string> targets_;
  std::string token_;
  std::vector<std::unique_ptr<Conn>> conns_;
  Clock::time_point end_;
};

}  // namespace wharf::bench
