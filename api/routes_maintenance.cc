// Application maintenance of an environment (docs/operations.md): named test
// cases run on demand, the service logs followed live, and a terminal over
// WebSocket (api/terminal.cc). Each access is role-checked by the route and
// audited by an event before the first byte flows.
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_error.h"
#include "api/maintenance.h"
#include "api/maintenance_routes.h"
#include "api/resource_support.h"

namespace wharf::api {

namespace beast = boost::beast;
namespace json = boost::json;

MaintenanceTarget resolve_maintenance_target(Context& ctx) {
  const std::string& project = ctx.param("project");
  const std::string& environment = ctx.param("environment");
  auto project_view = value_or_throw(queries(ctx).get_project(project, query_options(ctx)));
  const wharf::v1::EnvironmentSpec* spec = nullptr;
  for (const auto& e : project_view.value.environments()) {
    if (e.name() == environment) spec = &e;
  }
  if (spec == nullptr) {
    throw not_found("project " + project + " has no environment " + environment,
                    json::object{{"environment", environment}});
  }
  auto env = value_or_throw(queries(ctx).get_environment(project, environment, query_options(ctx)));
  if (env.value.current().deploy_id().empty()) {
    throw ApiError(http::status::conflict, "nothing_deployed",
                   "nothing is deployed to " + environment + " of project " + project + " yet",
                   json::object{{"environment", environment}});
  }
  MaintenanceTarget t;
  t.log.project_id = project;
  t.log.environment = environment;
  t.log.target = spec->target();
  for (const auto& [k, v] : spec->settings()) t.log.settings[k] = v;
  t.log.target_ref = spec->target_ref();
  t.log.deploy_id = env.value.current().deploy_id();
  t.log.version = env.value.current().version();
  return t;
}

ApiError unreachable_target(const LogTarget& target, const std::string& why) {
  if (target.target == wharf::v1::TARGET_TYPE_LOCAL) {
    return ApiError(http::status::conflict, "nothing_serving", why,
                    json::object{{"environment", target.environment}});
  }
  return ApiError(http::status::bad_gateway, "target_unavailable", why,
                  json::object{{"environment", target.environment}});
}

MaintenanceHost& maintenance_host(const Context& ctx) {
  MaintenanceHost* h = ctx.app.services().maintenance;
  if (h == nullptr) {
    throw ApiError(http::status::not_implemented, "maintenance_unavailable",
                   "this server runs no log or terminal sessions", json::object{});
  }
  return *h;
}

namespace {

MaintenanceHost& host(const Context& ctx) {
  return maintenance_host(ctx);
}

// Blocking writes to a taken-over socket, with a deadline per write.
bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 10'000) <= 0) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// True while the client keeps the connection (it sends nothing on a log stream).
bool client_present(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return true;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return false;
  char discard[256];
  return ::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0;
}

std::string hex(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

// Writes the stream as chunked text/plain, or as SSE ("event: log", one
// data line per line of output) when `sse`.
void serve_logs(int fd, const LogStream& stream, uint32_t tail, bool follow, bool sse,
                const std::string& session_id, const std::atomic<bool>& stop) {
  std::string head =
      "HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\n"
      "X-Accel-Buffering: no\r\nX-Wharf-Session: " +
      session_id + "\r\nX-Wharf-Log-Source: " + stream.source + "\r\n";
  head += sse ? "Content-Type: text/event-stream\r\n\r\nretry: 2000\n\n"
              : "Content-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n";
  bool open = send_all(fd, head);
  std::string partial;  // SSE: the unfinished last line
  auto sink = [&](std::string_view chunk) {
    if (!open) return false;
    if (chunk.empty()) return open = client_present(fd);
    if (!sse) return open = send_all(fd, hex(chunk.size()) + "\r\n" + std::string(chunk) + "\r\n");
    partial.append(chunk);
    std::string frames;
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(partial.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      frames += "event: log\ndata: ";
      frames += line;
      frames += "\n\n";
    }
    partial.erase(0, start);
    return open = frames.empty() || send_all(fd, frames);
  };
  auto result = stream.run(tail, follow, sink, stop);
  if (!result) {
    spdlog::warn("logs {}: {}", session_id, result.error());
    if (open && sse) send_all(fd, "event: error\ndata: " + result.error() + "\n\n");
    if (open && !sse) {
      std::string note = "wharf: " + result.error() + "\n";
      send_all(fd, hex(note.size()) + "\r\n" + note + "\r\n");
    }
  }
  if (open && sse && !partial.empty()) send_all(fd, "event: log\ndata: " + partial + "\n\n");
  if (open && !sse) send_all(fd, "0\r\n\r\n");
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

Reply service_logs(Context& ctx) {
  const bool follow = ctx.query_value("follow").value_or("false") == "true";
  const uint64_t tail = ctx.query_uint("tail").value_or(100);
  if (tail > 100000) {
    throw bad_request("invalid_value", "query parameter \"tail\" is out of range",
                      json::object{{"field", "tail"}, {"max", 100000}});
  }
  const bool sse = ctx.query_value("format").value_or("text") == "sse" ||
                   beast::iequals(ctx.request[http::field::accept], "text/event-stream");
  MaintenanceTarget target = resolve_maintenance_target(ctx);
  if (!host(ctx).has_log_reader(target.log.target)) {
    throw ApiError(http::status::not_implemented, "logs_unavailable",
                   "this server has no log reader for this environment's target",
                   json::object{{"environment", target.log.environment}});
  }
  if (host(ctx).open_sessions() >= host(ctx).options().max_sessions) {
    throw ApiError(http::status::service_unavailable, "too_many_sessions",
                   "too many log and terminal sessions are open",
                   json::object{{"max", host(ctx).options().max_sessions}});
  }
  auto stream = host(ctx).log_stream(target.log);
  if (!stream) throw unreachable_target(target.log, stream.error());
  engine::OpenServiceLogs audit;
  audit.project_id = target.log.project_id;
  audit.environment = target.log.environment;
  audit.source = stream->source;
  audit.follow = follow;
  audit.tail_lines = static_cast<uint32_t>(tail);
  audit.remote = ctx.remote;
  auto appended = execute_command(ctx, audit);
  std::string session_id;
  if (auto events = ctx.app.services().store.read_all(appended.first_position, 1);
      events && !events->empty()) {
    session_id = events->front().payload().service_logs_opened().session_id();
  }
  spdlog::info("logs: {} from {} follows {} of {} ({}, session {})", ctx.principal.user, ctx.remote,
               audit.environment, audit.project_id, stream->source, session_id);
  ctx.app.metrics()
      .counter("wharf_maintenance_sessions_total", "log and terminal sessions opened", {"kind"})
      .inc({"logs"});
  Reply reply;
  MaintenanceHost* h = &host(ctx);
  reply.takeover = [h, stream = std::move(*stream), tail, follow, sse, session_id](int fd,
                                                                                   Request) {
    const bool spawned = h->spawn([=](const std::atomic<bool>& stop) {
      serve_logs(fd, stream, static_cast<uint32_t>(tail), follow, sse, session_id, stop);
    });
    if (!spawned) {
      send_all(
          fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      ::close(fd);
    }
  };
  return reply;
}

Reply run_test_cases(Context& ctx) {
  auto body = JsonBody::parse(ctx.request.body(), {"cases"});
  engine::RequestTestCases command;
  command.project_id = ctx.param("project");
  command.environment = ctx.param("environment");
  command.cases = body.string_list("cases");
  return run_command(ctx, std::move(command));
}

}  // namespace

void add_maintenance_routes(App& app) {
  const std::string env = "/api/v1/projects/{project}/environments/{environment}";
  app.add(http::verb::post, env + "/test-cases", Access::kDeployer, run_test_cases);
  app.add(http::verb::get, env + "/logs", Access::kViewer, service_logs);
  app.add(http::verb::get, env + "/terminal", Access::kDeployer, open_terminal);
}

}  // namespace wharf::api
