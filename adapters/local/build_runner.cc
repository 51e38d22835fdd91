#include "adapters/local/build_runner.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include "adapters/local/artifact_store.h"
#include "adapters/local/file_lock.h"
#include "adapters/local/process.h"
#include "adapters/local/state_file.h"

namespace wharf::local {
namespace fs = std::filesystem;
using engine::BuildOutcome;

namespace {

// Runs as `/bin/sh -c` in the work dir with the WHARF_* variables set. It
// records itself first (pid file, side-effects line), so a restarted wharf can
// tell "running" from "never started", and writes its exit status last.
constexpr const char* kBuildScript = R"sh(
echo $$ > "$WHARF_WORK/pid"
printf 'build %s %s %s\n' "$WHARF_RUN_ID" "$WHARF_ATTEMPT" "$$" >> "$WHARF_SIDE_EFFECTS"
echo "wharf: checkout $WHARF_COMMIT from $WHARF_REPOSITORY"
rm -rf "$WHARF_WORK/src"
if git clone -q --no-checkout "$WHARF_REPOSITORY" "$WHARF_WORK/src" &&
   cd "$WHARF_WORK/src" && git -c advice.detachedHead=false checkout -q "$WHARF_COMMIT"; then
  echo "wharf: build: $WHARF_BUILD_COMMAND"
  /bin/sh -c "$WHARF_BUILD_COMMAND"
  code=$?
else
  code=125
fi
echo "wharf: build exited with $code"
echo $code > "$WHARF_WORK/status.tmp" && mv "$WHARF_WORK/status.tmp" "$WHARF_WORK/status"
)sh";

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

boost::json::object outcome_to_json(const BuildOutcome& o) {
  return {{"succeeded", o.succeeded},
          {"artifact_digest", o.artifact_digest},
          {"artifact_uri", o.artifact_uri},
          {"reason", o.reason},
          {"exit_code", o.exit_code},
          {"duration_ms", o.duration_ms}};
}

BuildOutcome outcome_from_json(const boost::json::object& j) {
  BuildOutcome o;
  auto it = j.find("succeeded");
  o.succeeded = it != j.end() && it->value().is_bool() && it->value().as_bool();
  o.artifact_digest = json_string(j, "artifact_digest");
  o.artifact_uri = json_string(j, "artifact_uri");
  o.reason = json_string(j, "reason");
  o.exit_code = static_cast<int32_t>(json_int(j, "exit_code"));
  o.duration_ms = static_cast<uint64_t>(json_int(j, "duration_ms"));
  return o;
}

std::optional<int> read_status(const fs::path& work) {
  std::ifstream in(work / "status");
  int code = 0;
  if (in >> code) return code;
  return std::nullopt;
}

pid_t read_pid(const fs::path& work) {
  std::ifstream in(work / "pid");
  long pid = 0;
  if (in >> pid) return static_cast<pid_t>(pid);
  return 0;
}

}  // namespace

LocalBuildRunner::LocalBuildRunner(fs::path data_dir) : layout_(std::move(data_dir)) {}

LocalBuildRunner::~LocalBuildRunner() { tasks_.stop_and_join(); }

void LocalBuildRunner::start(const engine::BuildJob& job,
                             engine::Callbacks<BuildOutcome> callbacks) {
  auto active = jobs_.add(job_key(job.run_id, job.attempt), std::move(callbacks));
  if (active) tasks_.run([this, job, active] { run(job, active); });
}

void LocalBuildRunner::cancel(const std::string& run_id, uint32_t attempt) {
  jobs_.cancel(job_key(run_id, attempt));
}

void LocalBuildRunner::run(const engine::BuildJob& job, std::shared_ptr<Jobs::Job> active) {
  const std::string key = job_key(job.run_id, job.attempt);
  const fs::path marker_path = layout_.build_marker(job.run_id, job.attempt);
  const fs::path work = layout_.build_work_dir(job.run_id, job.attempt);
  const fs::path log = layout_.build_log(job.run_id, job.attempt);
  auto progress = [&](const engine::StepProgress& p) { jobs_.progress(key, p); };
  auto conclude = [&](BuildOutcome outcome) {
    boost::json::object marker = read_json_file(marker_path).value_or(boost::json::object{});
    marker["state"] = "done";
    marker["result"] = outcome_to_json(outcome);
    write_json_file(marker_path, marker);
    jobs_.finish(key, outcome);
  };

  // Check and claim the key under a lock shared with other processes on this
  // data directory; held until the build's pid is recorded.
  std::optional<FileLock> claim(std::in_place, marker_path.string() + ".lock");
  auto marker = read_json_file(marker_path);
  if (marker && json_string(*marker, "state") == "done") {
    auto it = marker->find("result");
    if (it != marker->end() && it->value().is_object()) {
      jobs_.finish(key, outcome_from_json(it->value().as_object()));
      return;
    }
  }

  pid_t pid = 0;
  int64_t started_at = wall_ms();
  if (marker) {  // started before: adopt it if it runs or has finished
    pid = static_cast<pid_t>(json_int(*marker, "pid"));
    // Started but the pid not recorded (a crash right after the spawn): the
    // script writes its pid first thing, so wait a moment for it.
    for (int i = 0; pid == 0 && i < 40; ++i) {
      pid = read_pid(work);
      if (pid == 0 && !read_status(work)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (json_int(*marker, "started_at_ms") > 0) started_at = json_int(*marker, "started_at_ms");
    if (!read_status(work) && !process_alive(pid)) pid = 0;  // vanished: run again
  }
  if (pid == 0) {
    std::error_code ec;
    fs::create_directories(work, ec);
    fs::remove(work / "status", ec);
    fs::remove(work / "pid", ec);
    started_at = wall_ms();
    write_json_file(marker_path, {{"state", "starting"},
                                  {"run_id", job.run_id},
                                  {"attempt", job.attempt},
                                  {"started_at_ms", started_at}});
    if (job.repository.empty()) {
      conclude({false, "", "", "project has no local repository to build from", -1, 0});
      return;
    }
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", kBuildScript};
    spec.cwd = work;
    spec.log_file = log;
    spec.env = {{"WHARF_WORK", fs::absolute(work).string()},
                {"WHARF_RUN_ID", job.run_id},
                {"WHARF_ATTEMPT", std::to_string(job.attempt)},
                {"WHARF_PROJECT_ID", job.project_id},
                {"WHARF_SIDE_EFFECTS", fs::absolute(layout_.side_effects_log()).string()},
                {"WHARF_REPOSITORY", fs::absolute(job.repository).string()},
                {"WHARF_COMMIT", job.commit_sha},
                {"WHARF_BUILD_COMMAND", job.step.command()}};
    auto spawned = spawn_detached(spec);
    if (!spawned) {
      conclude({false, "", "", "cannot start build: " + spawned.error(), -1, 0});
      return;
    }
    pid = *spawned;
    write_json_file(marker_path, {{"state", "started"},
                                  {"run_id", job.run_id},
                                  {"attempt", job.attempt},
                                  {"pid", pid},
                                  {"started_at_ms", started_at}});
  }
  claim.reset();
  progress({engine::StepProgress::Kind::kStarted, "local:" + std::to_string(pid), log.string(),
            "build running as pid " + std::to_string(pid), 0});

  const int64_t timeout_ms = 1000LL * (job.step.timeout_s() > 0 ? job.step.timeout_s() : 3600);
  std::optional<int> status;
  while (!(status = read_status(work))) {
    if (tasks_.stopping()) return;  // wharf shuts down; the build goes on
    bool cancelled = active->cancel.load();
    bool timed_out = wall_ms() - started_at > timeout_ms;
    if (cancelled || timed_out) {
      kill(-pid, SIGKILL);
      BuildOutcome o;
      o.exit_code = -1;
      o.duration_ms = static_cast<uint64_t>(wall_ms() - started_at);
      o.reason = cancelled ? "cancelled"
                           : "timed out after " + std::to_string(timeout_ms / 1000) + " s";
      conclude(o);
      return;
    }
    if (!process_alive(pid)) {
      if ((status = read_status(work))) break;
      conclude({false, "", "", "build process " + std::to_string(pid) + " vanished", -1,
                static_cast<uint64_t>(wall_ms() - started_at)});
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }

  // Another process watching the same build may have concluded it already
  // (and moved its checkout away): then its recorded result is the result.
  claim.emplace(marker_path.string() + ".lock");
  if (auto concluded = read_json_file(marker_path);
      concluded && json_string(*concluded, "state") == "done") {
    auto it = concluded->find("result");
    if (it != concluded->end() && it->value().is_object()) {
      jobs_.finish(key, outcome_from_json(it->value().as_object()));
      return;
    }
  }
  BuildOutcome outcome;
  outcome.exit_code = *status;
  outcome.duration_ms = static_cast<uint64_t>(wall_ms() - started_at);
  if (*status != 0) {
    outcome.reason = *status == 125 ? "checkout of " + job.commit_sha + " failed"
                                    : "build command exited with " + std::to_string(*status);
    conclude(outcome);
    return;
  }
  fs::path artifact = work / "src" / job.step.artifact_path();
  auto stored = store_artifact(artifact, layout_.artifact_store());
  if (!stored) {
    outcome.reason = stored.error();
    conclude(outcome);
    return;
  }
  outcome.succeeded = true;
  outcome.artifact_digest = stored->digest;
  outcome.artifact_uri = stored->path.string();
  append_line(log, "wharf: artifact " + stored->digest + " stored at " + stored->path.string());
  conclude(outcome);
  // Only after the result is recorded: a crash before this point must still
  // find the checkout to store the artifact from.
  std::error_code ec;
  fs::remove_all(work / "src", ec);
}

}  // namespace wharf::local
