#pragma once
// Gerrit project set-up through the REST API, for a wharf project created
// with "gerrit_create" (API) / --gerrit-create (CLI): makes sure the Gerrit
// project exists and has the wanted branches.
//   PUT /a/projects/{name}                   {"create_empty_commit":true,"branches":[...]}
//     201 created; 409 "Project already exists" is fine: then every branch is
//   PUT /a/projects/{name}/branches/{branch} {}  (201 created, 409 already there)
// Names are percent-encoded as one path segment ("team/app" -> "team%2Fapp").
// Credentials are the server's (RestOptions from serve --gerrit-http-*), never
// the request's, and never land in an event.
#include <string>
#include <string_view>
#include <vector>

#include "adapters/gerrit/catchup.h"
#include "events/expected.h"
#include "wharf/v1/project.pb.h"

namespace wharf::gerrit {

struct ProjectSetup {
  std::string project;                // Gerrit project name, e.g. "team/app"
  std::vector<std::string> branches;  // short ("main") or full ("refs/heads/main"); first = HEAD
};

struct ProjectSetupResult {
  bool project_created = false;                // false: it existed already
  std::vector<std::string> branches_created;   // short names, in request order
  std::vector<std::string> branches_existing;  // asked for, already there
};

struct ProjectSetupError {
  int http_status = 0;  // Gerrit's answer; 0 when none came (down, bad URL)
  std::string message;  // readable, with Gerrit's own words
  bool auth() const { return http_status == 401 || http_status == 403; }
};

// Creates the project (with an empty initial commit on each branch) or, when
// it exists, the branches it lacks. Needs options.user / http_password for /a/.
Expected<ProjectSetupResult, ProjectSetupError> setup_project(const RestOptions& options,
                                                              const ProjectSetup& setup);

// The set-up a project binding asks for (its Gerrit project, the exact names
// among its branch filters) as the record ProjectCreated.gerrit_setup carries.
Expected<wharf::v1::GerritProjectSetup, ProjectSetupError> setup_for_binding(
    const RestOptions& options, const wharf::v1::GerritSource& binding);

// The branch names set-up creates from a binding's branch filters: exact names
// only (globs such as "release/*" name no branch), "refs/heads/" dropped,
// duplicates removed, order kept.
std::vector<std::string> branches_to_create(const std::vector<std::string>& filters);

// One path segment, percent-encoded (RFC 3986 unreserved kept): "a/b" -> "a%2Fb".
std::string encode_segment(std::string_view name);

// REST paths, exposed for tests.
std::string project_path(std::string_view project);
std::string branch_path(std::string_view project, std::string_view branch);

}  // namespace wharf::gerrit
