#pragma once
// The commands that act through a running `wharf serve` (canary, logs,
// health, testcases, terminal): one way to name the server and the token,
// and to send a request to its API.
#include <CLI/CLI.hpp>
#include <string>

#include "adapters/http/http_client.h"

namespace wharf::cli {

struct ServerOptions {
  std::string server;  // base URL; default: this host's default API port
  std::string token;

  ServerOptions();
};

// --server (WHARF_SERVER) and --token (WHARF_TOKEN); `role` says whose token
// the command needs ("a viewer's").
void add_server_options(CLI::App* cmd, ServerOptions& options, const std::string& role);

// A request to `path` under /api/v1 of the server, with the bearer token.
http_client::Request api_request(const ServerOptions& options, const std::string& method,
                                 const std::string& path);

// Sends it; the answer's body, or an exception naming the server (no answer)
// or the API's error (a status of 300 or more).
std::string call_api(const ServerOptions& options, const http_client::Request& request);

}  // namespace wharf::cli
