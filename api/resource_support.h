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

runtime::CommandBus& command_bus(const Context& ctx);
const projections::Queries& queries(const Context& ctx);

}  // namespace wharf::api
