#include "adapters/kubernetes/rollout.h"

namespace wharf::kubernetes {
namespace json = boost::json;

namespace {

int64_t int_at(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().as_uint64());
  return 0;
}

const json::object& object_at(const json::object& o, const char* key) {
  static const json::object empty;
  auto it = o.find(key);
  return it != o.end() && it->value().is_object() ? it->value().as_object() : empty;
}

std::string string_at(const json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

}  // namespace

Rollout rollout_of(const json::object& deployment) {
  const auto& metadata = object_at(deployment, "metadata");
  const auto& spec = object_at(deployment, "spec");
  const auto& status = object_at(deployment, "status");
  const std::string name = string_at(metadata, "name");
  if (int_at(metadata, "generation") > int_at(status, "observedGeneration")) {
    return {Rollout::State::kWaiting,
            "waiting for deployment \"" + name + "\" spec update to be observed"};
  }
  if (auto it = status.find("conditions"); it != status.end() && it->value().is_array()) {
    for (const auto& c : it->value().as_array()) {
      if (!c.is_object()) continue;
      const auto& condition = c.as_object();
      if (string_at(condition, "type") == "Progressing" &&
          string_at(condition, "reason") == "ProgressDeadlineExceeded") {
        return {Rollout::State::kFailed,
                "deployment \"" + name +
                    "\" exceeded its progress deadline: " + string_at(condition, "message")};
      }
    }
  }
  const int64_t wanted = spec.contains("replicas") ? int_at(spec, "replicas") : 1;
  const int64_t updated = int_at(status, "updatedReplicas");
  const int64_t replicas = int_at(status, "replicas");
  const int64_t available = int_at(status, "availableReplicas");
  const std::string counts = std::to_string(updated) + " of " + std::to_string(wanted);
  if (updated < wanted) {
    return {Rollout::State::kWaiting, counts + " new replicas have been updated"};
  }
  if (replicas > updated) {
    return {Rollout::State::kWaiting,
            std::to_string(replicas - updated) + " old replicas are pending termination"};
  }
  if (available < updated) {
    return {Rollout::State::kWaiting, std::to_string(available) + " of " + std::to_string(updated) +
                                          " updated replicas are available"};
  }
  return {Rollout::State::kDone, "deployment \"" + name + "\" successfully rolled out"};
}

std::string resource_version_of(const json::object& object) {
  return string_at(object_at(object, "metadata"), "resourceVersion");
}

std::string deploy_key_of(const json::object& deployment) {
  return string_at(object_at(object_at(deployment, "metadata"), "annotations"), kDeployAnnotation);
}

std::string strategic_merge_patch(const PatchInput& input) {
  json::array env;
  for (const auto& [name, value] : input.env)
    env.push_back(json::object{{"name", name}, {"value", value}});
  json::object container{{"name", input.container}, {"image", input.image}};
  if (!env.empty()) container["env"] = std::move(env);
  json::object annotations{{kDeployAnnotation, input.deploy_key},
                           {"wharf.dev/version", input.version}};
  json::object spec{
      {"template",
       json::object{{"metadata", json::object{{"annotations", annotations}}},
                    {"spec", json::object{{"containers", json::array{std::move(container)}}}}}}};
  if (input.replicas > 0) spec["replicas"] = input.replicas;
  json::object metadata{{"annotations", annotations}};
  if (!input.resource_version.empty()) metadata["resourceVersion"] = input.resource_version;
  json::object patch{{"metadata", std::move(metadata)}, {"spec", std::move(spec)}};
  return json::serialize(patch);
}

}  // namespace wharf::kubernetes
