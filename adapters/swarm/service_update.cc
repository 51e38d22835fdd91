#include "adapters/swarm/service_update.h"

namespace wharf::swarm {
namespace json = boost::json;

namespace {

json::object& object_in(json::object& o, const char* key) {
  json::value& v = o[key];
  if (!v.is_object()) v = json::object{};
  return v.as_object();
}

std::string string_at(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

}  // namespace

json::object updated_spec(const json::object& service, const SpecChange& change) {
  json::object spec;
  if (auto* s = service.if_contains("Spec"); s && s->is_object()) spec = s->as_object();
  json::object& task = object_in(spec, "TaskTemplate");
  json::object& container = object_in(task, "ContainerSpec");
  container["Image"] = change.image;
  if (!change.env.empty()) {
    std::map<std::string, std::string> env;
    if (auto* e = container.if_contains("Env"); e && e->is_array()) {
      for (const auto& entry : e->as_array()) {
        if (!entry.is_string()) continue;
        std::string text(entry.as_string());
        auto eq = text.find('=');
        env[text.substr(0, eq)] = eq == std::string::npos ? "" : text.substr(eq + 1);
      }
    }
    for (const auto& [k, v] : change.env) env[k] = v;
    json::array list;
    for (const auto& [k, v] : env) list.push_back(json::string(k + "=" + v));
    container["Env"] = std::move(list);
  }
  int64_t force = 0;
  if (auto* f = task.if_contains("ForceUpdate"); f && f->is_int64()) force = f->as_int64();
  task["ForceUpdate"] = force + 1;
  object_in(spec, "Labels")[kDeployLabel] = change.deploy_key;
  if (change.replicas > 0) {
    object_in(object_in(spec, "Mode"), "Replicated")["Replicas"] = change.replicas;
  }
  return spec;
}

std::string deploy_key_of(const json::object& service) {
  auto* spec = service.if_contains("Spec");
  if (!spec || !spec->is_object()) return "";
  auto* labels = spec->as_object().if_contains("Labels");
  return labels && labels->is_object() ? string_at(labels->as_object(), kDeployLabel) : "";
}

UpdateVerdict verdict_of(const json::object& service) {
  auto* status = service.if_contains("UpdateStatus");
  if (!status || !status->is_object())
    return {UpdateVerdict::State::kWaiting, "no update status yet"};
  const std::string state = string_at(status->as_object(), "State");
  const std::string message = string_at(status->as_object(), "Message");
  if (state == "completed")
    return {UpdateVerdict::State::kDone, message.empty() ? "update completed" : message};
  if (state == "paused" || state.rfind("rollback_", 0) == 0) {
    return {UpdateVerdict::State::kFailed,
            "service update " + state + (message.empty() ? "" : ": " + message)};
  }
  return {UpdateVerdict::State::kWaiting, "service update " + (state.empty() ? "pending" : state)};
}

}  // namespace wharf::swarm
