#include "adapters/targets/probe.h"

#include <spdlog/spdlog.h>

namespace wharf::targets {

TargetProber::TargetProber(TargetCatalog& catalog, const TargetResolver& resolver,
                           std::map<wharf::v1::TargetKind, ProbeCheck> checks,
                           std::function<void(const std::string&, const ProbeResult&)> record,
                           std::chrono::milliseconds interval)
    : catalog_(catalog),
      resolver_(resolver),
      checks_(std::move(checks)),
      record_(std::move(record)),
      interval_(interval) {}

TargetProber::~TargetProber() {
  stop();
}

void TargetProber::start() {
  if (interval_.count() <= 0 || thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    for (;;) {
      probe_all();
      std::unique_lock lock(mu_);
      if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
    }
  });
}

void TargetProber::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ProbeResult TargetProber::check(const std::string& name) const {
  auto target = resolver_.resolve(name);
  if (!target) return {false, "", target.error()};
  auto it = checks_.find(target->spec.kind());
  if (it == checks_.end()) return {false, "", "no probe for this kind of target"};
  return it->second(*target);
}

void TargetProber::probe_all() {
  catalog_.refresh();
  for (const auto& t : catalog_.list()) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const ProbeResult result = check(t.spec.name());
    if (t.health_known && t.reachable != result.reachable) {
      spdlog::info("targets: {} is {}{}", t.spec.name(),
                   result.reachable ? "reachable again" : "unreachable: ",
                   result.reachable ? "" : result.error);
    }
    record_(t.spec.name(), result);
  }
}

}  // namespace wharf::targets
