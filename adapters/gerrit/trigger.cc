#include "adapters/gerrit/trigger.h"

#include "adapters/gerrit/dedup_key.h"

namespace wharf::gerrit {

namespace {

CommitTrigger base(const GerritEvent& e, const std::string& host) {
  CommitTrigger t;
  t.host = host;
  t.gerrit_project = e.project;
  t.branch = e.branch;
  t.change_number = e.change_number;
  t.patchset = e.patchset;
  t.author = e.commit_author.name.empty() && e.commit_author.email.empty() ? e.actor
                                                                           : e.commit_author;
  t.subject = e.subject;
  t.event_type = e.type;
  t.dedup_key = dedup_key(host, e);
  return t;
}

TriggerDecision yes(CommitTrigger t) {
  if (t.commit_sha.empty() || is_null_sha(t.commit_sha) || t.branch.empty() ||
      t.gerrit_project.empty()) {
    return {std::nullopt, NotATrigger::kIncomplete};
  }
  return {std::move(t), NotATrigger::kType};
}

TriggerDecision no(NotATrigger why) { return {std::nullopt, why}; }

}  // namespace

TriggerDecision to_trigger(const GerritEvent& e, const std::string& host) {
  if (e.type == "patchset-created") {
    if (e.patchset_kind == "NO_CHANGE") return no(NotATrigger::kNoise);
    CommitTrigger t = base(e, host);
    t.commit_sha = e.revision;
    t.ref = e.patchset_ref;
    return yes(std::move(t));
  }
  if (e.type == "change-merged") {
    CommitTrigger t = base(e, host);
    t.commit_sha = e.new_rev.empty() ? e.revision : e.new_rev;
    t.ref = e.ref_name;
    return yes(std::move(t));
  }
  if (e.type == "comment-added") {
    CommitTrigger t = base(e, host);
    t.commit_sha = e.revision;
    t.ref = e.patchset_ref;
    t.comment = e.comment;
    return yes(std::move(t));
  }
  if (e.type == "ref-updated") {
    const RefUpdate& ru = e.ref_update;
    if (!ru.ref_name.starts_with("refs/heads/") || is_null_sha(ru.new_rev)) {
      return no(NotATrigger::kNoise);
    }
    CommitTrigger t = base(e, host);
    t.branch = ru.ref_name.substr(std::string_view("refs/heads/").size());
    t.ref = ru.ref_name;
    t.commit_sha = ru.new_rev;
    t.author = e.actor;
    return yes(std::move(t));
  }
  return no(NotATrigger::kType);
}

std::vector<ProjectBinding> bound_projects(const CommitTrigger& trigger,
                                           const BindingSet& bindings) {
  std::vector<ProjectBinding> matched = bindings.match(trigger.host, trigger.gerrit_project,
                                                       trigger.branch);
  if (trigger.event_type != "comment-added") return matched;
  std::vector<ProjectBinding> out;
  for (auto& b : matched) {
    if (has_trigger_word(trigger.comment, b.source.trigger_words())) out.push_back(std::move(b));
  }
  return out;
}

engine::ObserveCommit to_command(const CommitTrigger& t, const std::string& project_id,
                                 const std::string& source) {
  engine::ObserveCommit c;
  c.project_id = project_id;
  c.commit_sha = t.commit_sha;
  c.branch = t.branch;
  c.ref = t.ref;
  c.change_number = t.change_number;
  c.patchset = t.patchset;
  c.author.set_name(t.author.name);
  c.author.set_email(t.author.email);
  c.author.set_username(t.author.username);
  c.subject = t.subject;
  c.source = source;
  c.dedup_key = t.dedup_key;
  return c;
}

}  // namespace wharf::gerrit
