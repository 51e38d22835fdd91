#pragma once
// Test support for the canary router: a tiny in-process HTTP/1.1 service
// (keep-alive, a thread per connection) whose answer names it and whose
// status can be switched to 500, and a keep-alive client. Also used by
// bench/router as the service behind the router.
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace wharf::router::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A loopback HTTP server with a thread per connection; `serve` answers one
// connection until it returns.
class ConnectionServer {
 public:
  explicit ConnectionServer(std::function<void(tcp::socket&)> serve) : serve_(std::move(serve)) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~ConnectionServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
    std::lock_guard lock(mutex_);
    for (auto& s : sockets_) ::shutdown(s.native_handle(), SHUT_RDWR);
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return port_; }

 private:
  void accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (ec) continue;
      socket.set_option(tcp::no_delay(true), ec);
      std::lock_guard lock(mutex_);
      sockets_.push_back(std::move(socket));
      tcp::socket* s = &sockets_.back();
      threads_.emplace_back([this, s] { serve_(*s); });
    }
  }

  std::function<void(tcp::socket&)> serve_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::list<tcp::socket> sockets_;
  std::list<std::thread> threads_;
  std::thread thread_;
};

class TestService {
 public:
  explicit TestService(std::string name) : name_(std::move(name)) {}
  uint16_t port() const { return server_.port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  void set_status(int status) { status_ = status; }
  uint64_t requests() const { return requests_; }

 private:
  void serve(tcp::socket& socket) {
    beast::flat_buffer buffer;
    for (;;) {
      beast::error_code ec;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      ++requests_;
      http::response<http::string_body> res{static_cast<http::status>(status_.load()), 11};
      res.set(http::field::content_type, "text/plain");
      res.body() = name_;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec || !req.keep_alive()) return;
    }
  }

  std::string name_;
  std::atomic<int> status_{200};
  std::atomic<uint64_t> requests_{0};
  ConnectionServer server_{[this](tcp::socket& s) { serve(s); }};  // last: stops first
};

struct Answer {
  int status = 0;
  std::string body;
  std::string route;  // X-Wharf-Route
};

// One keep-alive connection; reconnects when the server closed it.
class Client {
 public:
  explicit Client(uint16_t port) : port_(port) {}
  Answer get(const std::string& target = "/",
             const std::map<std::string, std::string>& headers = {}) {
    for (int tries = 0; tries < 2; ++tries) {
      beast::error_code ec;
      if (!socket_) {
        socket_.emplace(io_);
        socket_->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
        if (ec) throw std::runtime_error("connect: " + ec.message());
        socket_->set_option(tcp::no_delay(true), ec);
        buffer_.clear();
      }
      http::request<http::empty_body> req{http::verb::get, target, 11};
      req.set(http::field::host, "127.0.0.1");
      for (const auto& [k, v] : headers) req.set(k, v);
      http::write(*socket_, req, ec);
      http::response<http::string_body> res;
      if (!ec) http::read(*socket_, buffer_, res, ec);
      if (ec) {
        socket_.reset();
        continue;
      }
      if (!res.keep_alive()) socket_.reset();
      Answer a;
      a.status = res.result_int();
      a.body = res.body();
      if (auto it = res.find("X-Wharf-Route"); it != res.end()) a.route = std::string(it->value());
      return a;
    }
    throw std::runtime_error("no answer from 127.0.0.1:" + std::to_string(port_));
  }

 private:
  uint16_t port_;
  asio::io_context io_;
  std::optional<tcp::socket> socket_;
  beast::flat_buffer buffer_;
};

}  // namespace wharf::router::testing
