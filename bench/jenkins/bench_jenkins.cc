// bench_jenkins: N builds (default 200, WHARF_BENCH_RUNS) through the Jenkins
// build runner against tests/peers/jenkins, one after another, vs a bare
// client making the same HTTP calls (job lookup, queue lookup, trigger, queue
// item until started, console + build info until done, artifact) with the
// same poll period in the same run. Prints both and a final JSON line; ratio
// = ours / baseline; overhead_ms_per_run = what the runner adds per build.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "adapters/http/http_client.h"
#include "adapters/jenkins/build_runner.h"
#include "tests/peers/python_peer.h"
#include "tests/test_paths.h"

namespace {
using namespace wharf;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr int kPollMs = 5;

http_client::Response call(const std::string& root, const std::string& method,
                           const std::string& path, const std::string& auth) {
  http_client::Request req;
  req.method = method;
  req.url = root + path;
  req.headers = {{"Authorization", auth}, {"Jenkins-Crumb", "c0ffee-crumb"}};
  auto r = http_client::send(req);
  if (!r) throw std::runtime_error(r.error());
  return *r;
}

// The same calls the runner makes, with no bookkeeping around them.
void bare_build(const std::string& root, const std::string& auth, const std::string& key) {
  call(root, "GET", "/job/bench/api/json", auth);
  call(root, "GET", "/queue/api/json", auth);
  auto t = call(
      root, "POST",
      "/job/bench/buildWithParameters?PEER_LINES=1&WHARF_RUN_ID=" + jenkins::url_encode(key), auth);
  auto id = jenkins::queue_id_of(t.header("Location"));
  if (!id) throw std::runtime_error("no queue item");
  uint64_t number = 0;
  while (number == 0) {
    auto item = jenkins::parse_queue_item(
        call(root, "GET", "/queue/item/" + std::to_string(*id) + "/api/json", auth).body);
    if (item && item->state == jenkins::QueueItem::State::kStarted) number = item->build_number;
    if (number == 0) std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
  const std::string build = "/job/bench/" + std::to_string(number);
  uint64_t offset = 0;
  for (;;) {
    auto text =
        call(root, "GET", build + "/logText/progressiveText?start=" + std::to_string(offset), auth);
    auto p = jenkins::parse_progressive(text.header("X-Text-Size"), text.header("X-More-Data"),
                                        offset, text.body.size());
    offset = p.next_offset;
    auto info = jenkins::parse_build_info(call(root, "GET", build + "/api/json", auth).body);
    if (info && !info->building && !info->result.empty() && !p.more) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
  call(root, "GET", build + "/artifact/image.json", auth);
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  const int runs =
      std::getenv("WHARF_BENCH_RUNS") ? std::atoi(std::getenv("WHARF_BENCH_RUNS")) : 200;
  testing::PythonPeer peer(WHARF_JENKINS_PEER, {"--user", "bench", "--token", "t", "--step",
                                                "0.005", "--queue-s", "0", "--executors", "64"});
  http_client::Request create;
  create.method = "POST";
  create.url = peer.url() + "/peer/jobs";
  create.body = R"({"path":"bench"})";
  (void)http_client::send(create);
  const auto data =
      std::filesystem::temp_directory_path() / ("wharf-bench-jenkins-" + std::to_string(getpid()));
  jenkins::ServerConfig server;
  server.url = peer.url();
  server.user = "bench";
  server.token = "t";

  const auto ours_start = Clock::now();
  int ok = 0;
  {
    jenkins::JenkinsBuildRunner runner(data, server);
    for (int i = 0; i < runs; ++i) {
      engine::BuildJob job;
      job.run_id = "bench-" + std::to_string(i);
      job.project_id = "bench";
      job.attempt = 1;
      job.step.set_runner(wharf::v1::BUILD_RUNNER_TYPE_JENKINS);
      job.step.mutable_jenkins()->set_job("bench");
      job.step.mutable_jenkins()->set_poll_interval_ms(kPollMs);
      (*job.step.mutable_jenkins()->mutable_parameters())["PEER_LINES"] = "1";
      std::promise<engine::BuildOutcome> done;
      runner.start(job, {nullptr, [&](const engine::BuildOutcome& o) { done.set_value(o); }});
      if (done.get_future().get().succeeded) ++ok;
    }
  }
  const double ours_s = std::chrono::duration<double>(Clock::now() - ours_start).count();

  const std::string auth = http_client::basic_auth("bench", "t");
  const auto base_start = Clock::now();
  for (int i = 0; i < runs; ++i) bare_build(peer.url(), auth, "bare-" + std::to_string(i) + "#1");
  const double base_s = std::chrono::duration<double>(Clock::now() - base_start).count();
  std::filesystem::remove_all(data);

  const double overhead_ms = (ours_s - base_s) * 1000.0 / runs;
  std::printf("ours:     %d builds (%d succeeded) in %.2f s = %.1f runs/s\n", runs, ok, ours_s,
              runs / ours_s);
  std::printf("baseline: %d bare-client builds in %.2f s = %.1f runs/s\n", runs, base_s,
              runs / base_s);
  std::printf("overhead beyond the peer's own time: %.2f ms per run\n", overhead_ms);
  std::printf(
      "{\"bench\":\"jenkins\",\"runs\":%d,\"succeeded\":%d,\"ours_runs_per_s\":%.2f,"
      "\"baseline_runs_per_s\":%.2f,\"overhead_ms_per_run\":%.2f,\"ratio\":%.3f}\n",
      runs, ok, runs / ours_s, runs / base_s, overhead_ms, ours_s / base_s);
  return ok == runs ? 0 : 1;
}
