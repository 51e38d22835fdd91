// LLVMFuzzerTestOneInput over raw request bytes: Beast's request parser with
// the server's limits, then App::handle (routing, auth, JSON bodies,
// handlers, engine commands, projection queries) on a real store in a temp
// dir. Any crash, sanitizer report or exception escaping handle() is a bug.
// Seeds in corpus/ use the token "fuzz-token" (admin), planted at start.
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>

#include "adapters/runtime/command_bus.h"
#include "api/app.h"
#include "api/tokens.h"
#include "events/ids.h"
#include "projections/queries.h"
#include "projections/runner.h"

namespace {

namespace http = boost::beast::http;
using namespace wharf;

struct World {
  World() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("wharf-fuzz-http-" + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    events::StoreOptions options;
    options.sync = false;
    auto opened = events::EventStore::open((dir / "events").string(), options);
    if (!opened) throw std::runtime_error(opened.error().message);
    store = std::move(*opened);
    auto opened_runner = projections::ProjectionRunner::open((dir / "projections").string(), store.get());
    if (!opened_runner) throw std::runtime_error(opened_runner.error().message);
    runner = std::move(*opened_runner);
    queries = std::make_unique<projections::Queries>(*runner);
    bus = std::make_unique<runtime::CommandBus>(*store, clock, 1);
    plant("tokens", [](v1::Payload& p) {
      auto* t = p.mutable_token_issued();
      t->set_token_id("fuzz");
      t->set_user("fuzzer");
      t->set_admin(true);
      t->set_token_sha256(api::sha256_hex("fuzz-token"));
    });
    plant("project-shop", [](v1::Payload& p) {
      auto* c = p.mutable_project_created();
      c->set_project_id("shop");
      c->set_owner("fuzzer");
      c->mutable_repository()->mutable_gerrit()->set_host("g");
      c->mutable_repository()->mutable_gerrit()->set_webhook_secret_sha256(api::sha256_hex("s"));
    });
    services = std::make_unique<api::Services>(*store);
    services->commands = bus.get();
    services->queries = queries.get();
    services->data_dir = dir.string();
    services->webhooks["gerrit"] = [](const api::WebhookDelivery&) { return api::WebhookResult{}; };
    config.min_position_wait = std::chrono::milliseconds(0);
    config.max_body_bytes = 64 * 1024;
    config.max_header_bytes = 8 * 1024;
    app = std::make_unique<api::App>(config, *services, metrics);
  }
  ~World() {
    if (std::getenv("WHARF_FUZZ_STATS") != nullptr) {
      for (const auto& [status, n] : statuses) std::fprintf(stderr, "status %u: %zu\n", status, n);
    }
    app.reset();
    bus->stop();
    runner->stop();
    store->close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  template <typename Fill>
  void plant(const std::string& stream, Fill fill) {
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    fill(*e.mutable_payload());
    auto appended = store->append(stream, events::ExpectedVersion::any(), {e});
    if (!appended) throw std::runtime_error(appended.error().message);
    (void)runner->catch_up();
  }

  std::filesystem::path dir;
  runtime::SystemClock clock;
  std::unique_ptr<events::EventStore> store;
  std::unique_ptr<projections::ProjectionRunner> runner;
  std::unique_ptr<projections::Queries> queries;
  std::unique_ptr<runtime::CommandBus> bus;
  std::unique_ptr<api::Services> services;
  api::ServerConfig config;
  api::MetricsRegistry metrics;
  std::unique_ptr<api::App> app;
  std::map<unsigned, size_t> statuses;  // for WHARF_FUZZ_STATS
};

World& world() {
  static World w;
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& w = world();
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(w.config.max_body_bytes);
  parser.header_limit(static_cast<uint32_t>(w.config.max_header_bytes));
  boost::beast::error_code ec;
  size_t offset = 0;
  // Feed in two pieces to exercise the parser's incremental path.
  const size_t split = size / 2;
  for (size_t end : {split, size}) {
    while (offset < end && !parser.is_done()) {
      // put() may consume bytes and still ask for more: keep both facts.
      const size_t used = parser.put(boost::asio::buffer(data + offset, end - offset), ec);
      offset += used;
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return 0;
      if (used == 0) break;
    }
  }
  if (!parser.is_done()) return 0;
  // Each input's events are visible to the next one's queries.
  (void)w.runner->catch_up();
  api::Reply reply = w.app->handle(parser.get());
  const unsigned status = reply.response.result_int();
  if (!reply.sse && (status < 100 || status > 599)) std::abort();
  ++w.statuses[reply.sse ? 0 : status];
  return 0;
}
