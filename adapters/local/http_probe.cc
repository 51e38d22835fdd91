#include "adapters/local/http_probe.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wharf::local {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    int r = poll(&p, 1, remaining_ms(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

Expected<HttpResponse, std::string> http_get(const std::string& host, int port,
                                             const std::string& path,
                                             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) {
    return unexpected("cannot resolve " + host);
  }
  Socket sock(socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int rc = connect(sock.fd(), found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (sock.fd() < 0) return unexpected(std::string("socket: ") + strerror(errno));
  if (rc != 0 && errno != EINPROGRESS) return unexpected(std::string("connect: ") + strerror(errno));
  if (!wait_for(sock.fd(), POLLOUT, deadline)) return unexpected(std::string("connect timed out"));
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(sock.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return unexpected(std::string("connect: ") + strerror(err));

  std::string request = "GET " + (path.empty() ? std::string("/") : path) +
                        " HTTP/1.0\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    if (!wait_for(sock.fd(), POLLOUT, deadline)) return unexpected(std::string("send timed out"));
    ssize_t n = send(sock.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return unexpected(std::string("send: ") + strerror(errno));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buffer[4096];
  for (;;) {
    if (!wait_for(sock.fd(), POLLIN, deadline)) return unexpected(std::string("read timed out"));
    ssize_t n = recv(sock.fd(), buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return unexpected(std::string("recv: ") + strerror(errno));
    }
    raw.append(buffer, static_cast<size_t>(n));
  }
  // "HTTP/1.x NNN reason\r\n...headers...\r\n\r\nbody"
  HttpResponse response;
  auto space = raw.find(' ');
  if (raw.rfind("HTTP/", 0) != 0 || space == std::string::npos) {
    return unexpected(std::string("not an HTTP response"));
  }
  response.status = std::atoi(raw.c_str() + space + 1);
  auto body = raw.find("\r\n\r\n");
  if (body != std::string::npos) response.body = raw.substr(body + 4);
  return response;
}

Expected<HttpResponse, std::string> http_get_url(const std::string& url,
                                                 std::chrono::milliseconds timeout) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return unexpected("not an http:// URL: " + url);
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  std::string host = authority.substr(0, colon);
  int port = colon == std::string::npos ? 80 : std::atoi(authority.c_str() + colon + 1);
  return http_get(host, port, path, timeout);
}

}  // namespace wharf::local
