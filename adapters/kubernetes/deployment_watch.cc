#include "adapters/kubernetes/deployment_watch.h"

#include <spdlog/spdlog.h>

#include "adapters/http/http_stream.h"
#include "adapters/kubernetes/rollout.h"

namespace wharf::kubernetes {
namespace json = boost::json;

namespace {

std::string collection_path(const ClusterTarget& t) {
  return "/apis/apps/v1/namespaces/" + t.ns + "/deployments";
}

// The server ends a watch after this long; it is opened again from the last version.
constexpr int kWatchSeconds = 240;

}  // namespace

std::optional<WatchEvent> parse_watch_event(std::string_view line) {
  std::error_code ec;
  auto parsed = json::parse(line, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  auto& o = parsed.as_object();
  auto* type = o.if_contains("type");
  auto* object = o.if_contains("object");
  if (!type || !type->is_string() || !object || !object->is_object()) return std::nullopt;
  return WatchEvent{std::string(type->as_string()), std::move(object->as_object())};
}

DeploymentWatch::DeploymentWatch(const ClusterTarget& t, std::string name,
                                 std::string resource_version)
    : target_(t),
      name_(std::move(name)),
      start_from_(std::move(resource_version)),
      thread_([this] { run(); }) {}

DeploymentWatch::~DeploymentWatch() {
  stop_ = true;
  changed_.notify_all();
  thread_.join();
}

std::optional<json::object> DeploymentWatch::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [this] { return latest_.has_value() || stop_.load(); });
  std::optional<json::object> out = std::move(latest_);
  latest_.reset();
  return out;
}

void DeploymentWatch::deliver(json::object object) {
  {
    std::lock_guard lock(mutex_);
    latest_ = std::move(object);
  }
  changed_.notify_all();
}

bool DeploymentWatch::list(std::string& resource_version) {
  auto r = call_api(target_, "GET",
                    collection_path(target_) + "?fieldSelector=metadata.name%3D" + name_);
  if (!r || r->status != 200) return false;
  std::error_code ec;
  auto parsed = json::parse(r->body, ec);
  if (ec || !parsed.is_object()) return false;
  auto& list = parsed.as_object();
  resource_version = resource_version_of(list);
  if (auto* items = list.if_contains("items"); items && items->is_array()) {
    for (auto& item : items->as_array())
      if (item.is_object()) deliver(std::move(item.as_object()));
  }
  return !resource_version.empty();
}

void DeploymentWatch::run() {
  std::string rv = start_from_;
  std::chrono::milliseconds backoff{200};
  while (!stop_) {
    if (rv.empty() && !list(rv)) {
      // No list: the rollout wait polls meanwhile; try again later.
      for (auto slept = std::chrono::milliseconds(0); slept < backoff && !stop_;
           slept += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    http_client::Request req = cluster_request(
        target_, "GET",
        collection_path(target_) +
            "?watch=1&allowWatchBookmarks=true&fieldSelector=metadata.name%3D" + name_ +
            "&resourceVersion=" + rv + "&timeoutSeconds=" + std::to_string(kWatchSeconds));
    ++opened_;
    std::string buffer;
    bool gone = false;
    auto streamed = http_client::stream_body(
        req,
        [&](std::string_view chunk) {
          buffer.append(chunk);
          for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
            auto event = parse_watch_event(std::string_view(buffer).substr(0, nl));
            buffer.erase(0, nl + 1);
            if (!event) continue;
            if (event->type == "ERROR") {
              // A Status; 410 Gone: the version is too old to watch from.
              auto* code = event->object.if_contains("code");
              gone = code && code->is_int64() && code->as_int64() == 410;
              if (!gone)
                spdlog::warn("kubernetes: watch of {}: {}", name_, json::serialize(event->object));
              return false;
            }
            if (std::string next = resource_version_of(event->object); !next.empty()) rv = next;
            if (event->type == "ADDED" || event->type == "MODIFIED")
              deliver(std::move(event->object));
          }
          return !stop_.load();
        },
        stop_);
    // Some servers answer an expired version with HTTP 410 instead of an event.
    if (!streamed && streamed.error().rfind("HTTP 410", 0) == 0) gone = true;
    if (gone) {
      ++relists_;
      rv.clear();
      continue;
    }
    if (!streamed) {
      spdlog::debug("kubernetes: watch of {} failed: {}", name_, streamed.error());
      rv.clear();  // re-list after a pause
      for (auto slept = std::chrono::milliseconds(0); slept < backoff && !stop_;
           slept += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = std::chrono::milliseconds(200);
  }
}

}  // namespace wharf::kubernetes
