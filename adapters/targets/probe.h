#pragma once
// The reachability probe (docs/targets.md#health): every interval, each
// registered target gets one cheap authenticated call — Kubernetes
// GET /version, Portainer GET /api/status, Jenkins GET /api/json — made by
// the adapter of its kind (the `checks` by TargetKind), and the verdict goes
// to `record` (serve: an ObserveTargetHealth command; the engine appends
// TargetHealthChanged only when the verdict changes).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/targets/catalog.h"
#include "adapters/targets/registry.h"

namespace wharf::targets {

struct ProbeResult {
  bool reachable = false;
  std::string server_version;  // what the target says it runs
  std::string error;           // why not reachable (a resolve failure included)
};

using ProbeCheck = std::function<ProbeResult(const ResolvedTarget&)>;

class TargetProber {
 public:
  TargetProber(TargetCatalog& catalog, const TargetResolver& resolver,
               std::map<wharf::v1::TargetKind, ProbeCheck> checks,
               std::function<void(const std::string& name, const ProbeResult&)> record,
               std::chrono::milliseconds interval);
  ~TargetProber();  // stop()
  TargetProber(const TargetProber&) = delete;
  TargetProber& operator=(const TargetProber&) = delete;

  void start();  // a thread probing every target once per interval
  void stop();
  // Probes `name` now (resolving its credential) without recording.
  ProbeResult check(const std::string& name) const;

 private:
  void probe_all();

  TargetCatalog& catalog_;
  const TargetResolver& resolver_;
  std::map<wharf::v1::TargetKind, ProbeCheck> checks_;
  std::function<void(const std::string&, const ProbeResult&)> record_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wharf::targets
