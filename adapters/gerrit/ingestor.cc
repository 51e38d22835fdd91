#include "adapters/gerrit/ingestor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace wharf::gerrit {

namespace {

// Gerrit core's registered types (protocols.md §1.3), legacy ones included.
bool known_type(const std::string& type) {
  static constexpr std::array<std::string_view, 22> kTypes = {
      "patchset-created",  "change-merged",        "change-abandoned",   "change-restored",
      "change-deleted",    "comment-added",        "reviewer-added",     "reviewer-deleted",
      "vote-deleted",      "topic-changed",        "hashtags-changed",   "wip-state-changed",
      "private-state-changed", "ref-updated",      "batch-ref-updated",  "project-created",
      "project-head-updated", "dropped-output",    "assignee-changed",   "draft-published",
      "merge-failed",      "ref-replicated"};
  return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end();
}

std::string tip_of(const std::string& project, const std::string& ref, const std::string& sha) {
  return project + "|" + ref + "|" + sha;
}

}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kEmpty: return "empty";
    case Outcome::kBadLine: return "bad_line";
    case Outcome::kTooLarge: return "too_large";
    case Outcome::kUnknownType: return "unknown_type";
    case Outcome::kDroppedOutput: return "dropped_output";
    case Outcome::kNotATrigger: return "not_a_trigger";
    case Outcome::kNotBound: return "not_bound";
    case Outcome::kHeld: return "held";
    case Outcome::kDeduplicated: return "deduplicated";
    case Outcome::kObserved: return "observed";
    case Outcome::kSinkError: return "sink_error";
    case Outcome::kSubmitted: return "submitted";
  }
  return "unknown";
}

Ingestor::Ingestor(IngestOptions options, const BindingSet& bindings, CommitSink& sink,
                   IngestProbe& probe)
    : options_(std::move(options)),
      bindings_(bindings),
      sink_(sink),
      probe_(probe),
      recent_(options_.dedup_window),
      merged_tips_(options_.dedup_window) {}

void Ingestor::on_dropped_output(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  dropped_output_callback_ = std::move(callback);
}

Outcome Ingestor::ingest_line(std::string_view line, const std::string& source, int64_t now_us) {
  probe_.line();
  auto parsed = parse_event(line, options_.limits);
  if (!parsed) {
    const ParseError& err = parsed.error();
    switch (err.status) {
      case ParseStatus::kEmpty:
        return Outcome::kEmpty;
      case ParseStatus::kTooLarge:
        probe_.too_large();
        spdlog::warn("gerrit {}: dropped a {} line: {}", options_.host, source, err.message);
        return Outcome::kTooLarge;
      default:
        probe_.bad_line();
        spdlog::warn("gerrit {}: skipped a bad {} line: {}", options_.host, source, err.message);
        return Outcome::kBadLine;
    }
  }
  return ingest_event(*parsed, source, now_us);
}

Outcome Ingestor::ingest_event(const GerritEvent& event, const std::string& source,
                               int64_t now_us) {
  if (event.type == "dropped-output") {
    // Its eventCreatedOn is when the gap ended: not a time the stream was whole.
    probe_.event(event.type, 0, now_us);
    probe_.dropped_output();
    spdlog::warn("gerrit {}: Gerrit dropped events (dropped-output); catch-up is due",
                 options_.host);
    std::function<void()> callback;
    {
      std::lock_guard lock(mutex_);
      callback = dropped_output_callback_;
    }
    if (callback) callback();
    return Outcome::kDroppedOutput;
  }
  probe_.event(event.type, event.created_on, now_us);
  if (!known_type(event.type)) {
    if (probe_.unknown_type(event.type)) {
      spdlog::info("gerrit {}: ignoring events of unknown type '{}'", options_.host, event.type);
    }
    return Outcome::kUnknownType;
  }
  std::lock_guard lock(mutex_);
  return handle_locked(event, source, now_us);
}

Outcome Ingestor::handle_locked(const GerritEvent& event, const std::string& source,
                                int64_t now_us) {
  TriggerDecision decision = to_trigger(event, options_.host);
  if (!decision.trigger) return Outcome::kNotATrigger;
  CommitTrigger& trigger = *decision.trigger;

  if (event.type == "change-merged") {
    // A merge's branch ref-updated must not start a second run.
    std::string tip = tip_of(trigger.gerrit_project, "refs/heads/" + trigger.branch,
                             trigger.commit_sha);
    merged_tips_.insert(tip);
    std::erase_if(held_, [&](const Held& h) { return h.tip == tip; });
  }
  if (event.type == "ref-updated") {
    std::string tip = tip_of(trigger.gerrit_project, trigger.ref, trigger.commit_sha);
    if (merged_tips_.contains(tip)) {
      probe_.deduplicated();
      return Outcome::kDeduplicated;
    }
    if (options_.ref_update_hold_us > 0) {
      for (const Held& h : held_) {
        if (h.trigger.dedup_key == trigger.dedup_key) {
          probe_.deduplicated();
          return Outcome::kDeduplicated;
        }
      }
      held_.push_back({std::move(trigger), source, tip, now_us + options_.ref_update_hold_us});
      return Outcome::kHeld;
    }
  }
  return emit_locked(trigger, source);
}

Outcome Ingestor::emit_locked(const CommitTrigger& trigger, const std::string& source) {
  {
    std::lock_guard lock(failed_mutex_);
    for (const std::string& key : failed_keys_) recent_.erase(key);
    failed_keys_.clear();
  }
  if (recent_.contains(trigger.dedup_key)) {
    probe_.deduplicated();
    return Outcome::kDeduplicated;
  }
  std::vector<ProjectBinding> projects = bound_projects(trigger, bindings_);
  if (projects.empty()) {
    probe_.not_bound();
    return Outcome::kNotBound;
  }
  if (options_.async_sink) {
    recent_.insert(trigger.dedup_key);
    for (const ProjectBinding& binding : projects) {
      sink_.observe_async(
          to_command(trigger, binding.project_id, source), options_.host,
          [this, key = trigger.dedup_key, project = binding.project_id,
           what = trigger.event_type + " " + trigger.gerrit_project + " " + trigger.branch + "@" +
                  trigger.commit_sha.substr(0, 12),
           source](const Expected<Observed, std::string>& result) {
            if (!result) {
              probe_.sink_error(result.error());
              spdlog::error("gerrit {}: could not record {} for project {}: {}", options_.host,
                            key, project, result.error());
              std::lock_guard lock(failed_mutex_);
              failed_keys_.push_back(key);
            } else if (*result == Observed::kNew) {
              probe_.observed();
              spdlog::info("gerrit {}: {} -> project {} ({})", options_.host, what, project,
                           source);
            } else {
              probe_.deduplicated();
            }
          });
    }
    return Outcome::kSubmitted;
  }
  bool any_new = false;
  bool failed = false;
  for (const ProjectBinding& binding : projects) {
    auto result = sink_.observe(to_command(trigger, binding.project_id, source), options_.host);
    if (!result) {
      failed = true;
      probe_.sink_error(result.error());
      spdlog::error("gerrit {}: could not record {} for project {}: {}", options_.host,
                    trigger.dedup_key, binding.project_id, result.error());
      continue;
    }
    if (*result == Observed::kNew) {
      any_new = true;
      probe_.observed();
      spdlog::info("gerrit {}: {} {} {}@{} -> project {} ({})", options_.host,
                   trigger.event_type, trigger.gerrit_project, trigger.branch,
                   trigger.commit_sha.substr(0, 12), binding.project_id, source);
    }
  }
  if (failed) return Outcome::kSinkError;
  recent_.insert(trigger.dedup_key);
  if (any_new) return Outcome::kObserved;
  probe_.deduplicated();
  return Outcome::kDeduplicated;
}

size_t Ingestor::release_held(int64_t now_us) {
  std::lock_guard lock(mutex_);
  std::vector<Held> due;
  std::erase_if(held_, [&](Held& h) {
    if (h.deadline_us > now_us) return false;
    due.push_back(std::move(h));
    return true;
  });
  for (const Held& h : due) emit_locked(h.trigger, h.source);
  return due.size();
}

size_t Ingestor::flush() {
  std::lock_guard lock(mutex_);
  std::vector<Held> due = std::move(held_);
  held_.clear();
  for (const Held& h : due) emit_locked(h.trigger, h.source);
  return due.size();
}

}  // namespace wharf::gerrit
