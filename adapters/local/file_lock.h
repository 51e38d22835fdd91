#pragma once
// An exclusive advisory lock on a file beside the runners' state (flock), so
// that several processes sharing one data directory — `wharf worker`s handed
// the same task during a consumer-group rebalance — check and claim a key one
// at a time. The kernel drops the lock when its holder dies, SIGKILL included,
// and the descriptor is close-on-exec so spawned builds never inherit it.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace wharf::local {

class FileLock {
 public:
  // Blocks until the lock on `path` (created if missing) is held. Without a
  // lock file (unwritable directory) it holds nothing: the in-process
  // guards still apply, and the failure shows in the runner's own errors.
  explicit FileLock(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return;
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace wharf::local
