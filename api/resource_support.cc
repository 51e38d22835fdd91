#include "api/resource_support.h"

#include <algorithm>
#include <boost/json/parse.hpp>

#include "api/api_error.h"
#include "api/proto_json.h"
#include "engine/ids.h"

namespace wharf::api {

namespace json = boost::json;

runtime::CommandBus& command_bus(const Context& ctx) {
  return *ctx.app.services().commands;
}
const projections::Queries& queries(const Context& ctx) {
  return *ctx.app.services().queries;
}

namespace {

http::status rejection_status(engine::Rejection::Code code) {
  using Code = engine::Rejection::Code;
  switch (code) {
    case Code::kNotFound:
      return http::status::not_found;
    case Code::kAlreadyExists:
      return http::status::conflict;
    case Code::kInvalidArgument:
      return http::status::bad_request;
    case Code::kInvalidTransition:
      return http::status::conflict;
    case Code::kStale:
      return http::status::conflict;
    case Code::kWrongStream:
      return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

// Ids a client wants back from what a command appended.
void collect_ids(const events::Envelope& event, json::object& out) {
  const auto& payload = event.payload();
  const auto* oneof = payload.GetDescriptor()->FindOneofByName("kind");
  const auto* set = payload.GetReflection()->GetOneofFieldDescriptor(payload, oneof);
  if (set == nullptr) return;
  const auto& inner = payload.GetReflection()->GetMessage(payload, set);
  for (const char* name :
       {"run_id", "deploy_id", "rollback_id", "request_id", "test_run_id", "session_id"}) {
    const auto* field = inner.GetDescriptor()->FindFieldByName(name);
    if (field == nullptr || field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) {
      continue;
    }
    const std::string value = inner.GetReflection()->GetString(inner, field);
    if (!value.empty() && !out.contains(name)) out[name] = value;
  }
}

// What a command with this id already appended: its events are
// derived_event_id(command_id, 0, 1, ...) (engine/ids.h). nullopt: none in
// the log.
std::optional<runtime::CommandResult> applied_before(const events::EventStore& store,
                                                     const std::string& command_id) {
  runtime::CommandResult result;
  for (uint32_t i = 0;; ++i) {
    auto event = store.read_event(engine::derived_event_id(command_id, i));
    if (!event) break;
    if (i == 0) {
      result.stream = event->stream_id();
      result.first_position = event->position();
    }
    result.event_ids.push_back(event->event_id());
    result.last_position = event->position();
  }
  if (result.event_ids.empty()) return std::nullopt;
  result.already_present = true;
  return result;
}

}  // namespace

std::optional<std::string> idempotency_key(const Context& ctx) {
  const auto header = ctx.request.find("Idempotency-Key");
  if (header == ctx.request.end()) return std::nullopt;
  const std::string key(header->value());
  const bool printable = std::all_of(key.begin(), key.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (key.empty() || key.size() > 200 || !printable) {
    throw ApiError(http::status::bad_request, "bad_idempotency_key",
                   "Idempotency-Key must be 1-200 printable ASCII characters without spaces");
  }
  return key;
}

runtime::CommandResult execute_command(Context& ctx, const engine::Command& command) {
  auto& bus = command_bus(ctx);
  auto& store = ctx.app.services().store;
  auto context = bus.user_context(ctx.principal.user, wharf::v1::CHANNEL_API);
  // Idempotency-Key: the same key from the same user is the same command, so
  // its events get the same ids (engine::derived_event_id) and the log takes
  // them once. A retry - say after a forward to the cluster leader timed
  // out - is answered with what the first try appended (already_present).
  const auto key = idempotency_key(ctx);
  if (key) {
    context.command_id = engine::name_uuid("idempotency/" + ctx.principal.user + "/" + *key);
    if (auto before = applied_before(store, context.command_id)) return std::move(*before);
  }
  auto outcome = bus.execute(command, context);
  if (!outcome && key) {
    // The first try may have landed meanwhile: refused as existing by the
    // engine, or its event ids met in the store while it was in flight.
    const auto& error = outcome.error();
    if (error.kind == runtime::CommandError::Kind::kStore &&
        error.store_error.code == events::ErrorCode::kEventIdConflict &&
        error.store_error.position > 0) {
      store.wait_for_head_beyond(
          error.store_error.position - 1,
          std::chrono::steady_clock::now() + ctx.app.config().min_position_wait);
    }
    if (auto before = applied_before(store, context.command_id)) return std::move(*before);
  }
  if (!outcome) {
    const auto& error = outcome.error();
    if (error.kind == runtime::CommandError::Kind::kRejected) {
      throw ApiError(rejection_status(error.rejection.code),
                     error.rejection.code == engine::Rejection::Code::kNotFound ? "not_found"
                     : error.rejection.code == engine::Rejection::Code::kInvalidArgument
                         ? "invalid_command"
                         : "rejected",
                     error.rejection.reason,
                     json::object{{"command", engine::command_name(command)},
                                  {"rejection", engine::to_string(error.rejection.code)}});
    }
    if (error.store_error.code == events::ErrorCode::kNotLeader) {
      // Cluster mode: this node stopped leading, or the log did not take the
      // events; nothing was written here (docs/cluster.md).
      throw ApiError(http::status::service_unavailable, "not_leader", error.message(),
                     json::object{{"command", engine::command_name(command)}});
    }
    const bool conflict = error.store_error.code == events::ErrorCode::kConflict;
    throw ApiError(conflict ? http::status::conflict : http::status::internal_server_error,
                   conflict ? "conflict" : "store_error", error.message(),
                   json::object{{"command", engine::command_name(command)}});
  }
  return std::move(*outcome);
}

Reply run_command(Context& ctx, engine::Command command) {
  const auto result = execute_command(ctx, command);
  json::object body{
      {"command", engine::command_name(command)}, {"stream", result.stream},
      {"position", result.last_position},         {"first_position", result.first_position},
      {"nothing_to_do", result.nothing_to_do},    {"already_present", result.already_present}};
  json::array appended;
  if (result.last_position >= result.first_position && result.first_position > 0) {
    auto events = ctx.app.services().store.read_all(
        result.first_position, result.last_position - result.first_position + 1);
    if (events) {
      for (const auto& e : *events) {
        appended.push_back(json::object{
            {"position", e.position()}, {"type", e.type()}, {"event_id", e.event_id()}});
        collect_ids(e, body);
      }
    }
  }
  body["events"] = std::move(appended);
  return json_reply(ctx.request, http::status::accepted, body);
}

size_t page_limit(const Context& ctx, size_t fallback) {
  const size_t max = ctx.app.config().max_page;
  const uint64_t limit = ctx.query_uint("limit").value_or(fallback);
  if (limit == 0 || limit > max) {
    throw bad_request("invalid_value",
                      "query parameter \"limit\" must be between 1 and " + std::to_string(max),
                      boost::json::object{{"field", "limit"}, {"max", max}});
  }
  return limit;
}

projections::QueryOptions query_options(const Context& ctx) {
  projections::QueryOptions options;
  options.min_position = ctx.query_uint("min_position").value_or(0);
  options.timeout = ctx.app.config().min_position_wait;
  // A command (any method but GET/HEAD) acts on the state as the log has it
  // now: what the client's previous request appended may not have reached
  // the projections yet, so wait (bounded) for the head instead of answering
  // 404 for a run or version that exists.
  const auto method = ctx.request.method();
  if (method != http::verb::get && method != http::verb::head) {
    options.min_position = std::max(options.min_position, ctx.app.services().store.head_position());
  }
  if (auto at = ctx.query_value("at")) {
    auto with = projections::with_at(options, *at);
    if (!with) {
      throw bad_request("invalid_value", "query parameter \"at\": " + with.error().message,
                        json::object{{"field", "at"}, {"value", *at}});
    }
    options = *with;
  }
  return options;
}

void throw_query_error(const projections::Error& error) {
  using Code = projections::ErrorCode;
  switch (error.code) {
    case Code::kNotFound:
      throw not_found(error.message);
    case Code::kInvalidArgument:
      throw bad_request("invalid_value", error.message);
    case Code::kTimeout:
      throw ApiError(http::status::service_unavailable, "position_not_reached", error.message);
    default:
      throw ApiError(http::status::internal_server_error, "query_error", error.message,
                     json::object{{"query_code", projections::to_string(error.code)}});
  }
}

json::value view_json(const google::protobuf::Message& message) {
  std::string text;
  if (!append_view_json(message, text)) {
    throw ApiError(http::status::internal_server_error, "internal", "cannot encode view");
  }
  return json::parse(text);
}

// The JSON text goes out as is (api/proto_json.h: protobuf's mapping written
// straight from reflection): no round trip through Boost.JSON on the hottest
// read routes.
Reply json_text_reply(const Context& ctx, std::string body) {
  Reply reply;
  reply.response = Response(http::status::ok, ctx.request.version());
  reply.response.set(http::field::content_type, "application/json");
  reply.response.body() = std::move(body);
  reply.response.keep_alive(ctx.request.keep_alive());
  reply.response.prepare_payload();
  return reply;
}

Reply view_reply(const Context& ctx, const google::protobuf::Message& message) {
  Reply reply;
  reply.response = Response(http::status::ok, ctx.request.version());
  reply.response.set(http::field::content_type, "application/json");
  auto& body = reply.response.body();
  body.reserve(4096);
  if (!append_view_json(message, body)) {
    throw ApiError(http::status::internal_server_error, "internal", "cannot encode view");
  }
  reply.response.keep_alive(ctx.request.keep_alive());
  reply.response.prepare_payload();
  return reply;
}

}  // namespace wharf::api
