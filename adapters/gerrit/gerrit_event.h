#pragma once
// One Gerrit event after normalisation: the fields wharf reads, in one shape
// whatever transport delivered it (SSH stream-events, webhooks plugin,
// events-log, REST catch-up) and whatever Gerrit version produced it
// (protocols.md §1.2-1.6). Fields absent from the JSON stay empty / 0.
#include <cstdint>
#include <string>
#include <vector>

namespace wharf::gerrit {

struct Account {
  std::string name;
  std::string email;
  std::string username;  // may be "" on real servers
};

struct Approval {
  std::string type;       // label, e.g. "Code-Review" (very old servers: "CRVW")
  std::string value;      // "-2".."+2", always a string here
  std::string old_value;  // present only when the vote changed
};

struct RefUpdate {
  std::string old_rev;
  std::string new_rev;   // 40 zeros: the ref was deleted
  std::string ref_name;  // always full: a legacy short "master" becomes "refs/heads/master"
  std::string project;
};

struct GerritEvent {
  std::string type;        // "patchset-created", ... ; unknown plugin types kept verbatim
  int64_t created_on = 0;  // eventCreatedOn, epoch seconds; 0 when absent (2.x servers)

  // Change-scoped events. `project` and `branch` come from the top level or
  // from `change`, whichever is present; `branch` is short ("main").
  std::string project;
  std::string branch;
  std::string ref_name;  // full target branch, "refs/heads/main"
  std::string change_id;  // "I<40 hex>"
  uint64_t change_number = 0;
  std::string subject;
  std::string change_status;  // NEW | MERGED | ABANDONED
  uint32_t patchset = 0;
  std::string revision;  // patch set commit sha
  std::string patchset_ref;  // refs/changes/NN/N/PS
  std::string patchset_kind;  // REWORK, TRIVIAL_REBASE, NO_CODE_CHANGE, NO_CHANGE, ...
  Account commit_author;      // patchSet.author
  std::string new_rev;        // change-merged: branch tip after the merge

  // Who did it: uploader / submitter / author (comment-added) / abandoner / ...
  Account actor;
  std::string comment;  // comment-added, reviewer-deleted, vote-deleted
  std::vector<Approval> approvals;

  RefUpdate ref_update;  // ref-updated

  // Content-based identity of the event, identical for every transport shape
  // of the same Gerrit event (dedup_key.h). Does not include the Gerrit host.
  std::string event_key;
};

// True for the 40-zero sha Gerrit uses for "no commit" (ref created / deleted).
bool is_null_sha(const std::string& sha);

}  // namespace wharf::gerrit
