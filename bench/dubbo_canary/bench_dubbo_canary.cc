// bench_dubbo_canary: how long a Dubbo canary step takes to show in the calls.
// Real peers (tests/dubbo/dubbo_peers.h: ZooKeeper 3.9.5, a stable and a
// canary Dubbo 3.3.6 provider, a consumer) in a network namespace; wharf's
// DubboCanaryTarget on the real ZooKeeper client. Each of WHARF_BENCH_STEPS
// (default 20) steps alternates 25% and 75%: the time from set() (the
// process manager's reaction to CanaryStepReached) until the first window of
// 40 consumer calls on the new side of 50%. Baseline in the same run:
// ZooKeeper's own write-to-watch latency (a zoo_set seen by a data watch of
// another session), 20 times. Needs root and tests/peers/dubbo/fetch.
// Last line: JSON with p50_ms, p99_ms, zk_watch_p99_ms, ratio (p99 / zk p99).
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "adapters/dubbo/canary_target.h"
#include "tests/dubbo/dubbo_peers.h"
#include "tests/targets/test_targets.h"

namespace {

using namespace wharf;
using namespace wharf::dubbo::testing;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

struct Watch {
  std::mutex mutex;
  std::condition_variable fired;
  bool seen = false;
};

void on_watch(zhandle_t*, int type, int, const char*, void* ctx) {
  if (type != ZOO_CHANGED_EVENT) return;
  auto* w = static_cast<Watch*>(ctx);
  std::lock_guard lock(w->mutex);
  w->seen = true;
  w->fired.notify_all();
}

zhandle_t* connect(const std::string& zk) {
  zhandle_t* h = zookeeper_init(zk.c_str(), nullptr, 10000, nullptr, nullptr, 0);
  for (int i = 0; i < 100 && h != nullptr && zoo_state(h) != ZOO_CONNECTED_STATE; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  return h;
}

// ZooKeeper's write-to-watch latency: `n` zoo_sets by one session, each seen
// by a data watch another session set.
std::vector<double> zk_watch_latencies(const std::string& zk, int n) {
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  zhandle_t* writer = connect(zk);
  zhandle_t* reader = connect(zk);
  std::vector<double> out;
  if (writer == nullptr || reader == nullptr) return out;
  const char* path = "/wharf-bench-watch";
  zoo_create(writer, path, "0", 1, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
  for (int i = 0; i < n; ++i) {
    Watch w;
    char buf[64];
    int len = sizeof buf;
    if (zoo_wget(reader, path, on_watch, &w, buf, &len, nullptr) != ZOK) break;
    const std::string value = std::to_string(i);
    const auto t0 = Clock::now();
    if (zoo_set(writer, path, value.data(), static_cast<int>(value.size()), -1) != ZOK) break;
    std::unique_lock lock(w.mutex);
    if (!w.fired.wait_for(lock, 5s, [&] { return w.seen; })) break;
    out.push_back(ms_since(t0));
  }
  zoo_delete(writer, path, -1);
  zookeeper_close(reader);
  zookeeper_close(writer);
  return out;
}

int run() {
  const int steps =
      std::getenv("WHARF_BENCH_STEPS") ? std::atoi(std::getenv("WHARF_BENCH_STEPS")) : 20;
  const fs::path dir =
      fs::temp_directory_path() / ("wharf-bench-dubbo-" + std::to_string(::getpid()));
  DubboPeers peers(dir);
  peers.start_provider("stable", 20880, false);
  peers.start_provider("canary", 20881, true);
  if (!peers.until_split([](const Split& s) { return s.canary > 0 && s.stable > 0; }, 90s, 20)) {
    std::fprintf(stderr, "bench_dubbo_canary: the consumer never saw both providers\n%s\n",
                 peers.log_tail("consumer").c_str());
    return 1;
  }
  // The config center as a registered target (open: no credential).
  targets::testing::TestTargets registry;
  registry.zookeeper("zk", "zookeeper://" + peers.zookeeper(), {});
  dubbo::DubboTargetOptions options;
  options.targets = &registry;
  dubbo::DubboCanaryTarget target(
      nullptr,
      [](const engine::RecordDubboRule&, const std::string&) -> Expected<void, std::string> {
        return {};
      },
      options);
  engine::CanaryTraffic t;
  t.canary_id = "c-bench";
  t.project_id = "bench";
  t.environment = "prod";
  t.strategy.set_mode("dubbo");
  (*t.spec.mutable_target_settings())["dubbo_config_center"] = "zk";
  (*t.spec.mutable_target_settings())["dubbo_interface"] = "demo.Greeter";

  std::vector<double> latencies;
  for (int i = 0; i < steps; ++i) {
    const bool high = i % 2 == 0;
    t.phase = engine::CanaryTraffic::Phase::kStep;
    t.step = static_cast<uint32_t>(i);
    t.weight = high ? 75 : 25;
    const auto t0 = Clock::now();
    target.set(t, [](const engine::CanaryVerdict& v) {
      std::fprintf(stderr, "bench_dubbo_canary: step aborted: %s\n", v.reason.c_str());
    });
    const bool seen = peers.until_split(
        [&](const Split& s) { return high ? s.canary_share() > 0.5 : s.canary_share() < 0.5; }, 10s,
        40);
    if (!seen) {
      std::fprintf(stderr, "bench_dubbo_canary: step %d never showed in 10 s\n", i);
      return 1;
    }
    latencies.push_back(ms_since(t0));
    std::printf("step %2d at %2u%%: %.1f ms\n", i, t.weight, latencies.back());
  }
  t.phase = engine::CanaryTraffic::Phase::kAborted;
  target.set(t, [](const engine::CanaryVerdict&) {});
  target.wait_idle(Clock::now() + 30s);

  const auto zk = zk_watch_latencies(peers.zookeeper(), 20);
  const double p50 = percentile(latencies, 0.5), p99 = percentile(latencies, 0.99);
  const double zk99 = percentile(zk, 0.99);
  std::printf(
      "{\"bench\":\"dubbo_canary\",\"steps\":%zu,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
      "\"zk_watch_p50_ms\":%.2f,\"zk_watch_p99_ms\":%.2f,\"ratio\":%.1f,\"window_calls\":40}\n",
      latencies.size(), p50, p99, percentile(zk, 0.5), zk99, zk99 > 0 ? p99 / zk99 : 0.0);
  return 0;
}

}  // namespace

int main() {
  try {
    enter_namespace();  // before any thread
    const int rc = run();
    leave_namespace();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_dubbo_canary: %s\n", e.what());
    leave_namespace();
    return 1;
  }
}
