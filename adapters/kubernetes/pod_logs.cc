#include "adapters/kubernetes/pod_logs.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace wharf::kubernetes {

namespace json = boost::json;

namespace {

std::string encoded(const std::string& text) {
  return boost::urls::encode(text, boost::urls::unreserved_chars);
}

const json::object* object_in(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::string string_in(const json::object* o, const char* key) {
  if (o == nullptr) return {};
  auto* v = o->if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

Expected<json::object, std::string> get_object(const ClusterTarget& t, const std::string& path,
                                               const std::string& what) {
  auto response = call_api(t, "GET", path);
  if (!response) return unexpected(response.error());
  if (response->status != 200) return unexpected(what + ": " + describe(t, *response));
  std::error_code ec;
  auto parsed = json::parse(response->body, ec);
  if (ec || !parsed.is_object()) return unexpected("unreadable answer for " + what);
  return std::move(parsed.as_object());
}

}  // namespace

Expected<ClusterTarget, std::string> cluster_of_settings(
    const std::map<std::string, std::string>& settings, const std::string& target_ref,
    const targets::TargetResolver& targets) {
  wharf::v1::DeploySpec spec;
  for (const auto& [k, v] : settings) (*spec.mutable_target_settings())[k] = v;
  spec.set_target_ref(target_ref);
  if (spec.target_settings().count("image") == 0) spec.set_artifact_uri("-");  // not deploying
  return cluster_target_of(spec, targets);
}

Expected<std::vector<std::string>, std::string> running_pods(const ClusterTarget& t,
                                                             const std::string& version) {
  const std::string where = t.ns + "/" + t.deployment;
  auto deployment = get_object(t, deployment_path(t.ns, t.deployment), "deployment " + where);
  if (!deployment) return unexpected(deployment.error());
  const json::object* spec = object_in(*deployment, "spec");
  const json::object* selector = spec ? object_in(*spec, "selector") : nullptr;
  const json::object* labels = selector ? object_in(*selector, "matchLabels") : nullptr;
  if (labels == nullptr || labels->empty()) {
    return unexpected("deployment " + where + " has no spec.selector.matchLabels");
  }
  std::string selector_text;
  for (const auto& [k, v] : *labels) {
    if (!v.is_string()) continue;
    if (!selector_text.empty()) selector_text += ",";
    selector_text += std::string(k) + "=" + std::string(v.as_string());
  }
  auto list =
      get_object(t, "/api/v1/namespaces/" + t.ns + "/pods?labelSelector=" + encoded(selector_text),
                 "pods of " + where);
  if (!list) return unexpected(list.error());
  std::vector<std::pair<bool, std::string>> found;  // (other version, name)
  if (auto* items = list->if_contains("items"); items && items->is_array()) {
    for (const auto& item : items->as_array()) {
      if (!item.is_object()) continue;
      const json::object* meta = object_in(item.as_object(), "metadata");
      if (string_in(object_in(item.as_object(), "status"), "phase") != "Running") continue;
      const std::string name = string_in(meta, "name");
      if (name.empty()) continue;
      const json::object* annotations = meta ? object_in(*meta, "annotations") : nullptr;
      found.emplace_back(string_in(annotations, "wharf.dev/version") != version, name);
    }
  }
  if (found.empty()) return unexpected("no pod of deployment " + where + " is running");
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& [other, name] : found) names.push_back(std::move(name));
  return names;
}

std::string pod_log_path(const ClusterTarget& t, const PodLogOptions& o) {
  std::string path = "/api/v1/namespaces/" + t.ns + "/pods/" + o.pod +
                     "/log?container=" + encoded(o.container.empty() ? t.container : o.container);
  if (o.follow) path += "&follow=true";
  if (o.tail_lines > 0) path += "&tailLines=" + std::to_string(o.tail_lines);
  return path;
}

Expected<void, std::string> stream_pod_log(const ClusterTarget& t, const PodLogOptions& o,
                                           const http_client::ChunkSink& sink,
                                           const std::atomic<bool>& stop) {
  http_client::Request req = cluster_request(t, "GET", pod_log_path(t, o));
  // The log is text, but kube-apiserver answers "Accept: text/plain" with 406
  // (it negotiates JSON, YAML or protobuf): ask for anything, as kubectl does.
  req.headers = {{"Accept", "*/*"}};
  if (!t.token.empty()) req.headers.emplace_back("Authorization", "Bearer " + t.token);
  auto streamed = http_client::stream_body(req, sink, stop);
  if (!streamed) return unexpected("log of pod " + t.ns + "/" + o.pod + ": " + streamed.error());
  return {};
}

}  // namespace wharf::kubernetes
