// bench_router: the local canary router (adapters/router) under keep-alive
// load vs the same in-process service called directly, in the same run.
// Rounds alternate (direct, router) so both sides see the same machine; each
// side's best round counts. The router splits 10% to a second instance of
// the service and checks a header rule, as a canary step does.
//   WHARF_BENCH_CLIENTS (4), WHARF_BENCH_SECONDS per round (2), WHARF_BENCH_ROUNDS (3)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

  Round direct{}, routed{};
  for (int i = 0; i < rounds; ++i) {
    Round d = run(stable.port(), clients, seconds);
    Round r = run((*router)->port(), clients, seconds);
    std::printf("round %d: direct %.0f req/s p99 %.0f us | router %.0f req/s p99 %.0f us\n", i + 1,
                d.rps, d.p99_us, r.rps, r.p99_us);
    if (d.rps > direct.rps) direct = d;
    if (r.rps > routed.rps) routed = r;
  }
  const double ratio = routed.rps / direct.rps;
  const double overhead_us = routed.p99_us - direct.p99_us;
  std::printf("direct: %.0f req/s, p50 %.0f us, p99 %.0f us\n", direct.rps, direct.p50_us,
              direct.p99_us);
  std::printf("router: %.0f req/s, p50 %.0f us, p99 %.0f us (goal: ratio >= 0.7, p99 +< 1000 us)\n",
              routed.rps, routed.p50_us, routed.p99_us);
  std::printf(
      "{\"bench\":\"router\",\"clients\":%d,\"direct_rps\":%.0f,\"router_rps\":%.0f,\"ratio\":%.3f,"
      "\"direct_p99_us\":%.0f,\"router_p99_us\":%.0f,\"p99_overhead_us\":%.0f}\n",
      clients, direct.rps, routed.rps, ratio, direct.p99_us, routed.p99_us, overhead_us);
  return 0;
}
