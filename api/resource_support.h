#pragma once
// What resource handlers share: running an engine command through the bus
// (202 + positions + ids of what it created), building QueryOptions from
// ?at= and ?min_position=, and mapping engine/projection errors to statuses.
#include <boost/json/value.hpp>

#include "adapters/runtime/command_bus.h"
#include "api/app.h"
#include "api/json_input.h"
#include "projections/queries.h"

namespace wharf::api {

namespace views = wharf::views::v1;

// Executes `command` as the request's user (channel API). Rejections become
// 404 / 409 / 400 errors; success is 202 with {"position", "first_position",
// "stream", "events":[{position,type}], and "run_id"/"deploy_id"/
// "rollback_id"/"request_id" when the appended events carry them}.
Reply run_command(Context& ctx, engine::Command command);

// ?at= (position or RFC 3339 time) and ?min_position=.
projections::QueryOptions query_options(const Context& ctx);

// A projection failure as an ApiError (404, 400, 503 for timeouts, 500).
[[noreturn]] void throw_query_error(const projections::Error& error);

template <typename T>
T value_or_throw(Expected<T, projections::Error> result) {
  if (!result) throw_query_error(result.error());
  return std::move(result.value());
}

// A view message as JSON (proto field names, defaults printed).
boost::json::value view_json(const google::protobuf::Message& message);
Reply view_reply(const Context& ctx, const google::protobuf::Message& message);
// 200 with `body`, JSON text.
Reply json_text_reply(const Context& ctx, std::string body);

// view_reply for an answer that depends only on the log (and `key`, which
// must name the route and every parameter that shapes the answer): served
// from the App's ResponseCache while the log's head is where it was when the
// answer was rendered. `compute` returns the view message (with position()).
template <typename Compute>
Reply cached_view_reply(const Context& ctx, const std::string& key, Compute compute) {
  auto& cache = ctx.app.response_cache();
  const uint64_t head = ctx.app.services().store.head_position();
  if (auto body = cache.get(key, head)) return json_text_reply(ctx, *body);
  const auto message = compute();
  Reply reply = view_reply(ctx, message);
  // Cached only when the answer is as of the head read before the query:
  // then it is what the query answers until the next append.
  if (message.position() == head) cache.put(key, head, reply.response.body());
  return reply;
}

runtime::CommandBus& command_bus(const Context& ctx);
const projections::Queries& queries(const Context& ctx);

}  // namespace wharf::api
