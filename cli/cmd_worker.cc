// `wharf worker`: runs builds, deploys and tests handed out by
// `wharf serve --workers kafka`, as one member of a Kafka consumer group.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

#include "adapters/kubernetes/canary_target.h"
#include "adapters/kubernetes/deploy_target.h"
#include "adapters/local/build_runner.h"
#include "adapters/local/deploy_target.h"
#include "adapters/local/test_runner.h"
#include "adapters/runtime/deploy_router.h"
#include "adapters/swarm/canary_target.h"
#include "adapters/swarm/deploy_target.h"
#include "adapters/targets/registry.h"
#include "adapters/targets/sealed_store.h"
#include "adapters/workers/task_worker.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/shutdown_signal.h"

namespace wharf::cli {
namespace {

struct WorkerConfig {
  std::string config_file;
  workers::WorkerOptions options;
  int session_timeout_ms = 6000;
  std::string secret_key_file;  // empty: DATA/secret.key
  std::string secrets_dir;      // empty: DATA/secrets
  std::string service_account_dir = targets::kServiceAccountDir;
};

void run_worker(CLI::App& cmd, WorkerConfig& config) {
  if (!config.config_file.empty()) apply_config_file(cmd, config.config_file);
  ShutdownSignal shutdown;  // before any thread starts
  const std::filesystem::path data = global_options().data_dir;
  std::filesystem::create_directories(data);
  config.options.session_timeout = std::chrono::milliseconds(config.session_timeout_ms);

  // Credentials of the targets deploy tasks name come from this worker's own
  // sealed store (the server's key and secrets, copied or shared), never from
  // a topic (docs/targets.md#workers). A wrong key stops the worker now.
  const std::filesystem::path key_file = config.secret_key_file.empty()
                                             ? data / "secret.key"
                                             : std::filesystem::path(config.secret_key_file);
  const std::filesystem::path secrets_dir =
      config.secrets_dir.empty() ? data / "secrets" : std::filesystem::path(config.secrets_dir);
  std::unique_ptr<targets::SealedStore> secrets;
  if (std::filesystem::exists(key_file)) {
    auto opened = targets::SealedStore::open({secrets_dir, key_file, false});
    if (!opened) throw std::runtime_error("sealed store: " + opened.error());
    secrets = std::move(*opened);
    spdlog::info("worker: credentials from the sealed store {}", secrets_dir.string());
  } else {
    spdlog::warn(
        "worker: no secret key file {}: targets with sealed credentials cannot deploy "
        "here (--secret-key-file)",
        key_file.string());
  }
  targets::KnownTargets known_targets(secrets.get(), config.service_account_dir);
  config.options.learn_target = [&known_targets](const v1::TargetReference& reference) {
    known_targets.learn(reference);
  };

  // The runners are created after the worker and reset before it, so no
  // callback of theirs can outlive the worker it reports to.
  std::unique_ptr<workers::TaskWorker> worker;
  auto build = std::make_unique<local::LocalBuildRunner>(data);
  auto local_deploy = std::make_unique<local::LocalDeployTarget>(data);
  auto kubernetes_deploy = std::make_unique<kubernetes::KubernetesDeployTarget>(known_targets);
  auto swarm_deploy = std::make_unique<swarm::SwarmDeployTarget>(known_targets);
  // Canary deploys of Kubernetes and Swarm environments (docs/canary.md); their
  // traffic is moved by the serve process's canary targets.
  auto kubernetes_canary = std::make_unique<kubernetes::KubernetesCanaryTarget>(known_targets);
  auto swarm_canary = std::make_unique<swarm::SwarmCanaryTarget>(known_targets);
  auto deploy =
      std::make_unique<runtime::DeployRouter>(*local_deploy, *kubernetes_deploy, *swarm_deploy,
                                              kubernetes_canary.get(), swarm_canary.get());
  auto tests = std::make_unique<local::LocalTestRunner>(data);
  auto created =
      workers::TaskWorker::create(config.options, {build.get(), deploy.get(), tests.get()});
  if (!created) throw std::runtime_error("worker: " + created.error());
  worker = std::move(*created);
  spdlog::info("worker {}: local runners under {}", worker->name(), data.string());

  std::thread consumer([&worker] { worker->run(); });
  const int sig = shutdown.wait();
  spdlog::info("worker {}: {} received, leaving the group", worker->name(),
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  worker->stop();
  consumer.join();
  tests.reset();
  kubernetes_canary.reset();
  swarm_canary.reset();
  kubernetes_deploy.reset();
  swarm_deploy.reset();
  local_deploy.reset();
  deploy.reset();
  build.reset();
  const auto st = worker->stats();
  spdlog::info("worker {}: stopped cleanly ({} started, {} finished, {} cancels)", worker->name(),
               st.started, st.finished, st.cancels);
}

}  // namespace

void register_worker_commands(CLI::App& app) {
  auto config = std::make_shared<WorkerConfig>();
  CLI::App* cmd = app.add_subcommand(
      "worker",
      "Run builds, deploys and tests for `wharf serve --workers kafka`: join a Kafka consumer\n"
      "group on the task topic and report on the result topic. Start as many as you need;\n"
      "a killed worker's tasks move to the others after the session timeout.\n"
      "Settings come from flags, then WHARF_* environment variables, then --config FILE (TOML).");
  add_data_option(*cmd);
  cmd->add_option("--config", config->config_file, "TOML file with any of the settings below")
      ->envname("WHARF_CONFIG");
  cmd->add_option("--brokers", config->options.topics.bootstrap, "Kafka bootstrap servers")
      ->envname("WHARF_KAFKA_BROKERS")
      ->required();
  cmd->add_option("--group", config->options.group, "consumer group shared by all workers")
      ->envname("WHARF_WORKER_GROUP")
      ->capture_default_str();
  cmd->add_option("--name", config->options.name, "this worker's name (default host-pid)")
      ->envname("WHARF_WORKER_NAME");
  cmd->add_option("--task-topic", config->options.topics.tasks, "topic tasks arrive on")
      ->envname("WHARF_TASK_TOPIC")
      ->capture_default_str();
  cmd->add_option("--result-topic", config->options.topics.results, "topic results go to")
      ->envname("WHARF_RESULT_TOPIC")
      ->capture_default_str();
  cmd->add_option("--session-timeout-ms", config->session_timeout_ms,
                  "how long the group waits for a silent worker before moving its tasks")
      ->envname("WHARF_WORKER_SESSION_TIMEOUT_MS")
      ->capture_default_str();
  cmd->add_option("--secret-key-file", config->secret_key_file,
                  "key of the sealed store target credentials are opened from (the server's "
                  "--secret-key-file; default DATA/secret.key; docs/targets.md#workers)")
      ->envname("WHARF_SECRET_KEY_FILE");
  cmd->add_option("--secrets-dir", config->secrets_dir,
                  "the sealed store (the server's DATA/secrets, shared or copied; default "
                  "DATA/secrets)")
      ->envname("WHARF_SECRETS_DIR");
  cmd->add_option("--service-account-dir", config->service_account_dir,
                  "where this pod's service account is mounted (token, ca.crt, namespace): the "
                  "credential of service_account targets, read at every use")
      ->envname("WHARF_SERVICE_ACCOUNT_DIR")
      ->capture_default_str();
  cmd->callback([cmd, config] { run_worker(*cmd, *config); });
}

}  // namespace wharf::cli
