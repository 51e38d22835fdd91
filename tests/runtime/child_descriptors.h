#pragma once
// The launch-path tests of issue 21: what a process wharf starts may hold is
// its stdin, stdout and stderr (and the pipes or pty of that launch), never
// a descriptor of wharf's. HeldDescriptors makes the test process hold more
// while it starts a child — a listening socket and a file, neither
// close-on-exec, as a library or a careless open would leave them — and the
// child lists what it has with `ls -l /proc/self/fd`.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

namespace wharf::runtime::testing {

class HeldDescriptors {
 public:
  explicit HeldDescriptors(const std::filesystem::path& dir) : file_path_(dir / "held-file") {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);  // no SOCK_CLOEXEC, on purpose
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 8) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    file_ = ::open(file_path_.c_str(), O_RDWR | O_CREAT, 0600);  // no O_CLOEXEC, on purpose
    if (file_ < 0) throw std::runtime_error("cannot open " + file_path_.string());
  }
  ~HeldDescriptors() {
    ::close(listener_);
    ::close(file_);
  }
  HeldDescriptors(const HeldDescriptors&) = delete;
  HeldDescriptors& operator=(const HeldDescriptors&) = delete;

  const std::filesystem::path& file_path() const { return file_path_; }

 private:
  std::filesystem::path file_path_;
  int listener_ = -1;
  int file_ = -1;
};

// A shell command that writes the descriptors of the process running it to `out`.
inline std::string list_descriptors_into(const std::filesystem::path& out) {
  return "ls -l /proc/self/fd > '" + out.string() + "'";
}

// What `ls -l /proc/self/fd` listed: descriptor -> what it points at, less
// the directory ls itself opened to read the list.
inline std::map<int, std::string> listed_descriptors(const std::string& listing) {
  static const std::regex entry(R"( ([0-9]+) -> (.*)$)");
  static const std::regex own_directory(R"(^/proc/[0-9]+/fd$)");
  std::map<int, std::string> fds;
  std::istringstream lines(listing);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (!std::regex_search(line, m, entry)) continue;
    const std::string target = m[2];
    if (!std::regex_match(target, own_directory)) fds[std::stoi(m[1])] = target;
  }
  return fds;
}

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The descriptors above stderr in `fds`, for a readable failure message.
inline std::string beyond_stdio(const std::map<int, std::string>& fds) {
  std::string out;
  for (const auto& [fd, target] : fds) {
    if (fd > 2) out += std::to_string(fd) + " -> " + target + "\n";
  }
  return out;
}

}  // namespace wharf::runtime::testing
