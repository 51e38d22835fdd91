#pragma once
// A TCP forwarder between wharf and Gerrit's SSH port, to break the network
// on purpose: cut() closes every connection and refuses new ones (accepts
// and closes at once) until restore(); freeze() stops moving bytes while
// keeping connections open (a hung stream). Real sockets, one poll() thread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace wharf::gerrit::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
      throw std::runtime_error("proxy: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~TcpProxy() {
    stop_ = true;
    thread_.join();
    close_all();
    ::close(listen_fd_);
  }

  int port() const { return port_; }
  void cut() {
    refusing_ = true;
    close_requested_ = true;
  }
  void freeze() { frozen_ = true; }
  // Ends a freeze: drops the frozen connections (their bytes are lost) and
  // forwards again.
  void restore() {
    if (frozen_) close_requested_ = true;
    frozen_ = false;
    refusing_ = false;
  }
  int connections_accepted() const { return accepted_; }

 private:
  int connect_target() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(target_port_));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  void close_all() {
    for (auto& [a, b] : pairs_) {
      ::close(a);
      ::close(b);
    }
    pairs_.clear();
  }
  void loop() {
    char buffer[65536];
    while (!stop_) {
      if (close_requested_.exchange(false)) close_all();
      std::vector<pollfd> fds;
      fds.push_back({listen_fd_, POLLIN, 0});
      if (!frozen_) {
        for (auto& [a, b] : pairs_) {
          fds.push_back({a, POLLIN, 0});
          fds.push_back({b, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int client = ::accept(listen_fd_, nullptr, nullptr);
        if (client >= 0) {
          ++accepted_;
          int upstream = refusing_ ? -1 : connect_target();
          if (upstream < 0) {
            ::close(client);
          } else {
            pairs_.emplace_back(client, upstream);
          }
        }
      }
      std::vector<int> dead;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const auto& pair = pairs_[(i - 1) / 2];
        int from = fds[i].fd;
        int to = from == pair.first ? pair.second : pair.first;
        ssize_t n = ::read(from, buffer, sizeof buffer);
        if (n <= 0 || ::send(to, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
          dead.push_back(static_cast<int>((i - 1) / 2));
        }
      }
      std::sort(dead.begin(), dead.end());
      dead.erase(std::unique(dead.begin(), dead.end()), dead.end());
      for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
        ::close(pairs_[*it].first);
        ::close(pairs_[*it].second);
        pairs_.erase(pairs_.begin() + *it);
      }
    }
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, refusing_{false}, frozen_{false}, close_requested_{false};
  std::atomic<int> accepted_{0};
  std::vector<std::pair<int, int>> pairs_;  // (client, upstream), loop thread only
  std::thread thread_;
};

}  // namespace wharf::gerrit::testing
