#include "adapters/gerrit/ssh_stream.h"

#include <libssh/server.h>  // ssh_send_keepalive (also for clients)
#include <spdlog/spdlog.h>

#include <chrono>

namespace wharf::gerrit {

namespace {

std::string session_error(ssh_session session) {
  const char* e = session ? ssh_get_error(session) : nullptr;
  return e && *e ? e : "unknown libssh error";
}

Expected<void, std::string> check_host_key(ssh_session session, const SshOptions& options) {
  if (options.known_hosts_file.empty()) return {};
  ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, options.known_hosts_file.c_str());
  switch (ssh_session_is_known_server(session)) {
    case SSH_KNOWN_HOSTS_OK:
      return {};
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      return unexpected("the host key of " + options.host + " does not match " +
                        options.known_hosts_file);
    case SSH_KNOWN_HOSTS_NOT_FOUND:
    case SSH_KNOWN_HOSTS_UNKNOWN:
      // Trust on first use, like OpenSSH's StrictHostKeyChecking=accept-new.
      if (ssh_session_update_known_hosts(session) != SSH_OK) {
        return unexpected("cannot record the host key in " + options.known_hosts_file);
      }
      spdlog::info("gerrit {}: host key recorded in {}", options.host, options.known_hosts_file);
      return {};
    case SSH_KNOWN_HOSTS_ERROR:
      break;
  }
  return unexpected("cannot check the host key: " + session_error(session));
}

}  // namespace

Expected<std::unique_ptr<SshStream>, std::string> SshStream::open(const SshOptions& options) {
  std::unique_ptr<SshStream> s(new SshStream());
  s->session_ = ssh_new();
  if (!s->session_) return unexpected(std::string("ssh_new failed"));
  long timeout = options.connect_timeout_s;
  int port = options.port;
  ssh_options_set(s->session_, SSH_OPTIONS_HOST, options.host.c_str());
  ssh_options_set(s->session_, SSH_OPTIONS_PORT, &port);
  ssh_options_set(s->session_, SSH_OPTIONS_USER, options.user.c_str());
  ssh_options_set(s->session_, SSH_OPTIONS_TIMEOUT, &timeout);
  int no = 0;
  ssh_options_set(s->session_, SSH_OPTIONS_PROCESS_CONFIG, &no);  // ~/.ssh/config is not ours

  const std::string where = options.user + "@" + options.host + ":" + std::to_string(port);
  if (ssh_connect(s->session_) != SSH_OK) {
    return unexpected("cannot connect to " + where + ": " + session_error(s->session_));
  }
  if (auto ok = check_host_key(s->session_, options); !ok) return unexpected(ok.error());

  ssh_key key = nullptr;
  if (ssh_pki_import_privkey_file(options.key_file.c_str(), nullptr, nullptr, nullptr, &key) !=
      SSH_OK) {
    return unexpected("cannot read the private key " + options.key_file);
  }
  // "none" first: it makes libssh read the server's ext-info (server-sig-algs)
  // before choosing the signature; otherwise an RSA key may be offered as
  // SHA-1 "ssh-rsa", which libssh refuses by default.
  (void)ssh_userauth_none(s->session_, nullptr);
  int auth = ssh_userauth_publickey(s->session_, nullptr, key);
  ssh_key_free(key);
  if (auth != SSH_AUTH_SUCCESS) {
    return unexpected("key authentication as " + options.user + " failed at " + where + ": " +
                      session_error(s->session_));
  }
  s->channel_ = ssh_channel_new(s->session_);
  if (!s->channel_ || ssh_channel_open_session(s->channel_) != SSH_OK ||
      ssh_channel_request_exec(s->channel_, options.command.c_str()) != SSH_OK) {
    return unexpected("cannot run '" + options.command + "' at " + where + ": " +
                      session_error(s->session_));
  }
  return s;
}

SshStream::~SshStream() {
  if (channel_) {
    if (ssh_channel_is_open(channel_)) ssh_channel_close(channel_);
    ssh_channel_free(channel_);
  }
  if (session_) {
    if (ssh_is_connected(session_)) ssh_disconnect(session_);
    ssh_free(session_);
  }
}

SshStream::Read SshStream::read(std::string& out, int timeout_ms) {
  int available = ssh_channel_poll_timeout(channel_, timeout_ms, 0);
  if (available == SSH_ERROR) return Read::kError;
  if (available == SSH_EOF) return Read::kClosed;
  if (available == 0) {
    if (ssh_channel_is_eof(channel_) || !ssh_channel_is_open(channel_)) return Read::kClosed;
    return Read::kTimeout;
  }
  char buffer[32 * 1024];
  int n = ssh_channel_read_nonblocking(channel_, buffer, sizeof buffer, 0);
  if (n == SSH_ERROR) return Read::kError;
  if (n == SSH_EOF) return Read::kClosed;
  out.append(buffer, static_cast<size_t>(n));
  return n > 0 ? Read::kData : Read::kTimeout;
}

Expected<void, std::string> SshStream::keepalive() {
  if (ssh_send_keepalive(session_) != SSH_OK) return unexpected(session_error(session_));
  return {};
}

Expected<std::string, std::string> SshStream::probe(int timeout_ms) {
  ssh_channel probe = ssh_channel_new(session_);
  if (!probe) return unexpected(session_error(session_));
  auto done = [&](Expected<std::string, std::string> r) {
    if (ssh_channel_is_open(probe)) ssh_channel_close(probe);
    ssh_channel_free(probe);
    return r;
  };
  // Opening a channel waits for the server's reply; bound it by the timeout.
  long timeout_s = std::max(1, timeout_ms / 1000);
  ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout_s);
  if (ssh_channel_open_session(probe) != SSH_OK ||
      ssh_channel_request_exec(probe, "gerrit version") != SSH_OK) {
    return done(unexpected("probe channel failed: " + session_error(session_)));
  }
  std::string answer;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buffer[256];
  while (std::chrono::steady_clock::now() < deadline) {
    int n = ssh_channel_read_timeout(probe, buffer, sizeof buffer, 0, 200);
    if (n == SSH_ERROR) return done(unexpected("probe read failed: " + session_error(session_)));
    if (n > 0) answer.append(buffer, static_cast<size_t>(n));
    if (!answer.empty() && answer.back() == '\n') break;
    if (n == 0 && ssh_channel_is_eof(probe)) break;
  }
  if (answer.empty()) return done(unexpected(std::string("no answer to `gerrit version`")));
  return done(answer);
}

std::string SshStream::error() const { return session_error(session_); }

int SshStream::exit_status() const {
  return channel_ ? ssh_channel_get_exit_status(channel_) : -1;
}

}  // namespace wharf::gerrit
