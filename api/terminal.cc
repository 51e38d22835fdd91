// The WebSocket terminal (docs/operations.md#terminal): a shell on a pty
// (local::spawn_on_pty) in the local service's working directory, or the ShellChannel a
// target's resolver opens (Kubernetes exec, Docker exec through Portainer:
// api/cluster_sessions.h). Binary frames are the shell's input, text frames
// control messages (a window resize, api/terminal_protocol.h); its output
// comes back as binary frames. The session ends when the
// client closes, the shell exits, no client message arrives for the idle timeout, or
// wharf stops; TerminalOpened / TerminalClosed record who, where, how long
// and how many bytes, never what was typed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <cstring>
#include <deque>

#include "adapters/local/deploy_target.h"
#include "adapters/local/process.h"
#include "adapters/runtime/command_bus.h"
#include "api/api_error.h"
#include "api/maintenance_routes.h"
#include "api/resource_support.h"
#include "api/terminal_protocol.h"
#include "api/websocket_auth.h"

namespace wharf::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

struct TerminalSession {
  std::string session_id;
  std::string project_id;
  std::string environment;
  std::string user;
  std::string remote;
  TerminalTarget target;
  std::chrono::seconds idle_timeout{600};
  runtime::CommandBus* bus = nullptr;
};

// A close frame's reason holds at most 123 bytes, and a browser drops the
// connection as failed if they are not UTF-8: cut at a character boundary.
std::string_view close_text(std::string_view reason) {
  if (reason.size() <= 123) return reason;
  size_t end = 123;
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return reason.substr(0, end);
}

// The local shell: `shell -i` on a pty, its exit status after close().
class PtyChannel final : public runtime::ShellChannel {
 public:
  PtyChannel(asio::io_context& io, pid_t pid, int master) : pty_(io, master), pid_(pid) {}
  ~PtyChannel() override { close(); }

  void async_read(std::function<void(bool, std::string_view)> done) override {
    pty_.async_read_some(asio::buffer(out_),
                         [this, done = std::move(done)](beast::error_code ec, size_t n) {
                           // EIO once the shell and its children are gone.
                           done(!ec, ec ? std::string_view() : std::string_view(out_.data(), n));
                         });
  }
  void async_write(std::string input, std::function<void(bool)> done) override {
    in_ = std::move(input);
    asio::async_write(pty_, asio::buffer(in_),
                      [done = std::move(done)](beast::error_code ec, size_t) { done(!ec); });
  }
  // TIOCSWINSZ on the master: the kernel sends the shell's foreground
  // process group SIGWINCH.
  void async_resize(uint16_t cols, uint16_t rows, std::function<void(std::string)> done) override {
    winsize size{rows, cols, 0, 0};
    std::string error;
    if (::ioctl(pty_.native_handle(), TIOCSWINSZ, &size) != 0)
      error = std::string("TIOCSWINSZ: ") + std::strerror(errno);
    asio::post(pty_.get_executor(),
               [done = std::move(done), error = std::move(error)] { done(error); });
  }
  void cancel() override {
    beast::error_code ec;
    pty_.cancel(ec);
  }
  // The pty reads EIO once the shell is gone; the process may still be
  // about to be reaped.
  void await_exit() override {
    for (int i = 0; i < 50 && pid_ > 0 && !reap(WNOHANG); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  void close() override {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGHUP);
    ::kill(pid_, SIGHUP);
    for (int i = 0; i < 50 && !reap(WNOHANG); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      reap(0);
    }
  }
  std::string end_reason() const override { return reason_.empty() ? "shell exited" : reason_; }

 private:
  // waitpid with `flags`; true once the shell is reaped (its code noted).
  bool reap(int flags) {
    int status = 0;
    if (::waitpid(pid_, &status, flags) == 0) return false;
    if (WIFEXITED(status)) reason_ = "shell exited " + std::to_string(WEXITSTATUS(status));
    pid_ = 0;
    return true;
  }

  asio::posix::stream_descriptor pty_;
  pid_t pid_;
  std::array<char, 8192> out_{};
  std::string in_;
  std::string reason_;
};

// Bridges the client's WebSocket and the shell until one side ends, the idle
// timeout passes or wharf stops. Binary frames from the client go to the
// shell; text frames are control messages (a resize), whose refusal goes
// back to the client as a text frame. One client message at a time reaches
// the shell (its input or its resize), so the channel sees one write at most.
class Pump {
 public:
  Pump(asio::io_context& io, websocket::stream<tcp::socket>& ws, runtime::ShellChannel& shell,
       std::chrono::seconds idle_timeout, const std::atomic<bool>& stop, std::string session_id)
      : ws_(ws),
        shell_(shell),
        idle_(io),
        tick_(io),
        idle_timeout_(idle_timeout),
        stop_(stop),
        session_id_(std::move(session_id)) {}

  void run() {
    read_client();
    read_shell();
    arm_idle();
    check_stop();
  }

  std::string reason = "client closed";
  uint64_t bytes_in = 0;  // the shell's input (binary frames) only
  uint64_t bytes_out = 0;
  uint64_t resizes = 0;  // resizes handed to the shell

 private:
  void finish(std::string why) {
    if (done_) return;
    done_ = true;
    reason = std::move(why);
    idle_.cancel();
    tick_.cancel();
    shell_.cancel();
    ws_.async_close(websocket::close_reason(websocket::close_code::normal, close_text(reason)),
                    [this](beast::error_code) {
                      beast::error_code e;
                      ws_.next_layer().close(e);
                    });
  }

  void read_client() {
    ws_.async_read(in_, [this](beast::error_code ec, size_t) {
      if (ec) return finish(done_ ? reason : "client closed");
      if (done_) return;  // a frame that came after the end: no input, no idle re-arm
      std::string data = beast::buffers_to_string(in_.cdata());
      in_.consume(in_.size());
      arm_idle();
      if (!ws_.got_binary()) return control(data);
      bytes_in += data.size();
      shell_.async_write(std::move(data), [this](bool ok) {
        if (!ok) return finish("shell input closed");
        if (!done_) read_client();
      });
    });
  }

  // A text frame: a resize, or a refusal for the client; never input.
  void control(const std::string& text) {
    TerminalResize size;
    try {
      size = parse_terminal_message(text);
    } catch (const ApiError& e) {
      spdlog::warn("terminal {}: ignored a text frame of {} bytes: {}", session_id_, text.size(),
                   e.what());
      send(false, e.body(), [] {});
      return read_client();
    }
    shell_.async_resize(size.cols, size.rows, [this, size](std::string error) {
      if (error.empty()) {
        ++resizes;
      } else {
        spdlog::warn("terminal {}: resize to {}x{} failed: {}", session_id_, size.cols, size.rows,
                     error);
        send(false,
             error_body("resize_failed", error,
                        json::object{{"cols", size.cols}, {"rows", size.rows}}),
             [] {});
      }
      if (!done_) read_client();
    });
  }

  void read_shell() {
    shell_.async_read([this](bool ok, std::string_view output) {
      if (!ok && done_) return;  // cancelled by finish()
      if (!ok) {
        // The close frame says how the shell ended, exit code included.
        shell_.await_exit();
        return finish(shell_.end_reason());
      }
      if (done_) return;
      bytes_out += output.size();
      send(true, std::string(output), [this] { read_shell(); });
    });
  }

  // Queues a frame for the client (binary: output; text: a refusal); `sent`
  // runs once it is written. A failed write ends the session.
  void send(bool binary, std::string frame, std::function<void()> sent) {
    outbox_.push_back({binary, std::move(frame), std::move(sent)});
    if (outbox_.size() == 1) write_next();
  }
  void write_next() {
    if (done_ || outbox_.empty()) return;
    ws_.binary(outbox_.front().binary);
    ws_.async_write(asio::buffer(outbox_.front().frame), [this](beast::error_code e, size_t) {
      if (e) return finish("client closed");
      auto sent = std::move(outbox_.front().sent);
      outbox_.pop_front();
      if (!done_) sent();
      write_next();
    });
  }

  void arm_idle() {
    idle_.expires_after(idle_timeout_);
    idle_.async_wait([this](beast::error_code ec) {
      if (!ec && !done_) finish("idle timeout");
    });
  }

  void check_stop() {
    tick_.expires_after(std::chrono::milliseconds(200));
    // A tick already due when finish() cancelled the timer still runs with
    // success: without the done_ check it would re-arm and keep io.run() going
    // until wharf stops.
    tick_.async_wait([this](beast::error_code ec) {
      if (ec || done_) return;
      if (stop_.load()) return finish("wharf stopping");
      check_stop();
    });
  }

  websocket::stream<tcp::socket>& ws_;
  runtime::ShellChannel& shell_;
  asio::steady_timer idle_;
  asio::steady_timer tick_;
  std::chrono::seconds idle_timeout_;
  const std::atomic<bool>& stop_;
  std::string session_id_;
  beast::flat_buffer in_;
  struct Outgoing {
    bool binary;
    std::string frame;
    std::function<void()> sent;
  };
  std::deque<Outgoing> outbox_;
  bool done_ = false;
};

void record_close(const TerminalSession& s, uint64_t duration_ms, const std::string& reason,
                  uint64_t bytes_in, uint64_t bytes_out) {
  engine::CloseTerminal close;
  close.project_id = s.project_id;
  close.environment = s.environment;
  close.session_id = s.session_id;
  close.duration_ms = duration_ms;
  close.reason = reason;
  close.bytes_in = bytes_in;
  close.bytes_out = bytes_out;
  close.remote = s.remote;
  auto outcome = s.bus->execute(close, s.bus->user_context(s.user, wharf::v1::CHANNEL_API));
  if (!outcome)
    spdlog::error("terminal {}: cannot record its close: {}", s.session_id,
                  outcome.error().message());
}

void serve_terminal(int fd, Request request, const TerminalSession& s,
                    const std::atomic<bool>& stop) {
  const auto began = std::chrono::steady_clock::now();
  asio::io_context io;
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  tcp::socket socket(io);
  beast::error_code ec;
  socket.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
  std::string reason;
  uint64_t bytes_in = 0, bytes_out = 0, resizes = 0;
  if (ec) {
    ::close(fd);
    reason = "socket: " + ec.message();
  } else {
    websocket::stream<tcp::socket> ws(std::move(socket));
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    if (offers_subprotocol(request[http::field::sec_websocket_protocol], kTerminalSubprotocol)) {
      // A browser fails the handshake unless one offered protocol is selected.
      ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::sec_websocket_protocol, kTerminalSubprotocol);
      }));
    }
    ws.accept(request, ec);
    auto shell = ec ? Expected<std::unique_ptr<runtime::ShellChannel>, std::string>(
                          unexpected("handshake: " + ec.message()))
                    : s.target.open(io);
    if (!shell) {
      reason = shell.error();
      if (ws.is_open())
        ws.close(
            websocket::close_reason(websocket::close_code::internal_error, close_text(reason)),
            ec);
    } else {
      Pump pump(io, ws, **shell, s.idle_timeout, stop, s.session_id);
      pump.run();
      io.run();
      (*shell)->close();
      reason = pump.reason;
      bytes_in = pump.bytes_in;
      bytes_out = pump.bytes_out;
      resizes = pump.resizes;
    }
  }
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - began)
                                            .count());
  spdlog::info("terminal {}: {} in {} of {} closed after {} ms ({}; {} resizes)", s.session_id,
               s.user, s.environment, s.project_id, ms, reason, resizes);
  record_close(s, ms, reason, bytes_in, bytes_out);
}

}  // namespace

TerminalTarget local_terminal(const std::string& work_dir, const std::string& shell,
                              const std::string& project_id, const std::string& environment) {
  TerminalTarget t;
  t.where = "local:" + work_dir;
  t.open =
      [work_dir, shell, project_id, environment](
          asio::io_context& io) -> Expected<std::unique_ptr<runtime::ShellChannel>, std::string> {
    local::ProcessSpec spec;
    spec.argv = {shell, "-i"};
    spec.cwd = work_dir;
    spec.env = {
        {"TERM", "xterm"}, {"WHARF_PROJECT", project_id}, {"WHARF_ENVIRONMENT", environment}};
    auto started = local::spawn_on_pty(spec, 80, 24);
    if (!started) return unexpected(started.error());
    const auto [pid, master] = *started;
    return std::unique_ptr<runtime::ShellChannel>(std::make_unique<PtyChannel>(io, pid, master));
  };
  return t;
}

Reply open_terminal(Context& ctx) {
  if (!websocket::is_upgrade(ctx.request)) {
    throw bad_request("websocket_required", "the terminal is a WebSocket: send Upgrade: websocket",
                      json::object{{"header", "Upgrade"}});
  }
  MaintenanceTarget target = resolve_maintenance_target(ctx);
  MaintenanceHost& host = maintenance_host(ctx);
  if (!host.has_terminal(target.log.target)) {
    throw ApiError(http::status::not_implemented, "terminal_unavailable",
                   "this server has no terminal for this environment's target",
                   json::object{{"environment", target.log.environment}});
  }
  if (host.open_sessions() >= host.options().max_sessions) {
    throw ApiError(http::status::service_unavailable, "too_many_sessions",
                   "too many log and terminal sessions are open",
                   json::object{{"max", host.options().max_sessions}});
  }
  auto where = host.terminal_target(target.log);
  if (!where) throw unreachable_target(target.log, where.error());
  engine::OpenTerminal audit;
  audit.project_id = target.log.project_id;
  audit.environment = target.log.environment;
  audit.where = where->where;
  audit.remote = ctx.remote;
  auto appended = execute_command(ctx, audit);
  TerminalSession session;
  if (auto events = ctx.app.services().store.read_all(appended.first_position, 1);
      events && !events->empty()) {
    session.session_id = events->front().payload().terminal_opened().session_id();
  }
  session.project_id = audit.project_id;
  session.environment = audit.environment;
  session.user = ctx.principal.user;
  session.remote = ctx.remote;
  session.target = std::move(*where);
  session.idle_timeout = host.options().terminal_idle_timeout;
  session.bus = ctx.app.services().commands;
  spdlog::info("terminal {}: {} from {} opens a shell in {} ({})", session.session_id, session.user,
               session.remote, session.environment, session.target.where);
  ctx.app.metrics()
      .counter("wharf_maintenance_sessions_total", "log and terminal sessions opened", {"kind"})
      .inc({"terminal"});
  Reply reply;
  MaintenanceHost* h = &host;
  reply.takeover = [h, session](int fd, Request request) {
    auto shared = std::make_shared<Request>(std::move(request));
    const bool spawned = h->spawn([fd, shared, session](const std::atomic<bool>& stop) {
      serve_terminal(fd, std::move(*shared), session, stop);
    });
    if (!spawned) {
      ::close(fd);
      record_close(session, 0, "too many sessions", 0, 0);
    }
  };
  return reply;
}

}  // namespace wharf::api
