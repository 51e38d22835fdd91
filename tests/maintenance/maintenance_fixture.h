#pragma once
// What the maintenance API tests share: a store, projections, a command bus,
// a session host and the real server on a real socket, with helpers to
// append events, issue tokens and find what was recorded.
#include <functional>
#include <thread>

#include "api/maintenance.h"
#include "tests/api/api_test_support.h"

namespace wharf::api::testing {

class MaintenanceServer : public ::testing::Test {
 protected:
  // Opens everything under dir_ and starts the server; `configure` sets up
  // the session host (its readers and terminals) before the server starts.
  void start_server(MaintenanceOptions options,
                    const std::function<void(MaintenanceHost&)>& configure) {
    events::StoreOptions store_options;
    store_options.sync = false;
    auto store = events::EventStore::open((dir_.path() / "events").string(), store_options);
    ASSERT_TRUE(store);
    store_ = std::move(store.value());
    auto runner =
        projections::ProjectionRunner::open((dir_.path() / "projections").string(), store_.get());
    ASSERT_TRUE(runner);
    runner_ = std::move(runner.value());
    ASSERT_TRUE(runner_->start());
    queries_ = std::make_unique<projections::Queries>(*runner_);
    bus_ = std::make_unique<runtime::CommandBus>(*store_, clock_, 2);
    host_ = std::make_unique<MaintenanceHost>(options);
    configure(*host_);
    services_ = std::make_unique<Services>(*store_);
    services_->commands = bus_.get();
    services_->queries = queries_.get();
    services_->maintenance = host_.get();
    ServerConfig config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.threads = 2;
    server_ = std::make_unique<Server>(config, *services_);
    server_->start();
  }
  void stop_server() {
    if (server_) server_->stop();
    if (host_) host_->stop();
    if (bus_) bus_->stop();
    if (runner_) runner_->stop();
    if (store_) store_->close();
  }

  void append(const std::string& stream, const wharf::v1::Payload& payload) {
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    e.set_occurred_at_us(now_us());
    e.mutable_actor()->set_id("test");
    *e.mutable_payload() = payload;
    ASSERT_TRUE(store_->append(stream, events::ExpectedVersion::any(), {e}));
  }

  // Grants `user` `role` on project `project`.
  void grant(const std::string& project, const std::string& user, wharf::v1::Role role) {
    wharf::v1::Payload g;
    g.mutable_permission_granted()->set_project_id(project);
    g.mutable_permission_granted()->set_user(user);
    g.mutable_permission_granted()->set_role(role);
    append("access-" + project, g);
  }

  std::string token(const std::string& user) {
    wharf::v1::Actor actor;
    actor.set_id("test");
    return issue_token(*store_, user, false, 0, actor, now_us())->token;
  }

  // Waits until the environments view has folded the whole log.
  void wait_for_projections() {
    for (int i = 0; i < 500 && runner_->position("environments") < store_->head_position(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // The events of `type` once there is one, waiting up to 10 s (sessions
  // record their close after the socket's end).
  std::vector<events::Envelope> wait_for(const std::string& type) {
    std::vector<events::Envelope> found;
    for (int i = 0; i < 500 && found.empty(); ++i) {
      found = of_type(type);
      if (found.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return found;
  }

  std::vector<events::Envelope> of_type(const std::string& type) {
    std::vector<events::Envelope> out;
    auto all = store_->read_all(1, 100000);
    if (!all) return out;
    for (const auto& e : all.value()) {
      if (e.type() == type) out.push_back(e);
    }
    return out;
  }

  // The headers of a WebSocket upgrade request, for plain HTTP clients.
  static std::map<std::string, std::string> websocket_upgrade() {
    return {{"Upgrade", "websocket"},
            {"Connection", "Upgrade"},
            {"Sec-WebSocket-Version", "13"},
            {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  }

  HttpResult get(const std::string& target, const std::string& tok,
                 const std::map<std::string, std::string>& headers = {}) {
    Client c(server_->port());
    return c.request(beast::http::verb::get, target, tok, "", headers);
  }

  TempDir dir_;
  runtime::SystemClock clock_;
  std::unique_ptr<events::EventStore> store_;
  std::unique_ptr<projections::ProjectionRunner> runner_;
  std::unique_ptr<projections::Queries> queries_;
  std::unique_ptr<runtime::CommandBus> bus_;
  std::unique_ptr<MaintenanceHost> host_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<Server> server_;
};

}  // namespace wharf::api::testing
