// `wharf terminal PROJECT ENVIRONMENT`: a shell in an environment's running
// service (the local instance's directory, a Kubernetes pod, a Swarm task)
// through a running server's WebSocket terminal (docs/operations.md#terminal).
// A terminal on stdin goes raw while the session lasts and its window size
// follows SIGWINCH; piped input ends with an end-of-file character, so
// `echo 'ls' | wharf terminal shop staging` runs and returns. Exits with the
// shell's exit code.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <deque>
#include <memory>
#include <stdexcept>
#include <thread>

#include "adapters/http/http_stream.h"
#include "cli/api_client.h"
#include "cli/commands.h"

namespace wharf::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

struct TerminalArgs {
  ServerOptions api;
  std::string project, environment;
};

// Raw mode on the controlling terminal for the session's length: every key
// (Ctrl-C included) goes to the remote shell, whose pty echoes it.
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// The control message for the local window's size; empty without a terminal.
std::string window_size_message() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0 || size.ws_row == 0) {
    return {};
  }
  return boost::json::serialize(boost::json::object{
      {"resize", boost::json::object{{"cols", size.ws_col}, {"rows", size.ws_row}}}});
}

// The exit status for how the session ended: the shell's own code, else 1
// for anything but a clean exit.
int exit_status_of(const std::string& reason) {
  const std::string prefix = "shell exited";
  if (reason == prefix) return 0;
  if (reason.rfind(prefix + " ", 0) == 0) {
    try {
      return std::stoi(reason.substr(prefix.size() + 1));
    } catch (const std::exception&) {
      return 1;
    }
  }
  return 1;
}

// Bridges stdin/stdout and the WebSocket on `io`'s thread; stdin is read on
// a thread of its own (a regular file cannot be polled by epoll) that hands
// each read to `io`.
template <typename Next>
class Session {
 public:
  Session(asio::io_context& io, websocket::stream<Next>& ws) : io_(io), ws_(ws), winch_(io) {}

  // Runs until the server closes the session; returns its close reason.
  std::string run() {
    const bool tty = ::isatty(STDIN_FILENO);
    if (tty) {
      winch_.add(SIGWINCH);
      watch_window();
      if (auto size = window_size_message(); !size.empty()) send(false, size);
    }
    read_server();
    std::thread input([this, tty] { read_stdin(tty); });
    io_.run();
    stop_ = true;
    input.join();
    return reason_;
  }

 private:
  void read_server() {
    ws_.async_read(in_, [this](beast::error_code ec, size_t) {
      if (ec) return end(ec);
      const std::string data = beast::buffers_to_string(in_.cdata());
      in_.consume(in_.size());
      if (ws_.got_binary()) {
        std::fwrite(data.data(), 1, data.size(), stdout);
        std::fflush(stdout);
      } else {
        std::fprintf(stderr, "\r\nwharf: %s\r\n", data.c_str());  // a refused control message
      }
      read_server();
    });
  }

  void end(beast::error_code ec) {
    if (ec == websocket::error::closed) {
      reason_ = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
    } else {
      reason_ = "connection lost: " + ec.message();
    }
    winch_.cancel();
    done_ = true;
  }

  void watch_window() {
    winch_.async_wait([this](beast::error_code ec, int) {
      if (ec || done_) return;
      if (auto size = window_size_message(); !size.empty()) send(false, size);
      watch_window();
    });
  }

  void read_stdin(bool tty) {
    char buf[4096];
    while (!stop_) {
      pollfd p{STDIN_FILENO, POLLIN, 0};
      const int ready = ::poll(&p, 1, 100);
      if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
      const ssize_t n = ready < 0 ? -1 : ::read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) {
        asio::post(io_,
                   [this, data = std::string(buf, static_cast<size_t>(n))] { send(true, data); });
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      // End of piped input: the shell's pty reads an end-of-file character
      // at the start of a line as the end of its input, and exits.
      if (!tty) asio::post(io_, [this] { send(true, "\x04"); });
      return;
    }
  }

  // Frames go out one at a time, in order: binary is input, text is control.
  void send(bool binary, std::string frame) {
    if (done_) return;
    outbox_.push_back({binary, std::move(frame)});
    if (outbox_.size() == 1) write_next();
  }
  void write_next() {
    if (done_ || outbox_.empty()) return;
    ws_.binary(outbox_.front().first);
    ws_.async_write(asio::buffer(outbox_.front().second), [this](beast::error_code ec, size_t) {
      if (ec) return;  // the read side sees the end and says why
      outbox_.pop_front();
      write_next();
    });
  }

  asio::io_context& io_;
  websocket::stream<Next>& ws_;
  asio::signal_set winch_;
  beast::flat_buffer in_;
  std::deque<std::pair<bool, std::string>> outbox_;
  std::string reason_;
  bool done_ = false;
  std::atomic<bool> stop_{false};
};

int run_terminal(const TerminalArgs& a) {
  auto e = http_client::endpoint_of(a.api.server + "/api/v1/projects/" + a.project +
                                    "/environments/" + a.environment + "/terminal");
  if (!e) throw std::runtime_error(e.error());
  asio::io_context io;
  using Ended = Expected<std::string, std::string>;  // the close reason, or why it never opened
  auto ended = http_client::with_connection<Ended>(
      io, *e, "", true, {}, std::chrono::seconds(10), [&](auto stream, auto /*tls*/) -> Ended {
        websocket::stream<decltype(stream)> ws(std::move(stream));
        const std::string token = a.api.token;
        ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
          if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
          req.set(http::field::user_agent, "wharf-cli");
        }));
        websocket::response_type response;
        const std::string host = e->host + ":" + e->port;
        beast::error_code ec = http_client::run_async(
            io, [&](auto h) { ws.async_handshake(response, host, e->target, std::move(h)); });
        if (ec && response.result_int() != 0 && response.result_int() != 101) {
          http_client::Response r;
          r.status = static_cast<int>(response.result_int());
          r.body = response.body();
          return unexpected("terminal refused: " + http_client::describe(r));
        }
        if (ec) return unexpected("terminal handshake: " + ec.message());
        RawTerminal raw;
        io.restart();
        return Session<decltype(stream)>(io, ws).run();
      });
  if (!ended) throw std::runtime_error("cannot reach " + a.api.server + ": " + ended.error());
  if (!*ended) throw std::runtime_error(ended->error());
  const std::string reason = ended->value();
  std::fprintf(stderr, "wharf: terminal closed: %s\n", reason.c_str());
  return exit_status_of(reason);
}

}  // namespace

void register_terminal_command(CLI::App& app) {
  auto args = std::make_shared<TerminalArgs>();
  auto* cmd = app.add_subcommand(
      "terminal",
      "a shell in an environment's running service (local directory, Kubernetes pod, Swarm "
      "task) through a running server; exits with the shell's code (docs/operations.md)");
  cmd->add_option("project", args->project, "project id")->required();
  cmd->add_option("environment", args->environment, "environment name")->required();
  add_server_options(cmd, args->api, "a deployer's");
  cmd->callback([args] {
    if (const int status = run_terminal(*args); status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace wharf::cli
