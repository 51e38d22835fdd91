// bench_scale (issue 26): wharf on a history of N events (default 10M) of an
// organisation's releases, written through EventStore::append (history.h).
// Measures, in one run on one data directory:
//   - disk: bytes per event of the log, the projections and both, against
//     the raw protobuf bytes of the events (their stored Envelopes);
//   - `wharf serve` start-up on that data until /readyz answers;
//   - a full projection rebuild (events/s) against scanning + decoding the
//     same log in the same run, and that its digests equal the live ones;
//   - with 64 keep-alive connections, p50/p99 of every query the console
//     makes (response cache off: every answer is computed), and each
//     query's p50 alone on one connection (the work of one answer);
//   - SSE fan-out: 1,000 subscribers, event appended -> frame read, p99.
// The last stdout line is one JSON object (bench/README.md).
//
//   bench_scale [--events N] [--data DIR] [--reuse] [--seconds S]
//               [--connections C] [--subscribers K] [--skip-rebuild]
//               [--skip-startup]
// --data: where the history lives (default $TMPDIR/wharf-bench-scale; it is
// removed at the end unless --keep). --reuse: measure an existing DIR made by
// an earlier run with --keep instead of generating.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "adapters/runtime/command_bus.h"
#include "adapters/runtime/process_manager.h"
#include "api/server.h"
#include "api/tokens.h"
#include "bench/http_load.h"
#include "bench/scale/history.h"
#include "engine/run.h"
#include "events/ids.h"
#include "events/state_snapshot.h"
#include "projections/projection_db.h"
#include "projections/queries.h"
#include "projections/runner.h"
#include "projections/time_format.h"
#include "tests/test_paths.h"
#include "wharf/v1/snapshot.pb.h"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace wharf;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_scale: %s\n", what.c_str());
  std::exit(1);
}

uint64_t dir_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

// What a generated directory holds besides the data: read back with --reuse.
struct Manifest {
  uint64_t events = 0;
  uint32_t projects = 0;
  std::string token;
  int64_t end_us = 0;
  double generate_s = 0;
  double first_fold_s = 0;
  std::vector<bench::RunSample> samples;

  void save(const fs::path& file) const {
    std::ofstream out(file);
    out << events << ' ' << projects << ' ' << token << ' ' << end_us << ' ' << generate_s << ' '
        << first_fold_s << '\n';
    for (const auto& s : samples) out << s.project << ' ' << s.run << ' ' << s.version << '\n';
  }
  bool load(const fs::path& file) {
    std::ifstream in(file);
    if (!(in >> events >> projects >> token >> end_us >> generate_s >> first_fold_s)) return false;
    bench::RunSample s;
    while (in >> s.project >> s.run >> s.version) samples.push_back(s);
    return !samples.empty();
  }
};

Manifest generate(const fs::path& data, uint64_t events) {
  std::error_code ec;
  fs::remove_all(data, ec);
  fs::create_directories(data);
  Manifest m;
  events::StoreOptions options;
  options.sync = false;
  auto store = events::EventStore::open((data / "events").string(), options);
  if (!store) die(store.error().message);
  auto token = api::issue_first_admin_token(**store, api::now_us());
  if (!token || !token->has_value()) die("no admin token");
  m.token = (*token)->token;
  bench::HistoryOptions ho;
  ho.events = events;
  ho.end_us = api::now_us();
  const auto t0 = Clock::now();
  bench::History history(**store, ho);
  history.generate();
  m.generate_s = seconds_since(t0);
  m.events = (*store)->head_position();
  m.projects = history.projects();
  m.end_us = ho.end_us;
  m.samples = history.samples();
  std::fprintf(stderr, "generated %llu events (%u projects) in %.1f s\n",
               static_cast<unsigned long long>(m.events), m.projects, m.generate_s);
  // What `wharf serve` does on its first start: fold every projection.
  auto runner = projections::ProjectionRunner::open(projections::projections_dir(data.string()),
                                                    store->get());
  if (!runner) die(runner.error().message);
  const auto f0 = Clock::now();
  if (auto r = (*runner)->catch_up(); !r) die(r.error().message);
  m.first_fold_s = seconds_since(f0);
  std::fprintf(stderr, "projections folded in %.1f s\n", m.first_fold_s);
  runner->reset();
  (*store)->close();
  m.save(data / "bench-scale.manifest");
  return m;
}

// GET `target` once; the status, or 0 when nothing answers.
int get_status(uint16_t port, const std::string& target) {
  try {
    asio::io_context ioc;
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return static_cast<int>(res.result_int());
  } catch (const std::exception&) {
    return 0;
  }
}

// The port `wharf serve` logged it listens on, 0 while it has not.
uint16_t logged_port(const std::string& log) {
  std::ifstream in(log);
  const std::string marker = "HTTP API listening on http://127.0.0.1:";
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find(marker);
    // Only a whole line: one still being written would give a prefix of the port.
    if (at != std::string::npos && line.find("/api/v1", at) != std::string::npos) {
      return static_cast<uint16_t>(std::strtoul(line.c_str() + at + marker.size(), nullptr, 10));
    }
  }
  return 0;
}

// True once `log` holds a line with `marker`.
bool logged(const std::string& log, const std::string& marker) {
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(marker) != std::string::npos) return true;
  }
  return false;
}

struct Startup {
  double ready_s = -1;    // exec -> /readyz 200
  double runtime_s = -1;  // exec -> "engine runtime started" (process manager folded, recovered)
  double stop_s = -1;     // SIGTERM -> exit, after both
};

// `wharf serve` on `data`: seconds from exec to /readyz answering 200 on the
// port it logged (--port 0: a port picked in advance could be taken by
// another process, whose answer would pass for ours), to its process manager
// running (serve starts it beside the API), and from SIGTERM to its exit.
Startup serve_startup(const fs::path& data) {
  const std::string log = (data / "serve.log").string();
  // The previous start's log names its port: gone before the child writes.
  fs::remove(log);
  const pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    FILE* out = std::freopen(log.c_str(), "w", stderr);
    (void)out;
    const std::string d = data.string();
    execl(WHARF_BIN, WHARF_BIN, "serve", "--data", d.c_str(), "--listen", "127.0.0.1", "--port",
          "0", "--kafka-relay=false", "--ui-dir", "", static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto t0 = Clock::now();
  Startup s;
  uint16_t port = 0;
  while (seconds_since(t0) < 3600) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) die("wharf serve exited; see " + log);
    if (port == 0) port = logged_port(log);
    if (s.ready_s < 0 && port != 0 && get_status(port, "/readyz") == 200) {
      s.ready_s = seconds_since(t0);
    }
    if (s.runtime_s < 0 && logged(log, "engine runtime started")) s.runtime_s = seconds_since(t0);
    if (s.ready_s >= 0 && s.runtime_s >= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto stop0 = Clock::now();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  s.stop_s = seconds_since(stop0);
  if (s.ready_s < 0 || s.runtime_s < 0) die("wharf serve not ready in an hour; see " + log);
  return s;
}

struct Scan {
  uint64_t events = 0;
  uint64_t raw_bytes = 0;
  double events_per_s = 0;
};

// The baseline: every stored event read and decoded, nothing else.
Scan scan_log(const events::EventStore& store) {
  Scan s;
  const auto t0 = Clock::now();
  for (uint64_t next = 1;;) {
    auto batch = store.read_all(next, 4096);
    if (!batch || batch->empty()) break;
    for (const auto& e : *batch) s.raw_bytes += e.ByteSizeLong();
    s.events += batch->size();
    next = batch->back().position() + 1;
  }
  s.events_per_s = static_cast<double>(s.events) / seconds_since(t0);
  return s;
}

struct QueryKind {
  std::string name;
  std::vector<std::string> targets;
};

// Event appended -> SSE frame read by each of `subscribers` clients.
double sse_fanout_p99(uint16_t port, const std::string& token, events::EventStore& store,
                      size_t subscribers, size_t count, size_t* samples) {
  asio::io_context ioc;
  struct Sub {
    explicit Sub(asio::io_context& ioc) : socket(ioc) {}
    tcp::socket socket;
    std::array<char, 16384> chunk{};
    std::string buf;
    bool ready = false;
  };
  std::vector<std::unique_ptr<Sub>> subs;
  std::mutex mu;
  std::map<uint64_t, Clock::time_point> sent;
  std::vector<double> latencies;
  std::atomic<size_t> ready{0};
  const std::string req =
      "GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
      "\r\n\r\n";
  std::function<void(Sub&)> read = [&](Sub& s) {
    s.socket.async_read_some(asio::buffer(s.chunk), [&, sp = &s](beast::error_code ec, size_t n) {
      if (ec) return;
      const auto now = Clock::now();
      Sub& s2 = *sp;
      s2.buf.append(s2.chunk.data(), n);
      if (!s2.ready && s2.buf.find("retry:") != std::string::npos) {
        s2.ready = true;
        ++ready;
      }
      size_t at = 0;
      while ((at = s2.buf.find("id: ", at)) != std::string::npos) {
        const size_t nl = s2.buf.find('\n', at);
        if (nl == std::string::npos) break;
        const uint64_t id = std::strtoull(s2.buf.c_str() + at + 4, nullptr, 10);
        std::lock_guard lock(mu);
        auto it = sent.find(id);
        if (it != sent.end()) {
          latencies.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
        }
        at = nl;
      }
      // Keep only the unfinished last line: every complete one is counted.
      const size_t last_nl = s2.buf.rfind('\n');
      if (last_nl != std::string::npos) s2.buf.erase(0, last_nl + 1);
      read(s2);
    });
  };
  for (size_t i = 0; i < subscribers; ++i) {
    auto& s = *subs.emplace_back(std::make_unique<Sub>(ioc));
    s.socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    asio::write(s.socket, asio::buffer(req));
    read(s);
  }
  std::thread io([&] { ioc.run(); });
  const auto wait_until = Clock::now() + std::chrono::seconds(60);
  while (ready < subscribers && Clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (size_t i = 0; i < count; ++i) {
    v1::Payload p;
    p.mutable_deploy_progressed()->set_deploy_id("sse-bench");
    p.mutable_deploy_progressed()->set_percent(static_cast<uint32_t>(i % 100));
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    *e.mutable_payload() = p;
    std::unique_lock lock(mu);  // recorded before any reader can see it
    const auto t0 = Clock::now();
    auto r = store.append("sse-bench", events::ExpectedVersion::any(), {e});
    if (!r) die(r.error().message);
    sent[r->last_position] = t0;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto drain_until = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < drain_until) {
    {
      std::lock_guard lock(mu);
      if (latencies.size() >= subscribers * count) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& s : subs) {
    beast::error_code ec;
    s->socket.shutdown(tcp::socket::shutdown_both, ec);
  }
  ioc.stop();
  io.join();
  std::lock_guard lock(mu);
  *samples = latencies.size();
  if (latencies.size() < subscribers * count) {
    std::fprintf(stderr, "sse: only %zu of %zu frames arrived (%zu subscribers ready)\n",
                 latencies.size(), subscribers * count, ready.load());
  }
  return bench::percentile(latencies, 0.99);
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}
bool flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == name) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  const uint64_t events = std::stoull(arg(argc, argv, "--events", "10000000"));
  const fs::path data =
      arg(argc, argv, "--data", (fs::temp_directory_path() / "wharf-bench-scale").string());
  const auto seconds = std::chrono::seconds(std::stoi(arg(argc, argv, "--seconds", "3")));
  const size_t connections = std::stoul(arg(argc, argv, "--connections", "64"));
  const size_t subscribers = std::stoul(arg(argc, argv, "--subscribers", "1000"));
  const bool reuse = flag(argc, argv, "--reuse");
  const bool keep = flag(argc, argv, "--keep") || reuse;

  Manifest m;
  if (!reuse || !m.load(data / "bench-scale.manifest")) m = generate(data, events);
  const uint64_t log_bytes = dir_bytes(data / "events");
  const uint64_t projection_bytes = dir_bytes(projections::projections_dir(data.string()));

  // Two starts: the first on freshly generated data has no state snapshots
  // yet (events/state_snapshot.h) and folds the whole log; its clean stop
  // writes them, and the second - the start-up of a server that ran before,
  // as every restart is - folds only what came after them.
  Startup first, second;  // -1: not measured (--skip-startup)
  if (!flag(argc, argv, "--skip-startup")) {
    for (Startup* s : {&first, &second}) {
      *s = serve_startup(data);
      std::fprintf(stderr,
                   "wharf serve ready in %.2f s, process manager running in %.2f s, stopped in "
                   "%.2f s%s\n",
                   s->ready_s, s->runtime_s, s->stop_s, s == &first ? " (first start)" : "");
    }
  }
  const double first_startup_s = first.ready_s, startup_s = second.ready_s;

  events::StoreOptions options;
  options.sync = false;
  auto store = events::EventStore::open((data / "events").string(), options);
  if (!store) die(store.error().message);
  // The process manager's snapshot, as the second start read it.
  const auto pm_snapshot = (*store)->get_meta(events::snapshot_key(runtime::kProcessSnapshotName));
  const size_t pm_snapshot_bytes = pm_snapshot ? pm_snapshot->size() : 0;
  if (wharf::v1::StateSnapshot outer; pm_snapshot && outer.ParseFromString(*pm_snapshot)) {
    // Where its bytes are: what still grows with history shows here.
    wharf::v1::ProcessStateSnapshot state;
    if (state.ParseFromString(outer.state())) {
      size_t runs = 0, failed = 0, failed_bytes = 0, envs = 0, projects = 0, access = 0;
      for (const auto& r : state.runs()) {
        runs += r.ByteSizeLong();
        if (r.status() == static_cast<int32_t>(engine::RunStatus::kFailed)) {
          ++failed;
          failed_bytes += r.ByteSizeLong();
        }
      }
      for (const auto& e : state.environments()) envs += e.ByteSizeLong();
      for (const auto& p : state.projects()) projects += p.ByteSizeLong();
      for (const auto& a : state.accesses()) access += a.ByteSizeLong();
      std::fprintf(stderr,
                   "process manager snapshot (schema %u): %zu bytes: %d runs %zu B (%zu failed, "
                   "%zu B), %d environments %zu B, projects %zu B, access %zu B, %d cancelled "
                   "run ids\n",
                   outer.schema(), pm_snapshot->size(), state.runs_size(), runs, failed,
                   failed_bytes, state.environments_size(), envs, projects, access,
                   state.cancelled_runs_size());
    }
  }
  const Scan scan = scan_log(**store);
  std::fprintf(stderr, "baseline scan + decode: %.0f events/s, %.1f raw B/event\n",
               scan.events_per_s,
               static_cast<double>(scan.raw_bytes) / static_cast<double>(scan.events));

  auto runner = projections::ProjectionRunner::open(projections::projections_dir(data.string()),
                                                    store->get());
  if (!runner) die(runner.error().message);
  if (auto r = (*runner)->catch_up(); !r) die(r.error().message);
  // Where the projections' bytes are (SST files per column family).
  for (const auto& name : projections::projection_names()) {
    uint64_t bytes = 0;
    (*runner)->db().db()->GetIntProperty((*runner)->db().cf(name), "rocksdb.total-sst-files-size",
                                         &bytes);
    std::fprintf(stderr, "  projection %-12s %7.1f B/event on disk\n", name.c_str(),
                 static_cast<double>(bytes) / static_cast<double>(scan.events));
  }
  double rebuild_eps = 0, rebuild_cpu = 0;
  bool digests_equal = false;
  if (!flag(argc, argv, "--skip-rebuild")) {
    const fs::path dir = data / "rebuild";
    fs::remove_all(dir);
    auto fresh = projections::ProjectionRunner::open(dir.string(), store->get());
    if (!fresh) die(fresh.error().message);
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    auto reached = (*fresh)->rebuild({});
    if (!reached) die(reached.error().message);
    rebuild_eps = static_cast<double>(*reached) / seconds_since(t0);
    rebuild_cpu = static_cast<double>(*reached) / (cpu_seconds() - c0);
    // The live projections are at the head too (the SSE and token events
    // come later): both must hold the same state.
    digests_equal = *(*fresh)->digests() == *(*runner)->digests();
    fresh->reset();
    fs::remove_all(dir);
    std::fprintf(stderr, "rebuild: %.0f events/s (%.0f per CPU-s), digests equal: %s\n",
                 rebuild_eps, rebuild_cpu, digests_equal ? "yes" : "NO");
  }
  if (auto r = (*runner)->start(); !r) die(r.error().message);

  projections::Queries queries(**runner);
  runtime::SystemClock clock;
  runtime::CommandBus bus(**store, clock, 1);  // the project routes come with the commands
  api::Services services(**store);
  services.queries = &queries;
  services.commands = &bus;
  api::ServerConfig config;
  config.port = 0;
  config.threads = std::max(1u, std::thread::hardware_concurrency());
  config.response_cache_entries = 0;  // measure the queries, not the cache
  api::Server server(config, services);
  server.start();
  // Requests wait for the access index: measure from when /readyz says so.
  const auto ready_t0 = Clock::now();
  while (get_status(server.port(), "/readyz") != 200) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "in-process server ready in %.2f s\n", seconds_since(ready_t0));

  // The queries, over sampled projects and runs.
  const uint64_t head = (*store)->head_position();
  const int64_t year = 365LL * 86'400 * 1'000'000;
  const std::string to = projections::format_rfc3339(m.end_us);
  const std::string from = projections::format_rfc3339(m.end_us - year);
  std::mt19937 rng(3);
  auto pick = [&] { return m.samples[rng() % m.samples.size()]; };
  std::vector<QueryKind> kinds = {
      {"projects", {"/api/v1/projects"}},
      {"runs_page_1", {}},
      {"runs_page_deep", {}},
      {"run", {}},
      {"versions", {}},
      {"environments", {}},
      {"environment_history", {}},
      {"time_travel_env", {}},
      {"audit_actor", {}},
      {"audit_type", {"/api/v1/audit?type=RollbackRequested&limit=50"}},
      {"audit_time", {}},
      {"audit_text", {"/api/v1/audit?text=timeout&limit=50"}},
      {"landscape", {"/api/v1/landscape"}},
      {"insights_one_project", {}},
      {"insights_all_projects", {"/api/v1/insights?from=" + from + "&to=" + to + "&bucket=week"}},
  };
  for (int i = 0; i < 64; ++i) {
    const auto s = pick();
    const std::string p = "/api/v1/projects/" + s.project;
    kinds[1].targets.push_back(p + "/runs?limit=20");
    kinds[2].targets.push_back(p + "/runs?limit=20&before=" + std::to_string(head / 3));
    kinds[3].targets.push_back(p + "/runs/" + s.run);
    kinds[4].targets.push_back(p + "/versions");
    kinds[5].targets.push_back(p + "/environments");
    kinds[6].targets.push_back(p + "/environments/prod/history");
    kinds[7].targets.push_back(p + "/environments/prod?at=" + std::to_string(head / 3));
    kinds[8].targets.push_back("/api/v1/audit?actor=eng" + std::to_string(rng() % 500) +
                               "&limit=50");
    const int64_t t = m.end_us - static_cast<int64_t>(rng() % 3) * year - 86'400'000'000LL;
    kinds[10].targets.push_back("/api/v1/audit?from_time=" + projections::format_rfc3339(t) +
                                "&to_time=" + projections::format_rfc3339(t + 3'600'000'000LL) +
                                "&limit=50");
    kinds[13].targets.push_back("/api/v1/insights?project=" + s.project + "&from=" + from +
                                "&to=" + to + "&bucket=week");
  }
  std::map<std::string, std::pair<double, double>> p50_p99;
  std::map<std::string, double> alone_p50;  // one connection: the work of one answer
  size_t errors = 0;
  for (const auto& k : kinds) {
    auto one = bench::Load(server.port(), 1, k.targets, m.token).run(std::chrono::seconds(1));
    auto r = bench::Load(server.port(), connections, k.targets, m.token).run(seconds);
    p50_p99[k.name] = {r.p50_ms, r.p99_ms};
    alone_p50[k.name] = one.p50_ms;
    errors += r.errors + one.errors;
    std::fprintf(stderr,
                 "  %-22s %6zu requests, p50 %8.2f ms, p99 %8.2f ms, %7.0f B, errors %zu; one "
                 "connection p50 %.2f ms\n",
                 k.name.c_str(), r.latencies.size(), r.p50_ms, r.p99_ms, r.mean_body, r.errors,
                 one.p50_ms);
  }

  size_t sse_samples = 0;
  const double sse_p99 =
      sse_fanout_p99(server.port(), m.token, **store, subscribers, 20, &sse_samples);
  std::fprintf(stderr, "sse: %zu subscribers, %zu frames, event -> client p99 %.2f ms\n",
               subscribers, sse_samples, sse_p99);
  server.stop();
  bus.stop();
  (*runner)->stop();
  runner->reset();
  (*store)->close();
  if (!keep) fs::remove_all(data);

  const double n = static_cast<double>(scan.events);
  std::string query_json = "{";
  double max_p99 = 0;
  for (const auto& [name, v] : p50_p99) {
    if (query_json.size() > 1) query_json += ',';
    char buf[128];
    std::snprintf(buf, sizeof buf, "\"%s\":%.2f", name.c_str(), v.second);
    query_json += buf;
    max_p99 = std::max(max_p99, v.second);
  }
  query_json += "}";
  std::string p50_json = "{";
  for (const auto& [name, v] : p50_p99) {
    if (p50_json.size() > 1) p50_json += ',';
    char buf[128];
    std::snprintf(buf, sizeof buf, "\"%s\":%.2f", name.c_str(), v.first);
    p50_json += buf;
  }
  p50_json += "}";
  std::string alone_json = "{";
  for (const auto& [name, v] : alone_p50) {
    if (alone_json.size() > 1) alone_json += ',';
    char buf[128];
    std::snprintf(buf, sizeof buf, "\"%s\":%.2f", name.c_str(), v);
    alone_json += buf;
  }
  alone_json += "}";
  std::printf(
      "{\"bench\":\"bench_scale\",\"events\":%llu,\"projects\":%u,\"raw_bytes_per_event\":%.1f,"
      "\"log_bytes_per_event\":%.1f,\"projection_bytes_per_event\":%.1f,\"bytes_per_event\":%.1f,"
      "\"disk_ratio\":%.3f,\"generate_s\":%.1f,\"first_fold_s\":%.1f,\"first_startup_s\":%.2f,"
      "\"startup_s\":%.2f,\"first_runtime_s\":%.2f,\"runtime_s\":%.2f,\"first_stop_s\":%.2f,"
      "\"stop_s\":%.2f,\"process_snapshot_bytes\":%zu,"
      "\"scan_events_per_s\":%.0f,\"rebuild_events_per_s\":%.0f,\"rebuild_events_per_cpu_s\":%."
      "0f,\"rebuild_ratio\":%.3f,\"digests_equal\":%s,\"connections\":%zu,\"query_p50_ms\":%s,"
      "\"query_one_connection_p50_ms\":%s,\"query_p99_ms\":%s,\"query_p99_ms_max\":%.2f,\"query_"
      "errors\":%zu,\"insights_p99_ms\":%."
      "2f,\"sse_subscribers\":%zu,\"sse_p99_ms\":%.2f}\n",
      static_cast<unsigned long long>(scan.events), m.projects,
      static_cast<double>(scan.raw_bytes) / n, static_cast<double>(log_bytes) / n,
      static_cast<double>(projection_bytes) / n,
      static_cast<double>(log_bytes + projection_bytes) / n,
      static_cast<double>(log_bytes + projection_bytes) / static_cast<double>(scan.raw_bytes),
      m.generate_s, m.first_fold_s, first_startup_s, startup_s, first.runtime_s, second.runtime_s,
      first.stop_s, second.stop_s, pm_snapshot_bytes, scan.events_per_s, rebuild_eps, rebuild_cpu,
      rebuild_eps / scan.events_per_s, digests_equal ? "true" : "false", connections,
      p50_json.c_str(), alone_json.c_str(), query_json.c_str(), max_p99, errors,
      std::max(p50_p99["insights_one_project"].second, p50_p99["insights_all_projects"].second),
      subscribers, sse_p99);
  return errors == 0 ? 0 : 1;
}
