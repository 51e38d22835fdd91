#include "cli/cluster_routing.h"

#include <spdlog/spdlog.h>

#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>

#include "adapters/http/http_client.h"
#include "api/api_error.h"

namespace wharf::cli {
namespace {

namespace http = api::http;
namespace json = boost::json;

constexpr char kForwardedBy[] = "X-Wharf-Forwarded-By";
constexpr char kPositionHeader[] = "X-Wharf-Position";

// Headers that belong to one connection, not to the request (RFC 9110 7.6.1),
// and the ones the client library sets itself.
bool hop_by_hop(std::string_view name) {
  for (const char* hop :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
        "upgrade", "proxy-authorization", "host", "content-length", "expect"}) {
    if (boost::beast::iequals(name, hop)) return true;
  }
  return false;
}

api::Reply unavailable(const api::Request& request, const std::string& code,
                       const std::string& message, const json::object& details) {
  auto reply = api::error_reply(request, http::status::service_unavailable, code, message, details);
  reply.response.set(http::field::retry_after, "1");
  return reply;
}

// The `position` of a successful command's answer (api run_command), or 0.
uint64_t answered_position(const http_client::Response& response) {
  if (response.status < 200 || response.status >= 300) return 0;
  boost::system::error_code ec;
  const json::value body = json::parse(response.body, ec);
  if (ec || !body.is_object()) return 0;
  const auto* position = body.as_object().if_contains("position");
  if (position == nullptr) return 0;
  if (position->is_uint64()) return position->as_uint64();
  if (position->is_int64() && position->as_int64() > 0) {
    return static_cast<uint64_t>(position->as_int64());
  }
  return 0;
}

api::Reply forward(const kafka::ClusterStatus& st, const projections::ProjectionRunner& read_models,
                   const CommandRouting& routing, const api::Request& request,
                   const json::object& details) {
  http_client::Request out;
  out.method = std::string(request.method_string());
  out.url = st.leader_api + std::string(request.target());
  out.body = request.body();
  out.timeout = routing.forward_timeout;
  for (const auto& field : request) {
    if (hop_by_hop(field.name_string())) continue;
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out.headers.emplace_back(kForwardedBy, st.node);
  auto answered = http_client::exchange(out);
  if (!answered) {
    if (!answered.error().request_sent) {
      // Nothing reached the leader: it died or is being replaced.
      return unavailable(request, "no_leader",
                         "node " + st.node + " cannot reach the leader " + st.leader_node + " at " +
                             st.leader_api + " (" + answered.error().message +
                             "); an election may be under way - retry shortly",
                         details);
    }
    return api::error_reply(
        request, http::status::gateway_timeout, "leader_timeout",
        "node " + st.node + " forwarded the command to the leader " + st.leader_node +
            " but got no answer (" + answered.error().message +
            "): it may or may not have been applied - retry with the same Idempotency-Key",
        details);
  }
  api::Reply reply;
  auto& res = reply.response;
  res.version(11);
  res.result(static_cast<unsigned>(answered->status));
  for (const auto& [name, value] : answered->headers) {
    if (!hop_by_hop(name)) res.set(name, value);
  }
  const uint64_t position = answered_position(*answered);
  res.body() = std::move(answered->body);
  res.keep_alive(request.keep_alive());
  res.prepare_payload();
  if (position > 0) {
    // Read-your-writes on this node: the caller's next read here sees it
    // (in the read models, not only in the log).
    if (auto applied = read_models.wait_for(position, routing.apply_wait); !applied) {
      spdlog::warn("cluster: position {} of a forwarded command not applied here within {} ms: {}",
                   position, routing.apply_wait.count(), applied.error().message);
    }
    res.set(kPositionHeader, std::to_string(position));
  }
  return reply;
}

}  // namespace

std::optional<api::Reply> route_to_leader(const kafka::ClusterNode& node,
                                          const std::string& self_api,
                                          const projections::ProjectionRunner& read_models,
                                          const CommandRouting& routing,
                                          const api::Request& request) {
  if (node.leading()) return std::nullopt;
  const auto st = node.status();
  const json::object details{{"role", kafka::to_string(st.role)},
                             {"leader", st.leader_node},
                             {"leader_api", st.leader_api},
                             {"epoch", st.epoch}};
  if (const auto by = request.find(kForwardedBy); by != request.end()) {
    return unavailable(request, "not_leader",
                       "node " + std::string(by->value()) + " forwarded this command to node " +
                           st.node + ", which does not lead (" + kafka::to_string(st.role) +
                           "): leadership is moving - retry shortly",
                       details);
  }
  if (st.leader_api.empty() || st.leader_api == self_api ||
      st.role == kafka::ClusterRole::kStopped) {
    return unavailable(request, "no_leader",
                       "node " + st.node + " is " + kafka::to_string(st.role) +
                           " and knows no other leader yet; retry shortly",
                       details);
  }
  if (routing.forward) return forward(st, read_models, routing, request, details);
  auto reply = api::error_reply(request, http::status::temporary_redirect, "not_leader",
                                "node " + st.node + " follows; send commands to the leader " +
                                    st.leader_node + " at " + st.leader_api,
                                details);
  reply.response.set(http::field::location, st.leader_api + std::string(request.target()));
  return reply;
}

}  // namespace wharf::cli
