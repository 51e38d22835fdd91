#pragma once
// A terminal in a Swarm service's container (docs/operations.md#terminal),
// Docker exec through Portainer's Docker proxy: a running task of the service
// (GET tasks?filters=) names the container; POST containers/{id}/exec creates
// the exec (stdin, stdout, stderr, a TTY), POST exec/{id}/start with
// "Connection: Upgrade, Upgrade: tcp" hijacks the connection (101, or 200
// from daemons that do not upgrade), which then carries the TTY's raw bytes
// both ways; GET exec/{id}/json gives the exit code afterwards; POST
// exec/{id}/resize?h=rows&w=cols sets the TTY's window size. The agent
// header X-PortainerAgent-Target names the task's node.
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapters/runtime/shell_channel.h"
#include "adapters/swarm/deploy_target.h"

namespace wharf::swarm {

struct ContainerExecOptions {
  std::vector<std::string> command{"/bin/sh"};  // settings.exec_command, split at spaces
};

// The Docker proxy path of an exec's resize: .../exec/{id}/resize?h=rows&w=cols.
std::string exec_resize_path(const PortainerTarget& t, const std::string& exec_id, uint16_t cols,
                             uint16_t rows);

// Opens the exec (blocking: the task lookup, the create, the upgrade) and
// returns its channel, driven on `io`. `where` is set to
// "swarm:<service>/<container id>". Fails when no task runs or Portainer or
// the daemon refuse, with their message.
Expected<std::unique_ptr<runtime::ShellChannel>, std::string> open_container_exec(
    boost::asio::io_context& io, const PortainerTarget& t, const ContainerExecOptions& o,
    std::string* where = nullptr);

}  // namespace wharf::swarm
