#pragma once
// A blocking server-sent-events reader for tests and the benchmark.
#include <optional>
#include <string>

#include "tests/api/api_test_support.h"

namespace wharf::api::testing {

struct SseFrame {
  uint64_t id = 0;
  std::string event;
  std::string data;
};

class SseClient {
 public:
  SseClient(uint16_t port, const std::string& target, const std::string& token,
            std::optional<uint64_t> last_event_id = std::nullopt)
      : client_(port) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    if (last_event_id) req += "Last-Event-ID: " + std::to_string(*last_event_id) + "\r\n";
    req += "\r\n";
    client_.send_raw(req);
    while (buffer_.find("\r\n\r\n") == std::string::npos) {
      if (!fill()) break;
    }
    const size_t end = buffer_.find("\r\n\r\n");
    header_ = buffer_.substr(0, end == std::string::npos ? buffer_.size() : end);
    buffer_.erase(0, end == std::string::npos ? buffer_.size() : end + 4);
  }
  const std::string& header() const { return header_; }
  bool ok() const { return header_.rfind("HTTP/1.1 200", 0) == 0; }

  // The next event frame (comments and retry lines skipped); nullopt on close.
  std::optional<SseFrame> next() {
    for (;;) {
      size_t end = buffer_.find("\n\n");
      while (end == std::string::npos) {
        if (!fill()) return std::nullopt;
        end = buffer_.find("\n\n");
      }
      std::string block = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      SseFrame frame;
      bool has_id = false;
      size_t pos = 0;
      while (pos < block.size()) {
        size_t nl = block.find('\n', pos);
        if (nl == std::string::npos) nl = block.size();
        std::string line = block.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.rfind("id: ", 0) == 0) {
          frame.id = std::stoull(line.substr(4));
          has_id = true;
        } else if (line.rfind("event: ", 0) == 0) {
          frame.event = line.substr(7);
        } else if (line.rfind("data: ", 0) == 0) {
          frame.data = line.substr(6);
        }
      }
      if (has_id) return frame;
    }
  }
  Client& raw() { return client_; }

 private:
  bool fill() {
    char buf[8192];
    beast::error_code ec;
    size_t n = client_.socket().read_some(asio::buffer(buf), ec);
    if (ec) return false;
    buffer_.append(buf, n);
    return true;
  }
  Client client_;
  std::string buffer_;
  std::string header_;
};

}  // namespace wharf::api::testing
