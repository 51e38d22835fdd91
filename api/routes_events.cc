// The log itself: every event (paged), one stream (paged, either direction),
// and the live feed as server-sent events. Non-admins see only events of
// projects where they hold a role.
#include <boost/json/array.hpp>
#include <charconv>

#include "api/api_error.h"
#include "api/app.h"
#include "api/event_json.h"

namespace wharf::api {

namespace json = boost::json;

namespace {

// Longest stretch of the log one request scans while filtering, so a filter
// that matches nothing still answers quickly; next_from continues the scan.
constexpr uint64_t kMaxScan = 10'000;

size_t page_limit(const Context& ctx) {
  const auto& config = ctx.app.config();
  const uint64_t limit = ctx.query_uint("limit").value_or(config.default_page);
  if (limit == 0 || limit > config.max_page) {
    throw bad_request("invalid_value",
                      "query parameter \"limit\" must be between 1 and " +
                          std::to_string(config.max_page),
                      json::object{{"field", "limit"}, {"max", config.max_page}});
  }
  return limit;
}

[[noreturn]] void store_failure(const events::Error& error) {
  throw ApiError(http::status::internal_server_error, "store_error",
                 std::string("reading the log failed: ") + error.message,
                 json::object{{"store_code", events::to_string(error.code)}});
}

Reply read_all(Context& ctx) {
  auto& app = ctx.app;
  auto& store = app.services().store;
  const size_t limit = page_limit(ctx);
  const uint64_t from = std::max<uint64_t>(1, ctx.query_uint("from").value_or(1));
  const uint64_t head = store.head_position();
  const uint64_t last = std::min(head, ctx.query_uint("at").value_or(head));
  const auto project = ctx.query_value("project").value_or("");
  const auto run = ctx.query_value("run").value_or("");
  const auto type = ctx.query_value("type").value_or("");
  if (!project.empty()) ctx.require(project, wharf::v1::ROLE_VIEWER);
  app.access().refresh();

  json::array out;
  uint64_t next = from;
  while (out.size() < limit && next <= last && next - from < kMaxScan) {
    auto batch = store.read_all(next, std::min<uint64_t>(1000, last - next + 1));
    if (!batch) store_failure(batch.error());
    if (batch->empty()) break;
    for (const auto& event : *batch) {
      if (event.position() > last || out.size() >= limit) break;
      next = event.position() + 1;
      if (!app.access().can_see(ctx.principal, event)) continue;
      if (!project.empty() && app.access().project_of(event) != project) continue;
      if (!run.empty() && app.access().run_of(event) != run) continue;
      if (!type.empty() && event.type() != type) continue;
      out.push_back(event_json(event));
    }
  }
  json::object body{{"events", std::move(out)}, {"head", head}};
  body["next_from"] = next <= last ? json::value(next) : json::value(nullptr);
  return json_reply(ctx.request, http::status::ok, body);
}

Reply read_stream(Context& ctx) {
  auto& app = ctx.app;
  auto& store = app.services().store;
  const std::string& stream = ctx.param("stream");
  const size_t limit = page_limit(ctx);
  const auto dir = ctx.query_value("direction").value_or("forward");
  if (dir != "forward" && dir != "backward") {
    throw bad_request("invalid_enum", "query parameter \"direction\" must be forward or backward",
                      json::object{{"field", "direction"},
                                   {"value", dir},
                                   {"allowed", json::array{"forward", "backward"}}});
  }
  const bool backward = dir == "backward";
  const uint64_t at = ctx.query_uint("at").value_or(UINT64_MAX);
  const uint64_t version = store.stream_version(stream);
  if (version == 0) {
    throw not_found("stream \"" + stream + "\" does not exist", json::object{{"stream", stream}});
  }
  // Forward pages start at version 1; backward pages at the end (0 = end).
  const uint64_t from = backward ? ctx.query_uint("from").value_or(0)
                                 : std::max<uint64_t>(1, ctx.query_uint("from").value_or(1));
  app.access().refresh();
  auto batch = store.read_stream(stream, from, limit,
                                 backward ? events::Direction::kBackward : events::Direction::kForward);
  if (!batch) store_failure(batch.error());
  json::array out;
  uint64_t last_version = 0;
  for (const auto& event : *batch) {
    last_version = event.stream_version();
    if (event.position() > at) continue;
    if (!app.access().can_see(ctx.principal, event)) continue;
    out.push_back(event_json(event));
  }
  json::object body{{"stream", stream}, {"stream_version", version}, {"events", std::move(out)}};
  json::value next = nullptr;
  if (batch->size() == limit) {
    if (!backward && last_version < version) next = last_version + 1;
    if (backward && last_version > 1) next = last_version - 1;
  }
  body["next_from"] = next;
  return json_reply(ctx.request, http::status::ok, body);
}

uint64_t parse_position(const std::string& text, const char* what) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw bad_request("wrong_type", std::string(what) + " must be a global position (integer)",
                      json::object{{"field", what}, {"expected", "a non-negative integer"}});
  }
  return n;
}

Reply event_stream(Context& ctx) {
  auto& store = ctx.app.services().store;
  SseStart start;
  start.principal = ctx.principal;
  start.project = ctx.query_value("project").value_or("");
  start.run = ctx.query_value("run").value_or("");
  if (!start.project.empty()) ctx.require(start.project, wharf::v1::ROLE_VIEWER);
  // Resume point, most specific first: the browser's Last-Event-ID header,
  // then ?last_event_id= (same meaning), then ?from= (first position to send).
  auto header = ctx.request["Last-Event-ID"];
  if (!header.empty()) {
    start.after_position = parse_position(std::string(header), "Last-Event-ID");
  } else if (auto last = ctx.query_value("last_event_id")) {
    start.after_position = parse_position(*last, "last_event_id");
  } else if (auto from = ctx.query_uint("from")) {
    start.after_position = *from == 0 ? 0 : *from - 1;
  } else {
    start.after_position = store.head_position();
  }
  Reply reply;
  reply.sse = std::move(start);
  return reply;
}

}  // namespace

void add_event_routes(App& app) {
  app.add(http::verb::get, "/api/v1/events", Access::kAuthenticated, read_all);
  app.add(http::verb::get, "/api/v1/events/stream", Access::kAuthenticated, event_stream);
  app.add(http::verb::get, "/api/v1/streams/{stream}", Access::kAuthenticated, read_stream);
}

}  // namespace wharf::api
