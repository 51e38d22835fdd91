// `wharf cluster status`: each node's view of a cluster (docs/cluster.md) -
// role, leader, epoch, applied position and lag - from their /readyz.
#include <boost/json.hpp>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "adapters/http/http_client.h"
#include "cli/commands.h"

namespace wharf::cli {
namespace {

struct ClusterStatusArgs {
  std::string nodes;  // comma-separated base URLs
};

// 0 when every node answered and exactly one leads, 1 otherwise.
int run_cluster_status(const ClusterStatusArgs& args) {
  std::stringstream list(args.nodes);
  std::string url;
  int leaders = 0;
  int unreachable = 0;
  std::printf("%-28s %-12s %-10s %-10s %6s %10s %6s\n", "node url", "role", "name", "leader",
              "epoch", "applied", "lag");
  while (std::getline(list, url, ',')) {
    if (url.empty()) continue;
    http_client::Request request;
    request.url = url + "/readyz";
    request.timeout = std::chrono::seconds(3);
    auto response = http_client::send(request);
    if (!response || (response->status != 200 && response->status != 503)) {
      std::printf("%-28s %-12s %s\n", url.c_str(), "unreachable",
                  response ? http_client::describe(*response).c_str() : response.error().c_str());
      ++unreachable;
      continue;
    }
    auto body = boost::json::parse(response->body).as_object();
    if (!body.contains("cluster")) {
      std::printf("%-28s %-12s (single node, head %lld)\n", url.c_str(), "no-cluster",
                  static_cast<long long>(body["head_position"].to_number<int64_t>()));
      continue;
    }
    const auto& c = body["cluster"].as_object();
    auto str = [&](const char* key) { return std::string(c.at(key).as_string()); };
    auto num = [&](const char* key) {
      return static_cast<long long>(c.at(key).to_number<int64_t>());
    };
    if (str("role") == "leader") ++leaders;
    std::printf("%-28s %-12s %-10s %-10s %6lld %10lld %6lld%s\n", url.c_str(), str("role").c_str(),
                str("node").c_str(), str("leader").c_str(), num("epoch"), num("applied_position"),
                num("lag"), str("stopped").empty() ? "" : ("  stopped: " + str("stopped")).c_str());
  }
  std::printf("%d leader(s), %d unreachable\n", leaders, unreachable);
  return leaders == 1 && unreachable == 0 ? 0 : 1;
}

}  // namespace

void register_cluster_commands(CLI::App& app) {
  auto* cluster = app.add_subcommand("cluster", "cluster mode (docs/cluster.md)");
  cluster->require_subcommand(1);
  auto args = std::make_shared<ClusterStatusArgs>();
  auto* status = cluster->add_subcommand(
      "status",
      "each node's role, leader, epoch, applied position and lag (from /readyz); "
      "exit 1 unless every node answers and exactly one leads");
  status->add_option("--nodes", args->nodes, "the nodes' base URLs, comma-separated")
      ->required()
      ->envname("WHARF_CLUSTER_NODES");
  status->callback([args] {
    if (int rc = run_cluster_status(*args); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace wharf::cli
