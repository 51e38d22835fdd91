#pragma once
// Follows one Deployment with a Kubernetes watch instead of polling it
// (../shared/protocols.md §3): list it
// (GET …/deployments?fieldSelector=metadata.name=<name>), then
// GET …/deployments?watch=1&fieldSelector=…&resourceVersion=<rv>&allowWatchBookmarks=true
// and read its newline-delimited events as they come. BOOKMARK events move
// the resourceVersion on; an ERROR with code 410 (Gone: the version expired)
// re-lists; a watch the server ends (timeoutSeconds) is re-opened from the
// last version. The rollout wait (deploy_target.h, canary_target.h) uses
// take() for each new state and falls back to a GET when the watch has
// nothing new within its poll interval (or cannot be opened at all).
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "adapters/kubernetes/deploy_target.h"

namespace wharf::kubernetes {

// One watch event line: its type ("ADDED", "MODIFIED", "DELETED",
// "BOOKMARK", "ERROR") and object. Pure (tests/kubernetes/rollout_test.cc).
struct WatchEvent {
  std::string type;
  boost::json::object object;
};
std::optional<WatchEvent> parse_watch_event(std::string_view line);

class DeploymentWatch {
 public:
  // Starts following t.ns/name on a thread of its own: from `resource_version`
  // when given (tests: an expired one), else from a fresh list.
  DeploymentWatch(const ClusterTarget& t, std::string name, std::string resource_version = {});
  ~DeploymentWatch();  // stops and joins
  DeploymentWatch(const DeploymentWatch&) = delete;
  DeploymentWatch& operator=(const DeploymentWatch&) = delete;

  // The newest state of the Deployment that arrived since the last take(),
  // waiting up to `timeout` for one; nullopt when none came.
  std::optional<boost::json::object> take(std::chrono::milliseconds timeout);
  // How many watch requests were opened and how many 410 Gone re-lists there were.
  int watches_opened() const { return opened_.load(); }
  int relists() const { return relists_.load(); }

 private:
  void run();
  bool list(std::string& resource_version);
  void deliver(boost::json::object object);

  ClusterTarget target_;
  std::string name_, start_from_;
  std::atomic<bool> stop_{false};
  std::atomic<int> opened_{0}, relists_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<boost::json::object> latest_;
  std::thread thread_;  // last: started once the members above exist
};

// The Deployment as a rollout wait sees it: what the watch brought since the
// last look, else `get` (a GET: the poll fallback). Wire wait() into
// remote_deploy::Watch::wait and call current() in the check.
class DeploymentFeed {
 public:
  using Get = std::function<Expected<boost::json::object, std::string>()>;
  DeploymentFeed(const ClusterTarget& t, const std::string& name, Get get)
      : get_(std::move(get)), watch_(t, name) {}
  void wait(std::chrono::milliseconds timeout) { pending_ = watch_.take(timeout); }
  Expected<boost::json::object, std::string> current() {
    if (pending_) {
      boost::json::object now = std::move(*pending_);
      pending_.reset();
      return now;
    }
    return get_();
  }
  const DeploymentWatch& watch() const { return watch_; }

 private:
  Get get_;
  std::optional<boost::json::object> pending_;
  DeploymentWatch watch_;
};

}  // namespace wharf::kubernetes
