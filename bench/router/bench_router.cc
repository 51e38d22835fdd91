// bench_router: the local canary router (adapters/router) under keep-alive
// load vs the same in-process service called directly, in the same run.
// Rounds alternate (direct, router) so both sides see the same machine; each
// side's best round counts. The router splits 10% to a second instance of
// the service and checks a header rule, as a canary step does.
// When nginx is installed (or WHARF_BENCH_NGINX names it), the same rounds
// also go through nginx as a reference proxy in front of the same service
// (keep-alive upstream, no logs, a worker per core): how far a mature
// proxy gets on this machine says what the ratio goal can be here.
//   WHARF_BENCH_CLIENTS (4), WHARF_BENCH_SECONDS per round (2), WHARF_BENCH_ROUNDS (3)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapters/router/traffic_router.h"
#include "tests/router/test_service.h"

using namespace wharf::router;
using Clock = std::chrono::steady_clock;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

struct Round {
  double rps = 0;
  double p99_us = 0;
  double p50_us = 0;
};

Round run(uint16_t port, int clients, double seconds) {
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  const auto duration = std::chrono::duration<double>(seconds);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      testing::Client client(port);
      client.get();  // connect outside the clock
      while (!go.load()) std::this_thread::yield();
      const auto end = Clock::now() + duration;
      for (auto t = Clock::now(); t < end;) {
        client.get();
        auto after = Clock::now();
        latencies[c].push_back(std::chrono::duration<double, std::micro>(after - t).count());
        t = after;
      }
    });
  }
  auto start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  Round r;
  r.rps = all.size() / elapsed;
  r.p99_us = all.empty() ? 0 : all[static_cast<size_t>(all.size() * 0.99)];
  r.p50_us = all.empty() ? 0 : all[all.size() / 2];
  return r;
}

// nginx as a child process proxying to `upstream`; stopped on destruction.
class ReferenceProxy {
 public:
  static std::optional<ReferenceProxy> start(uint16_t upstream) {
    const char* configured = std::getenv("WHARF_BENCH_NGINX");
    std::string binary = configured ? configured : "/usr/sbin/nginx";
    if (binary.empty() || !std::filesystem::exists(binary)) return std::nullopt;
    ReferenceProxy p;
    p.dir_ =
        std::filesystem::temp_directory_path() / ("wharf-bench-nginx-" + std::to_string(getpid()));
    std::filesystem::create_directories(p.dir_);
    p.port_ = static_cast<uint16_t>(20000 + getpid() % 20000);
    std::ofstream(p.dir_ / "nginx.conf")
        << "daemon off; worker_processes auto; pid "
        << (p.dir_ / "nginx.pid").string() << ";\nerror_log " << (p.dir_ / "error.log").string()
        << ";\nevents { worker_connections 1024; }\nhttp { access_log off;\n"
        << "client_body_temp_path " << p.dir_.string() << "; proxy_temp_path " << p.dir_.string()
        << ";\nupstream svc { server 127.0.0.1:" << upstream << "; keepalive 16; }\n"
        << "server { listen 127.0.0.1:" << p.port_ << "; location / { proxy_pass http://svc; "
        << "proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }\n";
    p.pid_ = fork();
    if (p.pid_ == 0) {
      std::string conf = (p.dir_ / "nginx.conf").string();
      execl(binary.c_str(), binary.c_str(), "-c", conf.c_str(), "-p", p.dir_.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {  // until it answers
      try {
        testing::Client(p.port_).get();
        return p;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    std::fprintf(stderr, "nginx did not start (see %s)\n", (p.dir_ / "error.log").c_str());
    return std::nullopt;
  }
  ReferenceProxy(ReferenceProxy&& o) noexcept : dir_(o.dir_), port_(o.port_), pid_(o.pid_) {
    o.pid_ = -1;
  }
  ~ReferenceProxy() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  uint16_t port() const { return port_; }

 private:
  ReferenceProxy() = default;
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace

int main() {
  const int clients = env_int("WHARF_BENCH_CLIENTS", 4);
  const double seconds = env_int("WHARF_BENCH_SECONDS", 2);
  const int rounds = env_int("WHARF_BENCH_ROUNDS", 3);
  testing::TestService stable("stable");
  testing::TestService canary("canary");
  auto router = TrafficRouter::start("127.0.0.1", 0);
  if (!router) {
    std::fprintf(stderr, "%s\n", router.error().c_str());
    return 1;
  }
  Routes routes;
  routes.stable = Upstream{"127.0.0.1", stable.port()};
  routes.canary = Upstream{"127.0.0.1", canary.port()};
  routes.weight = 10;
  routes.match.set_header("X-Canary");
  (*router)->set_routes(routes);

  auto nginx = ReferenceProxy::start(stable.port());
  Round direct{}, routed{}, reference{};
  for (int i = 0; i < rounds; ++i) {
    Round d = run(stable.port(), clients, seconds);
    Round r = run((*router)->port(), clients, seconds);
    std::printf("round %d: direct %.0f req/s p99 %.0f us | router %.0f req/s p99 %.0f us", i + 1,
                d.rps, d.p99_us, r.rps, r.p99_us);
    if (nginx) {
      Round n = run(nginx->port(), clients, seconds);
      std::printf(" | nginx %.0f req/s p99 %.0f us", n.rps, n.p99_us);
      if (n.rps > reference.rps) reference = n;
    }
    std::printf("\n");
    if (d.rps > direct.rps) direct = d;
    if (r.rps > routed.rps) routed = r;
  }
  const double ratio = routed.rps / direct.rps;
  const double overhead_us = routed.p99_us - direct.p99_us;
  std::printf("direct: %.0f req/s, p50 %.0f us, p99 %.0f us\n", direct.rps, direct.p50_us,
              direct.p99_us);
  std::printf("router: %.0f req/s, p50 %.0f us, p99 %.0f us (goal: ratio >= 0.7, p99 +< 1000 us)\n",
              routed.rps, routed.p50_us, routed.p99_us);
  std::string reference_json;
  if (nginx) {
    std::printf("nginx:  %.0f req/s, p50 %.0f us, p99 %.0f us (reference proxy, same service)\n",
                reference.rps, reference.p50_us, reference.p99_us);
    char buf[160];
    std::snprintf(buf, sizeof buf, ",\"nginx_rps\":%.0f,\"nginx_ratio\":%.3f,\"nginx_p99_us\":%.0f",
                  reference.rps, reference.rps / direct.rps, reference.p99_us);
    reference_json = buf;
  }
  std::printf(
      "{\"bench\":\"router\",\"clients\":%d,\"direct_rps\":%.0f,\"router_rps\":%.0f,\"ratio\":%.3f,"
      "\"direct_p99_us\":%.0f,\"router_p99_us\":%.0f,\"p99_overhead_us\":%.0f%s}\n",
      clients, direct.rps, routed.rps, ratio, direct.p99_us, routed.p99_us, overhead_us,
      reference_json.c_str());
  return 0;
}
