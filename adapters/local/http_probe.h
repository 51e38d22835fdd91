#pragma once
// A minimal HTTP/1.0 GET over a plain socket, enough for health checks and
// for tests that ask a deployed service what it serves.
#include <chrono>
#include <string>

#include "events/expected.h"

namespace wharf::local {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// GET http://<host>:<port><path>; fails on connect/read error or timeout.
Expected<HttpResponse, std::string> http_get(const std::string& host, int port,
                                             const std::string& path,
                                             std::chrono::milliseconds timeout);

// Same, for a full "http://host:port/path" URL.
Expected<HttpResponse, std::string> http_get_url(const std::string& url,
                                                 std::chrono::milliseconds timeout);

}  // namespace wharf::local
