#pragma once
// Cluster mode (docs/cluster.md#commands-on-a-follower): what a node does with
// a command (any request but GET/HEAD/OPTIONS) while it does not lead.
//
//  - the leader is known: the command is forwarded to it - same method, path,
//    query, body and headers (the caller's credentials: Authorization,
//    cookies, webhook signatures) - and the leader's answer is relayed. After
//    a forwarded write succeeded the node waits (bounded) until its read
//    models applied the answer's `position`, so the caller reads its write
//    here too;
//    the answer carries `X-Wharf-Position` either way (?min_position=).
//  - no leader known (an election), or the leader does not accept the
//    connection: 503 no_leader with Retry-After - nothing was sent anywhere.
//  - the leader took the request but did not answer in time: 504
//    leader_timeout - the outcome is unknown; a retry with the same
//    Idempotency-Key appends nothing twice (api/resource_support.h).
//  - `forward` off (serve --cluster-forward=false): 307 to the leader.
// A forwarded request reaching a node that does not lead is not forwarded
// again (503 not_leader): leadership is moving.
#include <chrono>
#include <optional>
#include <string>

#include "adapters/kafka/cluster_node.h"
#include "api/app.h"
#include "projections/runner.h"

namespace wharf::cli {

struct CommandRouting {
  bool forward = true;
  std::chrono::milliseconds forward_timeout{15'000};  // the leader's answer
  std::chrono::milliseconds apply_wait{5'000};        // read-your-writes on this node
};

// nullopt: this node leads and handles the request itself.
std::optional<api::Reply> route_to_leader(const kafka::ClusterNode& node,
                                          const std::string& self_api,
                                          const projections::ProjectionRunner& read_models,
                                          const CommandRouting& routing,
                                          const api::Request& request);

}  // namespace wharf::cli
