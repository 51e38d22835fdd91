#include "adapters/swarm/container_exec.h"

#include <array>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <thread>

#include "adapters/http/http_stream.h"
#include "adapters/swarm/service_logs.h"

namespace wharf::swarm {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

using Auth = std::pair<std::string, std::string>;

Expected<json::value, std::string> call_json(const PortainerTarget& t, const Auth& auth,
                                             const std::string& method, const std::string& path,
                                             const std::string& body, int want,
                                             const std::string& what) {
  http_client::Request req = portainer_request(t, method, path, auth);
  req.timeout = std::chrono::seconds(5);
  req.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body;
  }
  auto response = http_client::send(req);
  if (!response) return unexpected(response.error());
  if (response->status != want) return unexpected(what + ": " + http_client::describe(*response));
  std::error_code ec;
  auto parsed = json::parse(response->body, ec);
  if (ec) return unexpected("unreadable answer for " + what);
  return parsed;
}

std::string text_at(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* at = &v;
  for (const char* key : path) {
    if (!at->is_object()) return {};
    at = at->as_object().if_contains(key);
    if (at == nullptr) return {};
  }
  return at->is_string() ? std::string(at->as_string()) : std::string();
}

template <typename Stream>
class ContainerExecChannel final : public runtime::ShellChannel {
 public:
  ContainerExecChannel(Stream stream, std::shared_ptr<asio::ssl::context> tls, PortainerTarget t,
                       Auth auth, std::string exec_id, std::string node)
      : stream_(std::move(stream)),
        tls_(std::move(tls)),
        t_(std::move(t)),
        auth_(std::move(auth)),
        exec_id_(std::move(exec_id)),
        node_(std::move(node)) {}

  // Sends the start request and reads the upgrade answer; bytes that came
  // with it are the first output.
  Expected<void, std::string> start(asio::io_context& io, const http_client::Endpoint& e) {
    http::request<http::string_body> req{http::verb::post, e.target, 11};
    req.set(http::field::host, e.host);
    req.set(http::field::user_agent, "wharf");
    req.set(auth_.first, auth_.second);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "tcp");
    if (!node_.empty()) req.set("X-PortainerAgent-Target", node_);
    req.body() = R"({"Detach":false,"Tty":true})";
    req.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    if (auto ec = http_client::run_async(
            io, [&](auto h) { http::async_write(stream_, req, std::move(h)); })) {
      return unexpected("exec start: " + ec.message());
    }
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // 101 and a hijacked 200 have no body to parse: the rest is the stream
    beast::flat_buffer buffer;
    if (auto ec = http_client::run_async(
            io, [&](auto h) { http::async_read_header(stream_, buffer, parser, std::move(h)); })) {
      return unexpected("exec start: " + ec.message());
    }
    beast::get_lowest_layer(stream_).expires_never();
    const unsigned status = parser.get().result_int();
    if (status != 101 && status != 200) {
      http_client::Response r;
      r.status = static_cast<int>(status);
      r.body = beast::buffers_to_string(buffer.data());
      return unexpected("exec start: " + http_client::describe(r));
    }
    pending_ = beast::buffers_to_string(buffer.data());
    return {};
  }

  void async_read(std::function<void(bool, std::string_view)> done) override {
    if (!pending_.empty()) {
      out_ = std::move(pending_);
      pending_.clear();
      return asio::post(stream_.get_executor(),
                        [this, done = std::move(done)] { done(true, out_); });
    }
    stream_.async_read_some(asio::buffer(buf_),
                            [this, done = std::move(done)](beast::error_code ec, size_t n) {
                              if (ec || n == 0) {
                                if (ec && ec != asio::error::eof && reason_.empty())
                                  reason_ = "exec stream: " + ec.message();
                                return done(false, {});
                              }
                              return done(true, std::string_view(buf_.data(), n));
                            });
  }

  void async_write(std::string input, std::function<void(bool)> done) override {
    wbuf_ = std::move(input);
    asio::async_write(stream_, asio::buffer(wbuf_),
                      [done = std::move(done)](beast::error_code ec, size_t) { done(!ec); });
  }

  // POST exec/{id}/resize?h=&w= through Portainer, on its own connection
  // (the exec's is the hijacked stream). Blocking, bounded by 3 s: the
  // session's input waits that long at most.
  void async_resize(uint16_t cols, uint16_t rows, std::function<void(std::string)> done) override {
    http_client::Request req =
        portainer_request(t_, "POST", exec_resize_path(t_, exec_id_, cols, rows), auth_);
    req.timeout = std::chrono::seconds(3);
    if (!node_.empty()) req.headers.emplace_back("X-PortainerAgent-Target", node_);
    auto response = http_client::send(req);
    std::string error;
    if (!response) {
      error = "exec resize: " + response.error();
    } else if (response->status != 200 && response->status != 201 && response->status != 204) {
      error = "exec resize: " + http_client::describe(*response);
    }
    asio::post(stream_.get_executor(),
               [done = std::move(done), error = std::move(error)] { done(error); });
  }

  void cancel() override {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().cancel(ec);
  }

  // The exit code, once the daemon has seen the process end (exec inspect
  // over a connection of its own).
  void await_exit() override {
    if (!reason_.empty()) return;
    for (int i = 0; i < 20; ++i) {
      auto inspected =
          call_json(t_, auth_, "GET",
                    "/api/endpoints/" + t_.endpoint_id + "/docker/exec/" + exec_id_ + "/json", "",
                    200, "exec inspect");
      if (!inspected) break;
      const json::object* o = inspected->if_object();
      const json::value* running = o ? o->if_contains("Running") : nullptr;
      const json::value* code = o ? o->if_contains("ExitCode") : nullptr;
      if (running && running->is_bool() && !running->as_bool() && code && code->is_number()) {
        reason_ = "shell exited " + std::to_string(code->to_number<int64_t>());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  void close() override {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).socket().close(ec);
    await_exit();
  }

  std::string end_reason() const override { return reason_.empty() ? "shell exited" : reason_; }

 private:
  Stream stream_;
  std::shared_ptr<asio::ssl::context> tls_;  // outlives the TLS stream
  PortainerTarget t_;
  Auth auth_;
  std::string exec_id_;
  std::string node_;  // the task's node, for Portainer's agent
  std::string pending_, out_, wbuf_, reason_;
  std::array<char, 8192> buf_{};
};

}  // namespace

std::string exec_resize_path(const PortainerTarget& t, const std::string& exec_id, uint16_t cols,
                             uint16_t rows) {
  return "/api/endpoints/" + t.endpoint_id + "/docker/exec/" + exec_id +
         "/resize?h=" + std::to_string(rows) + "&w=" + std::to_string(cols);
}

Expected<std::unique_ptr<runtime::ShellChannel>, std::string> open_container_exec(
    asio::io_context& io, const PortainerTarget& t, const ContainerExecOptions& o,
    std::string* where) {
  auto auth = portainer_auth(t);
  if (!auth) return unexpected(auth.error());
  const std::string docker = "/api/endpoints/" + t.endpoint_id + "/docker";
  const std::string filters =
      json::serialize(json::object{{"service", json::array{json::value(t.service)}},
                                   {"desired-state", json::array{json::value("running")}}});
  auto tasks = call_json(
      t, *auth, "GET",
      docker + "/tasks?filters=" + boost::urls::encode(filters, boost::urls::unreserved_chars), "",
      200, "tasks of service " + t.service);
  if (!tasks) return unexpected(tasks.error());
  std::string container, node;
  if (tasks->is_array()) {
    for (const auto& task : tasks->as_array()) {
      if (text_at(task, {"Status", "State"}) != "running") continue;
      container = text_at(task, {"Status", "ContainerStatus", "ContainerID"});
      node = text_at(task, {"NodeID"});
      if (!container.empty()) break;
    }
  }
  if (container.empty()) return unexpected("no task of service " + t.service + " is running");
  json::array cmd;
  for (const auto& word : o.command) cmd.emplace_back(word);
  auto created = call_json(t, *auth, "POST", docker + "/containers/" + container + "/exec",
                           json::serialize(json::object{{"AttachStdin", true},
                                                        {"AttachStdout", true},
                                                        {"AttachStderr", true},
                                                        {"Tty", true},
                                                        {"Cmd", std::move(cmd)}}),
                           201, "exec in container " + container);
  if (!created) return unexpected(created.error());
  const std::string exec_id = text_at(*created, {"Id"});
  if (exec_id.empty()) return unexpected(std::string("exec create: no Id in the answer"));
  auto e = http_client::endpoint_of(
      portainer_request(t, "POST", docker + "/exec/" + exec_id + "/start", *auth).url);
  if (!e) return unexpected(e.error());
  using Result = std::unique_ptr<runtime::ShellChannel>;
  auto opened = http_client::with_connection<Expected<Result, std::string>>(
      io, *e, t.ca_file, !t.insecure, {}, std::chrono::seconds(10),
      [&](auto stream, auto tls) -> Expected<Result, std::string> {
        auto channel = std::make_unique<ContainerExecChannel<decltype(stream)>>(
            std::move(stream), std::move(tls), t, *auth, exec_id, node);
        if (auto ok = channel->start(io, *e); !ok) return unexpected(ok.error());
        return Result(std::move(channel));
      });
  if (!opened) return unexpected(opened.error());
  if (!*opened) return unexpected(opened->error());
  if (where != nullptr) *where = "swarm:" + t.service + "/" + container.substr(0, 12);
  return std::move(opened->value());
}

}  // namespace wharf::swarm
