#pragma once
// What the Kubernetes and Swarm canary targets share (docs/canary.md#kubernetes-and-swarm):
// the weight -> replica split, and the queue that applies traffic changes off
// the process manager's thread: each environment's in order on a thread of
// its own (a promotion waiting for a rollout holds up no other environment),
// its latest change replacing its older queued ones. A failed call is
// retried, the wait doubling from `retry` up to `max_retry`:
//   a step gets `tries` tries, then goes to its on_failed (the canary's
//     automatic abort: a weight the cluster never took must not stand);
//   a promotion gets `tries` tries, then stays as it is (logged, last_error):
//     repeated later it could undo a deploy made after it;
//   an abort is retried until the cluster agrees, a newer change replaces
//     it or wharf stops (a restart re-issues it).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "engine/ports.h"
#include "events/expected.h"

namespace wharf::remote_deploy {

struct ReplicaSplit {
  uint32_t stable = 0;
  uint32_t canary = 0;
};

// `total` replicas shared at `weight` percent: canary = ceil(total * weight / 100),
// at least one stable replica below 100% (so 1 replica at 10% is 1 + 1) and
// none at 100%; weight 0 keeps every replica stable.
ReplicaSplit replica_split(uint32_t total, uint32_t weight);

// "<project>/<environment>: step 1 at 50%" / "promoted" / "aborted", for logs.
std::string describe(const engine::CanaryTraffic& traffic);

class CanaryQueue {
 public:
  using Apply = std::function<Expected<void, std::string>(const engine::CanaryTraffic&)>;
  using OnFailed = std::function<void(const engine::CanaryVerdict&)>;
  CanaryQueue(std::string log_name, Apply apply,
              std::chrono::milliseconds retry = std::chrono::seconds(1), int tries = 5,
              std::chrono::milliseconds max_retry = std::chrono::seconds(30));
  ~CanaryQueue();  // finishes the changes in hand, drops the rest
  CanaryQueue(const CanaryQueue&) = delete;
  CanaryQueue& operator=(const CanaryQueue&) = delete;

  void push(const engine::CanaryTraffic& traffic, OnFailed on_failed = {});
  // Blocks until nothing is queued or in hand, or the deadline passes (tests).
  bool wait_idle(std::chrono::steady_clock::time_point deadline) const;
  // True once the destructor began: a long Apply (a rollout wait) ends early.
  bool stopping() const;
  // The last failure of each environment, also while its change is retried
  // ("" once a change went through).
  std::string last_error(const std::string& project_id, const std::string& environment) const;

 private:
  struct Change {
    engine::CanaryTraffic traffic;
    OnFailed on_failed;
  };
  void work(const std::string& key);  // one environment's thread
  // Applies `change` until it goes through (""), is given up or superseded
  // (its last error); `gave_up` is set when a step ran out of tries.
  std::string apply_with_retries(const std::string& key, const Change& change,
                                 std::unique_lock<std::mutex>& lock, bool& gave_up);

  std::string log_name_;
  Apply apply_;
  std::chrono::milliseconds retry_;
  int tries_;
  std::chrono::milliseconds max_retry_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, Change> latest_;  // queued, by "<project>/<environment>"
  std::map<std::string, std::string> errors_;
  int busy_ = 0;  // changes in hand
  bool stopping_ = false;
  std::map<std::string, std::thread> workers_;  // by environment, started by its first push
};

}  // namespace wharf::remote_deploy
