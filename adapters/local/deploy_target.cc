#include "adapters/local/deploy_target.h"

#include <fstream>
#include <thread>

#include "adapters/local/artifact_store.h"
#include "adapters/local/file_lock.h"
#include "adapters/local/http_probe.h"
#include "adapters/local/process.h"
#include "adapters/local/state_file.h"
#include "engine/dubbo_labels.h"

namespace wharf::local {
namespace fs = std::filesystem;
namespace json = boost::json;
using engine::DeployOutcome;
using engine::StepProgress;

namespace {

// Records the start, then becomes the service (exec keeps the pid, which is
// also the process group id, so stopping the group stops everything it forks).
constexpr const char* kStartScript = R"sh(
echo $$ > "$WHARF_PID_FILE"
printf '%s %s %s %s\n' "$WHARF_SIDE_EFFECT_KIND" "$WHARF_DEPLOY_ID" "$WHARF_ATTEMPT" "$$" >> "$WHARF_SIDE_EFFECTS"
exec /bin/sh -c "$WHARF_START_COMMAND"
)sh";

std::string url_for(int port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

std::optional<json::object> object_at(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return std::nullopt;
  return it->value().as_object();
}

// The pid an instance's start script wrote first thing. A crash between
// spawning and recording the pid in the state file leaves only this; the
// script may still be starting, so give it a moment to appear.
pid_t recorded_pid(const json::object& instance, std::chrono::milliseconds patience) {
  pid_t pid = static_cast<pid_t>(json_int(instance, "pid"));
  if (pid > 0) return pid;
  const std::string file = json_string(instance, "pid_file");
  if (file.empty()) return 0;
  auto deadline = std::chrono::steady_clock::now() + patience;
  for (;;) {
    std::ifstream in(file);
    long value = 0;
    if (in >> value && value > 0) return static_cast<pid_t>(value);
    if (std::chrono::steady_clock::now() >= deadline) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool same_key(const json::object& instance, const engine::DeployJob& job) {
  return json_string(instance, "deploy_id") == job.deploy_id &&
         json_int(instance, "attempt") == static_cast<int64_t>(job.attempt);
}

// One GET; 2xx and 3xx count as healthy.
bool answers_healthy(int port, const std::string& path) {
  auto response =
      http_get("127.0.0.1", port, path.empty() ? "/" : path, std::chrono::milliseconds(1000));
  return response && response->status >= 200 && response->status < 400;
}

}  // namespace

LocalDeployTarget::LocalDeployTarget(fs::path data_dir, DeployTargetOptions options)
    : layout_(std::move(data_dir)), options_(options) {}

LocalDeployTarget::~LocalDeployTarget() {
  tasks_.stop_and_join();
}

void LocalDeployTarget::start(const engine::DeployJob& job,
                              engine::Callbacks<DeployOutcome> callbacks) {
  auto active = jobs_.add(job_key(job.deploy_id, job.attempt), std::move(callbacks));
  if (active) tasks_.run([this, job, active] { run(job, active); });
}

void LocalDeployTarget::cancel(const std::string& deploy_id, uint32_t attempt) {
  jobs_.cancel(job_key(deploy_id, attempt));
}

std::mutex& LocalDeployTarget::environment_mutex(const std::string& project_id,
                                                 const std::string& environment) {
  std::lock_guard lock(mutex_);
  auto& slot = env_locks_[project_id + "/" + environment];
  if (!slot) slot = std::make_unique<std::mutex>();
  return *slot;
}

namespace {

// The working directory of an instance: its artifact directory (or the
// directory holding a single-file artifact).
fs::path instance_dir(const json::object& instance) {
  fs::path artifact = json_string(instance, "artifact_dir");
  return fs::is_directory(artifact) ? artifact : artifact.parent_path();
}

// Starts the instance described by `instance` (fields below); returns its pid.
Expected<pid_t, std::string> spawn_instance(const DataLayout& layout, const json::object& instance,
                                            const char* side_effect_kind) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", kStartScript};
  fs::path artifact = json_string(instance, "artifact_dir");
  spec.cwd = instance_dir(instance);
  spec.log_file = json_string(instance, "log");
  if (auto env = object_at(instance, "env")) {
    for (const auto& [k, v] : *env) {
      if (v.is_string()) spec.env[std::string(k)] = std::string(v.as_string());
    }
  }
  spec.env["PORT"] = std::to_string(json_int(instance, "port"));
  spec.env["WHARF_SIDE_EFFECT_KIND"] = side_effect_kind;
  spec.env["WHARF_SIDE_EFFECTS"] = fs::absolute(layout.side_effects_log()).string();
  spec.env["WHARF_DEPLOY_ID"] = json_string(instance, "deploy_id");
  spec.env["WHARF_ATTEMPT"] = std::to_string(json_int(instance, "attempt"));
  spec.env["WHARF_START_COMMAND"] = json_string(instance, "start_command");
  spec.env["WHARF_PID_FILE"] = json_string(instance, "pid_file");
  spec.env["WHARF_ARTIFACT"] = artifact.string();
  return spawn_detached(spec);
}

}  // namespace

void LocalDeployTarget::run(const engine::DeployJob& job, std::shared_ptr<Jobs::Job> active) {
  const std::string key = job_key(job.deploy_id, job.attempt);
  const fs::path state_path = layout_.target_state(job.project_id, job.environment);
  const fs::path log = layout_.deploy_log(job.deploy_id, job.attempt);
  auto progress = [&](StepProgress::Kind kind, std::string message, uint32_t percent,
                      std::string external_id = {}) {
    jobs_.progress(key, {kind, std::move(external_id), log.string(), std::move(message), percent});
  };
  auto note = [&](const std::string& line) { append_line(log, "wharf: " + line); };

  std::lock_guard env_lock(environment_mutex(job.project_id, job.environment));
  // And across processes sharing this data directory (workers).
  FileLock env_file_lock(state_path.string() + ".lock");
  json::object state = read_json_file(state_path).value_or(json::object{});
  auto fail = [&](const std::string& reason, pid_t kill_pid) {
    if (kill_pid > 0) stop_process_group(kill_pid, options_.stop_grace);
    state.erase("pending");
    write_json_file(state_path, state);
    note("deploy failed: " + reason);
    jobs_.finish(key, {false, "", reason + " (log: " + log.string() + ")"});
  };

  // A crash between switch and stop may have left an old instance running.
  if (auto it = state.find("retiring"); it != state.end() && it->value().is_int64()) {
    stop_process_group(static_cast<pid_t>(it->value().as_int64()), options_.stop_grace);
    state.erase("retiring");
    write_json_file(state_path, state);
  }

  auto current = object_at(state, "current");
  json::object instance;
  pid_t pid = 0;
  const char* kind = "deploy";
  if (auto canary = object_at(state, "canary"); canary && same_key(*canary, job)) {
    if (process_alive(static_cast<pid_t>(json_int(*canary, "pid")))) {
      jobs_.finish(key, {true, json_string(*canary, "url"), "already serving as canary"});
      return;
    }
    state.erase("canary");  // the canary died: start it again below
  }
  if (current && same_key(*current, job)) {
    pid = static_cast<pid_t>(json_int(*current, "pid"));
    if (process_alive(pid)) {  // already done before a restart: report, do not redo
      jobs_.finish(key, {true, json_string(*current, "url"), "already serving"});
      return;
    }
    instance = *current;  // switched, then the process died: start the recorded spec
    pid = 0;
    kind = "restore";
  } else if (auto pending = object_at(state, "pending")) {
    pid_t pending_pid = recorded_pid(*pending, std::chrono::seconds(2));
    if (same_key(*pending, job) && process_alive(pending_pid)) {
      instance = *pending;  // started before a restart: keep checking it
      pid = pending_pid;
    } else if (pending_pid > 0) {
      stop_process_group(pending_pid, options_.stop_grace);  // leftover of another attempt
    }
  }

  if (instance.empty()) {
    if (job.spec.start_command().empty()) return fail("the deploy spec has no start command", 0);
    fs::path artifact = job.spec.artifact_uri().empty()
                            ? artifact_path(layout_.artifact_store(), job.spec.artifact_digest())
                            : fs::path(job.spec.artifact_uri());
    if (!fs::exists(artifact)) return fail("artifact not found: " + artifact.string(), 0);
    int port = 0;
    auto settings = job.spec.target_settings();
    if (auto it = settings.find("port"); it != settings.end() && !it->second.empty()) {
      int base = std::atoi(it->second.c_str());
      int current_port = current ? static_cast<int>(json_int(*current, "port")) : 0;
      port = current_port == base ? base + 1 : base;
    } else {
      auto free_port = pick_free_port();
      if (!free_port) return fail(free_port.error(), 0);
      port = *free_port;
    }
    json::object env;
    for (const auto& [k, v] : job.spec.config()) env[k] = v;
    env["WHARF_VERSION"] = job.spec.version();
    env["WHARF_ENVIRONMENT"] = job.environment;
    if (current && engine::dubbo_canary(job.spec)) {
      // A Dubbo canary instance registers with the canary label, which the
      // config-center rules select (docs/canary.md#dubbo).
      env["DUBBO_LABELS"] = engine::dubbo_canary_labels(job.spec, job.deploy_id);
    }
    instance = {{"deploy_id", job.deploy_id},
                {"attempt", job.attempt},
                {"pid", 0},
                {"port", port},
                {"url", url_for(port)},
                {"version", job.spec.version()},
                {"artifact_digest", job.spec.artifact_digest()},
                {"artifact_dir", artifact.string()},
                {"start_command", job.spec.start_command()},
                {"health_path", job.spec.health_path()},
                {"log", log.string()},
                {"pid_file", (state_path.parent_path() /
                              (safe_name(job.environment) + "." + safe_name(job.deploy_id) + "-" +
                               std::to_string(job.attempt) + ".pid"))
                                 .string()},
                {"env", env}};
  }
  if (pid == 0) {
    state["pending"] = instance;
    write_json_file(state_path, state);
    note(std::string(kind) + " " + json_string(instance, "version") + " on port " +
         std::to_string(json_int(instance, "port")));
    auto spawned = spawn_instance(layout_, instance, kind);
    if (!spawned) return fail("cannot start: " + spawned.error(), 0);
    pid = *spawned;
    instance["pid"] = pid;
    state["pending"] = instance;
    write_json_file(state_path, state);
  }
  const int port = static_cast<int>(json_int(instance, "port"));
  const std::string url = json_string(instance, "url");
  progress(StepProgress::Kind::kStarted, "started pid " + std::to_string(pid) + " on " + url, 10,
           "local:" + std::to_string(pid));

  auto health_timeout = options_.health_timeout;
  if (auto it = job.spec.target_settings().find("health_timeout_s");
      it != job.spec.target_settings().end()) {
    health_timeout = std::chrono::seconds(std::atoi(it->second.c_str()));
  }
  const auto deadline = std::chrono::steady_clock::now() + health_timeout;
  const std::string health_path = json_string(instance, "health_path");
  while (!answers_healthy(port, health_path)) {
    if (tasks_.stopping()) return;  // wharf shuts down; the next start adopts it
    if (active->cancel.load()) return fail("cancelled", pid);
    if (!process_alive(pid)) return fail("the process exited before it was healthy", 0);
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail("not healthy at " + url + health_path + " within " +
                      std::to_string(health_timeout.count() / 1000) + " s",
                  pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  progress(StepProgress::Kind::kProgress, "healthy at " + url + health_path, 60);

  if (job.spec.has_canary() && current) {
    // A canary serves beside the current instance; the router splits traffic.
    state["canary"] = instance;
    state.erase("pending");
    write_json_file(state_path, state);
    note("canary " + json_string(instance, "version") + " at " + url + " beside " +
         json_string(*current, "version"));
    progress(StepProgress::Kind::kProgress, "canary at " + url, 100);
    jobs_.finish(key, {true, url, ""});
    return;
  }
  // Switch: the new instance becomes current first, then the old one stops.
  pid_t old_pid = current ? static_cast<pid_t>(json_int(*current, "pid")) : 0;
  state["current"] = instance;
  state.erase("pending");
  if (old_pid > 0 && old_pid != pid) state["retiring"] = old_pid;
  write_json_file(state_path, state);
  if (old_pid > 0 && old_pid != pid) {
    note("stopping previous instance pid " + std::to_string(old_pid));
    stop_process_group(old_pid, options_.stop_grace);
    state.erase("retiring");
    write_json_file(state_path, state);
  }
  note("switched to " + json_string(instance, "version") + " at " + url);
  progress(StepProgress::Kind::kProgress, "switched to " + url, 100);
  jobs_.finish(key, {true, url, ""});
}

int LocalDeployTarget::restore() {
  int restarted = 0;
  std::error_code ec;
  if (!fs::exists(layout_.targets_dir(), ec)) return 0;
  for (auto it = fs::recursive_directory_iterator(layout_.targets_dir(), ec);
       !ec && it != fs::end(it); it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    auto state = read_json_file(it->path());
    if (!state) continue;
    auto current = object_at(*state, "current");
    if (!current || process_alive(static_cast<pid_t>(json_int(*current, "pid")))) continue;
    auto spawned = spawn_instance(layout_, *current, "restore");
    if (!spawned) continue;
    (*current)["pid"] = *spawned;
    (*state)["current"] = *current;
    write_json_file(it->path(), *state);
    ++restarted;
  }
  return restarted;
}

void LocalDeployTarget::finish_canary(const std::string& project_id, const std::string& environment,
                                      const std::string& deploy_id, uint32_t attempt,
                                      bool promoted) {
  tasks_.run([this, project_id, environment, deploy_id, attempt, promoted] {
    const fs::path state_path = layout_.target_state(project_id, environment);
    std::lock_guard env_lock(environment_mutex(project_id, environment));
    FileLock env_file_lock(state_path.string() + ".lock");
    json::object state = read_json_file(state_path).value_or(json::object{});
    auto canary = object_at(state, "canary");
    if (!canary || json_string(*canary, "deploy_id") != deploy_id ||
        json_int(*canary, "attempt") != static_cast<int64_t>(attempt)) {
      return;  // already finished (a replay after restart)
    }
    const fs::path log = json_string(*canary, "log");
    pid_t stop_pid = static_cast<pid_t>(json_int(*canary, "pid"));
    if (promoted) {
      auto current = object_at(state, "current");
      stop_pid = current ? static_cast<pid_t>(json_int(*current, "pid")) : 0;
      state["current"] = *canary;
      if (stop_pid > 0) state["retiring"] = stop_pid;
    }
    state.erase("canary");
    write_json_file(state_path, state);
    append_line(log, std::string("wharf: canary ") + (promoted ? "promoted" : "aborted") +
                         (stop_pid > 0 ? "; stopping pid " + std::to_string(stop_pid) : ""));
    if (stop_pid > 0) stop_process_group(stop_pid, options_.stop_grace);
    if (promoted && state.erase("retiring")) write_json_file(state_path, state);
  });
}

namespace {

// The instance in state slot `slot` ("current", "canary") of an environment.
std::optional<ServingInstance> instance_in(const fs::path& state_path, const char* slot) {
  auto state = read_json_file(state_path);
  auto instance = state ? object_at(*state, slot) : std::nullopt;
  if (!instance) return std::nullopt;
  ServingInstance s;
  s.deploy_id = json_string(*instance, "deploy_id");
  s.attempt = static_cast<uint32_t>(json_int(*instance, "attempt"));
  s.pid = static_cast<int>(json_int(*instance, "pid"));
  s.port = static_cast<int>(json_int(*instance, "port"));
  s.url = json_string(*instance, "url");
  s.version = json_string(*instance, "version");
  s.artifact_digest = json_string(*instance, "artifact_digest");
  s.log_file = json_string(*instance, "log");
  s.work_dir = instance_dir(*instance).string();
  s.alive = process_alive(s.pid);
  return s;
}

}  // namespace

std::optional<ServingInstance> LocalDeployTarget::serving(const std::string& project_id,
                                                          const std::string& environment) const {
  return instance_in(layout_.target_state(project_id, environment), "current");
}

std::optional<ServingInstance> LocalDeployTarget::serving_canary(
    const std::string& project_id, const std::string& environment) const {
  return instance_in(layout_.target_state(project_id, environment), "canary");
}

int LocalDeployTarget::stop_services() {
  std::error_code ec;
  if (!fs::exists(layout_.targets_dir(), ec)) return 0;
  std::vector<fs::path> files, pid_files;
  for (auto it = fs::recursive_directory_iterator(layout_.targets_dir(), ec);
       !ec && it != fs::end(it); it.increment(ec)) {
    if (it->path().extension() == ".json") files.push_back(it->path());
    if (it->path().extension() == ".pid") pid_files.push_back(it->path());
  }
  int stopped = 0;
  auto stop = [&](pid_t pid) {
    if (!process_alive(pid)) return;
    stop_process_group(pid, options_.stop_grace);
    ++stopped;
  };
  for (const auto& file : files) {
    FileLock lock(file.string() + ".lock");
    auto state = read_json_file(file);
    if (!state) continue;
    for (const char* slot : {"current", "pending", "canary"}) {
      auto it = state->find(slot);
      if (it == state->end() || !it->value().is_object()) continue;
      auto& instance = it->value().as_object();
      stop(static_cast<pid_t>(json_int(instance, "pid")));
      instance["pid"] = 0;  // a recycled pid must not pass for the instance
    }
    if (auto it = state->find("retiring"); it != state->end() && it->value().is_int64()) {
      stop(static_cast<pid_t>(it->value().as_int64()));
      state->erase("retiring");
    }
    write_json_file(file, *state);
  }
  // Instances a crash left without a place in any state file.
  for (const auto& file : pid_files) {
    std::ifstream in(file);
    long pid = 0;
    if (in >> pid && pid > 0) stop(static_cast<pid_t>(pid));
    fs::remove(file, ec);
  }
  return stopped;
}

void LocalDeployTarget::stop_all() {
  std::error_code ec;
  if (!fs::exists(layout_.targets_dir(), ec)) return;
  std::vector<fs::path> files, pid_files;
  for (auto it = fs::recursive_directory_iterator(layout_.targets_dir(), ec);
       !ec && it != fs::end(it); it.increment(ec)) {
    if (it->path().extension() == ".json") files.push_back(it->path());
    if (it->path().extension() == ".pid") pid_files.push_back(it->path());
  }
  // Every instance ever started left its pid file: this also reaches one a
  // crash left behind without a place in any state file.
  for (const auto& file : pid_files) {
    std::ifstream in(file);
    long pid = 0;
    if (in >> pid && pid > 0) stop_process_group(static_cast<pid_t>(pid), options_.stop_grace);
    fs::remove(file, ec);
  }
  for (const auto& file : files) {
    auto state = read_json_file(file);
    if (!state) continue;
    for (const char* slot : {"current", "pending", "canary"}) {
      if (auto instance = object_at(*state, slot)) {
        stop_process_group(static_cast<pid_t>(json_int(*instance, "pid")), options_.stop_grace);
      }
    }
    if (auto it = state->find("retiring"); it != state->end() && it->value().is_int64()) {
      stop_process_group(static_cast<pid_t>(it->value().as_int64()), options_.stop_grace);
    }
    fs::remove(file, ec);
  }
}

}  // namespace wharf::local
