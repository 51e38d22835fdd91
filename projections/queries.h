#pragma once
// The read API of wharf: what the HTTP API and the CLI ask the projections.
// Every query answers as of a log position: `at` (a position or an RFC 3339
// time) for time travel, else the projection's current position; with
// `min_position` it first waits (bounded) until the projections have applied
// that position (read-your-writes). Answers are protobuf messages from
// wharf/views/v1/views.proto (JSON via MessageToJsonString) carrying the
// position they are as of. Each lookup is an index seek; nothing is replayed.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "projections/error.h"
#include "projections/runner.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

namespace views = wharf::views::v1;

struct QueryOptions {
  std::optional<uint64_t> at_position;  // answer as of this log position
  std::optional<int64_t> at_time_us;    // ... or as of the last event recorded at/before this time
  uint64_t min_position = 0;            // wait until applied (read-your-writes)
  std::chrono::milliseconds timeout{5000};
};

// Sets `at` from text: digits are a position, anything else must be an
// RFC 3339 time. An empty string leaves `options` unchanged.
Expected<QueryOptions, Error> with_at(QueryOptions options, std::string_view at);

template <typename T>
struct Answer {
  uint64_t position = 0;  // the log position the answer is as of
  T value;
};

struct RunFilter {
  std::string project_id;  // empty: every project
  std::optional<views::RunStatus> status;
  std::string commit_sha;
  uint64_t before = 0;  // paging: next_before of the previous page
  size_t limit = 50;
};

struct AuditFilter {
  std::string project_id;
  std::string actor;
  std::string type;                     // e.g. "DeploySucceeded"
  std::string text;                     // case-insensitive substring of summary, ids, stream
  std::optional<int64_t> from_time_us;  // inclusive
  std::optional<int64_t> to_time_us;    // inclusive
  uint64_t from_position = 0;           // inclusive
  uint64_t to_position = 0;             // inclusive; 0 = no bound
  uint64_t cursor = 0;                  // paging: next_cursor of the previous page
  size_t limit = 100;
  bool oldest_first = false;
};

// A page of a list in creation order (projects, the landscape): what comes
// after `after` (the position the previous page's `next_cursor` names; 0:
// from the first), at most `limit` entries (0: all) that `visible` lets
// through (null: every one).
struct ProjectPage {
  std::function<bool(const std::string& project_id)> visible;
  uint64_t after = 0;
  size_t limit = 0;
};

class Queries {
 public:
  explicit Queries(const ProjectionRunner& runner) : runner_(runner) {}

  // Every project, or (when `user` is set) those where the user holds a role,
  // in the order they were created (granted), one page: `next_cursor` is set
  // when more follow.
  Expected<views::ProjectList, Error> list_projects(const QueryOptions& o,
                                                    const std::string& user = "",
                                                    const ProjectPage& page = {}) const;
  Expected<Answer<views::ProjectView>, Error> get_project(const std::string& project_id,
                                                          const QueryOptions& o) const;

  // Newest first.
  Expected<views::RunList, Error> list_runs(const RunFilter& filter, const QueryOptions& o) const;
  Expected<Answer<views::RunView>, Error> get_run(const std::string& run_id,
                                                  const QueryOptions& o) const;

  // Newest first; `before` pages (0 = from the newest).
  Expected<views::VersionList, Error> list_versions(const std::string& project_id, uint64_t before,
                                                    size_t limit, const QueryOptions& o) const;
  Expected<Answer<views::VersionView>, Error> get_version(const std::string& project_id,
                                                          const std::string& version,
                                                          const QueryOptions& o) const;

  Expected<views::EnvironmentList, Error> list_environments(const std::string& project_id,
                                                            const QueryOptions& o) const;
  // One SeekForPrev: what served in the environment as of the position/time.
  Expected<Answer<views::EnvironmentView>, Error> get_environment(const std::string& project_id,
                                                                  const std::string& environment,
                                                                  const QueryOptions& o) const;
  // Current state plus every deploy/rollback line up to the position, oldest first.
  Expected<views::EnvironmentHistory, Error> environment_history(const std::string& project_id,
                                                                 const std::string& environment,
                                                                 const QueryOptions& o) const;
  // The same, one page: the newest `limit` lines (0 = all) before position
  // `before` (0 = up to the answer's position), oldest first; next_before
  // names the next older page. Read newest first: the cost is the page's,
  // not the environment's whole history.
  Expected<views::EnvironmentHistory, Error> environment_history(const std::string& project_id,
                                                                 const std::string& environment,
                                                                 const QueryOptions& o,
                                                                 uint64_t before,
                                                                 size_t limit) const;

  // Members of a project (assignments whose roles are all revoked are left out).
  Expected<views::PermissionList, Error> project_permissions(const std::string& project_id,
                                                             const QueryOptions& o) const;
  // A user's roles over every project.
  Expected<views::PermissionList, Error> user_permissions(const std::string& user,
                                                          const QueryOptions& o) const;
  // Highest role of `user` on `project` (ROLE_UNSPECIFIED: none).
  Expected<Answer<wharf::v1::Role>, Error> role_of(const std::string& project_id,
                                                   const std::string& user,
                                                   const QueryOptions& o) const;
  // Requests of a project (empty: every project), newest first.
  Expected<views::RequestList, Error> permission_requests(const std::string& project_id,
                                                          bool pending_only,
                                                          const QueryOptions& o) const;
  Expected<views::TokenList, Error> list_tokens(const QueryOptions& o) const;
  Expected<Answer<views::TokenView>, Error> token_by_sha256(const std::string& token_sha256,
                                                            const QueryOptions& o) const;
  Expected<Answer<bool>, Error> is_admin(const std::string& user, const QueryOptions& o) const;

  Expected<views::AuditPage, Error> audit(const AuditFilter& filter, const QueryOptions& o) const;

 private:
  friend class InsightsQueries;  // landscape and delivery metrics (insights_queries.h)

  // The position to answer at for these projections, after waiting for
  // min_position (and for `at`, when the log already has it).
  Expected<uint64_t, Error> resolve(std::initializer_list<const char*> projections,
                                    const QueryOptions& o) const;

  const ProjectionRunner& runner_;
};

}  // namespace wharf::projections
