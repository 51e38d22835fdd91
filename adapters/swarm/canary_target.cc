#include "adapters/swarm/canary_target.h"

#include <spdlog/spdlog.h>

#include <optional>

#include "adapters/local/active_jobs.h"
#include "engine/dubbo_labels.h"

namespace wharf::swarm {
namespace json = boost::json;

namespace {

using Phase = engine::CanaryTraffic::Phase;

json::object object_at(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : json::object{};
}

json::object& object_in(json::object& o, const char* key) {
  json::value& v = o[key];
  if (!v.is_object()) v = json::object{};
  return v.as_object();
}

std::string canary_name_of(const wharf::v1::DeploySpec& spec, const PortainerTarget& t) {
  return remote_deploy::setting(spec, "canary_service", t.service + "-canary");
}

// The canary service, or nullopt when it is not there.
Expected<std::optional<json::object>, std::string> find_service(Portainer& portainer,
                                                                const std::string& name) {
  auto response = portainer.call("GET", portainer.service_path(name));
  if (!response) return unexpected(response.error());
  if (response->status == 404) return std::optional<json::object>{};
  if (response->status != 200)
    return unexpected("inspect service " + name + ": " + http_client::describe(*response));
  std::error_code ec;
  auto parsed = json::parse(response->body, ec);
  if (ec || !parsed.is_object()) return unexpected("unreadable service " + name);
  return std::optional<json::object>(std::move(parsed.as_object()));
}

uint64_t total_of(const json::object& canary) {
  auto labels = object_at(object_at(canary, "Spec"), "Labels");
  auto* v = labels.if_contains(kCanaryTotalLabel);
  return v && v->is_string() ? std::strtoull(v->as_string().c_str(), nullptr, 10) : 0;
}

Expected<void, std::string> scale(Portainer& portainer, const std::string& name,
                                  const std::string& where, uint64_t replicas) {
  auto service = inspect_service(portainer, name, where);
  if (!service) return unexpected(service.error());
  if (replicas_of(*service) == replicas) return {};
  return update_service(portainer, name, where, std::move(*service),
                        [&](const json::object& s) { return scaled_spec(s, replicas); });
}

Expected<void, std::string> remove(Portainer& portainer, const std::string& name) {
  auto response = portainer.call("DELETE", portainer.service_path(name));
  if (!response) return unexpected(response.error());
  if (response->status != 200 && response->status != 204 && response->status != 404)
    return unexpected("remove service " + name + ": " + http_client::describe(*response));
  return {};
}

}  // namespace

uint64_t replicas_of(const json::object& service) {
  auto replicated = object_at(object_at(object_at(service, "Spec"), "Mode"), "Replicated");
  auto* r = replicated.if_contains("Replicas");
  return r && r->is_int64()    ? static_cast<uint64_t>(r->as_int64())
         : r && r->is_uint64() ? r->as_uint64()
                               : 1;
}

json::object scaled_spec(const json::object& service, uint64_t replicas) {
  json::object spec = object_at(service, "Spec");
  object_in(object_in(spec, "Mode"), "Replicated")["Replicas"] = replicas;
  return spec;
}

json::object canary_copy(const json::object& stable, const std::string& name, uint64_t replicas,
                         uint64_t total) {
  json::object spec = scaled_spec(stable, replicas);
  const std::string stable_name(object_at(stable, "Spec").contains("Name")
                                    ? object_at(stable, "Spec").at("Name").as_string()
                                    : "");
  spec["Name"] = name;
  json::object& labels = object_in(spec, "Labels");
  labels.erase(kDeployLabel);  // set by the update that follows, with the canary's key
  labels[kCanaryOfLabel] = stable_name;
  labels[kCanaryTotalLabel] = std::to_string(total);
  // The stable service publishes the ports; the canary's tasks join its
  // networks under the stable service's name.
  if (auto* endpoint = spec.if_contains("EndpointSpec"); endpoint && endpoint->is_object())
    endpoint->as_object().erase("Ports");
  if (auto* networks = object_in(spec, "TaskTemplate").if_contains("Networks");
      networks && networks->is_array()) {
    for (auto& n : networks->as_array()) {
      if (!n.is_object()) continue;
      json::value& aliases = n.as_object()["Aliases"];
      if (!aliases.is_array()) aliases = json::array{};
      aliases.as_array().push_back(json::string(stable_name));
    }
  }
  return spec;
}

SwarmCanaryTarget::SwarmCanaryTarget(const targets::TargetResolver& targets,
                                     std::chrono::milliseconds poll,
                                     std::chrono::milliseconds retry)
    : targets_(targets),
      poll_(poll),
      queue_(
          "swarm canary", [this](const engine::CanaryTraffic& t) { return apply(t); }, retry),
      analyser_([](const engine::CanaryTraffic& t) {
        return router::probe_sources(t, remote_deploy::setting(t.spec, "canary_url", t.canary_url));
      }),
      runner_("swarm canary", [this](remote_deploy::Deploy& d) { run(d); }) {}

void SwarmCanaryTarget::set(const engine::CanaryTraffic& traffic,
                            std::function<void(const engine::CanaryVerdict&)> abort) {
  queue_.push(traffic, abort);
  analyser_.track(traffic, std::move(abort));
}

void SwarmCanaryTarget::run(remote_deploy::Deploy& deploy) {
  const engine::DeployJob& job = deploy.job();
  const std::string& key = deploy.key();
  auto target = portainer_target_of(job.spec, targets_);
  if (!target) return deploy.fail(target.error());
  const auto& match = job.spec.canary().match();
  if (!match.header().empty() || !match.cookie().empty()) {
    return deploy.fail(
        "Swarm has no header or cookie routing: a Swarm canary splits by replica count only "
        "(docs/canary.md#swarm)");
  }
  Portainer portainer(*target);
  const std::string name = canary_name_of(job.spec, *target);
  const std::string where = name + " (Portainer endpoint " + target->endpoint_id + ")";
  const std::string external_id = "swarm:" + name;

  auto stable = inspect_service(portainer, target->service, target->service);
  if (!stable) return deploy.fail(stable.error());
  const uint64_t total = job.spec.replicas() > 0 ? job.spec.replicas() : replicas_of(*stable);
  const uint32_t first =
      job.spec.canary().steps().empty() ? 0 : job.spec.canary().steps(0).weight();
  // Dubbo: one canary task carrying the canary label; the config center's
  // rules, not the task ratio, decide which calls reach it.
  const bool dubbo = engine::dubbo_canary(job.spec);
  const uint64_t replicas =
      dubbo ? 1 : remote_deploy::replica_split(static_cast<uint32_t>(total), first).canary;
  auto canary = find_service(portainer, name);
  if (!canary) return deploy.fail(canary.error());
  if (*canary && deploy_key_of(**canary) == key) {
    deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                    "canary already updated; watching " + where);
  } else {
    if (!*canary) {
      auto created = portainer.call("POST", portainer.docker_path("/services/create"),
                                    json::serialize(canary_copy(*stable, name, replicas, total)));
      if (!created) return deploy.fail(created.error());
      if (created->status != 200 && created->status != 201)
        return deploy.fail("create service " + where + ": " + http_client::describe(*created));
      auto made = inspect_service(portainer, name, where);
      if (!made) return deploy.fail(made.error());
      *canary = std::move(*made);
    }
    SpecChange change{target->image,
                      key,
                      0,  // the replicas are the step's (set above, or by the last step)
                      {job.spec.config().begin(), job.spec.config().end()}};
    if (dubbo) change.env["DUBBO_LABELS"] = engine::dubbo_canary_labels(job.spec, job.deploy_id);
    auto updated =
        update_service(portainer, name, where, std::move(**canary), [&](const json::object& s) {
          json::object spec = scaled_spec(s, replicas);
          json::object next = s;
          next["Spec"] = std::move(spec);
          json::object out = updated_spec(next, change);
          object_in(out, "Labels")[kCanaryTotalLabel] = std::to_string(total);
          return out;
        });
    if (!updated) return deploy.fail(updated.error());
    spdlog::info("swarm: canary {} of {}: {} of {} tasks at {}", key, target->service, replicas,
                 total, target->image);
    deploy.progress(engine::StepProgress::Kind::kStarted, external_id,
                    "canary " + where + " at " + target->image + " (" + std::to_string(replicas) +
                        " of " + std::to_string(total) + " tasks)");
  }

  remote_deploy::Watch how{external_id, "update of " + where,
                           poll_,       target->update_timeout,
                           target->url, " (the canary service stays; abort to remove it)"};
  remote_deploy::watch(deploy, how, [&]() -> Expected<remote_deploy::Verdict, std::string> {
    auto now = inspect_service(portainer, name, where);
    if (!now) return unexpected(now.error());
    if (deploy_key_of(*now) != key) {
      return unexpected("another deploy replaced " + where + " during the update");
    }
    return verdict_of(*now);
  });
}

Expected<void, std::string> SwarmCanaryTarget::apply(const engine::CanaryTraffic& t) {
  auto target = portainer_target_of(t.spec, targets_);
  if (!target) return unexpected(target.error());
  Portainer portainer(*target);
  const std::string name = canary_name_of(t.spec, *target);
  const std::string& stable = target->service;
  auto canary = find_service(portainer, name);
  if (!canary) return unexpected(canary.error());
  const uint64_t total = *canary ? total_of(**canary) : 0;  // 0: unknown (canary gone)
  switch (t.phase) {
    case Phase::kStep: {
      if (!*canary) return unexpected("the canary service " + name + " is gone");
      if (engine::dubbo_canary(t.spec)) return {};  // the config center's rule moves the calls
      if (total == 0) {  // never scale the stable service from an unknown N
        return unexpected("the canary service " + name + " has no " + kCanaryTotalLabel + " label");
      }
      const auto split = remote_deploy::replica_split(static_cast<uint32_t>(total), t.weight);
      if (auto r = scale(portainer, name, name, split.canary); !r) return r;
      return scale(portainer, stable, stable, split.stable);
    }
    case Phase::kPromoted: {
      auto service = inspect_service(portainer, stable, stable);
      if (!service) return unexpected(service.error());
      const std::string key = local::job_key(t.deploy_id, t.attempt);
      if (deploy_key_of(*service) != key) {
        const SpecChange change{remote_deploy::image_of(t.spec),
                                key,
                                total,
                                {t.spec.config().begin(), t.spec.config().end()}};
        auto updated =
            update_service(portainer, stable, stable, std::move(*service),
                           [&](const json::object& s) { return updated_spec(s, change); });
        if (!updated) return updated;
      }
      // The canary service serves until the stable one runs the canary's
      // image: the same update wait as a deploy's.
      remote_deploy::Watch how{
          "swarm:" + stable, "update of " + stable, poll_, target->update_timeout, "", ""};
      auto updated = remote_deploy::poll_until(
          how,
          [&]() -> Expected<remote_deploy::Verdict, std::string> {
            auto now = inspect_service(portainer, stable, stable);
            if (!now) return unexpected(now.error());
            // A deploy after the promotion owns the stable one now: the
            // promotion has nothing left to wait for (and must not be repeated).
            if (deploy_key_of(*now) != key) {
              spdlog::warn("canary {}: another deploy replaced {} during the update", t.canary_id,
                           stable);
              return remote_deploy::Verdict{remote_deploy::Verdict::State::kDone, ""};
            }
            return verdict_of(*now);
          },
          [this] { return queue_.stopping(); });
      if (!updated) return unexpected(updated.error() + " (the canary service stays)");
      if (!*updated) return unexpected("stopped while waiting for the " + how.what);
      // A new canary deploy may have taken the name while we waited: not ours to remove.
      auto still = find_service(portainer, name);
      if (!still) return unexpected(still.error());
      if (*still && deploy_key_of(**still) != key) return {};
      return remove(portainer, name);
    }
    case Phase::kAborted:
      if (total > 0) {
        if (auto r = scale(portainer, stable, stable, total); !r) return r;
      }
      return remove(portainer, name);
  }
  return {};
}

}  // namespace wharf::swarm
