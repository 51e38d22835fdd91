#pragma once
// A terminal in a Kubernetes pod (docs/operations.md#terminal): the pod's
// exec endpoint over WebSocket,
// GET /api/v1/namespaces/{ns}/pods/{pod}/exec?command=…&container=…&stdin=true
// &stdout=true&tty=true with subprotocol v5.channel.k8s.io, falling back to
// v4.channel.k8s.io (../shared/protocols.md §3). Each binary frame starts with
// its channel: 0 stdin, 1 stdout, 2 stderr, 3 status (metav1.Status JSON), 4
// resize, 255 close (v5).
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/kubernetes/deploy_target.h"
#include "adapters/runtime/shell_channel.h"

namespace wharf::kubernetes {

struct PodExecOptions {
  std::string pod;
  std::string container;                        // empty: the target's container
  std::vector<std::string> command{"/bin/sh"};  // settings.exec_command, split at spaces
  bool tty = true;                              // with a tty, stderr is merged into stdout
  // The subprotocols offered, in order of preference (tests offer v4 alone).
  std::vector<std::string> protocols{"v5.channel.k8s.io", "v4.channel.k8s.io"};
};

// The exec path and query for `o` (percent-encoded, one command= per word).
std::string pod_exec_path(const ClusterTarget& t, const PodExecOptions& o);

// One client frame: the channel byte, then the payload.
std::string exec_frame(uint8_t channel, std::string_view payload);

// A resize frame: channel 4, then remotecommand.TerminalSize as JSON,
// {"Width":cols,"Height":rows}.
std::string exec_resize_frame(uint16_t cols, uint16_t rows);

// What a channel-3 Status says: "shell exited 0" for Success, "shell exited
// <code>" for NonZeroExitCode (or an error ending in "exit status <code>"),
// else "exec error: <message>".
std::string exec_status_reason(std::string_view status_json);

// Connects to the pod's exec endpoint (blocking: TCP, TLS, the WebSocket
// upgrade with the target's token) and returns the channel, driven on `io`.
// A refused upgrade (401, 403 RBAC, 404 no such pod) is an error naming the
// status and the server's message.
Expected<std::unique_ptr<runtime::ShellChannel>, std::string> open_pod_exec(
    boost::asio::io_context& io, const ClusterTarget& t, const PodExecOptions& o);

}  // namespace wharf::kubernetes
