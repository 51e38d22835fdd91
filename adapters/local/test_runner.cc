#include "adapters/local/test_runner.h"

#include <chrono>
#include <fstream>

#include "adapters/local/process.h"
#include "adapters/local/file_lock.h"
#include "adapters/local/state_file.h"

namespace wharf::local {
namespace fs = std::filesystem;
namespace json = boost::json;
using engine::TestOutcome;

namespace {

std::string test_key(const engine::TestJob& job) {
  return job_key(job.run_id + "/" + job.environment, job.attempt);
}

json::object outcome_to_json(const TestOutcome& o) {
  json::array results;
  for (const auto& r : o.results) {
    results.push_back(json::object{{"name", r.name()},
                                   {"passed", r.passed()},
                                   {"summary", r.summary()},
                                   {"duration_ms", r.duration_ms()},
                                   {"output", r.output()}});
  }
  return {{"passed", o.passed}, {"reason", o.reason}, {"results", results}};
}

TestOutcome outcome_from_json(const json::object& j) {
  TestOutcome o;
  auto passed = j.find("passed");
  o.passed = passed != j.end() && passed->value().is_bool() && passed->value().as_bool();
  o.reason = json_string(j, "reason");
  if (auto it = j.find("results"); it != j.end() && it->value().is_array()) {
    for (const auto& v : it->value().as_array()) {
      if (!v.is_object()) continue;
      const auto& r = v.as_object();
      wharf::v1::SuiteResult result;
      result.set_name(json_string(r, "name"));
      auto p = r.find("passed");
      result.set_passed(p != r.end() && p->value().is_bool() && p->value().as_bool());
      result.set_summary(json_string(r, "summary"));
      result.set_duration_ms(static_cast<uint64_t>(json_int(r, "duration_ms")));
      result.set_output(json_string(r, "output"));
      o.results.push_back(result);
    }
  }
  return o;
}

// What a suite appended to `log` after byte `from`: its last `max_bytes`.
std::string output_since(const fs::path& log, uint64_t from, size_t max_bytes = 4096) {
  std::error_code ec;
  uint64_t size = fs::file_size(log, ec);
  if (ec || size <= from) return {};
  uint64_t start = size - from > max_bytes ? size - max_bytes : from;
  std::ifstream in(log, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(start));
  std::string out(static_cast<size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

}  // namespace

LocalTestRunner::LocalTestRunner(fs::path data_dir) : layout_(std::move(data_dir)) {}

LocalTestRunner::~LocalTestRunner() { tasks_.stop_and_join(); }

void LocalTestRunner::start(const engine::TestJob& job,
                            engine::Callbacks<TestOutcome> callbacks) {
  const std::string key = test_key(job);
  auto active = jobs_.add(key, std::move(callbacks));
  if (!active) return;
  {
    std::lock_guard lock(mutex_);
    keys_by_run_[job_key(job.run_id, job.attempt)].push_back(key);
  }
  tasks_.run([this, job, active] { run(job, active); });
}

void LocalTestRunner::cancel(const std::string& run_id, uint32_t attempt) {
  std::lock_guard lock(mutex_);
  auto it = keys_by_run_.find(job_key(run_id, attempt));
  if (it == keys_by_run_.end()) return;
  for (const auto& key : it->second) jobs_.cancel(key);
}

void LocalTestRunner::run(const engine::TestJob& job, std::shared_ptr<Jobs::Job> active) {
  const std::string key = test_key(job);
  const fs::path marker = layout_.tests_marker(job.run_id, job.environment, job.attempt);
  const fs::path log = layout_.tests_log(job.run_id, job.environment, job.attempt);
  auto conclude = [&](const TestOutcome& outcome) {
    write_json_file(marker, outcome_to_json(outcome));
    {
      std::lock_guard lock(mutex_);
      auto& keys = keys_by_run_[job_key(job.run_id, job.attempt)];
      std::erase(keys, key);
      if (keys.empty()) keys_by_run_.erase(job_key(job.run_id, job.attempt));
    }
    jobs_.finish(key, outcome);
  };
  // One run of these suites across processes sharing this data directory.
  FileLock claim(marker.string() + ".lock");
  if (auto recorded = read_json_file(marker)) {
    conclude(outcome_from_json(*recorded));
    return;
  }
  jobs_.progress(key, {engine::StepProgress::Kind::kStarted, "local-tests", log.string(),
                       std::to_string(job.suites.size()) + " suite(s) against " + job.target_url,
                       0});
  std::error_code ec;
  fs::create_directories(layout_.root() / "work", ec);
  TestOutcome outcome;
  outcome.passed = true;
  for (size_t i = 0; i < job.suites.size(); ++i) {
    const auto& suite = job.suites[i];
    append_line(log, "wharf: suite " + suite.name() + ": " + suite.command());
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", suite.command()};
    spec.env = {{"WHARF_TARGET_URL", job.target_url},
                {"WHARF_RUN_ID", job.run_id},
                {"WHARF_ENVIRONMENT", job.environment}};
    spec.cwd = layout_.root() / "work";
    spec.log_file = log;
    auto timeout = std::chrono::seconds(suite.timeout_s() > 0 ? suite.timeout_s() : 300);
    std::error_code size_ec;
    const uint64_t log_before = fs::exists(log) ? fs::file_size(log, size_ec) : 0;
    auto began = std::chrono::steady_clock::now();
    auto result = run_to_completion(spec, timeout, &active->cancel);
    if (tasks_.stopping()) return;  // interrupted by shutdown: the next start runs it again
    wharf::v1::SuiteResult suite_result;
    suite_result.set_name(suite.name());
    suite_result.set_duration_ms(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                              began)
            .count()));
    if (!result) {
      suite_result.set_summary(result.error());
    } else if (result->cancelled) {
      suite_result.set_summary("cancelled");
    } else if (result->timed_out) {
      suite_result.set_summary("timed out after " + std::to_string(timeout.count()) + " s");
    } else if (result->signal != 0) {
      suite_result.set_summary("killed by signal " + std::to_string(result->signal));
    } else {
      suite_result.set_passed(result->exit_code == 0);
      suite_result.set_summary("exit " + std::to_string(result->exit_code));
    }
    suite_result.set_output(output_since(log, log_before));
    append_line(log, "wharf: suite " + suite.name() + ": " + suite_result.summary());
    outcome.results.push_back(suite_result);
    if (!suite_result.passed()) {
      outcome.passed = false;
      outcome.reason = "suite " + suite.name() + ": " + suite_result.summary();
      break;  // later suites would test a version that already failed
    }
    jobs_.progress(key, {engine::StepProgress::Kind::kProgress, "", log.string(),
                         "suite " + suite.name() + " passed",
                         static_cast<uint32_t>(100 * (i + 1) / job.suites.size())});
  }
  conclude(outcome);
}

}  // namespace wharf::local
