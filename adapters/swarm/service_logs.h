#pragma once
// Service logs of a Swarm environment (docs/operations.md#service-logs)
// through Portainer's Docker proxy:
// GET /api/endpoints/{id}/docker/services/{service}/logs?follow=1&stdout=1
// &stderr=1&tail=N (../shared/protocols.md §4). Without a TTY the body is
// Docker's multiplexed stream — frames of an 8-byte header (stream 1 stdout,
// 2 stderr; three zero bytes; big-endian length) and the payload —, which
// DockerStreamDemux takes apart; a TTY service's raw stream passes through.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "adapters/http/http_stream.h"
#include "adapters/swarm/deploy_target.h"

namespace wharf::swarm {

// The Portainer target an environment names (target_ref and settings,
// deploy_target.h), for reading: no image is needed.
Expected<PortainerTarget, std::string> portainer_of_settings(
    const std::map<std::string, std::string>& settings, const std::string& target_ref,
    const targets::TargetResolver& targets);

// The header that authenticates a request to `t`: X-API-Key with the access
// token, else Authorization with the JWT of a fresh POST /api/auth.
Expected<std::pair<std::string, std::string>, std::string> portainer_auth(const PortainerTarget& t);

// A request to Portainer at `path` (below portainer_url) with `auth`.
http_client::Request portainer_request(const PortainerTarget& t, const std::string& method,
                                       const std::string& path,
                                       const std::pair<std::string, std::string>& auth);

// Takes a multiplexed stream apart as it arrives, in any slicing. The first
// bytes decide: a valid frame header (stream 0-2, three zero bytes) means
// multiplexed, anything else a raw (TTY) stream that is passed on as is.
class DockerStreamDemux {
 public:
  // Called with each payload piece and its stream (1 stdout, 2 stderr; 0 raw).
  using Output = std::function<bool(int stream, std::string_view payload)>;
  explicit DockerStreamDemux(Output out) : out_(std::move(out)) {}
  // False once `out` said false.
  bool feed(std::string_view bytes);

 private:
  Output out_;
  enum class Mode { kUnknown, kMultiplexed, kRaw } mode_ = Mode::kUnknown;
  std::string header_;      // a frame header being collected
  uint32_t remaining_ = 0;  // payload bytes of the current frame still to come
  int stream_ = 0;
};

struct ServiceLogOptions {
  uint32_t tail_lines = 0;  // 0: all
  bool follow = false;
};

// The logs path for `o` (below portainer_url).
std::string service_logs_path(const PortainerTarget& t, const ServiceLogOptions& o);

// Streams the service's stdout and stderr, demultiplexed, to `sink` until the
// stream ends, `sink` answers false or `stop` is set; an error answer (401,
// 403, 404, a log driver that cannot be read) is Portainer's or Docker's message.
Expected<void, std::string> stream_service_logs(const PortainerTarget& t,
                                                const ServiceLogOptions& o,
                                                const http_client::ChunkSink& sink,
                                                const std::atomic<bool>& stop);

}  // namespace wharf::swarm
