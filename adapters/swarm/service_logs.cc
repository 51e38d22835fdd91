#include "adapters/swarm/service_logs.h"

namespace wharf::swarm {

namespace {

std::string base_of(const PortainerTarget& t) {
  std::string base = t.portainer_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

}  // namespace

Expected<PortainerTarget, std::string> portainer_of_settings(
    const std::map<std::string, std::string>& settings, const std::string& target_ref,
    const targets::TargetResolver& targets) {
  wharf::v1::DeploySpec spec;
  for (const auto& [k, v] : settings) (*spec.mutable_target_settings())[k] = v;
  spec.set_target_ref(target_ref);
  if (spec.target_settings().count("image") == 0) spec.set_artifact_uri("-");  // not deploying
  return portainer_target_of(spec, targets);
}

Expected<std::pair<std::string, std::string>, std::string> portainer_auth(
    const PortainerTarget& t) {
  Portainer portainer(t);
  return portainer.auth_header();
}

http_client::Request portainer_request(const PortainerTarget& t, const std::string& method,
                                       const std::string& path,
                                       const std::pair<std::string, std::string>& auth) {
  http_client::Request req;
  req.method = method;
  req.url = base_of(t) + path;
  req.headers = {auth};
  req.ca_file = t.ca_file;
  req.verify_tls = !t.insecure;
  return req;
}

bool DockerStreamDemux::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (mode_ == Mode::kRaw) return out_(0, bytes);
    if (remaining_ > 0) {
      const size_t n = std::min<size_t>(remaining_, bytes.size());
      remaining_ -= static_cast<uint32_t>(n);
      if (!out_(stream_, bytes.substr(0, n))) return false;
      bytes.remove_prefix(n);
      continue;
    }
    const size_t need = 8 - header_.size();
    header_.append(bytes.substr(0, need));
    bytes.remove_prefix(std::min(need, bytes.size()));
    if (mode_ == Mode::kUnknown) {
      // Decide on what is there: stream byte 0-2 and zero padding.
      bool framed = static_cast<unsigned char>(header_[0]) <= 2;
      for (size_t i = 1; i < header_.size() && i < 4; ++i) framed = framed && header_[i] == '\0';
      if (!framed) {
        mode_ = Mode::kRaw;
        std::string held = std::move(header_);
        header_.clear();
        if (!out_(0, held)) return false;
        continue;
      }
      if (header_.size() < 8) return true;
      mode_ = Mode::kMultiplexed;
    }
    if (header_.size() < 8) return true;
    const auto* h = reinterpret_cast<const unsigned char*>(header_.data());
    stream_ = h[0];
    remaining_ = (uint32_t{h[4]} << 24) | (uint32_t{h[5]} << 16) | (uint32_t{h[6]} << 8) | h[7];
    header_.clear();
  }
  return true;
}

std::string service_logs_path(const PortainerTarget& t, const ServiceLogOptions& o) {
  std::string path = "/api/endpoints/" + t.endpoint_id + "/docker/services/" + t.service +
                     "/logs?stdout=1&stderr=1";
  if (o.follow) path += "&follow=1";
  path += "&tail=" + (o.tail_lines > 0 ? std::to_string(o.tail_lines) : std::string("all"));
  return path;
}

Expected<void, std::string> stream_service_logs(const PortainerTarget& t,
                                                const ServiceLogOptions& o,
                                                const http_client::ChunkSink& sink,
                                                const std::atomic<bool>& stop) {
  auto auth = portainer_auth(t);
  if (!auth) return unexpected(auth.error());
  http_client::Request req = portainer_request(t, "GET", service_logs_path(t, o), *auth);
  DockerStreamDemux demux([&sink](int, std::string_view payload) { return sink(payload); });
  auto streamed = http_client::stream_body(
      req, [&](std::string_view chunk) { return chunk.empty() ? sink({}) : demux.feed(chunk); },
      stop);
  if (!streamed) return unexpected("logs of service " + t.service + ": " + streamed.error());
  return {};
}

}  // namespace wharf::swarm
