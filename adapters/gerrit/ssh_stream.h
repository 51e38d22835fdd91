#pragma once
// One SSH session to Gerrit running `gerrit stream-events` (libssh), read
// line by line. Key authentication only. Not thread-safe: one thread opens,
// reads and probes; close() may be called from that thread only.
//
// Liveness: stream-events has no heartbeat (protocols.md §1.1), so silence
// proves nothing. keepalive() sends an SSH keepalive (keeps NAT state);
// probe() runs `gerrit version` on a second channel of the same session and
// waits for its answer: a session that cannot answer that is hung.
#include <libssh/libssh.h>

#include <memory>
#include <string>

#include "events/expected.h"

namespace wharf::gerrit {

struct SshOptions {
  std::string host;
  int port = 29418;
  std::string user;
  std::string key_file;              // private key (OpenSSH or PEM), no passphrase
  std::string known_hosts_file;      // empty: the host key is not checked (logged)
  int connect_timeout_s = 10;
  std::string command = "gerrit stream-events";
};

class SshStream {
 public:
  static Expected<std::unique_ptr<SshStream>, std::string> open(const SshOptions& options);
  ~SshStream();
  SshStream(const SshStream&) = delete;
  SshStream& operator=(const SshStream&) = delete;

  enum class Read { kData, kTimeout, kClosed, kError };
  // Appends what arrives within `timeout_ms` to `out`.
  Read read(std::string& out, int timeout_ms);
  Expected<void, std::string> keepalive();
  // Runs `gerrit version` on a new channel; fails if no answer in `timeout_ms`.
  Expected<std::string, std::string> probe(int timeout_ms);
  std::string error() const;
  // The remote command's exit status once the channel closed (-1 unknown).
  int exit_status() const;

 private:
  SshStream() = default;
  ssh_session session_ = nullptr;
  ssh_channel channel_ = nullptr;
};

}  // namespace wharf::gerrit
