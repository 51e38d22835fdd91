#pragma once
// The mapper: which Gerrit events can start a run, and the neutral trigger
// they become (Zuul's "trigger" role). Pure: no I/O.
//   patchset-created -> the new patch set's commit (not for kind NO_CHANGE)
//   change-merged    -> the branch tip after the merge (newRev; patch set
//                       revision on servers that do not send newRev)
//   ref-updated      -> refs/heads/* moved to a commit (not deletions, not
//                       refs/changes/*, refs/changes/*/meta, tags, meta/config)
//   comment-added    -> the patch set's commit, for bindings whose trigger
//                       words appear in the comment
// Everything else (abandon, reviewers, topics, plugin types…) is not a trigger.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "adapters/gerrit/bindings.h"
#include "adapters/gerrit/gerrit_event.h"
#include "engine/commands.h"

namespace wharf::gerrit {

struct CommitTrigger {
  std::string host;  // the Gerrit server (connection name)
  std::string gerrit_project;
  std::string branch;  // short, "main"
  std::string ref;     // "refs/heads/main" or the patch set ref
  std::string commit_sha;
  uint64_t change_number = 0;
  uint32_t patchset = 0;
  Account author;
  std::string subject;
  std::string event_type;
  std::string comment;    // comment-added only: matched against trigger words
  std::string dedup_key;  // dedup_key(host, event)
};

enum class NotATrigger {
  kType,        // an event type that never starts a run
  kNoise,       // ref-updated of a non-branch ref or a deletion; NO_CHANGE patch set
  kIncomplete,  // a trigger type without the fields needed (no sha, no branch)
};

struct TriggerDecision {
  std::optional<CommitTrigger> trigger;
  NotATrigger why_not = NotATrigger::kType;
};

TriggerDecision to_trigger(const GerritEvent& event, const std::string& host);

// Bindings that `trigger` starts a run for: same host/project, branch filter
// accepts the branch, and for comment-added a trigger word in the comment.
std::vector<ProjectBinding> bound_projects(const CommitTrigger& trigger,
                                           const BindingSet& bindings);

// The engine command for one bound project. `source` is "gerrit-stream",
// "gerrit-webhook", "gerrit-catchup" or "gerrit-file".
engine::ObserveCommit to_command(const CommitTrigger& trigger, const std::string& project_id,
                                 const std::string& source);

}  // namespace wharf::gerrit
