#include "adapters/local/state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace wharf::local {

std::optional<boost::json::object> read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(content.str(), ec);
  if (ec || !value.is_object()) return std::nullopt;
  return value.as_object();
}

bool write_json_file(const std::filesystem::path& path, const boost::json::object& value) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::string tmp = path.string() + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::string text = boost::json::serialize(value) + "\n";
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ok && fsync(fd) == 0;
  close(fd);
  if (!ok) return false;
  return rename(tmp.c_str(), path.c_str()) == 0;
}

std::string json_string(const boost::json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

int64_t json_int(const boost::json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().as_uint64());
  return 0;
}

void append_line(const std::filesystem::path& path, const std::string& line) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  std::string text = line + "\n";
  ssize_t ignored = write(fd, text.data(), text.size());
  (void)ignored;
  fsync(fd);
  close(fd);
}

}  // namespace wharf::local
