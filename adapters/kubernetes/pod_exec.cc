#include "adapters/kubernetes/pod_exec.h"

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "adapters/http/http_stream.h"

namespace wharf::kubernetes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;

namespace {

constexpr uint8_t kStdin = 0, kStdout = 1, kStderr = 2, kStatus = 3, kResize = 4, kClose = 255;
constexpr const char* kV5 = "v5.channel.k8s.io";

std::string encoded(const std::string& text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

template <typename Next>
class PodExecChannel final : public runtime::ShellChannel {
 public:
  PodExecChannel(Next next, std::shared_ptr<asio::ssl::context> tls)
      : ws_(std::move(next)), tls_(std::move(tls)) {}

  Expected<void, std::string> handshake(asio::io_context& io, const http_client::Endpoint& e,
                                        const std::string& token,
                                        const std::vector<std::string>& protocols) {
    std::string offered;
    for (const auto& p : protocols) offered += (offered.empty() ? "" : ", ") + p;
    websocket::stream_base::timeout limits{};
    limits.handshake_timeout = std::chrono::seconds(10);  // also bounds the close
    limits.idle_timeout = websocket::stream_base::none();
    limits.keep_alive_pings = false;
    ws_.set_option(limits);
    ws_.set_option(
        websocket::stream_base::decorator([token, offered](websocket::request_type& req) {
          if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
          req.set(http::field::sec_websocket_protocol, offered);
          req.set(http::field::user_agent, "wharf");
        }));
    websocket::response_type response;
    const bool default_port = e.port == (e.tls ? "443" : "80");
    const std::string host = default_port ? e.host : e.host + ":" + e.port;
    beast::error_code ec = http_client::run_async(
        io, [&](auto h) { ws_.async_handshake(response, host, e.target, std::move(h)); });
    if (ec) {
      if (response.result_int() != 0 && response.result_int() != 101) {
        http_client::Response r;
        r.status = static_cast<int>(response.result_int());
        r.body = response.body();
        return unexpected("exec refused: " + http_client::describe(r));
      }
      return unexpected("exec handshake: " + ec.message());
    }
    v5_ = response[http::field::sec_websocket_protocol] == kV5;
    ws_.binary(true);
    return {};
  }

  void async_read(std::function<void(bool, std::string_view)> done) override {
    ws_.async_read(in_, [this, done = std::move(done)](beast::error_code ec, size_t) mutable {
      if (ec) {
        if (reason_.empty()) {
          reason_ =
              ec == websocket::error::closed ? "shell exited" : "exec stream: " + ec.message();
        }
        return done(false, {});
      }
      std::string frame = beast::buffers_to_string(in_.cdata());
      in_.consume(in_.size());
      const uint8_t channel = frame.empty() ? kClose : static_cast<uint8_t>(frame[0]);
      if ((channel == kStdout || channel == kStderr) && frame.size() > 1) {
        out_ = frame.substr(1);
        return done(true, out_);
      }
      if (channel == kStatus) reason_ = exec_status_reason(std::string_view(frame).substr(1));
      async_read(std::move(done));  // status, close and empty frames carry no output
    });
  }

  void async_write(std::string input, std::function<void(bool)> done) override {
    wbuf_ = exec_frame(kStdin, input);
    ws_.async_write(asio::buffer(wbuf_),
                    [done = std::move(done)](beast::error_code ec, size_t) { done(!ec); });
  }

  // Channel 4 (v4 and v5): the kubelet sets the container's tty to it.
  void async_resize(uint16_t cols, uint16_t rows, std::function<void(std::string)> done) override {
    wbuf_ = exec_resize_frame(cols, rows);
    ws_.async_write(asio::buffer(wbuf_), [done = std::move(done)](beast::error_code ec, size_t) {
      done(ec ? "exec stream: " + ec.message() : std::string());
    });
  }

  void cancel() override {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().cancel(ec);
  }

  // Half-closes stdin (v5) and closes the WebSocket, within the handshake
  // timeout; on the io_context the channel runs on, which is idle by now.
  void close() override {
    beast::error_code ec;
    auto& io = static_cast<asio::io_context&>(ws_.get_executor().context());
    if (ws_.is_open() && v5_) {
      wbuf_ = exec_frame(kClose, std::string(1, '\0'));
      ec = http_client::run_async(
          io, [&](auto h) { ws_.async_write(asio::buffer(wbuf_), std::move(h)); });
    }
    if (ws_.is_open() && !ec) {
      http_client::run_async(
          io, [&](auto h) { ws_.async_close(websocket::close_code::normal, std::move(h)); });
    }
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  std::string end_reason() const override { return reason_.empty() ? "shell exited" : reason_; }

 private:
  websocket::stream<Next> ws_;
  std::shared_ptr<asio::ssl::context> tls_;  // outlives the TLS stream
  beast::flat_buffer in_;
  std::string out_, wbuf_, reason_;
  bool v5_ = false;
};

}  // namespace

std::string pod_exec_path(const ClusterTarget& t, const PodExecOptions& o) {
  std::string path = "/api/v1/namespaces/" + t.ns + "/pods/" + o.pod + "/exec?";
  for (const auto& word : o.command) path += "command=" + encoded(word) + "&";
  path += "container=" + encoded(o.container.empty() ? t.container : o.container);
  path += "&stdin=true&stdout=true";
  path += o.tty ? "&stderr=false&tty=true" : "&stderr=true&tty=false";
  return path;
}

std::string exec_frame(uint8_t channel, std::string_view payload) {
  std::string frame(1, static_cast<char>(channel));
  frame += payload;
  return frame;
}

std::string exec_resize_frame(uint16_t cols, uint16_t rows) {
  return exec_frame(kResize, json::serialize(json::object{{"Width", cols}, {"Height", rows}}));
}

std::string exec_status_reason(std::string_view status_json) {
  std::error_code ec;
  auto parsed = json::parse(status_json, ec);
  if (ec || !parsed.is_object()) return "exec error: " + std::string(status_json.substr(0, 200));
  const auto& o = parsed.as_object();
  auto text = [](const json::object& from, const char* key) {
    auto* v = from.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (text(o, "status") == "Success") return "shell exited 0";
  if (text(o, "reason") == "NonZeroExitCode") {
    if (auto* d = o.if_contains("details"); d && d->is_object()) {
      if (auto* causes = d->as_object().if_contains("causes"); causes && causes->is_array()) {
        for (const auto& c : causes->as_array()) {
          if (c.is_object() && text(c.as_object(), "reason") == "ExitCode") {
            return "shell exited " + text(c.as_object(), "message");
          }
        }
      }
    }
    return "shell exited non-zero";
  }
  // A kubelet that does not map the exit to NonZeroExitCode (kwok's local
  // exec, shared/kubernetes-real.md) reports it as an InternalError whose
  // message ends in Go's "exit status <code>".
  const std::string message = text(o, "message");
  constexpr std::string_view kExit = "exit status ";
  if (auto at = message.rfind(kExit); at != std::string::npos) {
    const std::string code = message.substr(at + kExit.size());
    if (!code.empty() && code.find_first_not_of("0123456789") == std::string::npos)
      return "shell exited " + code;
  }
  return "exec error: " + message;
}

Expected<std::unique_ptr<runtime::ShellChannel>, std::string> open_pod_exec(
    asio::io_context& io, const ClusterTarget& t, const PodExecOptions& o) {
  std::string base = t.api_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto e = http_client::endpoint_of(base + pod_exec_path(t, o));
  if (!e) return unexpected(e.error());
  using Result = std::unique_ptr<runtime::ShellChannel>;
  auto opened = http_client::with_connection<Expected<Result, std::string>>(
      io, *e, t.ca_file, !t.insecure, t.client_cert, std::chrono::seconds(10),
      [&](auto stream, auto tls) -> Expected<Result, std::string> {
        auto channel =
            std::make_unique<PodExecChannel<decltype(stream)>>(std::move(stream), std::move(tls));
        if (auto ok = channel->handshake(io, *e, t.token, o.protocols); !ok) {
          return unexpected("pod " + t.ns + "/" + o.pod + ": " + ok.error());
        }
        return Result(std::move(channel));
      });
  if (!opened) return unexpected(opened.error());
  if (!*opened) return unexpected(opened->error());
  return std::move(opened->value());
}

}  // namespace wharf::kubernetes
