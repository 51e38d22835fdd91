// `wharf canary status|promote|abort`: a canary release of an environment
// (docs/canary.md) through the HTTP API of a running `wharf serve`
// (--server, WHARF_SERVER; --token, WHARF_TOKEN: a deployer's token).
#include <boost/json.hpp>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "adapters/http/http_client.h"
#include "cli/commands.h"
#include "engine/default_ports.h"

namespace wharf::cli {
namespace {

struct CanaryArgs {
  std::string server = "http://127.0.0.1:" + std::to_string(kDefaultApiPort);
  std::string token;
  std::string project, environment, canary_id, reason;
  bool full = false;
};

// Sends one API request; prints the answer; throws on an error status.
void call(const CanaryArgs& a, const std::string& method, const std::string& action,
          boost::json::object body) {
  http_client::Request request;
  request.method = method;
  request.url = a.server + "/api/v1/projects/" + a.project + "/environments/" + a.environment +
                "/canary" + action;
  if (!a.token.empty()) request.headers.push_back({"Authorization", "Bearer " + a.token});
  if (method == "POST") {
    if (!a.canary_id.empty()) body["canary_id"] = a.canary_id;
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = boost::json::serialize(body);
  }
  auto response = http_client::send(request);
  if (!response) throw std::runtime_error("cannot reach " + a.server + ": " + response.error());
  if (response->status >= 300) throw std::runtime_error(http_client::describe(*response));
  std::printf("%s\n", response->body.c_str());
}

}  // namespace

void register_canary_commands(CLI::App& app) {
  auto& canary = group(app, "canary",
                       "canary releases of an environment through a running server's API "
                       "(docs/canary.md)");
  auto args = std::make_shared<CanaryArgs>();
  auto common = [args](CLI::App* cmd) {
    cmd->add_option("--server", args->server, "wharf API base URL")
        ->envname("WHARF_SERVER")
        ->capture_default_str();
    cmd->add_option("--token", args->token, "API token (a deployer's for promote/abort)")
        ->envname("WHARF_TOKEN");
    cmd->add_option("--project", args->project, "project id")->required();
    cmd->add_option("--env", args->environment, "environment name")->required();
  };
  auto* status = canary.add_subcommand(
      "status", "the environment's canary: step, weight, versions, router counts (JSON)");
  common(status);
  status->callback([args] { call(*args, "GET", "", {}); });
  auto* promote = canary.add_subcommand(
      "promote", "move the canary to its next step (--full: to 100%, it becomes stable)");
  common(promote);
  promote->add_option("--canary", args->canary_id, "the canary id (default: the active one)");
  promote->add_flag("--full", args->full, "promote straight to 100%");
  promote->callback([args] { call(*args, "POST", "/promote", {{"full", args->full}}); });
  auto* abort = canary.add_subcommand(
      "abort", "send all traffic back to the stable version and stop the canary");
  common(abort);
  abort->add_option("--canary", args->canary_id, "the canary id (default: the active one)");
  abort->add_option("--reason", args->reason, "why (recorded in CanaryAborted)");
  abort->callback([args] { call(*args, "POST", "/abort", {{"reason", args->reason}}); });
}

}  // namespace wharf::cli
