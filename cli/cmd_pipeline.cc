// `wharf project create`, `wharf commit`, `wharf runs list|show`, `wharf deploy`,
// `wharf rollback`, `wharf cancel|retry|approve`: the pipeline from the command
// line, operating on --data directly (the store must not be held by a running
// `wharf serve`; use its HTTP API then). Reads open the store read-only, so
// they also work beside `wharf serve`. With --wait, write commands host the
// runtime (local runners) in this process until the run or deploy ends.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "adapters/gerrit/project_setup.h"
#include "adapters/local/process.h"
#include "adapters/runtime/runtime.h"
#include "adapters/runtime/step_logs.h"
#include "api/api_error.h"
#include "api/project_body.h"
#include "api/tokens.h"
#include "api/webhook_signature.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "events/event_store.h"

namespace wharf::cli {
namespace {

namespace json = boost::json;
using events::Envelope;
using events::EventStore;

[[noreturn]] void fail(const std::string& message) {
  throw std::runtime_error(message);
}

std::unique_ptr<EventStore> open_for_writing() {
  const auto& data = global_options().data_dir;
  auto store = EventStore::open(store_dir(data));
  if (!store) {
    fail("cannot open the store at " + store_dir(data) + ": " + store.error().message +
         "\n(if `wharf serve` runs on this data directory, use its HTTP API, e.g. POST "
         "/api/v1/projects/{project}/runs, or stop it first)");
  }
  return std::move(*store);
}

std::unique_ptr<EventStore> open_for_reading() {
  const auto& data = global_options().data_dir;
  events::StoreOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  auto store = EventStore::open(store_dir(data), options);
  if (!store) fail("cannot read the store at " + store_dir(data) + ": " + store.error().message);
  return std::move(*store);
}

std::vector<Envelope> read_all_events(const EventStore& store) {
  std::vector<Envelope> out;
  for (uint64_t from = 1;;) {
    auto batch = store.read_all(from, 4096);
    if (!batch) fail("cannot read the log: " + batch.error().message);
    if (batch->empty()) return out;
    from = batch->back().position() + 1;
    for (auto& e : *batch) out.push_back(std::move(e));
  }
}

std::vector<Envelope> read_stream(const EventStore& store, const std::string& stream) {
  auto events = store.read_stream(stream, 1, 1 << 20, events::Direction::kForward);
  if (!events) {
    if (events.error().code == events::ErrorCode::kNotFound) return {};
    fail("cannot read " + stream + ": " + events.error().message);
  }
  return std::move(*events);
}

std::string clock_time(int64_t us) {
  std::time_t seconds = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

std::string short_digest(const std::string& digest) {
  auto colon = digest.find(':');
  return colon == std::string::npos ? digest.substr(0, 12) : digest.substr(colon + 1, 12);
}

// One line per event for progress output: what happened, in words.
std::string describe(const Envelope& e) {
  const auto& p = e.payload();
  std::ostringstream out;
  out << e.type();
  switch (p.kind_case()) {
    case v1::Payload::kCommitObserved:
      out << " " << p.commit_observed().commit_sha().substr(0, 10) << " on "
          << p.commit_observed().branch();
      break;
    case v1::Payload::kBuildRequested:
      out << " attempt " << p.build_requested().attempt();
      break;
    case v1::Payload::kBuildStarted:
      out << " " << p.build_started().external_id() << " log " << p.build_started().log_ref();
      break;
    case v1::Payload::kBuildSucceeded:
      out << " " << p.build_succeeded().artifact_digest() << " in "
          << p.build_succeeded().duration_ms() << " ms";
      break;
    case v1::Payload::kBuildFailed:
      out << ": " << p.build_failed().reason();
      break;
    case v1::Payload::kVersionRecorded:
      out << " " << p.version_recorded().version();
      break;
    case v1::Payload::kDeployRequested:
      out << " " << p.deploy_requested().environment() << " <- "
          << short_digest(p.deploy_requested().spec().artifact_digest())
          << (p.deploy_requested().rollback_id().empty() ? "" : " (rollback)");
      break;
    case v1::Payload::kDeployProgressed:
      out << ": " << p.deploy_progressed().message();
      break;
    case v1::Payload::kDeploySucceeded:
      out << " " << p.deploy_succeeded().environment() << " serves "
          << short_digest(p.deploy_succeeded().spec().artifact_digest()) << " at "
          << p.deploy_succeeded().url();
      break;
    case v1::Payload::kDeployFailed:
      out << " " << p.deploy_failed().environment() << ": " << p.deploy_failed().reason();
      break;
    case v1::Payload::kRollbackRequested:
      out << " " << p.rollback_requested().environment() << " to "
          << p.rollback_requested().target_deploy_event_id() << ": "
          << p.rollback_requested().reason();
      break;
    case v1::Payload::kTestsRequested:
      out << " " << p.tests_requested().environment() << " against "
          << p.tests_requested().target_url();
      break;
    case v1::Payload::kTestsFailed:
      out << " " << p.tests_failed().environment() << ": " << p.tests_failed().reason();
      break;
    case v1::Payload::kPipelineRunCompleted:
      out << " " << v1::RunOutcome_Name(p.pipeline_run_completed().outcome()) << ": "
          << p.pipeline_run_completed().reason();
      break;
    default:
      break;
  }
  return out.str();
}

void print_event(const Envelope& e) {
  std::printf("  %s  #%-6llu %s\n", clock_time(e.occurred_at_us()).c_str(),
              static_cast<unsigned long long>(e.position()), describe(e).c_str());
}

// ---- project create ----

struct ProjectArgs {
  std::string file, id, name, repo, branch = "main";
  std::vector<std::string> environments, tests, approvals, ports;
  std::string build = "sh build.sh", artifact = "dist", start, health = "/healthz";
  uint32_t build_timeout_s = 600, deploy_timeout_s = 120;
  // A Gerrit-bound project instead of --repo.
  std::string gerrit_host, gerrit_project, webhook_secret;
  std::vector<std::string> gerrit_branches, trigger_words;
  bool gerrit_create = false;  // also create the Gerrit project and branches over REST
  std::string gerrit_http_url, gerrit_http_user, gerrit_http_password;
  std::vector<std::string> flags_given;  // pipeline flags set on the command line
};

// The flags that describe the pipeline itself; with --file the file does.
constexpr const char* kPipelineFlags[] = {"--env",    "--build", "--artifact", "--start",
                                          "--health", "--test",  "--approval", "--port"};

std::map<std::string, std::string> key_values(const std::vector<std::string>& items,
                                              const char* what) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos) fail(std::string(what) + " must be ENV=VALUE: " + item);
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

// The API's project body (POST /api/v1/projects), through the API's own
// parser: the same fields, the same strictness (an unknown field, or one the
// definition does not use, is an error naming it).
engine::CreateProject project_from_json(const std::string& path, const std::string& default_id,
                                        std::string* webhook_secret) {
  std::ifstream in(path);
  if (!in) fail("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  try {
    return api::parse_create_project(api::JsonBody::parse(text.str(), {WHARF_PROJECT_FIELDS}),
                                     default_id, webhook_secret);
  } catch (const api::ApiError& e) {
    std::string allowed;
    if (const auto* details = e.details().if_object()) {
      if (const auto* list = details->if_contains("allowed"); list != nullptr && list->is_array()) {
        for (const auto& name : list->as_array()) {
          if (name.is_string())
            allowed += (allowed.empty() ? "" : ", ") + std::string(name.as_string());
        }
      }
    }
    fail(path + ": " + e.what() + (allowed.empty() ? "" : " (allowed here: " + allowed + ")"));
  }
}

engine::CreateProject project_from_flags(const ProjectArgs& a) {
  engine::CreateProject c;
  c.pipeline.mutable_build()->set_command(a.build);
  c.pipeline.mutable_build()->set_artifact_path(a.artifact);
  c.pipeline.mutable_build()->set_timeout_s(a.build_timeout_s);
  c.pipeline.set_start_command(a.start);
  c.pipeline.set_health_path(a.health);
  c.pipeline.set_deploy_timeout_s(a.deploy_timeout_s);
  auto tests = key_values(a.tests, "--test");
  auto ports = key_values(a.ports, "--port");
  for (const auto& name : a.environments) {
    v1::EnvironmentSpec env;
    env.set_name(name);
    env.set_target(v1::TARGET_TYPE_LOCAL);
    env.set_auto_deploy(true);
    env.set_replicas(1);
    for (const auto& approval : a.approvals)
      env.set_requires_approval(env.requires_approval() || approval == name);
    if (auto it = tests.find(name); it != tests.end()) {
      auto* suite = env.add_post_deploy_tests();
      suite->set_name("tests");
      suite->set_command(it->second);
      suite->set_timeout_s(300);
    }
    if (auto it = ports.find(name); it != ports.end())
      (*env.mutable_settings())["port"] = it->second;
    c.environments.push_back(env);
  }
  return c;
}

engine::Context cli_context(runtime::CommandBus& bus) {
  const char* user = std::getenv("USER");
  return bus.user_context(user ? user : "cli", v1::CHANNEL_CLI);
}

runtime::CommandResult execute_or_fail(runtime::CommandBus& bus, const engine::Command& command) {
  auto outcome = bus.execute(command, cli_context(bus));
  if (!outcome) fail(std::string(engine::command_name(command)) + " " + outcome.error().message());
  return *outcome;
}

// Hosts the runtime until `done(event)` says the awaited outcome is in the log;
// prints each event that `relevant` selects. Returns true when it finished.
bool host_until(EventStore& store, uint64_t from_position, int timeout_s,
                const std::function<bool(const Envelope&)>& relevant,
                const std::function<bool(const Envelope&)>& done) {
  runtime::Runtime rt(store, runtime::RuntimeOptions{.data_dir = global_options().data_dir});
  if (auto started = rt.start(); !started) fail("cannot start the runtime: " + started.error());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  uint64_t next = from_position;
  while (std::chrono::steady_clock::now() < deadline) {
    store.wait_for_head_beyond(next - 1,
                               std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    auto batch = store.read_all(next, 1024);
    if (!batch) fail("cannot read the log: " + batch.error().message);
    for (const auto& e : *batch) {
      next = e.position() + 1;
      if (relevant(e)) print_event(e);
      if (done(e)) {
        rt.stop();
        return true;
      }
    }
  }
  rt.stop();
  return false;
}

// ---- commands ----

void create_project(const ProjectArgs& a) {
  if (!a.file.empty() && !a.flags_given.empty()) {
    fail(a.flags_given.front() + " is not used with --file: the file defines the pipeline (" +
         a.file + ")");
  }
  const bool gerrit = !a.gerrit_host.empty() || !a.gerrit_project.empty();
  if (gerrit && (a.gerrit_host.empty() || a.gerrit_project.empty())) {
    fail("a Gerrit-bound project needs both --gerrit-host and --gerrit-project");
  }
  if (!gerrit &&
      (!a.gerrit_branches.empty() || !a.trigger_words.empty() || !a.webhook_secret.empty())) {
    fail(
        "--gerrit-branch, --trigger-word and --webhook-secret need --gerrit-host and "
        "--gerrit-project");
  }
  if (gerrit && !a.repo.empty())
    fail("give either --repo (a local repository) or --gerrit-host/--gerrit-project");
  std::string webhook_secret = a.webhook_secret;
  engine::CreateProject c =
      a.file.empty() ? project_from_flags(a)
                     : project_from_json(a.file, a.id.empty() ? a.name : a.id, &webhook_secret);
  if (!a.id.empty()) c.project_id = a.id;
  if (!a.name.empty()) c.name = a.name;
  if (c.project_id.empty()) c.project_id = c.name;
  if (c.name.empty()) c.name = c.project_id;
  // A flag replaces the file's repository of its own kind (the demo's
  // placeholder path); one of the other kind would be silently dropped.
  if ((gerrit && c.repository.has_local_git()) || (!a.repo.empty() && c.repository.has_gerrit())) {
    fail(std::string(gerrit ? "--gerrit-host" : "--repo") + " conflicts with the " +
         (gerrit ? "local_git" : "gerrit") + " repository in " + a.file);
  }
  if (!a.repo.empty()) {
    c.repository.mutable_local_git()->set_path(std::filesystem::absolute(a.repo).string());
    c.repository.mutable_local_git()->set_branch(a.branch);
  }
  if (gerrit) {
    v1::GerritSource g;
    g.set_host(a.gerrit_host);
    g.set_project(a.gerrit_project);
    for (const auto& b : a.gerrit_branches) g.add_branches(b);
    for (const auto& w : a.trigger_words) g.add_trigger_words(w);
    *c.repository.mutable_gerrit() = std::move(g);
  }
  // The webhook secret is sealed (DATA/secrets, the key serve uses by
  // default); the event records only that one is set and its version.
  std::unique_ptr<targets::SealedStore> secrets;
  std::optional<targets::PendingCredential> sealed_secret;
  if (!webhook_secret.empty()) {
    const std::filesystem::path data = global_options().data_dir;
    auto opened = targets::SealedStore::open({data / "secrets", data / "secret.key"});
    if (!opened) fail("sealed store: " + opened.error());
    secrets = std::move(*opened);
    auto sealed = api::seal_webhook_secret(
        secrets.get(), c.project_id.empty() ? c.name : c.project_id, webhook_secret, c.repository);
    if (!sealed) fail(sealed.error());
    sealed_secret.emplace(std::move(*sealed));
  }
  if (c.project_id.empty()) fail("give the project a --name (or --id, or project_id in --file)");
  auto store = open_for_writing();
  if (a.gerrit_create) {
    if (!c.repository.has_gerrit()) fail("--gerrit-create needs a Gerrit binding (--gerrit-host)");
    if (a.gerrit_http_url.empty() || a.gerrit_http_user.empty()) {
      fail("--gerrit-create needs --gerrit-http-url and --gerrit-http-user (WHARF_GERRIT_HTTP_*)");
    }
    if (store->stream_version(engine::project_stream(c.project_id)) > 0) {
      fail("project " + c.project_id + " already exists; Gerrit left unchanged");
    }
    gerrit::RestOptions rest{.base_url = a.gerrit_http_url,
                             .user = a.gerrit_http_user,
                             .http_password = a.gerrit_http_password};
    auto done = gerrit::setup_for_binding(rest, c.repository.gerrit());
    if (!done) fail(done.error().message + "; project " + c.project_id + " not created");
    std::printf("gerrit project %s %s", c.repository.gerrit().project().c_str(),
                done->project_created() ? "created" : "exists");
    for (const auto& b : done->branches_created()) std::printf(", branch %s created", b.c_str());
    for (const auto& b : done->branches_existing()) std::printf(", branch %s exists", b.c_str());
    std::printf("\n");
    c.gerrit_setup = std::move(*done);
  }
  runtime::SystemClock clock;
  runtime::CommandBus bus(*store, clock, 1);
  auto result = execute_or_fail(bus, c);
  if (sealed_secret) sealed_secret->keep();
  std::printf("project %s %s at position %llu (environments:", c.project_id.c_str(),
              result.nothing_to_do ? "already exists" : "created",
              static_cast<unsigned long long>(result.last_position));
  for (const auto& env : c.environments) std::printf(" %s", env.name().c_str());
  std::printf(")\n");
}

// `git rev-parse --verify BRANCH^{commit}` in `repo`; empty when that fails.
// Run as every child of wharf is (adapters/local/process.h): no descriptor
// of ours, the store's included, reaches git.
std::string git_rev_parse(const std::string& repo, const std::string& branch) {
  char path[] = "/tmp/wharf-rev-parse-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return {};
  ::close(fd);
  local::ProcessSpec spec;
  spec.argv = {"git", "-C", repo, "rev-parse", "--verify", "-q", branch + "^{commit}"};
  spec.log_file = path;
  auto ran = local::run_to_completion(spec, std::chrono::seconds(30));
  std::string sha;
  std::ifstream out(path);
  if (ran && ran->exit_code == 0) out >> sha;
  std::filesystem::remove(path);
  return sha;
}

struct CommitArgs {
  std::string project, sha, branch = "main", subject;
  bool wait = false;
  int timeout_s = 900;
};

void observe_commit(CommitArgs a) {
  auto store = open_for_writing();
  auto project = engine::fold(engine::project_stream(a.project),
                              read_stream(*store, engine::project_stream(a.project)));
  if (!project.project() || !project.project()->exists) fail("no project " + a.project);
  if (a.sha.empty()) {
    const auto& repo = project.project()->repository.local_git().path();
    if (repo.empty()) fail("give --sha: project " + a.project + " has no local repository");
    a.sha = git_rev_parse(repo, a.branch);
    if (a.sha.empty()) fail("cannot read branch " + a.branch + " of " + repo);
  }
  runtime::SystemClock clock;
  runtime::CommandBus bus(*store, clock, 1);
  engine::ObserveCommit c;
  c.project_id = a.project;
  c.commit_sha = a.sha;
  c.branch = a.branch;
  c.subject = a.subject;
  c.source = "cli";
  auto result = execute_or_fail(bus, c);
  std::string run = engine::run_id_of(c);
  std::printf("commit %s: run %s %s\n", a.sha.c_str(), run.c_str(),
              result.nothing_to_do ? "(seen before)" : "started");
  bus.stop();
  if (!a.wait) return;
  bool finished = host_until(
      *store, 1, a.timeout_s, [&](const Envelope& e) { return e.correlation_id() == run; },
      [&](const Envelope& e) {
        return (e.type() == "PipelineRunCompleted" &&
                e.payload().pipeline_run_completed().run_id() == run) ||
               (e.type() == "PipelineRunCancelled" &&
                e.payload().pipeline_run_cancelled().run_id() == run);
      });
  if (!finished)
    fail("run " + run + " did not finish within " + std::to_string(a.timeout_s) + " s");
}

void list_runs(const std::string& project) {
  auto store = open_for_reading();
  std::map<std::string, std::vector<Envelope>> runs;
  std::vector<std::string> order;
  for (auto& e : read_all_events(*store)) {
    if (engine::stream_kind(e.stream_id()) != engine::StreamKind::kRun) continue;
    if (!runs.count(e.stream_id())) order.push_back(e.stream_id());
    runs[e.stream_id()].push_back(std::move(e));
  }
  std::printf("%-16s %-12s %-10s %-12s %-22s %s\n", "RUN", "PROJECT", "COMMIT", "STATUS", "STEP",
              "VERSION");
  for (const auto& stream : order) {
    auto state = engine::fold(stream, runs[stream]);
    const engine::RunState* run = state.run();
    if (!run || (!project.empty() && run->project_id != project)) continue;
    static const char* statuses[] = {"none",      "running", "approval",
                                     "succeeded", "failed",  "cancelled"};
    static const char* steps[] = {"-", "build", "deploy", "tests", "approval"};
    std::string step = steps[static_cast<int>(run->step)];
    if (!run->environment().empty()) step += ":" + run->environment();
    step += "#" + std::to_string(run->attempt);
    std::printf("%-16s %-12s %-10s %-12s %-22s %s\n", run->run_id.c_str(), run->project_id.c_str(),
                run->commit_sha.substr(0, 10).c_str(), statuses[static_cast<int>(run->status)],
                step.c_str(), short_digest(run->artifact_digest).c_str());
  }
}

void show_run(const std::string& run_id) {
  auto store = open_for_reading();
  auto events = read_stream(*store, engine::run_stream(run_id));
  if (events.empty()) fail("no run " + run_id);
  std::printf("run %s (stream %s)\n", run_id.c_str(), engine::run_stream(run_id).c_str());
  for (const auto& e : events) print_event(e);
  // The deploys of this run live on the environment streams.
  std::printf("deploys:\n");
  for (const auto& e : read_all_events(*store)) {
    if (engine::stream_kind(e.stream_id()) == engine::StreamKind::kEnvironment &&
        e.correlation_id() == run_id) {
      print_event(e);
    }
  }
  auto logs = runtime::list_run_logs(global_options().data_dir, run_id);
  if (!logs.empty()) std::printf("logs:\n");
  for (const auto& log : logs) {
    std::printf("  %-20s %8llu bytes  %s\n", log.step.c_str(),
                static_cast<unsigned long long>(log.size), log.path.c_str());
  }
}

bool deploy_finished(const Envelope& e, const std::string& environment) {
  if (e.type() == "DeploySucceeded")
    return e.payload().deploy_succeeded().environment() == environment;
  if (e.type() == "DeployFailed") return e.payload().deploy_failed().environment() == environment;
  return false;
}

struct DeployArgs {
  std::string project, environment, version, to_event, reason;
  bool wait = false;
  int timeout_s = 300;
};

void deploy(const DeployArgs& a) {
  auto store = open_for_writing();
  // The version as recorded by a build of this project (version, digest or digest prefix).
  const v1::VersionRecorded* found = nullptr;
  auto all = read_all_events(*store);
  for (const auto& e : all) {
    if (e.type() != "VersionRecorded") continue;
    const auto& v = e.payload().version_recorded();
    if (v.project_id() != a.project) continue;
    if (v.version() == a.version || v.artifact_digest() == a.version ||
        (a.version.size() >= 7 && short_digest(v.artifact_digest()).rfind(a.version, 0) == 0)) {
      found = &v;
    }
  }
  if (!found) fail("project " + a.project + " has no recorded version " + a.version);
  runtime::SystemClock clock;
  runtime::CommandBus bus(*store, clock, 1);
  engine::RequestDeploy c;
  c.project_id = a.project;
  c.environment = a.environment;
  c.spec.set_version(found->version());
  c.spec.set_artifact_digest(found->artifact_digest());
  c.spec.set_artifact_uri(found->artifact_uri());
  auto result = execute_or_fail(bus, c);
  std::printf("deploy of %s to %s requested (position %llu)\n", found->version().c_str(),
              a.environment.c_str(), static_cast<unsigned long long>(result.last_position));
  bus.stop();
  if (a.wait) {
    uint64_t from = result.first_position;
    std::string stream = engine::environment_stream(a.project, a.environment);
    if (!host_until(
            *store, from, a.timeout_s, [&](const Envelope& e) { return e.stream_id() == stream; },
            [&](const Envelope& e) { return deploy_finished(e, a.environment); })) {
      fail("the deploy did not finish within " + std::to_string(a.timeout_s) + " s");
    }
  }
}

void rollback(const DeployArgs& a) {
  if (a.to_event.empty() == a.version.empty())
    fail("give exactly one of --to-event or --to-version");
  auto store = open_for_writing();
  runtime::SystemClock clock;
  runtime::CommandBus bus(*store, clock, 1);
  engine::RequestRollback c;
  c.project_id = a.project;
  c.environment = a.environment;
  c.target_deploy_event_id = a.to_event;
  c.target_version = a.version;
  c.reason = a.reason;
  auto result = execute_or_fail(bus, c);
  std::printf("rollback of %s requested (position %llu)\n", a.environment.c_str(),
              static_cast<unsigned long long>(result.last_position));
  bus.stop();
  if (a.wait) {
    std::string stream = engine::environment_stream(a.project, a.environment);
    if (!host_until(
            *store, result.first_position, a.timeout_s,
            [&](const Envelope& e) { return e.stream_id() == stream; },
            [&](const Envelope& e) { return deploy_finished(e, a.environment); })) {
      fail("the rollback did not finish within " + std::to_string(a.timeout_s) + " s");
    }
  }
}

template <typename Command>
void simple_command(const Command& command, const std::string& what) {
  auto store = open_for_writing();
  runtime::SystemClock clock;
  runtime::CommandBus bus(*store, clock, 1);
  auto result = execute_or_fail(bus, command);
  std::printf("%s (position %llu)\n", what.c_str(),
              static_cast<unsigned long long>(result.last_position));
}

}  // namespace

void register_pipeline_commands(CLI::App& app) {
  // project create
  auto& project = group(app, "project", "create pipeline projects");
  auto pa = std::make_shared<ProjectArgs>();
  auto* create = project.add_subcommand(
      "create",
      "Create a project built and deployed by the local runners, its commits from a local\n"
      "repository (--repo) or a Gerrit project (--gerrit-host, --gerrit-project).\n"
      "  wharf project create --name hello --repo ./hello-repo --env staging --env prod \\\n"
      "      --start 'exec python3 server.py' --test staging='curl -fsS "
      "$WHARF_TARGET_URL/healthz'\n"
      "  wharf project create --name app --gerrit-host review.example.com --gerrit-project app \\\n"
      "      --gerrit-branch main --trigger-word recheck --env staging\n"
      "  wharf project create --file examples/hello-service/wharf-project.json --repo "
      "./hello-repo\n"
      "A --file is the body of POST /api/v1/projects; an unknown field is an error naming it.");
  add_data_option(*create);
  create->add_option("--file", pa->file,
                     "JSON project definition (the body of POST /api/v1/projects)");
  create->add_option("--id", pa->id, "project id (default: the name)");
  create->add_option("--name", pa->name, "project name");
  create->add_option("--repo", pa->repo, "local git repository whose commits are built");
  create->add_option("--branch", pa->branch, "branch that starts runs")->capture_default_str();
  create->add_option("--env", pa->environments, "environment, in promotion order (repeat)");
  create->add_option("--build", pa->build, "build command run in the checkout")
      ->capture_default_str();
  create->add_option("--artifact", pa->artifact, "file or directory the build produces")
      ->capture_default_str();
  create->add_option("--start", pa->start, "command that starts the artifact ($PORT is set)");
  create->add_option("--health", pa->health, "HTTP path checked after start")
      ->capture_default_str();
  create->add_option("--test", pa->tests, "ENV=COMMAND post-deploy test (WHARF_TARGET_URL set)");
  create->add_option("--approval", pa->approvals, "ENV that needs a manual approval");
  create->add_option("--port", pa->ports, "ENV=PORT fixed port (slots PORT and PORT+1)");
  create->add_option("--gerrit-host", pa->gerrit_host,
                     "bind to a Gerrit server instead of --repo (the host as in its events)");
  create->add_option("--gerrit-project", pa->gerrit_project,
                     "the Gerrit project whose changes start runs");
  create->add_option(
      "--gerrit-branch", pa->gerrit_branches,
      "branch filter, exact or glob such as 'release/*' (repeat; default: every branch)");
  create->add_option("--trigger-word", pa->trigger_words,
                     "a review comment holding this word starts a run, e.g. recheck (repeat)");
  create->add_option("--webhook-secret", pa->webhook_secret,
                     "HMAC secret of Gerrit webhook POSTs (only its SHA-256 is recorded)");
  create->add_flag("--gerrit-create", pa->gerrit_create,
                   "also create the Gerrit project and the --gerrit-branch names over REST "
                   "(an existing project only gains missing branches)");
  create->add_option("--gerrit-http-url", pa->gerrit_http_url, "Gerrit REST base URL")
      ->envname("WHARF_GERRIT_HTTP_URL");
  create->add_option("--gerrit-http-user", pa->gerrit_http_user, "Gerrit HTTP user")
      ->envname("WHARF_GERRIT_HTTP_USER");
  create->add_option("--gerrit-http-password", pa->gerrit_http_password,
                     "Gerrit HTTP password (Settings > HTTP Credentials)")
      ->envname("WHARF_GERRIT_HTTP_PASSWORD");
  create->callback([pa, create] {
    for (const char* flag : kPipelineFlags) {
      if (create->count(flag) > 0) pa->flags_given.emplace_back(flag);
    }
    create_project(*pa);
  });

  // commit
  auto ca = std::make_shared<CommitArgs>();
  auto* commit = app.add_subcommand("commit", "Observe a commit by hand: starts a pipeline run");
  add_data_option(*commit);
  commit->add_option("--project", ca->project, "project id")->required();
  commit->add_option("--sha", ca->sha, "commit (default: head of --branch in the project's repo)");
  commit->add_option("--branch", ca->branch, "branch")->capture_default_str();
  commit->add_option("--subject", ca->subject, "commit subject for the record");
  commit->add_flag("--wait", ca->wait, "run the pipeline in this process until the run ends");
  commit->add_option("--timeout", ca->timeout_s, "seconds to wait")->capture_default_str();
  commit->callback([ca] { observe_commit(*ca); });

  // runs list / show
  auto& runs = group(app, "runs", "pipeline runs");
  auto list_project = std::make_shared<std::string>();
  auto* list = runs.add_subcommand("list", "List pipeline runs and where each one is");
  add_data_option(*list);
  list->add_option("--project", *list_project, "only this project");
  list->callback([list_project] { list_runs(*list_project); });
  auto show_id = std::make_shared<std::string>();
  auto* show = runs.add_subcommand("show", "Show a run's events, deploys and step logs");
  add_data_option(*show);
  show->add_option("run", *show_id, "run id")->required();
  show->callback([show_id] { show_run(*show_id); });

  // deploy / rollback
  auto da = std::make_shared<DeployArgs>();
  auto* dep = app.add_subcommand("deploy", "Deploy a recorded version to an environment by hand");
  add_data_option(*dep);
  dep->add_option("--project", da->project, "project id")->required();
  dep->add_option("--env", da->environment, "environment")->required();
  dep->add_option("--version", da->version, "version, artifact digest or its first 7+ hex")
      ->required();
  dep->add_flag("--wait", da->wait, "run the deploy in this process until it ends");
  dep->add_option("--timeout", da->timeout_s, "seconds to wait")->capture_default_str();
  dep->callback([da] { deploy(*da); });

  auto ra = std::make_shared<DeployArgs>();
  auto* rb = app.add_subcommand(
      "rollback",
      "Return an environment to an earlier successful deploy; the engine replays that\n"
      "DeploySucceeded event's spec as a new deploy (history is not edited).");
  add_data_option(*rb);
  rb->add_option("--project", ra->project, "project id")->required();
  rb->add_option("--env", ra->environment, "environment")->required();
  rb->add_option("--to-event", ra->to_event, "event id of the DeploySucceeded to return to");
  rb->add_option("--to-version", ra->version, "latest successful deploy of this version");
  rb->add_option("--reason", ra->reason, "why (kept in the log)")->required();
  rb->add_flag("--wait", ra->wait, "run the deploy in this process until it ends");
  rb->add_option("--timeout", ra->timeout_s, "seconds to wait")->capture_default_str();
  rb->callback([ra] { rollback(*ra); });

  // cancel / retry / approve
  auto run_arg = std::make_shared<std::pair<std::string, std::string>>();
  auto* cancel = app.add_subcommand("cancel", "Cancel a pipeline run");
  add_data_option(*cancel);
  cancel->add_option("run", run_arg->first, "run id")->required();
  cancel->add_option("--reason", run_arg->second, "why");
  cancel->callback([run_arg] {
    simple_command(engine::CancelRun{run_arg->first, run_arg->second}, "cancel requested");
  });
  auto retry_arg = std::make_shared<std::pair<std::string, std::string>>();
  auto* retry = app.add_subcommand("retry", "Retry the step that failed a run");
  add_data_option(*retry);
  retry->add_option("run", retry_arg->first, "run id")->required();
  retry->add_option("--reason", retry_arg->second, "why");
  retry->callback([retry_arg] {
    simple_command(engine::RetryStep{retry_arg->first, retry_arg->second}, "retry requested");
  });
  auto approve_arg = std::make_shared<engine::Approve>();
  auto* approve = app.add_subcommand("approve", "Open a run's manual gate before an environment");
  add_data_option(*approve);
  approve->add_option("run", approve_arg->run_id, "run id")->required();
  approve->add_option("--env", approve_arg->environment, "environment")->required();
  approve->add_option("--comment", approve_arg->comment, "comment");
  approve->callback([approve_arg] { simple_command(*approve_arg, "approved"); });
}

}  // namespace wharf::cli
