#pragma once
// The server with project "shop" (owner olga, viewer vic) whose staging is
// served by a real local process that prints a numbered line every 20 ms
// into its log: what the API and CLI maintenance tests run against.
#include <boost/beast/websocket.hpp>
#include <fstream>

#include "adapters/local/deploy_target.h"
#include "adapters/local/process.h"
#include "tests/maintenance/maintenance_fixture.h"

namespace wharf::api::testing {

namespace websocket = beast::websocket;

inline const std::string kEnv = "/api/v1/projects/shop/environments/staging";

class LocalServiceServer : public MaintenanceServer {
 protected:
  void SetUp() override {
    start_server({}, [this](MaintenanceHost& host) {
      local_ = std::make_unique<local::LocalDeployTarget>(dir_.path());
      host.set_local(local_.get());
    });
    world();
  }
  void TearDown() override {
    if (pid_ > 0) local::stop_process_group(pid_, std::chrono::milliseconds(500));
    stop_server();
  }

  // Project "shop" (owner olga, viewer vic) with staging served by a real
  // process that prints a numbered line every 20 ms into its log.
  void world() {
    wharf::v1::Payload p;
    auto* c = p.mutable_project_created();
    c->set_project_id("shop");
    c->set_name("shop");
    c->set_owner("olga");
    c->add_environments()->set_name("staging");
    c->mutable_environments(0)->set_target(wharf::v1::TARGET_TYPE_LOCAL);
    append("project-shop", p);
    grant("shop", "olga", wharf::v1::ROLE_OWNER);
    grant("shop", "vic", wharf::v1::ROLE_VIEWER);
    wharf::v1::Payload d;
    auto* s = d.mutable_deploy_succeeded();
    s->set_deploy_id("d-1");
    s->set_project_id("shop");
    s->set_environment("staging");
    s->set_attempt(1);
    s->mutable_spec()->set_version("v1");
    s->set_url("http://127.0.0.1:1");
    append("env-shop-staging", d);

    work_ = dir_.path() / "artifact";
    std::filesystem::create_directories(work_);
    log_ = dir_.path() / "service.log";
    local::ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.02; done"};
    spec.log_file = log_;
    auto pid = local::spawn_detached(spec);
    ASSERT_TRUE(pid);
    pid_ = *pid;
    std::filesystem::create_directories(dir_.path() / "targets" / "shop");
    std::ofstream(dir_.path() / "targets" / "shop" / "staging.json") << boost::json::serialize(
        boost::json::object{{"current", boost::json::object{{"deploy_id", "d-1"},
                                                            {"attempt", 1},
                                                            {"pid", pid_},
                                                            {"port", 1},
                                                            {"version", "v1"},
                                                            {"artifact_dir", work_.string()},
                                                            {"log", log_.string()}}}});
    // The projections must show the deploy before the routes can find it.
    wait_for_projections();
  }

  // A WebSocket to staging's terminal; `credential` is what the upgrade
  // authenticates with: the Authorization header value, or with
  // `as_subprotocol` the Sec-WebSocket-Protocol value (a browser's way).
  std::unique_ptr<websocket::stream<tcp::socket>> open_terminal(
      asio::io_context& io, std::string credential, bool as_subprotocol = false,
      websocket::response_type* answer = nullptr) {
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    auto ws = std::make_unique<websocket::stream<tcp::socket>>(std::move(socket));
    const auto field = as_subprotocol ? beast::http::field::sec_websocket_protocol
                                      : beast::http::field::authorization;
    ws->set_option(websocket::stream_base::decorator(
        [field, credential](websocket::request_type& req) { req.set(field, credential); }));
    websocket::response_type ignored;
    ws->handshake(answer ? *answer : ignored, "127.0.0.1", kEnv + "/terminal");
    return ws;
  }

  std::unique_ptr<local::LocalDeployTarget> local_;
  std::filesystem::path work_, log_;
  pid_t pid_ = 0;
};

}  // namespace wharf::api::testing
