#include "api/server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "adapters/local/descriptors.h"
#include "adapters/targets/catalog.h"
#include "api/api_error.h"

namespace wharf::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class Session;

struct Server::Impl {
  Impl(ServerConfig c, Services& s, MetricsRegistry* m)
      : config(std::move(c)),
        services(s),
        own_metrics(m == nullptr ? std::make_unique<MetricsRegistry>() : nullptr),
        metrics(m == nullptr ? *own_metrics : *m),
        app(config, services, metrics),
        sse_clients(metrics.gauge("wharf_sse_clients", "open server-sent event streams")),
        open_connections(metrics.gauge("wharf_http_connections", "open HTTP connections")),
        rejected(metrics.counter("wharf_http_rejected_connections_total",
                                 "connections refused with 503 because of max_connections")),
        acceptor(asio::make_strand(ioc)) {}

  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void watch_head();
  void keep_access_index();
  void save_snapshots(uint64_t min_new_events);
  void add_session(uint64_t id, const std::shared_ptr<Session>& s);
  void remove_session(uint64_t id);
  std::vector<std::shared_ptr<Session>> live_sessions();

  ServerConfig config;
  Services& services;
  std::unique_ptr<MetricsRegistry> own_metrics;
  MetricsRegistry& metrics;
  App app;
  Gauge& sse_clients;
  Gauge& open_connections;
  Counter& rejected;

  std::atomic<bool> draining{false};
  std::atomic<bool> stopped{false};
  std::atomic<size_t> connections{0};
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::weak_ptr<Session>> sessions;
  uint64_t next_id = 0;
  uint16_t bound_port = 0;

  // Declared after what sessions touch in their destructors, so pending
  // handlers destroyed with the io_context still find it alive.
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::thread head_watcher;
  std::thread access_keeper;
  std::mutex keeper_mu;
  std::condition_variable keeper_cv;
};

namespace {

Response plain_error(http::status status, const std::string& code, const std::string& message) {
  Response res(status, 11);
  res.set(http::field::content_type, "application/json");
  res.body() = error_body(code, message);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

}  // namespace

// One client connection: requests one after another (keep-alive), or one SSE
// stream. Every handler runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server::Impl& server, uint64_t id)
      : socket_(std::move(socket)), server_(server), id_(id), timer_(socket_.get_executor()) {
    server_.open_connections.add(1);
    beast::error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string() + ":" + std::to_string(peer.port());
  }
  ~Session() {
    if (sse_registered_) server_.sse_clients.add(-1);
    server_.open_connections.add(-1);
    server_.connections.fetch_sub(1);
    server_.remove_session(id_);
  }

  void run() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
  }
  void drain() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kIdle || self->state_ == State::kSse) self->close();
    });
  }
  void force_close() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
  }
  void notify_head() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->pump(); });
  }
  bool is_sse() const { return sse_registered_; }

 private:
  enum class State { kIdle, kReading, kBusy, kSse, kClosed };

  const ServerConfig& config() const { return server_.config; }

  // One deadline at a time. The generation guards against a timer that
  // fired just as the operation it guarded completed (its handler may already
  // be queued when cancel() is called).
  void arm(std::chrono::milliseconds after) {
    const uint64_t generation = ++timer_generation_;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (ec == asio::error::operation_aborted || generation != self->timer_generation_) return;
      self->on_timer();
    });
  }
  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  void on_timer() {
    switch (state_) {
      case State::kIdle:  // keep-alive connection unused for idle_timeout
      case State::kBusy:  // response not drained within write_timeout
        close();
        break;
      case State::kReading:  // request started but not complete in time
        timed_out_ = true;
        socket_.cancel();
        break;
      case State::kSse:
        if (writing_ && Clock::now() - write_started_ > config().write_timeout) {
          close();
          return;
        }
        if (!writing_) {
          out_ = ": keep-alive\n\n";
          write_sse();
        }
        arm(config().sse_heartbeat);
        break;
      case State::kClosed:
        break;
    }
  }

  void wait_for_request() {
    if (state_ == State::kClosed) return;
    if (server_.draining) return close();
    state_ = State::kIdle;
    if (buffer_.size() > 0) return read_request();  // pipelined bytes already here
    arm(config().idle_timeout);
    socket_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec || self->state_ == State::kClosed) return self->close();
                              self->buffer_.commit(n);
                              self->read_request();
                            });
  }

  void read_request() {
    state_ = State::kReading;
    timed_out_ = false;
    parser_.emplace();
    parser_->body_limit(config().max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(config().max_header_bytes));
    arm(config().request_timeout);
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(socket_, asio::buffer(kContinue),
                        [self = shared_from_this()](beast::error_code e, size_t) {
                          if (e) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->on_read_error(ec);
                       self->on_request();
                     });
  }

  void on_read_error(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    if (timed_out_) {
      return reply_and_close(plain_error(http::status::request_timeout, "request_timeout",
                                         "request not received within " +
                                             std::to_string(config().request_timeout.count()) +
                                             " ms"));
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return reply_and_close(plain_error(http::status::payload_too_large, "body_too_large",
                                         "request body exceeds " +
                                             std::to_string(config().max_body_bytes) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return reply_and_close(plain_error(http::status::request_header_fields_too_large,
                                         "headers_too_large",
                                         "request headers exceed " +
                                             std::to_string(config().max_header_bytes) + " bytes"));
    }
    reply_and_close(plain_error(http::status::bad_request, "bad_request",
                                "malformed HTTP request: " + ec.message()));
  }

  void on_request() {
    state_ = State::kBusy;
    disarm();
    Reply reply = server_.app.handle(parser_->get(), remote_);
    if (reply.sse) return start_sse(std::move(*reply.sse));
    if (reply.takeover) return hand_over(std::move(reply.takeover));
    keep_alive_ = reply.response.keep_alive() && !server_.draining;
    reply.response.keep_alive(keep_alive_);
    response_ = std::move(reply.response);
    write_response();
  }

  // The route streams on its own (api/maintenance.h): it gets the socket.
  void hand_over(std::function<void(int, Request)> takeover) {
    disarm();
    state_ = State::kClosed;
    beast::error_code ec;
    const int fd = socket_.release(ec);
    if (ec) return;
    takeover(fd, parser_->release());
  }

  void reply_and_close(Response res) {
    state_ = State::kBusy;
    keep_alive_ = false;
    response_ = std::move(res);
    write_response();
  }

  void write_response() {
    arm(config().write_timeout);
    http::async_write(socket_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || self->state_ == State::kClosed) return self->close();
      if (!self->keep_alive_) return self->close();
      self->wait_for_request();
    });
  }

  // ---- server-sent events ----

  void start_sse(SseStart start) {
    state_ = State::kSse;
    sse_ = std::move(start);
    cursor_ = sse_.after_position;
    sse_registered_ = true;
    server_.sse_clients.add(1);
    out_ =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Connection: close\r\nX-Accel-Buffering: no\r\n\r\nretry: 2000\n\n";
    write_sse();
    arm(config().sse_heartbeat);
    watch_client();
  }

  // The client never sends on an SSE stream; a read completing means it left.
  void watch_client() {
    socket_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](
                                                        beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->watch_client();
    });
  }

  void pump() {
    if (state_ != State::kSse) return;
    if (writing_) {
      pending_ = true;
      return;
    }
    const uint64_t head = server_.services.store.head_position();
    std::string frames;
    while (frames.empty() && cursor_ < head) {
      const uint64_t before = cursor_;
      frames = server_.app.sse_frames(sse_, cursor_, 256);
      if (cursor_ == before) break;  // nothing readable yet
    }
    if (frames.empty()) return;
    out_ = std::move(frames);
    write_sse();
  }

  void write_sse() {
    writing_ = true;
    write_started_ = Clock::now();
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        if (ec || self->state_ != State::kSse) return self->close();
                        if (self->pending_ ||
                            self->cursor_ < self->server_.services.store.head_position()) {
                          self->pending_ = false;
                          self->pump();
                        }
                      });
  }

  void close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    disarm();
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  std::string remote_;  // the client's "ip:port", for audit events
  Server::Impl& server_;
  const uint64_t id_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  State state_ = State::kIdle;
  bool keep_alive_ = true;
  bool timed_out_ = false;

  SseStart sse_;
  uint64_t cursor_ = 0;
  std::string out_;
  bool writing_ = false;
  bool pending_ = false;
  bool sse_registered_ = false;
  Clock::time_point write_started_;
  char discard_[256];
};

// Answers 503 + Retry-After to a connection over max_connections, then closes.
class Rejection : public std::enable_shared_from_this<Rejection> {
 public:
  Rejection(tcp::socket socket, unsigned retry_after_s)
      : socket_(std::move(socket)),
        response_(plain_error(http::status::service_unavailable, "too_many_connections",
                              "the server is at its connection limit; retry later")) {
    response_.set(http::field::retry_after, std::to_string(retry_after_s));
  }
  void run() {
    http::async_write(socket_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ec;
      self->socket_.shutdown(tcp::socket::shutdown_both, ec);
      self->socket_.close(ec);
    });
  }

 private:
  tcp::socket socket_;
  Response response_;
};

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void Server::Impl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
  if (!ec) {
    // Asio accepts without SOCK_CLOEXEC; the child-side close of every
    // launch (adapters/local/descriptors.h) covers the moment until this.
    local::set_close_on_exec(socket.native_handle());
    if (connections.fetch_add(1) >= config.max_connections || draining) {
      connections.fetch_sub(1);
      rejected.inc();
      std::make_shared<Rejection>(std::move(socket), config.retry_after_s)->run();
    } else {
      std::shared_ptr<Session> session;
      {
        std::lock_guard lock(mu);
        const uint64_t id = ++next_id;
        session = std::make_shared<Session>(std::move(socket), *this, id);
        sessions[id] = session;
      }
      session->run();
    }
  } else {
    spdlog::warn("api: accept failed: {}", ec.message());
  }
  accept();
}

void Server::Impl::remove_session(uint64_t id) {
  std::lock_guard lock(mu);
  sessions.erase(id);
  cv.notify_all();
}

std::vector<std::shared_ptr<Session>> Server::Impl::live_sessions() {
  std::vector<std::shared_ptr<Session>> out;
  std::lock_guard lock(mu);
  for (auto& [id, weak] : sessions) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

// One thread for all SSE streams: wakes when the log grows and tells every
// stream to send what is new.
void Server::Impl::watch_head() {
  uint64_t seen = services.store.head_position();
  while (!stopped) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(200);
    const uint64_t head = services.store.wait_for_head_beyond(seen, deadline);
    if (head > seen) {
      seen = head;
      for (auto& s : live_sessions()) {
        if (s->is_sse()) s->notify_head();
      }
    } else if (Clock::now() < deadline) {
      std::this_thread::sleep_until(deadline);  // the store closed: do not spin
    }
  }
}

// The state snapshots of the read models requests use (the access index and
// the targets catalog), when `min_new_events` were folded since the last.
void Server::Impl::save_snapshots(uint64_t min_new_events) {
  auto save = [&](auto& model, const char* what) {
    model.refresh();
    if (model.position() < model.fold_counters().snapshot_written_position + min_new_events) {
      return;
    }
    if (auto saved = model.save_snapshot(services.store); !saved) {
      spdlog::warn("{}: writing its state snapshot failed: {}", what, saved.error());
    }
  };
  save(app.access(), "access index");
  if (services.targets != nullptr) save(*services.targets, "target catalog");
}

// Folds the access index up to the head (/readyz waits for it), then keeps
// the state snapshots recent (ServerConfig::state_snapshot_interval).
void Server::Impl::keep_access_index() {
  app.access().refresh();
  const auto interval = config.state_snapshot_interval;
  if (interval.count() == 0) return;
  save_snapshots(config.state_snapshot_min_events);
  std::unique_lock lock(keeper_mu);
  while (!keeper_cv.wait_for(lock, interval, [this] { return stopped.load(); })) {
    lock.unlock();
    save_snapshots(config.state_snapshot_min_events);
    lock.lock();
  }
}

Server::Server(ServerConfig config, Services& services, MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>(std::move(config), services, metrics)) {}

Server::~Server() { stop(); }

void Server::start() {
  auto& d = *impl_;
  beast::error_code ec;
  const auto address = asio::ip::make_address(d.config.listen, ec);
  if (ec) throw std::runtime_error("api: bad listen address " + d.config.listen);
  tcp::endpoint endpoint(address, d.config.port);
  local::open_close_on_exec(d.acceptor, endpoint.protocol(), ec);
  if (!ec) d.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) d.acceptor.bind(endpoint, ec);
  if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("api: cannot listen on " + d.config.listen + ":" +
                             std::to_string(d.config.port) + ": " + ec.message());
  }
  d.bound_port = d.acceptor.local_endpoint().port();
  d.work.emplace(d.ioc.get_executor());
  d.accept();
  unsigned n = d.config.threads != 0 ? d.config.threads : std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  for (unsigned i = 0; i < n; ++i) d.threads.emplace_back([&d] { d.ioc.run(); });
  d.head_watcher = std::thread([&d] { d.watch_head(); });
  d.access_keeper = std::thread([&d] { d.keep_access_index(); });
  spdlog::info("api: listening on {}:{} with {} threads", d.config.listen, d.bound_port, n);
}

void Server::stop() {
  auto& d = *impl_;
  if (d.threads.empty() || d.draining.exchange(true)) return;
  asio::post(d.acceptor.get_executor(), [&d] {
    beast::error_code ec;
    d.acceptor.close(ec);
  });
  for (auto& s : d.live_sessions()) s->drain();
  {
    std::unique_lock lock(d.mu);
    d.cv.wait_for(lock, d.config.drain_timeout, [&d] { return d.sessions.empty(); });
  }
  for (auto& s : d.live_sessions()) s->force_close();
  {
    std::unique_lock lock(d.mu);
    d.cv.wait_for(lock, std::chrono::seconds(2), [&d] { return d.sessions.empty(); });
  }
  {
    std::lock_guard lock(d.keeper_mu);
    d.stopped = true;
  }
  d.keeper_cv.notify_all();
  if (d.head_watcher.joinable()) d.head_watcher.join();
  if (d.access_keeper.joinable()) d.access_keeper.join();
  if (d.config.state_snapshot_interval.count() != 0) d.save_snapshots(1);
  d.work.reset();
  d.ioc.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  spdlog::info("api: stopped");
}

uint16_t Server::port() const { return impl_->bound_port; }
App& Server::app() { return impl_->app; }
MetricsRegistry& Server::metrics() { return impl_->metrics; }

}  // namespace wharf::api
