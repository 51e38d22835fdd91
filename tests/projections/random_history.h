#pragma once
// Random event histories over small id pools, so entities are touched many
// times and every projection path (rollbacks, failures, cancels, revocations,
// events arriving for unknown entities) is exercised. Histories need not obey
// the engine's rules: projections must be deterministic for any sequence.
#include <random>
#include <string>
#include <vector>

#include "tests/projections/history.h"

namespace wharf::projections::testing {

struct RandomHistory {
  static constexpr int kProjects = 3, kRuns = 8, kUsers = 4, kVersions = 6, kDeploys = 10;
  static std::string project(int i) { return "p" + std::to_string(i); }
  static std::string run(int i) { return "r" + std::to_string(i); }
  static std::string user(int i) { return "u" + std::to_string(i); }
  static std::string version(int i) { return "v" + std::to_string(i); }
  static std::string deploy(int i) { return "d" + std::to_string(i); }
  static std::vector<std::string> envs() { return {"staging", "prod"}; }
};

// Appends `count` random events; returns the head position.
inline uint64_t append_random_history(events::EventStore& store, uint32_t seed, int count) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  using R = RandomHistory;
  History h(store);
  uint64_t last = 0;
  std::vector<std::string> succeeded_event_ids;
  for (int i = 0; i < count; ++i) {
    std::string p = R::project(pick(R::kProjects));
    std::string r = R::run(pick(R::kRuns));
    std::string u = R::user(pick(R::kUsers));
    std::string v = R::version(pick(R::kVersions));
    std::string d = R::deploy(pick(R::kDeploys));
    std::string env = R::envs()[pick(2)];
    auto role = static_cast<wharf::v1::Role>(1 + pick(3));
    std::string env_stream = "env-" + p + "-" + env;
    auto channel = static_cast<wharf::v1::Channel>(1 + pick(5));
    switch (pick(22)) {
      case 0: last = h.add("project-" + p, project_created(p, R::envs(), u), u, channel); break;
      case 1: last = h.add("project-" + p, environment_defined(p, "qa", pick(3)), u, channel); break;
      case 2: last = h.add("run-" + r, commit_observed(p, r, "sha" + r + v, u), "gerrit:x"); break;
      case 3: last = h.add("run-" + r, run_started(p, r, "sha" + r)); break;
      case 4: last = h.add("run-" + r, build_requested(p, r, 1 + pick(2))); break;
      case 5: last = h.add("run-" + r, build_started(r, 1 + pick(2))); break;
      case 6: last = h.add("run-" + r, build_succeeded(r, 1 + pick(2), "sha256:" + v)); break;
      case 7: last = h.add("run-" + r, build_failed(r, 1 + pick(2), "boom")); break;
      case 8: last = h.add("run-" + r, version_recorded(p, r, v, "sha" + r, u)); break;
      case 9: last = h.add(env_stream, deploy_requested(p, env, d, pick(2) ? r : "", v, u), u, channel); break;
      case 10: last = h.add(env_stream, deploy_started(p, env, d)); break;
      case 11: {
        last = h.add(env_stream, deploy_succeeded(p, env, d, pick(2) ? r : "", v));
        succeeded_event_ids.push_back(store.read_all(last, 1)->front().event_id());
        break;
      }
      case 12: last = h.add(env_stream, deploy_failed(p, env, d, r, "unhealthy")); break;
      case 13: {
        std::string target = succeeded_event_ids.empty() ? "none"
                             : succeeded_event_ids[pick(static_cast<int>(succeeded_event_ids.size()))];
        std::string rb = "rb" + std::to_string(i);
        last = h.add(env_stream, rollback_requested(p, env, rb, target, v, "slow", u), u, channel);
        last = h.add(env_stream, deploy_requested(p, env, d, "", v, u, rb, target), u, channel);
        break;
      }
      case 14: last = h.add("run-" + r, approval_required(p, r, env)); break;
      case 15: last = h.add("run-" + r, approval_granted(r, env, u), u, channel); break;
      case 16: last = h.add("run-" + r, pick(2) ? run_completed(p, r, pick(2)) : run_cancelled(p, r, u), u); break;
      case 17: last = h.add("access-" + p, permission_requested("q" + std::to_string(pick(6)), p, u, role), u); break;
      case 18: last = h.add("access-" + p, permission_granted(p, u, role, "admin", pick(2) ? "q" + std::to_string(pick(6)) : ""), "admin"); break;
      case 19: last = h.add("access-" + p, permission_revoked(p, u, role, "admin"), "admin"); break;
      case 20: last = h.add("access-" + p, permission_denied("q" + std::to_string(pick(6)), p, u, "admin"), "admin"); break;
      case 21: last = h.add("tokens", token_issued("t" + std::to_string(pick(5)), u, pick(2)), u); break;
    }
  }
  return last;
}

}  // namespace wharf::projections::testing
