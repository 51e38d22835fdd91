#include "adapters/jenkins/build_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

namespace wharf::jenkins {
namespace fs = std::filesystem;
using engine::BuildOutcome;
using http_client::Response;

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr const char* kQueueTree = "items[id,task[url],actions[parameters[name,value]]]";
constexpr const char* kBuildTree =
    "number,building,result,duration,description,artifacts[relativePath],"
    "actions[parameters[name,value]]";
constexpr int kPollsPerStopEscalation = 20;  // stop, then term, then kill

BuildOutcome failure(std::string reason, int32_t exit_code = -1) {
  BuildOutcome o;
  o.reason = std::move(reason);
  o.exit_code = exit_code;
  return o;
}

// How a phase ended early: with an outcome, or (nullopt) because wharf stops.
struct Ending {
  std::optional<BuildOutcome> outcome;
};

// The last non-empty line of a console text before "Finished: ...".
std::string last_line(const std::string& text) {
  size_t end = text.size();
  while (end > 0) {
    size_t begin = text.rfind('\n', end > 0 ? end - 1 : 0);
    begin = begin == std::string::npos ? 0 : begin + 1;
    std::string line = text.substr(begin, end - begin);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty() && !line.starts_with("Finished: ")) return line;
    if (begin == 0) break;
    end = begin - 1;
  }
  return {};
}

// One build step carried out against one Jenkins job.
class JenkinsBuild {
 public:
  JenkinsBuild(const engine::BuildJob& job, Client& client, const std::atomic<bool>& cancel,
               std::function<bool()> stopping,
               std::function<void(const engine::StepProgress&)> progress, fs::path log,
               const ServerConfig& server, RunnerCounters& counters)
      : job_(job),
        settings_(job.step.jenkins()),
        client_(client),
        cancel_(cancel),
        stopping_(std::move(stopping)),
        progress_(std::move(progress)),
        log_(std::move(log)),
        server_(server),
        counters_(counters),
        key_(local::job_key(job.run_id, job.attempt)),
        path_(job_path(settings_.job())),
        poll_(settings_.poll_interval_ms() > 0 ? settings_.poll_interval_ms() : 500) {}

  // The outcome, or nullopt when wharf stops first (the build goes on).
  std::optional<BuildOutcome> run() {
    const auto started = SteadyClock::now();
    auto ended = [](Ending e) { return e.outcome; };
    if (settings_.job().empty()) return failure("jenkins build step needs jenkins.job");
    {  // the step log is rewritten from byte 0 on every (re)start
      std::error_code ec;
      fs::create_directories(log_.parent_path(), ec);
      std::ofstream(log_, std::ios::trunc | std::ios::binary);
    }
    std::map<std::string, std::string> params;
    const auto values = template_values(job_);
    for (const auto& [name, text] : settings_.parameters()) {
      auto value = expand(text, values);
      if (!value) return failure("jenkins parameter " + name + ": " + value.error());
      params[name] = *value;
    }
    params[kRunIdParameter] = key_;
    if (!settings_.config_xml().empty()) {
      if (auto ok = ensure_job(); !ok) return ended(ok.error());
    }
    auto number = find_build();
    if (!number) return ended(number.error());
    if (*number == 0) {
      auto queued = find_queued();
      if (!queued) return ended(queued.error());
      uint64_t queue_id = *queued;
      if (queue_id == 0) {
        auto triggered = trigger(params);
        if (!triggered) return ended(triggered.error());
        queue_id = *triggered;
      } else {
        spdlog::info("jenkins: {} adopts queue item {} of {}", key_, queue_id, settings_.job());
        ++counters_.adopted;
      }
      auto left = follow_queue(queue_id);
      if (!left) return ended(left.error());
      *number = *left;
    } else {
      spdlog::info("jenkins: {} adopts build #{} of {}", key_, *number, settings_.job());
      ++counters_.adopted;
    }
    auto outcome = follow_build(*number);
    if (!outcome) return ended(outcome.error());
    if (outcome->duration_ms == 0) {
      outcome->duration_ms = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started)
              .count());
    }
    return *outcome;
  }

 private:
  std::string where() const { return "Jenkins job '" + settings_.job() + "' at " + client_.root(); }
  std::string build_name(uint64_t n) const { return settings_.job() + " #" + std::to_string(n); }

  Ending failed(std::string reason) const { return Ending{failure(std::move(reason))}; }

  // A call whose missing answer ends the step (or the watch, if wharf stops).
  Expected<Response, Ending> call(const std::string& method, const std::string& path,
                                  const std::string& body = {},
                                  const std::string& content_type = {}) {
    auto r = client_.call(method, path, body, content_type, stopping_);
    if (r) return std::move(*r);
    if (stopping_()) return unexpected(Ending{});
    return unexpected(failed(r.error()));
  }

  // The reason for an answer that is not the expected one.
  Ending refused(const std::string& what, const Response& r) const {
    if (r.status == 401 || r.status == 403) {
      return failed("Jenkins refused user '" + server_.user + "' for " + what +
                    " (check --jenkins-user/--jenkins-token): " + Client::describe(r));
    }
    if (r.status == 404) return failed(where() + ": " + what + ": not found (HTTP 404)");
    return failed(where() + ": " + what + ": " + Client::describe(r));
  }

  template <typename T>
  Expected<T, Ending> parsed(Expected<T, std::string> value, const std::string& what) const {
    if (value) return std::move(*value);
    return unexpected(failed("Jenkins answered " + what + " with " + value.error()));
  }

  // Sleeps one poll period; false when wharf stops.
  bool pause() {
    const auto until = SteadyClock::now() + poll_;
    const bool was_cancelled = cancel_.load();
    while (SteadyClock::now() < until) {
      if (stopping_()) return false;
      if (cancel_.load() != was_cancelled) break;  // act on a cancel at once
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !stopping_();
  }

  Expected<void, Ending> ensure_job() {
    auto current = call("GET", path_ + "/config.xml");
    if (!current) return unexpected(current.error());
    const std::string& xml = settings_.config_xml();
    if (current->status == 200) {
      if (current->body == xml) return {};
      auto updated = call("POST", path_ + "/config.xml", xml, "application/xml");
      if (!updated) return unexpected(updated.error());
      if (updated->status != 200) return unexpected(refused("update config.xml", *updated));
      log_line("wharf: updated the config.xml of " + settings_.job());
      return {};
    }
    if (current->status != 404) return unexpected(refused("read config.xml", *current));
    const std::string& job = settings_.job();
    const size_t slash = job.rfind('/');
    const std::string folder = slash == std::string::npos ? "" : job_path(job.substr(0, slash));
    const std::string name = slash == std::string::npos ? job : job.substr(slash + 1);
    auto created =
        call("POST", folder + "/createItem?name=" + url_encode(name), xml, "application/xml");
    if (!created) return unexpected(created.error());
    if (created->status != 200) return unexpected(refused("createItem", *created));
    spdlog::info("jenkins: created job {} at {}", job, client_.root());
    log_line("wharf: created the Jenkins job " + job + " from the project's config.xml");
    return {};
  }

  // The build this key started earlier (0: none), searched page by page
  // through the job's newest builds (new builds arriving meanwhile only
  // shift the pages, so a page may repeat a build but never skip one).
  Expected<uint64_t, Ending> find_build() {
    const std::string what = "GET " + path_ + "/api/json";
    const uint64_t page = std::max<uint64_t>(1, server_.builds_per_page);
    for (uint64_t first = 0; first < server_.search_builds; first += page) {
      auto r = call("GET", path_ + "/api/json?tree=" + url_encode(builds_page_tree(first, page)));
      if (!r) return unexpected(r.error());
      if (r->status != 200) return unexpected(refused("read the job", *r));
      auto found = parsed(jenkins::find_build(r->body, key_), what);
      if (!found) return unexpected(found.error());
      if (found->number > 0) return found->number;
      if (found->builds < page) return 0;
    }
    spdlog::warn("jenkins: {}: no build of {} among its newest {} carries {}={}", key_,
                 settings_.job(), server_.search_builds, kRunIdParameter, key_);
    return 0;
  }

  // The queue item this key put in the queue earlier (0: none).
  Expected<uint64_t, Ending> find_queued() {
    auto r = call("GET", "/queue/api/json?tree=" + url_encode(kQueueTree));
    if (!r) return unexpected(r.error());
    if (r->status != 200) return unexpected(refused("read the queue", *r));
    auto found = parsed(jenkins::find_queued(r->body, path_, key_), "GET /queue/api/json");
    if (!found) return unexpected(found.error());
    return found->value_or(0);
  }

  Expected<uint64_t, Ending> trigger(const std::map<std::string, std::string>& params) {
    auto r = call("POST", path_ + "/buildWithParameters?" + query_of(params));
    if (!r) return unexpected(r.error());
    if (r->status == 409) {
      return unexpected(failed(where() + " is not buildable (disabled?): " + Client::describe(*r)));
    }
    if (r->status != 201 && r->status != 303) return unexpected(refused("buildWithParameters", *r));
    const std::string location = r->header("Location");
    auto id = queue_id_of(location);
    if (!id) {
      return unexpected(failed(where() + ": buildWithParameters answered without a queue item " +
                               "Location ('" + location + "')"));
    }
    spdlog::info("jenkins: {} queued {} as queue item {}", key_, settings_.job(), *id);
    ++counters_.triggered;
    progress_({engine::StepProgress::Kind::kQueued, external_id(), log_.string(),
               "queued in Jenkins as queue item " + std::to_string(*id), 0});
    return *id;
  }

  std::string external_id(uint64_t number = 0) const {
    return "jenkins:" + join_url(client_.root(), path_) +
           (number ? "/" + std::to_string(number) + "/" : "/");
  }

  // Waits for the queue item to become a build; cancels it on cancel.
  Expected<uint64_t, Ending> follow_queue(uint64_t id) {
    const std::string item_path = "/queue/item/" + std::to_string(id) + "/api/json";
    std::string why;
    bool cancel_sent = false;
    for (;;) {
      if (cancel_.load() && !cancel_sent) {
        cancel_sent = true;
        auto r = call("POST", "/queue/cancelItem?id=" + std::to_string(id));
        if (!r) return unexpected(r.error());
        if (r->status == 204 || r->status == 302 || r->status == 200) {
          log_line("wharf: cancelled queue item " + std::to_string(id) + " before it started");
          return unexpected(
              failed("cancelled while queued in Jenkins (queue item " + std::to_string(id) + ")"));
        }
        // 404: the item left the queue (it may have just started): look again.
      }
      auto r = call("GET", item_path);
      if (!r) return unexpected(r.error());
      if (r->status == 404) {
        // Left items are forgotten after 5 minutes: find the build by key.
        auto number = find_build();
        if (!number) return unexpected(number.error());
        if (*number > 0) return *number;
        return unexpected(failed(where() + ": queue item " + std::to_string(id) +
                                 " is gone and no build carries " + kRunIdParameter + "=" + key_));
      }
      if (r->status != 200) return unexpected(refused("read queue item " + std::to_string(id), *r));
      auto item = parsed(parse_queue_item(r->body), "GET " + item_path);
      if (!item) return unexpected(item.error());
      if (item->state == QueueItem::State::kStarted) return item->build_number;
      if (item->state == QueueItem::State::kCancelled) {
        return unexpected(failed(cancel_.load() ? "cancelled while queued in Jenkins"
                                                : "the Jenkins queue item " + std::to_string(id) +
                                                      " was cancelled in Jenkins"));
      }
      if (item->why != why && !item->why.empty()) {
        why = item->why;
        progress_({engine::StepProgress::Kind::kQueued, external_id(), log_.string(),
                   "queued in Jenkins: " + why, 0});
      }
      if (!pause()) return unexpected(Ending{});
    }
  }

  void log_line(const std::string& line) {
    std::ofstream out(log_, std::ios::app | std::ios::binary);
    out << line << '\n';
  }

  // Polls the build, copying its console into the step log, until it ends.
  Expected<BuildOutcome, Ending> follow_build(uint64_t number) {
    const std::string build = path_ + "/" + std::to_string(number);
    progress_({engine::StepProgress::Kind::kStarted, external_id(number), log_.string(),
               "Jenkins build " + build_name(number) + " running", 0});
    uint64_t offset = 0;
    std::string tail;  // the console's last bytes, for the failure reason
    int stop_stage = 0, polls_since_stop = 0;
    static constexpr const char* kStops[] = {"/stop", "/term", "/kill"};
    for (;;) {
      bool more = true;
      auto text = call("GET", build + "/logText/progressiveText?start=" + std::to_string(offset));
      if (!text) return unexpected(text.error());
      if (text->status == 200) {
        auto p = parse_progressive(text->header("X-Text-Size"), text->header("X-More-Data"), offset,
                                   text->body.size());
        std::ofstream out(log_, (p.restarted ? std::ios::trunc : std::ios::app) | std::ios::binary);
        out << text->body;
        tail = (p.restarted ? "" : tail) + text->body;
        if (tail.size() > 4096) tail.erase(0, tail.size() - 4096);
        offset = p.next_offset;
        more = p.more;
      } else if (text->status != 404) {  // 404: no log yet
        return unexpected(refused("read the console of #" + std::to_string(number), *text));
      }
      auto r = call("GET", build + "/api/json?tree=" + url_encode(kBuildTree));
      if (!r) return unexpected(r.error());
      if (r->status != 200) return unexpected(refused("read build #" + std::to_string(number), *r));
      auto info = parsed(parse_build_info(r->body), "GET " + build + "/api/json");
      if (!info) return unexpected(info.error());
      if (!info->building && !info->result.empty() && !more) return conclude(*info, tail);
      if (cancel_.load() && stop_stage < 3 &&
          (stop_stage == 0 || ++polls_since_stop >= kPollsPerStopEscalation)) {
        auto stopped = call("POST", build + kStops[stop_stage]);
        if (!stopped) return unexpected(stopped.error());
        spdlog::info("jenkins: {} asked {} to {}", key_, build_name(number),
                     kStops[stop_stage] + 1);
        ++stop_stage;
        polls_since_stop = 0;
      }
      if (!info->building && !info->result.empty()) continue;  // fetch the rest of the text now
      if (!pause()) return unexpected(Ending{});
    }
  }

  Expected<BuildOutcome, Ending> conclude(const BuildInfo& info, const std::string& tail) {
    BuildOutcome o;
    o.duration_ms = info.duration_ms;
    const std::string name = build_name(info.number);
    if (info.result == "ABORTED") {
      o.reason = cancel_.load() ? "cancelled (Jenkins build " + name + " aborted)"
                                : "Jenkins build " + name + " was aborted";
      o.exit_code = -1;
      return o;
    }
    if (info.result != "SUCCESS") {
      const std::string line = last_line(tail);
      o.reason =
          "Jenkins build " + name + " finished " + info.result + (line.empty() ? "" : ": " + line);
      o.exit_code = 1;
      return o;
    }
    auto artifact = image_of(info);
    if (!artifact) return unexpected(artifact.error());
    o.succeeded = true;
    o.artifact_digest = artifact->digest;
    o.artifact_uri = artifact->reference();
    log_line("wharf: Jenkins build " + name + " produced " + o.artifact_uri);
    return o;
  }

  Expected<Artifact, Ending> image_of(const BuildInfo& info) {
    const std::string file =
        settings_.artifact_file().empty() ? "image.json" : settings_.artifact_file();
    const std::string name = build_name(info.number);
    for (const auto& archived : info.artifacts) {
      if (archived != file) continue;
      const std::string path = path_ + "/" + std::to_string(info.number) + "/artifact/" + file;
      auto r = call("GET", path);
      if (!r) return unexpected(r.error());
      if (r->status != 200) return unexpected(refused("read the artifact " + file, *r));
      auto a = parse_artifact(r->body);
      if (!a) return unexpected(failed("Jenkins build " + name + ": " + file + ": " + a.error()));
      return *a;
    }
    if (auto it = info.parameters.find("IMAGE"); it != info.parameters.end()) {
      if (auto a = artifact_from_reference(it->second)) return *a;
    }
    if (auto a = artifact_from_reference(info.description)) return *a;
    return unexpected(failed("Jenkins build " + name + " succeeded but reported no image: no " +
                             "archived " + file + ", and no IMAGE parameter or description " +
                             "with <image>@sha256:<digest>"));
  }

  const engine::BuildJob& job_;
  const wharf::v1::JenkinsBuild& settings_;
  Client& client_;
  const std::atomic<bool>& cancel_;
  std::function<bool()> stopping_;
  std::function<void(const engine::StepProgress&)> progress_;
  fs::path log_;
  const ServerConfig& server_;
  RunnerCounters& counters_;
  std::string key_;
  std::string path_;
  std::chrono::milliseconds poll_;
};

}  // namespace

std::map<std::string, std::string> template_values(const engine::BuildJob& job) {
  return {{"commit", job.commit_sha},
          {"change", job.change_number ? std::to_string(job.change_number) : ""},
          {"patchset", job.patchset ? std::to_string(job.patchset) : ""},
          {"branch", job.branch},
          {"project", job.project_id},
          {"repository", job.repository},
          {"run_id", job.run_id},
          {"attempt", std::to_string(job.attempt)}};
}

JenkinsBuildRunner::JenkinsBuildRunner(fs::path data_dir, ServerConfig server,
                                       const targets::TargetResolver& targets)
    : layout_(std::move(data_dir)), server_(std::move(server)), targets_(targets) {}

targets::ProbeResult probe_jenkins(const targets::ResolvedTarget& target) {
  ServerConfig server;
  server.url = target.spec.url();
  server.user = target.user;
  server.token = target.token;
  server.ca_file = target.spec.ca_file();
  server.insecure = target.spec.insecure_skip_tls_verify();
  server.attempts = 1;
  Client client(server.url, server);
  auto response = client.call("GET", "/api/json");
  if (!response) return {false, "", response.error()};
  if (response->status != 200) {
    return {false, "", "GET /api/json: " + Client::describe(*response)};
  }
  return {true, response->header("X-Jenkins"), ""};
}

JenkinsBuildRunner::~JenkinsBuildRunner() {
  tasks_.stop_and_join();
}

RunnerStats JenkinsBuildRunner::stats() const {
  RunnerStats st;
  st.triggered = counters_.triggered.load();
  st.adopted = counters_.adopted.load();
  st.succeeded = counters_.succeeded.load();
  st.failed = counters_.failed.load();
  st.cancelled = counters_.cancelled.load();
  std::lock_guard lock(mutex_);
  for (const auto& [root, client] : clients_) {
    const auto calls = client->stats();
    st.retries += calls.retries;
    st.crumb_fetches += calls.crumb_fetches;
  }
  return st;
}

std::shared_ptr<Client> JenkinsBuildRunner::client_for(const std::string& key,
                                                       const std::string& root,
                                                       const ServerConfig& server) {
  std::lock_guard lock(mutex_);
  auto& client = clients_[key];
  if (!client) client = std::make_shared<Client>(root, server);
  return client;
}

void JenkinsBuildRunner::start(const engine::BuildJob& job,
                               engine::Callbacks<BuildOutcome> callbacks) {
  auto active = jobs_.add(local::job_key(job.run_id, job.attempt), std::move(callbacks));
  if (active) tasks_.run([this, job, active] { run(job, active); });
}

void JenkinsBuildRunner::cancel(const std::string& run_id, uint32_t attempt) {
  jobs_.cancel(local::job_key(run_id, attempt));
}

void JenkinsBuildRunner::run(const engine::BuildJob& job, std::shared_ptr<Jobs::Job> active) {
  const std::string key = local::job_key(job.run_id, job.attempt);
  // The Jenkins target the step names, else the --jenkins-* server.
  ServerConfig server = server_;
  std::string client_key;
  // A step naming no server uses the --jenkins-* one: given directly, or (in
  // serve) registered as the target "jenkins".
  std::string name = job.step.jenkins().server();
  if (name.empty() && server_.url.empty() && job.step.jenkins().url().empty()) name = "jenkins";
  if (!name.empty()) {
    auto target = targets::resolve_named(targets_, name, wharf::v1::TARGET_KIND_JENKINS);
    if (!target) return jobs_.finish(key, failure(target.error()));
    server.url = target->spec.url();
    server.user = target->user;
    server.token = target->token;
    server.ca_file = target->spec.ca_file();
    server.insecure = target->spec.insecure_skip_tls_verify();
    // A rotated credential gets a client of its own (clients keep their crumb).
    client_key = name + "#" + std::to_string(target->credential_version);
  }
  const std::string root = job.step.jenkins().url().empty() ? server.url : job.step.jenkins().url();
  if (root.empty()) {
    jobs_.finish(key, failure("jenkins build step needs jenkins.server (a Jenkins target), "
                              "jenkins.url or serve --jenkins-url"));
    return;
  }
  auto client = client_for(client_key + "|" + root, root, server);
  JenkinsBuild build(
      job, *client, active->cancel, [this] { return tasks_.stopping(); },
      [this, &key](const engine::StepProgress& p) { jobs_.progress(key, p); },
      layout_.build_log(job.run_id, job.attempt), server, counters_);
  auto outcome = build.run();
  if (!outcome) return;  // wharf stops; the next start adopts the build
  if (outcome->succeeded) {
    ++counters_.succeeded;
    spdlog::info("jenkins: {} built {}", key, outcome->artifact_uri);
  } else {
    ++(active->cancel.load() ? counters_.cancelled : counters_.failed);
    spdlog::warn("jenkins: {} failed: {}", key, outcome->reason);
  }
  jobs_.finish(key, *outcome);
}

}  // namespace wharf::jenkins
