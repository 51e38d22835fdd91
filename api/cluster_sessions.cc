#include "api/cluster_sessions.h"

#include <sstream>

#include "adapters/kubernetes/pod_exec.h"
#include "adapters/kubernetes/pod_logs.h"
#include "adapters/swarm/container_exec.h"
#include "adapters/swarm/service_logs.h"
#include "wharf/v1/project.pb.h"

namespace wharf::api {

namespace {

using Channel = std::unique_ptr<runtime::ShellChannel>;

Expected<LogStream, std::string> kubernetes_logs(const targets::TargetResolver& targets,
                                                 const LogTarget& t) {
  auto cluster = kubernetes::cluster_of_settings(t.settings, t.target_ref, targets);
  if (!cluster) return unexpected(cluster.error());
  auto pods = kubernetes::running_pods(*cluster, t.version);
  if (!pods) return unexpected(pods.error());
  LogStream stream;
  const std::string pod = pods->front();
  stream.source = "kubernetes:" + cluster->ns + "/" + pod;
  stream.run = [cluster = *cluster, pod](uint32_t tail, bool follow, const LogSink& sink,
                                         const std::atomic<bool>& stop) {
    kubernetes::PodLogOptions o;
    o.pod = pod;
    o.tail_lines = tail;
    o.follow = follow;
    return kubernetes::stream_pod_log(cluster, o, sink, stop);
  };
  return stream;
}

Expected<TerminalTarget, std::string> kubernetes_terminal(const targets::TargetResolver& targets,
                                                          const LogTarget& t) {
  auto cluster = kubernetes::cluster_of_settings(t.settings, t.target_ref, targets);
  if (!cluster) return unexpected(cluster.error());
  auto pods = kubernetes::running_pods(*cluster, t.version);
  if (!pods) return unexpected(pods.error());
  kubernetes::PodExecOptions o;
  o.pod = pods->front();
  o.command = exec_command_of(t.settings);
  TerminalTarget target;
  target.where = "kubernetes:" + cluster->ns + "/" + o.pod;
  target.open = [cluster = *cluster, o](boost::asio::io_context& io) {
    return kubernetes::open_pod_exec(io, cluster, o);
  };
  return target;
}

// The service must be there and Portainer must take the credentials.
Expected<swarm::PortainerTarget, std::string> reachable_service(
    const targets::TargetResolver& targets, const LogTarget& t) {
  auto portainer = swarm::portainer_of_settings(t.settings, t.target_ref, targets);
  if (!portainer) return unexpected(portainer.error());
  auto auth = swarm::portainer_auth(*portainer);
  if (!auth) return unexpected(auth.error());
  auto response = http_client::send(swarm::portainer_request(
      *portainer, "GET",
      "/api/endpoints/" + portainer->endpoint_id + "/docker/services/" + portainer->service,
      *auth));
  if (!response) return unexpected(response.error());
  if (response->status != 200) {
    return unexpected("service " + portainer->service + ": " + http_client::describe(*response));
  }
  return portainer;
}

Expected<LogStream, std::string> swarm_logs(const targets::TargetResolver& targets,
                                            const LogTarget& t) {
  auto portainer = reachable_service(targets, t);
  if (!portainer) return unexpected(portainer.error());
  LogStream stream;
  stream.source = "swarm:" + portainer->service;
  stream.run = [p = *portainer](uint32_t tail, bool follow, const LogSink& sink,
                                const std::atomic<bool>& stop) {
    swarm::ServiceLogOptions o;
    o.tail_lines = tail;
    o.follow = follow;
    return swarm::stream_service_logs(p, o, sink, stop);
  };
  return stream;
}

Expected<TerminalTarget, std::string> swarm_terminal(const targets::TargetResolver& targets,
                                                     const LogTarget& t) {
  auto portainer = reachable_service(targets, t);
  if (!portainer) return unexpected(portainer.error());
  swarm::ContainerExecOptions o;
  o.command = exec_command_of(t.settings);
  TerminalTarget target;
  target.where = "swarm:" + portainer->service;
  target.open = [p = *portainer, o](boost::asio::io_context& io) {
    return swarm::open_container_exec(io, p, o);
  };
  return target;
}

}  // namespace

std::vector<std::string> exec_command_of(const std::map<std::string, std::string>& settings) {
  std::vector<std::string> words;
  if (auto it = settings.find("exec_command"); it != settings.end()) {
    std::istringstream in(it->second);
    for (std::string w; in >> w;) words.push_back(w);
  }
  if (words.empty()) words.push_back("/bin/sh");
  return words;
}

void add_cluster_sessions(MaintenanceHost& host, const targets::TargetResolver& targets) {
  const auto* t = &targets;
  host.set_log_resolver(wharf::v1::TARGET_TYPE_KUBERNETES,
                        [t](const LogTarget& log) { return kubernetes_logs(*t, log); });
  host.set_terminal_resolver(wharf::v1::TARGET_TYPE_KUBERNETES,
                             [t](const LogTarget& log) { return kubernetes_terminal(*t, log); });
  host.set_log_resolver(wharf::v1::TARGET_TYPE_SWARM,
                        [t](const LogTarget& log) { return swarm_logs(*t, log); });
  host.set_terminal_resolver(wharf::v1::TARGET_TYPE_SWARM,
                             [t](const LogTarget& log) { return swarm_terminal(*t, log); });
}

}  // namespace wharf::api
