#pragma once
// Where the local runners keep their files under the data directory. One place
// so docs/runtime.md, the runners and the tests agree on every path.
#include <cstdint>
#include <filesystem>
#include <string>

namespace wharf::local {

// Replaces every character outside [A-Za-z0-9._-] by '_' and a leading '.' by
// '_', so ids chosen by users can name files without escaping the directory.
std::string safe_name(const std::string& id);

class DataLayout {
 public:
  explicit DataLayout(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  // DATA/work/<run>-<attempt>: checkout and build of one attempt.
  std::filesystem::path build_work_dir(const std::string& run_id, uint32_t attempt) const;
  // DATA/builds/<run>-<attempt>.json: the build's marker (started, pid, result).
  std::filesystem::path build_marker(const std::string& run_id, uint32_t attempt) const;
  // DATA/logs/<run>/
  std::filesystem::path run_log_dir(const std::string& run_id) const;
  // DATA/logs/<run>/build-<attempt>.log
  std::filesystem::path build_log(const std::string& run_id, uint32_t attempt) const;
  // DATA/logs/<run>/tests-<env>-<attempt>.log
  std::filesystem::path tests_log(const std::string& run_id, const std::string& environment,
                                  uint32_t attempt) const;
  // DATA/tests/<run>-<env>-<attempt>.json: the recorded result of a test step.
  std::filesystem::path tests_marker(const std::string& run_id, const std::string& environment,
                                     uint32_t attempt) const;
  // DATA/logs/deploy/<deploy_id>-<attempt>.log
  std::filesystem::path deploy_log(const std::string& deploy_id, uint32_t attempt) const;
  // DATA/artifacts/sha256/
  std::filesystem::path artifact_store() const;
  // DATA/targets/<project>/<env>.json: what serves an environment.
  std::filesystem::path target_state(const std::string& project_id,
                                     const std::string& environment) const;
  std::filesystem::path targets_dir() const;
  // DATA/canary-router-ports.json: the port each environment's local canary
  // router got from the base port, kept across restarts.
  std::filesystem::path canary_router_ports() const;
  // DATA/sideeffects.log: one line per real start of a build or deploy process.
  std::filesystem::path side_effects_log() const;

 private:
  std::filesystem::path root_;
};

}  // namespace wharf::local
