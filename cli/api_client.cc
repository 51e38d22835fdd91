#include "cli/api_client.h"

#include <stdexcept>

#include "engine/default_ports.h"

namespace wharf::cli {

ServerOptions::ServerOptions() : server("http://127.0.0.1:" + std::to_string(kDefaultApiPort)) {}

void add_server_options(CLI::App* cmd, ServerOptions& options, const std::string& role) {
  cmd->add_option("--server", options.server, "wharf API base URL")
      ->envname("WHARF_SERVER")
      ->capture_default_str();
  cmd->add_option("--token", options.token, "API token (" + role + ")")->envname("WHARF_TOKEN");
}

http_client::Request api_request(const ServerOptions& options, const std::string& method,
                                 const std::string& path) {
  http_client::Request request;
  request.method = method;
  request.url = options.server + "/api/v1" + path;
  if (!options.token.empty())
    request.headers.push_back({"Authorization", "Bearer " + options.token});
  return request;
}

std::string call_api(const ServerOptions& options, const http_client::Request& request) {
  auto response = http_client::send(request);
  if (!response) {
    throw std::runtime_error("cannot reach " + options.server + ": " + response.error());
  }
  if (response->status >= 300) throw std::runtime_error(http_client::describe(*response));
  return std::move(response->body);
}

}  // namespace wharf::cli
