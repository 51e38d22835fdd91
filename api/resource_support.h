#pragma once
// What resource handlers share: running an engine command through the bus
// (202 + positions + ids of what it created), building QueryOptions from
// ?at= and ?min_position=, and mapping engine/projection errors to statuses.
#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "adapters/runtime/command_bus.h"
#include "api/app.h"
#include "api/json_input.h"
#include "api/proto_json.h"
#include "projections/queries.h"

namespace wharf::api {

namespace views = wharf::views::v1;

// Executes `command` as the request's user (channel API). Rejections become
// 404 / 409 / 400 errors; success is 202 with {"position", "first_position",
// "stream", "events":[{position,type}], and "run_id"/"deploy_id"/
// "rollback_id"/"request_id" when the appended events carry them}.
Reply run_command(Context& ctx, engine::Command command);
// The same without the reply: the appended result, or the same errors thrown.
// With an `Idempotency-Key` header the command is the same command for every
// request of that user with that key: a repeat appends nothing and answers
// what the first appended (already_present: true).
runtime::CommandResult execute_command(Context& ctx, const engine::Command& command);
// The request's Idempotency-Key (400 bad_idempotency_key when malformed).
std::optional<std::string> idempotency_key(const Context& ctx);

// ?limit= of a paged answer: `fallback` when absent; 400 unless 1..max_page.
size_t page_limit(const Context& ctx, size_t fallback);

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

// view_reply for an answer about the route's {project} that depends only on
// the log (and `key`, which must name the route and every parameter that
// shapes the answer): served from the App's ResponseCache while no event of
// that project (nor one placed in no project) was appended after the
// position it was rendered as of, with "position" then the current head;
// with ?at= only while the head has not moved. `compute` returns the view
// message (with position()).
template <typename Compute>
Reply cached_view_reply(const Context& ctx, const std::string& key, Compute compute) {
  auto& cache = ctx.app.response_cache();
  if (!cache.enabled()) return view_reply(ctx, compute());
  const uint64_t head = ctx.app.services().store.head_position();
  const bool exact = ctx.query_value("at").has_value();
  // A min_position beyond the head is the query's to wait for (or refuse).
  if (ctx.query_uint("min_position").value_or(0) <= head) {
    auto& access = ctx.app.access();
    access.refresh();  // folds at least up to `head`
    if (access.position() >= head) {
      if (auto body = cache.get(key, head, access.last_change(ctx.param("project")))) {
        return json_text_reply(ctx, std::move(*body));
      }
    }
  }
  auto message = compute();
  const uint64_t position = message.position();
  // ?at= answers below the head stay uncached (an RFC 3339 time maps to a
  // position the projections may not have reached yet).
  if (!exact || position == head) {
    message.set_position(ResponseCache::kPositionMark);
    std::string marked;
    marked.reserve(4096);
    if (append_view_json(message, marked)) {
      if (auto body = cache.put(key, position, exact, marked)) {
        return json_text_reply(ctx, std::move(*body));
      }
    }
    message.set_position(position);
  }
  return view_reply(ctx, message);
}

runtime::CommandBus& command_bus(const Context& ctx);
const projections::Queries& queries(const Context& ctx);

}  // namespace wharf::api
