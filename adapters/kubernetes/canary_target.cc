#include "adapters/kubernetes/canary_target.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "adapters/kubernetes/deployment_watch.h"
#include "adapters/kubernetes/rollout.h"
#include "adapters/local/active_jobs.h"
#include "engine/dubbo_labels.h"

namespace wharf::kubernetes {
namespace json = boost::json;

namespace {

using Phase = engine::CanaryTraffic::Phase;
constexpr const char* kStrategic = "application/strategic-merge-patch+json";
constexpr const char* kMerge = "application/merge-patch+json";

json::object object_at(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : json::object{};
}

json::object& object_in(json::object& o, const char* key) {
  json::value& v = o[key];
  if (!v.is_object()) v = json::object{};
  return v.as_object();
}

std::string string_at(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

int64_t replicas_of(const json::object& deployment) {
  auto* r = object_at(deployment, "spec").if_contains("replicas");
  return r && r->is_int64() ? r->as_int64() : 1;
}

// Labels of the canary pods: the track label, and in ingress mode the values
// of the stable Service's selector keys suffixed, so that Service skips them.
json::object relabel(json::object labels, const json::object& selector, bool ingress) {
  if (ingress) {
    for (const auto& [k, v] : selector) {
      if (auto* mine = labels.if_contains(k); mine && mine->is_string())
        *mine = std::string(mine->as_string()) + "-canary";
    }
  }
  labels[kTrackLabel] = "canary";
  return labels;
}

std::string services_path(const std::string& ns) {
  return "/api/v1/namespaces/" + ns + "/services";
}
std::string ingresses_path(const std::string& ns) {
  return "/apis/networking.k8s.io/v1/namespaces/" + ns + "/ingresses";
}
std::string deployments_path(const std::string& ns) {
  return "/apis/apps/v1/namespaces/" + ns + "/deployments";
}

// The cluster's objects by path: 404 is "not there", other errors fail.
class Objects {
 public:
  explicit Objects(const ClusterTarget& t) : t_(t) {}

  Expected<std::optional<json::object>, std::string> get(const std::string& path) const {
    auto r = call_api(t_, "GET", path);
    if (!r) return unexpected(r.error());
    if (r->status == 404) return std::optional<json::object>{};
    if (r->status != 200) return unexpected("GET " + path + ": " + describe(t_, *r));
    return parse(path, r->body);
  }
  Expected<json::object, std::string> must_get(const std::string& path) const {
    auto got = get(path);
    if (!got) return unexpected(got.error());
    if (!*got) return unexpected("GET " + path + ": not found");
    return std::move(**got);
  }
  Expected<void, std::string> create(const std::string& collection, const json::object& o) const {
    auto r = call_api(t_, "POST", collection, "application/json", json::serialize(o));
    if (!r) return unexpected(r.error());
    if (r->status != 200 && r->status != 201)
      return unexpected("POST " + collection + ": " + describe(t_, *r));
    return {};
  }
  // PATCH; a missing object is an error unless `missing_ok`.
  Expected<void, std::string> patch(const std::string& path, const char* content_type,
                                    const json::object& body, bool missing_ok = false) const {
    auto r = call_api(t_, "PATCH", path, content_type, json::serialize(body));
    if (!r) return unexpected(r.error());
    if (r->status == 404 && missing_ok) return {};
    if (r->status != 200) return unexpected("PATCH " + path + ": " + describe(t_, *r));
    return {};
  }
  Expected<void, std::string> remove(const std::string& path) const {
    auto r = call_api(t_, "DELETE", path);
    if (!r) return unexpected(r.error());
    if (r->status != 200 && r->status != 202 && r->status != 404)
      return unexpected("DELETE " + path + ": " + describe(t_, *r));
    return {};
  }

 private:
  static Expected<std::optional<json::object>, std::string> parse(const std::string& path,
                                                                  const std::string& body) {
    std::error_code ec;
    auto parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) return unexpected("unreadable object from " + path);
    return std::optional<json::object>(std::move(parsed.as_object()));
  }
  const ClusterTarget& t_;
};

PatchInput patch_input(const ClusterTarget& t, const wharf::v1::DeploySpec& spec,
                       const std::string& key, uint32_t replicas) {
  return {t.container,    t.image,  key,
          spec.version(), replicas, {spec.config().begin(), spec.config().end()}};
}

json::object replicas_patch(int64_t replicas) {
  return json::object{{"spec", json::object{{"replicas", replicas}}}};
}

// Without a URL to probe: the canary Deployment's pods are its health — all
// of its replicas ready (status.readyReplicas, what the kubelet's readiness
// probes decide). Unknown (no verdict) when the Deployment cannot be read.
std::optional<bool> canary_ready(const engine::CanaryTraffic& t,
                                 const targets::TargetResolver& targets) {
  auto target = cluster_target_of(t.spec, targets);
  auto names = canary_names_of(t.spec);
  if (!target || !names) return std::nullopt;
  auto r = call_api(*target, "GET", deployment_path(target->ns, names->deployment));
  std::error_code ec;
  auto parsed = r && r->status == 200 ? json::parse(r->body, ec) : json::value();
  if (ec || !parsed.is_object()) {
    spdlog::warn("canary {}: cannot read the canary Deployment for its health: {}", t.canary_id,
                 r ? describe(*target, *r) : r.error());
    return std::nullopt;
  }
  const json::object status = object_at(parsed.as_object(), "status");
  auto* ready = status.if_contains("readyReplicas");
  const int64_t n = ready && ready->is_int64() ? ready->as_int64() : 0;
  return n >= replicas_of(parsed.as_object());
}

}  // namespace

Expected<CanaryNames, std::string> canary_names_of(const wharf::v1::DeploySpec& spec) {
  using remote_deploy::setting;
  CanaryNames n;
  const std::string& mode = spec.canary().mode();
  if (!mode.empty() && mode != "replicas" && mode != "ingress-nginx" && mode != "dubbo") {
    return unexpected("unknown canary mode \"" + mode + "\" (replicas, ingress-nginx or dubbo)");
  }
  n.ingress = mode == "ingress-nginx";
  n.dubbo = mode == "dubbo";
  n.stable_deployment = setting(spec, "deployment");
  if (n.stable_deployment.empty())
    return unexpected(std::string("kubernetes target needs settings.deployment"));
  n.deployment = setting(spec, "canary_deployment", n.stable_deployment + "-canary");
  n.stable_service = setting(spec, "service", n.stable_deployment);
  n.service = n.stable_service + "-canary";
  n.stable_ingress = setting(spec, "ingress");
  if (n.ingress && n.stable_ingress.empty()) {
    return unexpected(std::string("canary mode ingress-nginx needs settings.ingress"));
  }
  n.ingress_name = n.stable_ingress + "-canary";
  return n;
}

json::object canary_annotations(uint32_t weight, const wharf::v1::CanaryMatch& match, bool clear) {
  const std::string p = kNginx;
  json::object a{{p + "canary", "true"}, {p + "canary-weight", std::to_string(weight)}};
  auto put = [&](const std::string& key, const std::string& value) {
    if (clear) {
      a[p + key] = nullptr;
    } else if (!value.empty()) {
      a[p + key] = value;
    }
  };
  put("canary-by-header", match.header());
  put("canary-by-header-value", match.header_value());
  put("canary-by-header-pattern",
      !match.header().empty() && match.header_value().empty() ? ".*" : "");
  put("canary-by-cookie", match.cookie());
  return a;
}

json::object canary_deployment(const json::object& stable, const CanaryNames& names,
                               const json::object& service_selector, const PatchInput& input,
                               uint32_t total) {
  json::object spec = object_at(stable, "spec");
  json::object& selector = object_in(spec, "selector");
  selector["matchLabels"] =
      relabel(object_at(selector, "matchLabels"), service_selector, names.ingress);
  json::object& pod = object_in(object_in(spec, "template"), "metadata");
  pod["labels"] = relabel(object_at(pod, "labels"), service_selector, names.ingress);
  json::object& pod_annotations = object_in(pod, "annotations");
  pod_annotations[kDeployAnnotation] = input.deploy_key;
  pod_annotations["wharf.dev/version"] = input.version;
  spec["replicas"] = input.replicas;
  json::value& containers = object_in(object_in(spec, "template"), "spec")["containers"];
  if (containers.is_array()) {
    for (auto& c : containers.as_array()) {
      if (!c.is_object() || string_at(c.as_object(), "name") != input.container) continue;
      json::object& container = c.as_object();
      container["image"] = input.image;
      json::array env;
      if (auto* e = container.if_contains("env"); e && e->is_array()) {
        for (const auto& entry : e->as_array()) {
          if (entry.is_object() && !input.env.contains(string_at(entry.as_object(), "name")))
            env.push_back(entry);
        }
      }
      for (const auto& [k, v] : input.env) env.push_back(json::object{{"name", k}, {"value", v}});
      if (!env.empty()) container["env"] = std::move(env);
    }
  }
  const json::object meta = object_at(stable, "metadata");
  json::object labels = object_at(meta, "labels");
  labels[kTrackLabel] = "canary";
  json::object metadata{{"name", names.deployment},
                        {"namespace", string_at(meta, "namespace")},
                        {"labels", std::move(labels)},
                        {"annotations", json::object{{kDeployAnnotation, input.deploy_key},
                                                     {"wharf.dev/version", input.version},
                                                     {kCanaryOf, names.stable_deployment},
                                                     {kCanaryTotal, std::to_string(total)}}}};
  return json::object{{"apiVersion", "apps/v1"},
                      {"kind", "Deployment"},
                      {"metadata", std::move(metadata)},
                      {"spec", std::move(spec)}};
}

json::object canary_service(const json::object& stable, const CanaryNames& names) {
  const json::object spec = object_at(stable, "spec");
  const json::object selector = object_at(spec, "selector");
  json::array ports;
  if (auto* p = spec.if_contains("ports"); p && p->is_array()) {
    for (const auto& port : p->as_array()) {
      if (!port.is_object()) continue;
      json::object copy = port.as_object();
      copy.erase("nodePort");  // a node port belongs to the stable Service
      ports.push_back(std::move(copy));
    }
  }
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       json::object{{"name", names.service},
                    {"namespace", string_at(object_at(stable, "metadata"), "namespace")},
                    {"labels", json::object{{kTrackLabel, "canary"}}}}},
      {"spec",
       json::object{{"selector", relabel(selector, selector, true)}, {"ports", std::move(ports)}}}};
}

json::object canary_ingress(const json::object& stable, const CanaryNames& names, uint32_t weight,
                            const wharf::v1::CanaryMatch& match) {
  json::object spec = object_at(stable, "spec");
  auto point = [&](json::value& backend) {
    if (!backend.is_object()) return;
    auto* service = backend.as_object().if_contains("service");
    if (service && service->is_object() &&
        string_at(service->as_object(), "name") == names.stable_service) {
      service->as_object()["name"] = names.service;
    }
  };
  if (auto* b = spec.if_contains("defaultBackend")) point(*b);
  if (auto* rules = spec.if_contains("rules"); rules && rules->is_array()) {
    for (auto& rule : rules->as_array()) {
      if (!rule.is_object()) continue;
      auto* http = rule.as_object().if_contains("http");
      if (!http || !http->is_object()) continue;
      auto* paths = http->as_object().if_contains("paths");
      if (!paths || !paths->is_array()) continue;
      for (auto& path : paths->as_array()) {
        if (path.is_object())
          if (auto* b = path.as_object().if_contains("backend")) point(*b);
      }
    }
  }
  const json::object meta = object_at(stable, "metadata");
  json::object annotations = canary_annotations(weight, match);
  const json::object stable_annotations = object_at(meta, "annotations");
  if (auto* cls = stable_annotations.if_contains("kubernetes.io/ingress.class"))
    annotations["kubernetes.io/ingress.class"] = *cls;
  return json::object{{"apiVersion", "networking.k8s.io/v1"},
                      {"kind", "Ingress"},
                      {"metadata", json::object{{"name", names.ingress_name},
                                                {"namespace", string_at(meta, "namespace")},
                                                {"labels", json::object{{kTrackLabel, "canary"}}},
                                                {"annotations", std::move(annotations)}}},
                      {"spec", std::move(spec)}};
}

KubernetesCanaryTarget::KubernetesCanaryTarget(const targets::TargetResolver& targets,
                                               std::chrono::milliseconds poll,
                                               std::chrono::milliseconds retry)
    : targets_(targets),
      poll_(poll),
      queue_(
          "kubernetes canary", [this](const engine::CanaryTraffic& t) { return apply(t); }, retry),
      analyser_([this](const engine::CanaryTraffic& t) {
        const std::string url = remote_deploy::setting(t.spec, "canary_url", t.canary_url);
        router::Observation seen = router::probe_sources(t, url);
        if (t.strategy.analysis().check_health() && url.empty())
          seen.healthy = canary_ready(t, targets_);
        return seen;
      }),
      runner_("kubernetes canary", [this](remote_deploy::Deploy& d) { run(d); }) {}

void KubernetesCanaryTarget::set(const engine::CanaryTraffic& traffic,
                                 std::function<void(const engine::CanaryVerdict&)> abort) {
  queue_.push(traffic, abort);
  analyser_.track(traffic, std::move(abort));
}

void KubernetesCanaryTarget::run(remote_deploy::Deploy& deploy) {
  const engine::DeployJob& job = deploy.job();
  const std::string& key = deploy.key();
  auto target = cluster_target_of(job.spec, targets_);
  if (!target) return deploy.fail(target.error());
  auto names = canary_names_of(job.spec);
  if (!names) return deploy.fail(names.error());
  Objects cluster(*target);
  const std::string& ns = target->ns;
  const std::string where = ns + "/" + names->deployment;
  const std::string external_id = "k8s:" + where;
  const std::string canary_path = deployment_path(ns, names->deployment);

  auto stable = cluster.must_get(deployment_path(ns, names->stable_deployment));
  if (!stable) return deploy.fail(stable.error());
  json::object selector;
  if (names->ingress) {
    auto service = cluster.must_get(services_path(ns) + "/" + names->stable_service);
    if (!service) return deploy.fail(service.error());
    selector = object_at(object_at(*service, "spec"), "selector");
  }
  auto existing = cluster.get(canary_path);
  if (!existing) return deploy.fail(existing.error());
  const uint32_t total =
      job.spec.replicas() > 0 ? job.spec.replicas() : static_cast<uint32_t>(replicas_of(*stable));
  const uint32_t first =
      job.spec.canary().steps().empty() ? 0 : job.spec.canary().steps(0).weight();
  // Dubbo: one canary pod carrying the canary label; the config center's
  // rules, not the replica ratio, decide which calls reach it.
  const uint32_t replicas = names->ingress ? total
                            : names->dubbo ? 1
                                           : remote_deploy::replica_split(total, first).canary;
  PatchInput input = patch_input(*target, job.spec, key, replicas);
  if (names->dubbo)
    input.env["DUBBO_LABELS"] = engine::dubbo_canary_labels(job.spec, job.deploy_id);
  if (*existing && deploy_key_of(**existing) == key) {
    deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                    "canary already in place; watching the rollout of " + where);
  } else {
    Expected<void, std::string> put;
    if (*existing) {  // left over: patch it to this canary
      std::error_code ec;
      json::object patch = json::parse(strategic_merge_patch(input), ec).as_object();
      object_in(object_in(patch, "metadata"), "annotations")[kCanaryTotal] = std::to_string(total);
      put = cluster.patch(canary_path, kStrategic, patch);
    } else {
      put = cluster.create(deployments_path(ns),
                           canary_deployment(*stable, *names, selector, input, total));
    }
    if (!put) return deploy.fail(put.error());
    spdlog::info("kubernetes: canary {} of {}: {} replicas of {} at {}", key,
                 names->stable_deployment, replicas, target->image, where);
    deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                    "canary " + where + " at " + target->image + " (" + std::to_string(replicas) +
                        " of " + std::to_string(total) + " replicas)");
  }
  if (names->ingress) {
    const std::string service_path = services_path(ns) + "/" + names->service;
    auto service = cluster.get(service_path);
    if (!service) return deploy.fail(service.error());
    if (!*service) {
      auto stable_service = cluster.must_get(services_path(ns) + "/" + names->stable_service);
      if (!stable_service) return deploy.fail(stable_service.error());
      if (auto made = cluster.create(services_path(ns), canary_service(*stable_service, *names));
          !made)
        return deploy.fail(made.error());
    }
    const std::string ingress_path = ingresses_path(ns) + "/" + names->ingress_name;
    auto ingress = cluster.get(ingress_path);
    if (!ingress) return deploy.fail(ingress.error());
    // No traffic until the first step (the CanaryStepReached that follows this deploy).
    Expected<void, std::string> put;
    if (*ingress) {
      put = cluster.patch(
          ingress_path, kMerge,
          json::object{
              {"metadata", json::object{{"annotations", canary_annotations(0, {}, true)}}}});
    } else {
      auto stable_ingress = cluster.must_get(ingresses_path(ns) + "/" + names->stable_ingress);
      if (!stable_ingress) return deploy.fail(stable_ingress.error());
      put = cluster.create(ingresses_path(ns), canary_ingress(*stable_ingress, *names, 0, {}));
    }
    if (!put) return deploy.fail(put.error());
  }

  DeploymentFeed feed(*target, names->deployment, [&] { return cluster.must_get(canary_path); });
  remote_deploy::Watch how{external_id,
                           "rollout of " + where,
                           poll_,
                           target->rollout_timeout,
                           target->url,
                           " (the canary Deployment stays; abort to remove it)",
                           [&](std::chrono::milliseconds d) { feed.wait(d); }};
  remote_deploy::watch(deploy, how, [&]() -> Expected<remote_deploy::Verdict, std::string> {
    auto now = feed.current();
    if (!now) return unexpected(now.error());
    if (deploy_key_of(*now) != key) {
      return unexpected("another deploy replaced " + where + " during the rollout");
    }
    return rollout_of(*now);
  });
}

Expected<void, std::string> KubernetesCanaryTarget::apply(const engine::CanaryTraffic& t) {
  auto target = cluster_target_of(t.spec, targets_);
  if (!target) return unexpected(target.error());
  auto names = canary_names_of(t.spec);
  if (!names) return unexpected(names.error());
  Objects cluster(*target);
  const std::string& ns = target->ns;
  const std::string canary_path = deployment_path(ns, names->deployment);
  const std::string stable_path = deployment_path(ns, names->stable_deployment);
  const std::string ingress_path = ingresses_path(ns) + "/" + names->ingress_name;
  auto canary = cluster.get(canary_path);
  if (!canary) return unexpected(canary.error());
  uint32_t total = 0;  // 0: unknown (the canary Deployment is gone)
  if (*canary) {
    total = static_cast<uint32_t>(std::strtoul(
        string_at(object_at(object_at(**canary, "metadata"), "annotations"), kCanaryTotal).c_str(),
        nullptr, 10));
  }
  auto remove_canary = [&]() -> Expected<void, std::string> {
    if (names->ingress) {
      if (auto r = cluster.remove(ingress_path); !r) return r;
      if (auto r = cluster.remove(services_path(ns) + "/" + names->service); !r) return r;
    }
    return cluster.remove(canary_path);
  };
  switch (t.phase) {
    case Phase::kStep: {
      if (!*canary)
        return unexpected("the canary Deployment " + ns + "/" + names->deployment + " is gone");
      if (names->dubbo) return {};  // the config center's rule moves the calls (adapters/dubbo)
      if (names->ingress) {
        return cluster.patch(
            ingress_path, kMerge,
            json::object{
                {"metadata",
                 json::object{{"annotations", canary_annotations(t.weight, t.strategy.match())}}}});
      }
      if (total == 0) {  // never scale the stable Deployment from an unknown N
        return unexpected("the canary Deployment " + ns + "/" + names->deployment + " has no " +
                          kCanaryTotal + " annotation");
      }
      const auto split = remote_deploy::replica_split(total, t.weight);
      if (auto r = cluster.patch(canary_path, kStrategic, replicas_patch(split.canary)); !r)
        return r;
      return cluster.patch(stable_path, kStrategic, replicas_patch(split.stable));
    }
    case Phase::kPromoted: {
      // The stable Deployment takes the canary's image and deploy key (a later
      // deploy or rollback patches it as usual), then the canary objects go.
      const PatchInput input = patch_input(*target, t.spec, local::job_key(t.deploy_id, t.attempt),
                                           names->ingress ? 0 : total);
      std::error_code ec;
      auto patch = json::parse(strategic_merge_patch(input), ec);
      if (auto r = cluster.patch(stable_path, kStrategic, patch.as_object()); !r) return r;
      // The canary objects serve until the stable Deployment runs the
      // canary's image: the same rollout wait as a deploy's.
      const std::string where = ns + "/" + names->stable_deployment;
      DeploymentFeed feed(*target, names->stable_deployment,
                          [&] { return cluster.must_get(stable_path); });
      remote_deploy::Watch how{"k8s:" + where,
                               "rollout of " + where,
                               poll_,
                               target->rollout_timeout,
                               "",
                               "",
                               [&](std::chrono::milliseconds d) { feed.wait(d); }};
      auto rolled = remote_deploy::poll_until(
          how,
          [&]() -> Expected<remote_deploy::Verdict, std::string> {
            auto now = feed.current();
            if (!now) return unexpected(now.error());
            // A deploy after the promotion owns the stable one now: the
            // promotion has nothing left to wait for (and must not be repeated).
            if (deploy_key_of(*now) != input.deploy_key) {
              spdlog::warn("canary {}: another deploy replaced {} during the rollout", t.canary_id,
                           where);
              return remote_deploy::Verdict{remote_deploy::Verdict::State::kDone, ""};
            }
            return rollout_of(*now);
          },
          [this] { return queue_.stopping(); });
      if (!rolled) return unexpected(rolled.error() + " (the canary objects stay)");
      if (!*rolled) return unexpected("stopped while waiting for the " + how.what);
      // A new canary deploy may have taken the name while we waited: not ours to delete.
      auto still = cluster.get(canary_path);
      if (!still) return unexpected(still.error());
      if (*still && deploy_key_of(**still) != input.deploy_key) return {};
      return remove_canary();
    }
    case Phase::kAborted: {
      if (names->ingress) {
        // Weight 0 and no header rule first: nginx stops routing to the canary
        // before its objects are deleted.
        auto r = cluster.patch(
            ingress_path, kMerge,
            json::object{
                {"metadata",
                 json::object{{"annotations", canary_annotations(0, t.strategy.match(), true)}}}},
            true);
        if (!r) return r;
      }
      // Replicas: the stable Deployment back at its N first (it then takes
      // the canary's share as the canary's pods go), then the canary goes.
      if (!names->ingress && total > 0) {
        if (auto r = cluster.patch(stable_path, kStrategic, replicas_patch(total)); !r) return r;
      }
      return remove_canary();
    }
  }
  return {};
}

}  // namespace wharf::kubernetes
