#pragma once
// Which wharf projects listen to which Gerrit project and branches
// (wharf.v1.GerritSource in project.proto). Kept current by folding the
// project events (ProjectCreated, RepositoryBound) from the log.
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "wharf/v1/envelope.pb.h"
#include "wharf/v1/project.pb.h"

namespace wharf::gerrit {

struct ProjectBinding {
  std::string project_id;
  wharf::v1::GerritSource source;
};

// Shell-style glob ("release/*", "main", "*"), '*' also crosses '/'.
bool glob_match(const std::string& pattern, const std::string& text);

// True when one of `words` occurs in `comment` as a whole word, ignoring case
// ("recheck" matches "Patch Set 3:\n\nrecheck", not "prechecked").
bool has_trigger_word(const std::string& comment,
                      const google::protobuf::RepeatedPtrField<std::string>& words);

// Host names compare without case and without a ":port"; an empty binding host
// matches any server.
bool host_matches(const std::string& binding_host, const std::string& host);

// Thread-safe: the serve process updates it from the log while transports read it.
class BindingSet {
 public:
  // Folds one event in; events other than ProjectCreated / RepositoryBound are ignored.
  void apply(const wharf::v1::Envelope& event);
  void bind(const std::string& project_id, const wharf::v1::GerritSource& source);
  void unbind(const std::string& project_id);

  // Projects bound to (host, gerrit project) whose branch filters accept `branch`.
  std::vector<ProjectBinding> match(const std::string& host, const std::string& gerrit_project,
                                    const std::string& branch) const;
  size_t size() const;
  // The distinct hosts of the bindings ("" for a binding that accepts any host).
  std::vector<std::string> hosts() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, wharf::v1::GerritSource> by_project_id_;
};

}  // namespace wharf::gerrit
