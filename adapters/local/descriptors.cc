#include "adapters/local/descriptors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace wharf::local {
namespace {

// The descriptor a /proc/self/fd entry names, -1 for "." and "..".
int descriptor_of(const char* name) noexcept {
  if (*name < '0' || *name > '9') return -1;
  int fd = 0;
  for (; *name >= '0' && *name <= '9'; ++name) fd = fd * 10 + (*name - '0');
  return *name == '\0' ? fd : -1;
}

// Closes what /proc/self/fd lists above 2; false when /proc cannot be read.
// getdents64 into a stack buffer: opendir would allocate.
bool close_listed_descriptors() noexcept {
  const int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  alignas(dirent64) char buffer[4096];
  for (;;) {
    const ssize_t n = ::getdents64(dir, buffer, sizeof buffer);
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + at);
      const int fd = descriptor_of(entry->d_name);
      if (fd > 2 && fd != dir) ::close(fd);
      at += entry->d_reclen;
    }
  }
  ::close(dir);
  return true;
}

}  // namespace

void close_descriptors_above_stderr() noexcept {
  if (::close_range(3, ~0U, 0) == 0) return;
  if (close_listed_descriptors()) return;
  rlimit limit{};
  int top = 65536;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < static_cast<rlim_t>(top)) {
    top = static_cast<int>(limit.rlim_cur);
  }
  for (int fd = 3; fd < top; ++fd) ::close(fd);
}

bool set_close_on_exec(int fd) noexcept {
  const int flags = ::fcntl(fd, F_GETFD);
  return flags >= 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

void open_close_on_exec(boost::asio::ip::tcp::acceptor& acceptor,
                        const boost::asio::ip::tcp& protocol, boost::system::error_code& ec) {
  const int fd = ::socket(protocol.family(), SOCK_STREAM | SOCK_CLOEXEC, protocol.protocol());
  if (fd < 0) {
    ec.assign(errno, boost::system::system_category());
    return;
  }
  acceptor.assign(protocol, fd, ec);
  if (ec) ::close(fd);
}

}  // namespace wharf::local
