#pragma once
// A real server on a real socket over a real store in a temp dir, and a small
// synchronous Beast client, for the API tests.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "adapters/runtime/command_bus.h"
#include "adapters/targets/catalog.h"
#include "adapters/targets/sealed_store.h"
#include "api/server.h"
#include "api/tokens.h"
#include "api/webhook_signature.h"
#include "events/event_store.h"
#include "events/ids.h"
#include "projections/queries.h"
#include "projections/runner.h"

namespace wharf::api::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using tcp = asio::ip::tcp;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("wharf-api-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct HttpResult {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  json::value json() const { return json::parse(body); }
  std::string error_code() const {
    auto v = json::parse(body);
    return std::string(v.at("error").at("code").as_string());
  }
};

// One keep-alive connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  HttpResult request(beast::http::verb method, const std::string& target,
                     const std::string& token = "", const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {}) {
    beast::http::request<beast::http::string_body> req(method, target, 11);
    req.set(beast::http::field::host, "127.0.0.1");
    if (!token.empty()) req.set(beast::http::field::authorization, "Bearer " + token);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
      req.set(beast::http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    beast::http::write(socket_, req);
    return read();
  }
  HttpResult read() {
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    beast::http::read(socket_, buffer_, parser);
    HttpResult r;
    r.status = parser.get().result_int();
    r.body = parser.get().body();
    for (const auto& f : parser.get()) r.headers[std::string(f.name_string())] = std::string(f.value());
    return r;
  }
  void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  // Reads until the peer closes (or `max` bytes); returns what arrived.
  std::string read_until_close(size_t max = 1 << 20) {
    std::string out;
    char buf[4096];
    beast::error_code ec;
    while (out.size() < max) {
      size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }
  // True when the server closed the connection (read returns EOF/reset).
  bool closed_by_peer() {
    char c;
    beast::error_code ec;
    socket_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// Store + Server + an admin token.
class ApiHarness {
 public:
  explicit ApiHarness(ServerConfig config = default_config()) {
    events::StoreOptions options;
    options.sync = false;
    auto store = events::EventStore::open((dir_.path() / "events").string(), options);
    if (!store) throw std::runtime_error(store.error().message);
    store_ = std::move(*store);
    auto runner = projections::ProjectionRunner::open((dir_.path() / "projections").string(),
                                                      store_.get());
    if (!runner) throw std::runtime_error(runner.error().message);
    runner_ = std::move(*runner);
    if (auto started = runner_->start(); !started) throw std::runtime_error(started.error().message);
    queries_ = std::make_unique<projections::Queries>(*runner_);
    bus_ = std::make_unique<runtime::CommandBus>(*store_, clock_, 2);
    services_ = std::make_unique<Services>(*store_);
    services_->commands = bus_.get();
    services_->queries = queries_.get();
    services_->data_dir = dir_.path().string();
    targets_ = std::make_unique<targets::TargetCatalog>(*store_);
    services_->targets = targets_.get();
    auto secrets =
        targets::SealedStore::open({dir_.path() / "secrets", dir_.path() / "secret.key"});
    if (!secrets) throw std::runtime_error(secrets.error());
    secrets_ = std::move(*secrets);
    services_->secrets = secrets_.get();
    config.port = 0;
    server_ = std::make_unique<Server>(config, *services_);
    auto first = issue_first_admin_token(*store_, now_us());
    if (!first || !first->has_value()) throw std::runtime_error("no first admin token");
    admin_token_ = (*first)->token;
    server_->start();
  }
  ~ApiHarness() {
    server_->stop();
    bus_->stop();
    runner_->stop();
    store_->close();
  }
  static ServerConfig default_config() {
    ServerConfig c;
    c.listen = "127.0.0.1";
    c.threads = 2;
    c.drain_timeout = std::chrono::milliseconds(2000);
    return c;
  }

  uint16_t port() const { return server_->port(); }
  events::EventStore& store() { return *store_; }
  Server& server() { return *server_; }
  Services& services() { return *services_; }
  targets::SealedStore& secrets() { return *secrets_; }
  const std::string& admin_token() const { return admin_token_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  HttpResult get(const std::string& target, const std::string& token = "") {
    Client c(port());
    return c.request(beast::http::verb::get, target, token);
  }
  HttpResult post(const std::string& target, const std::string& body, const std::string& token) {
    Client c(port());
    return c.request(beast::http::verb::post, target, token, body);
  }

  std::string token_for(const std::string& user, bool admin = false, int64_t expires_at_us = 0) {
    wharf::v1::Actor actor;
    actor.set_id("test");
    auto issued = issue_token(*store_, user, admin, expires_at_us, actor, now_us());
    if (!issued) throw std::runtime_error(issued.error().message);
    return issued->token;
  }

  // Appends one event on `stream` (tests build their own world without the engine).
  uint64_t append(const std::string& stream, const wharf::v1::Payload& payload,
                  const std::string& correlation = "") {
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    e.set_occurred_at_us(now_us());
    e.mutable_actor()->set_id("test");
    e.set_correlation_id(correlation);
    *e.mutable_payload() = payload;
    auto r = store_->append(stream, events::ExpectedVersion::any(), {e});
    if (!r) throw std::runtime_error(r.error().message);
    return r->last_position;
  }
  uint64_t create_project(const std::string& project, const std::string& owner,
                          const std::string& webhook_secret = "") {
    wharf::v1::Payload p;
    auto* c = p.mutable_project_created();
    c->set_project_id(project);
    c->set_name(project);
    c->set_owner(owner);
    if (!webhook_secret.empty()) {  // sealed, as the API and CLI do it
      c->mutable_repository()->mutable_gerrit()->set_host("gerrit.example");
      auto sealed =
          seal_webhook_secret(secrets_.get(), project, webhook_secret, *c->mutable_repository());
      if (!sealed) throw std::runtime_error(sealed.error());
      sealed->keep();
    }
    return append("project-" + project, p);
  }
  uint64_t grant(const std::string& project, const std::string& user, wharf::v1::Role role) {
    wharf::v1::Payload p;
    auto* g = p.mutable_permission_granted();
    g->set_project_id(project);
    g->set_user(user);
    g->set_role(role);
    g->set_granted_by("test");
    return append("access-" + project, p);
  }

 private:
  TempDir dir_;
  runtime::SystemClock clock_;
  std::unique_ptr<events::EventStore> store_;
  std::unique_ptr<projections::ProjectionRunner> runner_;
  std::unique_ptr<projections::Queries> queries_;
  std::unique_ptr<runtime::CommandBus> bus_;
  std::unique_ptr<targets::TargetCatalog> targets_;
  std::unique_ptr<targets::SealedStore> secrets_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<Server> server_;
  std::string admin_token_;
};

}  // namespace wharf::api::testing
