#include "adapters/runtime/runtime.h"

#include <spdlog/spdlog.h>

namespace wharf::runtime {

Runtime::Runtime(events::EventStore& store, RuntimeOptions options, Ports ports)
    : store_(store),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &system_clock_),
      targets_(options_.targets ? options_.targets : &targets::no_targets()),
      ports_(ports) {
  if (!ports_.build) {
    local_build_ = std::make_unique<local::LocalBuildRunner>(options_.data_dir);
    jenkins_build_ = std::make_unique<jenkins::JenkinsBuildRunner>(options_.data_dir,
                                                                   options_.jenkins, *targets_);
    build_router_ = std::make_unique<BuildRouter>(*local_build_, *jenkins_build_);
    ports_.build = build_router_.get();
  }
  if (!ports_.canary) {
    kubernetes_canary_ = std::make_unique<kubernetes::KubernetesCanaryTarget>(*targets_);
    swarm_canary_ = std::make_unique<swarm::SwarmCanaryTarget>(*targets_);
  }
  if (!ports_.deploy) {
    local_deploy_ = std::make_unique<local::LocalDeployTarget>(options_.data_dir, options_.deploy);
    kubernetes_deploy_ = std::make_unique<kubernetes::KubernetesDeployTarget>(*targets_);
    swarm_deploy_ = std::make_unique<swarm::SwarmDeployTarget>(*targets_);
    deploy_router_ =
        std::make_unique<DeployRouter>(*local_deploy_, *kubernetes_deploy_, *swarm_deploy_,
                                       kubernetes_canary_.get(), swarm_canary_.get());
    ports_.deploy = deploy_router_.get();
  }
  if (!ports_.tests) {
    local_tests_ = std::make_unique<local::LocalTestRunner>(options_.data_dir);
    ports_.tests = local_tests_.get();
  }
  if (!ports_.canary) {
    if (options_.canary_router.ports_file.empty() && !options_.data_dir.empty()) {
      options_.canary_router.ports_file =
          local::DataLayout(options_.data_dir).canary_router_ports();
    }
    canary_router_ =
        std::make_unique<router::LocalCanaryTarget>(local_deploy_.get(), options_.canary_router);
    // Dubbo canaries record each rule through the bus (made below; the
    // target's first change comes from the process manager, after it), and
    // resolve their config center through the target registry.
    if (!options_.dubbo.targets) options_.dubbo.targets = targets_;
    // A Kubernetes or Swarm environment's Dubbo canary instances are that
    // kind's canary Deployment or service: promoted or removed by its target.
    if (!options_.dubbo.remote_instances) {
      options_.dubbo.remote_instances =
          [this](const engine::CanaryTraffic& t) -> Expected<void, std::string> {
        if (t.spec.target() == wharf::v1::TARGET_TYPE_KUBERNETES) {
          return kubernetes_canary_->apply(t);
        }
        return swarm_canary_->apply(t);
      };
    }
    dubbo_canary_ = std::make_unique<dubbo::DubboCanaryTarget>(
        local_deploy_.get(),
        [this](const engine::RecordDubboRule& cmd,
               const std::string& command_id) -> Expected<void, std::string> {
          auto done = bus_->execute(cmd, bus_->system_context(command_id));
          if (!done) return unexpected(done.error().message());
          return {};
        },
        options_.dubbo);
    // Each environment's canary traffic goes to the target of its kind.
    canary_targets_ = std::make_unique<CanaryTargetRouter>(*canary_router_, *kubernetes_canary_,
                                                           *swarm_canary_, dubbo_canary_.get());
    ports_.canary = canary_targets_.get();
  }
  bus_ = std::make_unique<CommandBus>(store_, *clock_, options_.command_workers);
  manager_ = std::make_unique<ProcessManager>(store_, *bus_, ports_, *clock_, options_.snapshots);
}

Runtime::~Runtime() {
  stop();
}

Expected<void, std::string> Runtime::start() {
  if (started_) return {};
  if (local_deploy_ && options_.restore_services) {
    if (int restored = local_deploy_->restore(); restored > 0) {
      spdlog::info("runtime: restarted {} local service(s) whose process was gone", restored);
    }
  }
  auto started = manager_->start();
  if (!started) return started;
  started_ = true;
  return {};
}

void Runtime::stop() {
  if (!started_) return;
  started_ = false;
  manager_->stop();
  // The local runners stop watching (their processes live on); callbacks
  // still in flight then reach a bus that drops them after stop().
  local_tests_.reset();
  local_build_.reset();
  jenkins_build_.reset();
  canary_targets_.reset();
  dubbo_canary_.reset();   // before the bus it records through and the local target
  canary_router_.reset();  // before the local target it hands finished canaries to
  kubernetes_canary_.reset();
  swarm_canary_.reset();
  kubernetes_deploy_.reset();
  swarm_deploy_.reset();
  local_deploy_.reset();
  bus_->drain();
  bus_->stop();
}

}  // namespace wharf::runtime
