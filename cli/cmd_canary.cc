// `wharf canary status|promote|abort`: a canary release of an environment
// (docs/canary.md) through the HTTP API of a running `wharf serve`
// (--server, WHARF_SERVER; --token, WHARF_TOKEN: a deployer's token).
#include <boost/json.hpp>
#include <cstdio>
#include <memory>

#include "cli/api_client.h"
#include "cli/commands.h"

namespace wharf::cli {
namespace {

struct CanaryArgs {
  ServerOptions api;
  std::string project, environment, canary_id, reason;
  bool full = false;
};

// Sends one API request; prints the answer; throws on an error status.
void call(const CanaryArgs& a, const std::string& method, const std::string& action,
          boost::json::object body) {
  auto request = api_request(
      a.api, method, "/projects/" + a.project + "/environments/" + a.environment + "/canary" + action);
  if (method == "POST") {
    if (!a.canary_id.empty()) body["canary_id"] = a.canary_id;
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = boost::json::serialize(body);
  }
  std::printf("%s\n", call_api(a.api, request).c_str());
}

}  // namespace

void register_canary_commands(CLI::App& app) {
  auto& canary = group(app, "canary",
                       "canary releases of an environment through a running server's API "
                       "(docs/canary.md)");
  auto args = std::make_shared<CanaryArgs>();
  auto common = [args](CLI::App* cmd) {
    add_server_options(cmd, args->api, "a deployer's for promote/abort");
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
