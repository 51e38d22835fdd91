#include "adapters/dubbo/canary_target.h"

#include <spdlog/spdlog.h>

#include <set>

#include "adapters/dubbo/zookeeper_rule_store.h"
#include "adapters/local/deploy_target.h"

namespace wharf::dubbo {

namespace {

using Phase = engine::CanaryTraffic::Phase;

std::string key_of(const engine::CanaryTraffic& t) {
  return t.project_id + "/" + t.environment;
}

bool wharf_rule(const std::string& yaml) {
  return yaml.rfind(kOwnerMarker, 0) == 0;
}

std::string err(const StoreError& e) {
  return e.message;
}

}  // namespace

DubboCanaryTarget::DubboCanaryTarget(local::LocalDeployTarget* instances, Record record,
                                     DubboTargetOptions options, StoreFactory stores)
    : instances_(instances),
      record_(std::move(record)),
      options_(std::move(options)),
      factory_(std::move(stores)) {
  if (!factory_) {
    factory_ = [](const ZookeeperOptions& o) -> std::shared_ptr<RuleStore> {
      return std::make_shared<ZookeeperRuleStore>(o);
    };
  }
  queue_ = std::make_unique<remote_deploy::CanaryQueue>(
      "dubbo", [this](const engine::CanaryTraffic& t) { return apply(t); }, options_.retry,
      options_.tries, options_.max_retry);
  analyser_ = std::make_unique<router::CanaryAnalyser>(
      [](const engine::CanaryTraffic& t) { return router::probe_sources(t, t.canary_url); });
}

DubboCanaryTarget::~DubboCanaryTarget() {
  analyser_.reset();
  queue_.reset();
}

void DubboCanaryTarget::set(const engine::CanaryTraffic& traffic,
                            std::function<void(const engine::CanaryVerdict&)> abort) {
  queue_->push(traffic, abort);
  analyser_->track(traffic, std::move(abort));
}

bool DubboCanaryTarget::wait_idle(std::chrono::steady_clock::time_point deadline) const {
  return queue_->wait_idle(deadline);
}

std::string DubboCanaryTarget::last_error(const std::string& project_id,
                                          const std::string& environment) const {
  return queue_->last_error(project_id, environment);
}

std::shared_ptr<RuleStore> DubboCanaryTarget::store_for(const ConfigCenter& center) {
  std::lock_guard lock(mutex_);
  auto& [version, store] = stores_[center.target];
  if (!store || version != center.version) {
    version = center.version;
    store = factory_(center.zookeeper);  // a change still using the old one keeps it alive
  }
  return store;
}

Expected<void, std::string> DubboCanaryTarget::record(const engine::CanaryTraffic& t,
                                                      wharf::v1::Payload rule,
                                                      const std::string& command_id) {
  engine::RecordDubboRule cmd{t.project_id, t.environment, rule};
  auto done = record_(cmd, command_id);
  if (!done) return unexpected("recording " + command_id + ": " + done.error());
  // What this process now knows beyond the log view the change carries.
  std::lock_guard lock(mutex_);
  auto& owned = owned_[key_of(t)];
  switch (rule.kind_case()) {
    case wharf::v1::Payload::kDubboRuleSnapshotted: {
      const auto& s = rule.dubbo_rule_snapshotted();
      auto& r = owned[s.path()];
      r.canary_id = s.canary_id();
      r.has_snapshot = true;
      r.snapshot_yaml = s.yaml();
      r.snapshot_version = s.znode_version();
      break;
    }
    case wharf::v1::Payload::kDubboRuleWritten: {
      const auto& w = rule.dubbo_rule_written();
      auto& r = owned[w.path()];
      r.canary_id = w.canary_id();
      r.kind = w.kind();
      r.yaml = w.yaml();
      r.version = w.znode_version();
      break;
    }
    default:
      owned.erase(rule.dubbo_rule_removed().path());
  }
  return {};
}

Expected<void, std::string> DubboCanaryTarget::apply(const engine::CanaryTraffic& t) {
  auto settings = parse_settings(t.spec.target_settings());
  if (!settings) {
    return unexpected(settings.error().field + ": " + settings.error().message);
  }
  // The config center is resolved for each change: a rotated credential is
  // used from the next one on.
  auto center = config_center(options_.targets ? *options_.targets : targets::no_targets(),
                              settings->config_center);
  if (!center) return unexpected(center.error());
  auto store = store_for(*center);
  switch (t.phase) {
    case Phase::kStep:
      return step(t, *settings, *store);
    case Phase::kPromoted: {
      // The stable set first (the canary instance becomes current), then the rule.
      auto finished = finish_instances(t);
      if (!finished) return finished;
      return remove_all(t, *settings, *store);
    }
    case Phase::kAborted: {
      auto removed = remove_all(t, *settings, *store);
      if (!removed) return removed;
      return finish_instances(t);
    }
  }
  return {};
}

Expected<void, std::string> DubboCanaryTarget::finish_instances(const engine::CanaryTraffic& t) {
  if (t.spec.target() != wharf::v1::TARGET_TYPE_KUBERNETES &&
      t.spec.target() != wharf::v1::TARGET_TYPE_SWARM) {
    if (instances_ != nullptr) {
      instances_->finish_canary(t.project_id, t.environment, t.deploy_id, t.attempt,
                                t.phase == Phase::kPromoted);
    }
    return {};
  }
  if (!options_.remote_instances) {
    return unexpected(std::string("no Kubernetes or Swarm canary target to finish the canary"));
  }
  return options_.remote_instances(t);
}

Expected<void, std::string> DubboCanaryTarget::step(const engine::CanaryTraffic& t,
                                                    const DubboSettings& s, RuleStore& store) {
  const std::string path = s.path();
  wharf::v1::Payload written;
  auto* w = written.mutable_dubbo_rule_written();
  w->set_canary_id(t.canary_id);
  w->set_path(path);
  w->set_kind(s.kind());
  w->set_step(t.step);
  std::string yaml;
  if (s.route == "tag") {
    w->set_flag(s.tag);
    yaml = render_tag_rule(t.canary_id, s.application, s.tag, s.label, s.force);
  } else {
    auto listed = store.children(s.providers_path());
    if (!listed) return unexpected(err(listed.error()));
    std::set<std::string> canary, stable;
    for (const auto& child : *listed) {
      auto p = parse_provider(child);
      if (!p) continue;
      auto param = [&](const char* k) {
        auto it = p->params.find(k);
        return it == p->params.end() ? std::string() : it->second;
      };
      if (param("version") != s.service.version || param("group") != s.service.group) continue;
      // A canary instance: the canary label and, when wharf started it, this deploy's.
      const std::string deploy = param("wharf_deploy");
      const bool is_canary =
          param(s.label.key.c_str()) == s.label.value && (deploy.empty() || deploy == t.deploy_id);
      (is_canary ? canary : stable).insert(p->address);
    }
    if (canary.empty()) {
      return unexpected("no provider of " + service_key(s.service) + " labelled " + s.label.key +
                        "=" + s.label.value + " is registered under " + s.providers_path());
    }
    const uint32_t weight = canary_weight(t.weight, stable.size(), canary.size());
    const std::vector<std::string> addresses(canary.begin(), canary.end());
    yaml = render_weight_rule(t.canary_id, s.service, addresses, weight);
    w->set_share(t.weight);
    w->set_weight(weight);
    for (const auto& a : addresses) w->add_canary_addresses(a);
    w->set_stable_instances(static_cast<uint32_t>(stable.size()));
  }
  w->set_yaml(yaml);

  auto current = store.get(path);
  if (!current) return unexpected(err(current.error()));
  int32_t version = 0;
  if (!*current) {
    auto created = store.create(path, yaml);
    if (!created) return unexpected(err(created.error()));
    version = *created;
  } else if (wharf_rule((*current)->data)) {
    version = (*current)->version;
    if ((*current)->data != yaml) {
      auto set = store.set(path, yaml, version);
      if (!set && set.error().code == StoreError::Code::kNotAllowed) {
        // Written under an earlier credential of the config center (rotated
        // since): the node's ACL names that identity. Taken over in one
        // transaction — deleted at the version read and created again under
        // the current one (deleting needs only the parent's permission).
        spdlog::info(
            "dubbo canary {}: {} was written under another ZooKeeper identity; "
            "taking it over",
            t.canary_id, path);
        set = store.replace(path, yaml, version);
      }
      if (!set) return unexpected(err(set.error()));
      version = *set;
    }
  } else {
    // A person's rule: refuse, or keep it (in the log, before the write) to put back later.
    if (s.refuse_user_rule) {
      return unexpected(path +
                        " holds a rule wharf did not write and settings.dubbo_user_rule "
                        "is \"refuse\"");
    }
    wharf::v1::Payload snap;
    auto* sn = snap.mutable_dubbo_rule_snapshotted();
    sn->set_canary_id(t.canary_id);
    sn->set_path(path);
    sn->set_yaml((*current)->data);
    sn->set_znode_version((*current)->version);
    auto kept =
        record(t, snap,
               "dubbo/snapshot/" + t.canary_id + path + "@" + std::to_string((*current)->version));
    if (!kept) return kept;
    auto set = store.set(path, yaml, (*current)->version);
    if (!set) return unexpected(err(set.error()));
    version = *set;
  }
  w->set_znode_version(version);
  spdlog::info("dubbo canary {}: {} v{} ({})", t.canary_id, path, version,
               s.route == "tag"
                   ? "tag " + s.tag
                   : std::to_string(t.weight) + "%, weight " + std::to_string(w->weight()));
  // The step too: a node taken over after a rotation starts at version 0 again.
  return record(t, written,
                "dubbo/written/" + t.canary_id + path + "@" + std::to_string(version) + "/" +
                    std::to_string(t.step));
}

Expected<void, std::string> DubboCanaryTarget::remove_all(const engine::CanaryTraffic& t,
                                                          const DubboSettings& s,
                                                          RuleStore& store) {
  // The rules the log says wharf owns, what this process did since, and the
  // environment's own path (a rule written but not yet recorded when wharf
  // stopped carries wharf's first line).
  std::map<std::string, engine::DubboRuleState> owned = t.dubbo_rules;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [path, r] : owned_[key_of(t)]) owned[path] = r;
  }
  std::set<std::string> paths{s.path()};
  for (const auto& [path, r] : owned) paths.insert(path);
  const std::string reason = t.phase == Phase::kPromoted ? "promoted" : "aborted";

  for (const auto& path : paths) {
    auto known = owned.find(path);
    const engine::DubboRuleState* r = known == owned.end() ? nullptr : &known->second;
    wharf::v1::Payload removed;
    auto* rm = removed.mutable_dubbo_rule_removed();
    rm->set_canary_id(r != nullptr ? r->canary_id : t.canary_id);
    rm->set_path(path);
    rm->set_kind(r != nullptr && !r->kind.empty() ? r->kind : s.kind());
    rm->set_reason(reason);

    auto current = store.get(path);
    if (!current) return unexpected(err(current.error()));
    if (!*current) {
      if (r == nullptr) continue;  // nothing there, nothing owned
      rm->set_znode_version(-1);   // gone already (removed before a crash, or by a person)
    } else if (wharf_rule((*current)->data)) {
      rm->set_znode_version((*current)->version);
      if (r != nullptr && r->has_snapshot) {
        auto put_back = store.set(path, r->snapshot_yaml, (*current)->version);
        if (!put_back) return unexpected(err(put_back.error()));
        rm->set_restored(true);
        rm->set_restored_yaml(r->snapshot_yaml);
        rm->set_restored_version(*put_back);
      } else {
        auto gone = store.remove(path, (*current)->version);
        if (!gone) return unexpected(err(gone.error()));
      }
    } else {
      if (r == nullptr) continue;  // a person's rule wharf never touched
      // Put back before a crash, or replaced by a person since: left as it is.
      rm->set_znode_version(-1);
      rm->set_restored(r->has_snapshot && (*current)->data == r->snapshot_yaml);
      if (rm->restored()) {
        rm->set_restored_yaml(r->snapshot_yaml);
        rm->set_restored_version((*current)->version);
      }
    }
    spdlog::info("dubbo canary {}: {} {} ({})", rm->canary_id(), path,
                 rm->restored() ? "restored" : "removed", reason);
    auto done = record(t, removed,
                       "dubbo/removed/" + rm->canary_id() + path + "@" +
                           std::to_string(rm->znode_version()) + "/" + reason);
    if (!done) return done;
  }
  return {};
}

}  // namespace wharf::dubbo
