// bench_http: 64 keep-alive connections against
//   GET /api/v1/projects/{p}/versions and /api/v1/projects/{p}/environments
// on a store with 1,000 projects (each: 2 environments, 3 versions, a deploy
// per environment), served by wharf's Server with projections. Baseline, same
// run, same thread count: a minimal Beast handler answering a constant JSON
// body of the same mean size. Also: event -> SSE client latency.
//
// Env: WHARF_BENCH_PROJECTS (1000), WHARF_BENCH_SECONDS (5 per side),
//      WHARF_BENCH_CONNECTIONS (64), WHARF_BENCH_SSE_EVENTS (300),
//      WHARF_BENCH_RESPONSE_CACHE (the server's response cache entries; default
//      as `wharf serve`, 0 = off), WHARF_BENCH_WRITES_PER_S (0: events appended
//      in the background during both sides' rounds: deploy progress of a
//      random project's staging deploy, which makes that project's cached
//      answers stale), WHARF_BENCH_WRITES_UNPLACED=1 (the background events
//      belong to no project instead: every cached answer goes stale on each,
//      which is how the cache behaved before it was scoped per project).
// Last stdout line: {"bench":"http","req_per_s":…,"baseline_req_per_s":…,"ratio":…,"p99_ms":…,…}
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "adapters/runtime/command_bus.h"
#include "api/server.h"
#include "api/tokens.h"
#include "bench/http_load.h"
#include "events/ids.h"
#include "projections/queries.h"
#include "projections/runner.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace wharf;
using bench::Load;
using bench::LoadResult;
using bench::merge;
using bench::percentile;

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : static_cast<size_t>(std::stoull(v));
}

// ---- the store ------------------------------------------------------------

void append(events::EventStore& store, const std::string& stream,
            std::vector<v1::Payload> payloads) {
  std::vector<events::Envelope> batch;
  for (auto& p : payloads) {
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    e.set_occurred_at_us(api::now_us());
    e.mutable_actor()->set_id("bench");
    *e.mutable_payload() = std::move(p);
    batch.push_back(std::move(e));
  }
  auto r = store.append(stream, events::ExpectedVersion::any(), std::move(batch));
  if (!r) throw std::runtime_error(r.error().message);
}

void populate(events::EventStore& store, size_t projects) {
  for (size_t i = 0; i < projects; ++i) {
    const std::string p = "proj" + std::to_string(i);
    v1::Payload created;
    auto* c = created.mutable_project_created();
    c->set_project_id(p);
    c->set_name("Project " + std::to_string(i));
    c->set_owner("bench");
    for (const char* env : {"staging", "prod"}) {
      auto* e = c->add_environments();
      e->set_name(env);
      e->set_target(v1::TARGET_TYPE_LOCAL);
      e->set_replicas(1);
    }
    append(store, "project-" + p, {created});
    for (int k = 0; k < 3; ++k) {
      const std::string run = p + "-run" + std::to_string(k);
      const std::string digest = "sha256:" + api::sha256_hex(run);
      v1::Payload version;
      auto* v = version.mutable_version_recorded();
      v->set_project_id(p);
      v->set_run_id(run);
      v->set_version(digest);
      v->set_artifact_digest(digest);
      v->set_artifact_uri("file:///artifacts/" + digest.substr(7, 16));
      v->set_commit_sha(api::sha256_hex(run + "c").substr(0, 40));
      v->set_subject("change " + std::to_string(k));
      append(store, "run-" + run, {version});
    }
    for (const char* env : {"staging", "prod"}) {
      const std::string run = p + "-run2";
      const std::string digest = "sha256:" + api::sha256_hex(run);
      const std::string deploy = p + "-" + env + "-d1";
      v1::Payload requested;
      auto* r = requested.mutable_deploy_requested();
      r->set_deploy_id(deploy);
      r->set_project_id(p);
      r->set_environment(env);
      r->set_attempt(1);
      r->mutable_spec()->set_version(digest);
      r->mutable_spec()->set_artifact_digest(digest);
      v1::Payload succeeded;
      auto* s = succeeded.mutable_deploy_succeeded();
      s->set_deploy_id(deploy);
      s->set_project_id(p);
      s->set_environment(env);
      *s->mutable_spec() = r->spec();
      s->set_url("http://127.0.0.1:9000");
      append(store, "env-" + p + "-" + env, {requested, succeeded});
    }
  }
}

// ---- baseline: minimal Beast handler, constant body --------------------------

class Baseline {
 public:
  Baseline(unsigned threads, std::string body)
      : body_(std::move(body)),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~Baseline() {
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, const std::string& body) : socket(std::move(s)), body(body) {}
    void read() {
      req = {};
      http::async_read(
          socket, buffer, req, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return;
            self->res = http::response<http::string_body>(http::status::ok, 11);
            self->res.set(http::field::content_type, "application/json");
            self->res.body() = self->body;
            self->res.keep_alive(self->req.keep_alive());
            self->res.prepare_payload();
            http::async_write(self->socket, self->res, [self](beast::error_code ec2, size_t) {
              if (!ec2) self->read();
            });
          });
    }
    tcp::socket socket;
    const std::string& body;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
  };
  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (!ec) std::make_shared<Session>(std::move(s), body_)->read();
      accept();
    });
  }
  std::string body_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
};

// ---- event -> SSE latency ----------------------------------------------------

double sse_latency_p99(uint16_t port, const std::string& token, events::EventStore& store,
                       size_t count) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  const std::string req =
      "GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
      "\r\n\r\n";
  asio::write(socket, asio::buffer(req));
  std::mutex mu;
  std::map<uint64_t, Clock::time_point> sent;
  std::vector<double> latencies;
  std::atomic<bool> ready{false};
  std::thread reader([&] {
    std::string buf;
    char chunk[8192];
    size_t seen = 0;
    beast::error_code ec;
    while (seen < count) {
      size_t n = socket.read_some(asio::buffer(chunk), ec);
      if (ec) break;
      const auto now = Clock::now();
      buf.append(chunk, n);
      if (!ready && buf.find("retry:") != std::string::npos) ready = true;
      size_t at;
      while ((at = buf.find("\nid: ")) != std::string::npos || buf.rfind("id: ", 0) == 0) {
        const size_t start = buf.rfind("id: ", 0) == 0 ? 0 : at + 1;
        const size_t nl = buf.find('\n', start);
        if (nl == std::string::npos) break;
        const uint64_t id = std::stoull(buf.substr(start + 4, nl - start - 4));
        buf.erase(0, nl);
        std::lock_guard lock(mu);
        auto it = sent.find(id);
        if (it != sent.end()) {
          latencies.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
          ++seen;
        }
      }
    }
  });
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (size_t i = 0; i < count; ++i) {
    v1::Payload p;
    p.mutable_deploy_progressed()->set_deploy_id("sse-bench");
    p.mutable_deploy_progressed()->set_percent(static_cast<uint32_t>(i % 100));
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    *e.mutable_payload() = p;
    const auto t0 = Clock::now();
    std::unique_lock lock(mu);  // record before the reader can see it
    auto r = store.append("sse-bench", events::ExpectedVersion::any(), {e});
    if (!r) throw std::runtime_error(r.error().message);
    sent[r->last_position] = t0;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  reader.join();
  return percentile(latencies, 0.99);
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  const size_t projects = env_size("WHARF_BENCH_PROJECTS", 1000);
  const auto seconds = std::chrono::seconds(env_size("WHARF_BENCH_SECONDS", 5));
  const size_t connections = env_size("WHARF_BENCH_CONNECTIONS", 64);
  const size_t sse_events = env_size("WHARF_BENCH_SSE_EVENTS", 300);
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  const size_t cache_entries =
      env_size("WHARF_BENCH_RESPONSE_CACHE", api::ServerConfig{}.response_cache_entries);
  const size_t writes_per_s = env_size("WHARF_BENCH_WRITES_PER_S", 0);
  const bool writes_unplaced = env_size("WHARF_BENCH_WRITES_UNPLACED", 0) != 0;

  const auto dir = std::filesystem::temp_directory_path() /
                   ("wharf-bench-http-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  events::StoreOptions options;
  options.sync = false;
  auto store = events::EventStore::open((dir / "events").string(), options);
  if (!store) throw std::runtime_error(store.error().message);
  const auto t0 = Clock::now();
  populate(**store, projects);
  auto runner = projections::ProjectionRunner::open((dir / "projections").string(), store->get());
  if (!runner) throw std::runtime_error(runner.error().message);
  if (auto caught = (*runner)->catch_up(); !caught)
    throw std::runtime_error(caught.error().message);
  if (auto started = (*runner)->start(); !started)
    throw std::runtime_error(started.error().message);
  std::fprintf(stderr, "bench_http: %zu projects, %llu events, ready in %.1f s\n", projects,
               static_cast<unsigned long long>((*store)->head_position()),
               std::chrono::duration<double>(Clock::now() - t0).count());
  projections::Queries queries(**runner);
  runtime::SystemClock clock;
  runtime::CommandBus bus(**store, clock, 1);
  api::Services services(**store);
  services.queries = &queries;
  services.commands = &bus;
  api::ServerConfig config;
  config.port = 0;
  config.threads = threads;
  config.response_cache_entries = cache_entries;
  api::Server server(config, services);
  server.start();
  auto token = api::issue_first_admin_token(**store, api::now_us());
  if (!token || !token->has_value()) throw std::runtime_error("no admin token");
  const std::string bearer = (*token)->token;

  std::vector<std::string> targets;
  for (size_t i = 0; i < projects; ++i) {
    targets.push_back("/api/v1/projects/proj" + std::to_string(i) + "/versions");
    targets.push_back("/api/v1/projects/proj" + std::to_string(i) + "/environments");
  }
  // Warm up (and learn the mean body size for the baseline), then measure
  // both sides in alternating one-second rounds.
  auto warm = Load(server.port(), 8, targets, bearer).run(std::chrono::seconds(1));
  std::string body(static_cast<size_t>(std::max(2.0, warm.mean_body)), ' ');
  body.front() = '{';
  body.back() = '}';
  Baseline baseline(threads, body);
  Load(baseline.port(), 8, {"/"}, bearer).run(std::chrono::seconds(1));
  // Optional background writes, during both sides' rounds alike.
  std::atomic<bool> writing{writes_per_s > 0};
  size_t written = 0;
  std::thread writer([&] {
    if (!writing) return;
    const auto period = std::chrono::microseconds(1'000'000 / writes_per_s);
    auto next = Clock::now();
    std::mt19937 rng(7);
    while (writing) {
      v1::Payload p;
      const std::string project = "proj" + std::to_string(rng() % projects);
      auto* progressed = p.mutable_deploy_progressed();
      progressed->set_deploy_id(writes_unplaced ? "bench-writes" : project + "-staging-d1");
      progressed->set_percent(static_cast<uint32_t>(written % 100));
      append(**store, writes_unplaced ? "bench-writes" : "env-" + project + "-staging", {p});
      ++written;
      next += period;
      std::this_thread::sleep_until(next);
    }
  });
  LoadResult ours;
  LoadResult base;
  for (long long round = 0; round < seconds.count(); ++round) {
    merge(ours, Load(server.port(), connections, targets, bearer).run(std::chrono::seconds(1)));
    merge(base, Load(baseline.port(), connections, {"/"}, bearer).run(std::chrono::seconds(1)));
  }
  writing = false;
  writer.join();
  std::fprintf(stderr,
               "wharf:    %.0f req/s, p50 %.2f ms, p99 %.2f ms, mean body %.0f B, errors %zu\n",
               ours.req_per_s, ours.p50_ms, ours.p99_ms, ours.mean_body, ours.errors);
  std::fprintf(stderr, "baseline: %.0f req/s, p50 %.2f ms, p99 %.2f ms\n", base.req_per_s,
               base.p50_ms, base.p99_ms);
  const auto& cache = server.app().response_cache();
  std::fprintf(stderr,
               "response cache %zu entries (%zu now, %llu hits, %llu misses), %zu background "
               "writes (%s)\n",
               cache_entries, cache.size(), static_cast<unsigned long long>(cache.hits()),
               static_cast<unsigned long long>(cache.misses()), written,
               writes_unplaced ? "no project" : "random projects");

  double sse_p99 = sse_latency_p99(server.port(), bearer, **store, sse_events);
  std::fprintf(stderr, "sse:      event -> client p99 %.2f ms over %zu events\n", sse_p99,
               sse_events);
  server.stop();
  bus.stop();
  (*runner)->stop();
  (*store)->close();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  const double ratio = base.req_per_s > 0 ? ours.req_per_s / base.req_per_s : 0;
  std::printf(
      "{\"bench\":\"http\",\"route\":\"GET /api/v1/projects/{p}/versions + /environments\","
      "\"projects\":%zu,\"connections\":%zu,\"threads\":%u,\"seconds\":%lld,"
      "\"req_per_s\":%.0f,\"baseline_req_per_s\":%.0f,\"ratio\":%.3f,\"p99_ms\":%.2f,"
      "\"baseline_p99_ms\":%.2f,\"body_bytes\":%.0f,\"errors\":%zu,\"sse_p99_ms\":%.2f,"
      "\"response_cache\":%zu,\"writes_per_s\":%zu,\"writes_unplaced\":%s}\n",
      projects, connections, threads, static_cast<long long>(seconds.count()), ours.req_per_s,
      base.req_per_s, ratio, ours.p99_ms, base.p99_ms, ours.mean_body, ours.errors, sse_p99,
      cache_entries, writes_per_s, writes_unplaced ? "true" : "false");
  return ours.errors == 0 ? 0 : 1;
}
