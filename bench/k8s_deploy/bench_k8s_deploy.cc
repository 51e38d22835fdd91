// bench_k8s_deploy: N deploys (default 50, WHARF_BENCH_RUNS) of a new image to
// a 2-replica Deployment on a real control plane (tests/peers/kubernetes-real:
// kube-apiserver v1.37.2, controllers, kwok), one after another, each timed
// from KubernetesDeployTarget::start (what DeployRequested triggers) to its
// outcome (DeploySucceeded) with the production settings (watch, 1 s poll
// fallback); alternating with the same strategic-merge PATCH sent directly
// followed by `kubectl rollout status` (built from the same release) until it
// exits. Prints both and a final JSON line; ratio = wharf p99 / kubectl p99.
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include "adapters/kubernetes/deploy_target.h"
#include "adapters/kubernetes/rollout.h"
#include "tests/peers/kubernetes_cluster.h"
#include "tests/targets/test_targets.h"

namespace {
using namespace wharf;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

int run_process(std::vector<std::string> argv) {
  std::vector<char*> c;
  for (auto& a : argv) c.push_back(a.data());
  c.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execv(c[0], c.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  const int runs =
      std::getenv("WHARF_BENCH_RUNS") ? std::atoi(std::getenv("WHARF_BENCH_RUNS")) : 50;
  const auto& cluster = testing::kubernetes_cluster();
  cluster.create_deployment("bench", "registry.example/bench:0", {.replicas = 2});
  targets::testing::TestTargets clusters;
  cluster.connect(clusters, "k8s");
  // Production settings: watch + 1 s poll fallback.
  kubernetes::KubernetesDeployTarget target(clusters);
  const std::string kubectl = cluster.bin_dir() + "/kubectl";

  std::vector<double> ours, theirs;
  for (int i = 1; i <= runs; ++i) {
    // wharf
    engine::DeployJob job;
    job.deploy_id = "bench-" + std::to_string(i);
    job.project_id = "bench";
    job.environment = "prod";
    job.attempt = 1;
    job.spec.set_version("w" + std::to_string(i));
    job.spec.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
    job.spec.set_target_ref("k8s");
    auto& s = *job.spec.mutable_target_settings();
    s["deployment"] = "bench";
    s["container"] = "app";
    s["image"] = "registry.example/bench:{version}";
    auto done = std::make_shared<std::promise<engine::DeployOutcome>>();
    const auto t0 = Clock::now();
    target.start(job, {[](const engine::StepProgress&) {},
                       [done](const engine::DeployOutcome& o) { done->set_value(o); }});
    auto outcome = done->get_future().get();
    ours.push_back(ms_since(t0));
    if (!outcome.succeeded) {
      std::fprintf(stderr, "deploy %d failed: %s\n", i, outcome.reason.c_str());
      return 1;
    }

    // The same PATCH, then kubectl rollout status.
    kubernetes::PatchInput patch{"app",
                                 "registry.example/bench:k" + std::to_string(i),
                                 "kubectl-" + std::to_string(i),
                                 "k" + std::to_string(i),
                                 0,
                                 {}};
    const auto t1 = Clock::now();
    auto r = cluster.admin("PATCH", testing::KubernetesCluster::deployment_path("bench"),
                           kubernetes::strategic_merge_patch(patch),
                           "application/strategic-merge-patch+json");
    if (r.status != 200) {
      std::fprintf(stderr, "PATCH: HTTP %d %s\n", r.status, r.body.c_str());
      return 1;
    }
    const int rc = run_process({kubectl, "--kubeconfig", cluster.kubeconfig(), "rollout", "status",
                                "deployment/bench", "--timeout=60s"});
    theirs.push_back(ms_since(t1));
    if (rc != 0) {
      std::fprintf(stderr, "kubectl rollout status exited %d\n", rc);
      return 1;
    }
  }
  const double p50 = percentile(ours, 0.5), p99 = percentile(ours, 0.99);
  const double k50 = percentile(theirs, 0.5), k99 = percentile(theirs, 0.99);
  std::printf("wharf   deploy → succeeded: p50 %.1f ms, p99 %.1f ms (%d deploys)\n", p50, p99,
              runs);
  std::printf("kubectl patch → rollout status: p50 %.1f ms, p99 %.1f ms\n", k50, k99);
  std::printf(
      "{\"bench\":\"k8s_deploy\",\"runs\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f,\"kubectl_p50_ms\":%."
      "1f,"
      "\"kubectl_p99_ms\":%.1f,\"ratio\":%.3f,\"server_version\":\"%s\"}\n",
      runs, p50, p99, k50, k99, p99 / k99, cluster.version().c_str());
  return 0;
}
