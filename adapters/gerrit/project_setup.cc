#include "adapters/gerrit/project_setup.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>

namespace wharf::gerrit {
namespace json = boost::json;

namespace {

constexpr std::string_view kHeads = "refs/heads/";

std::string short_branch(std::string_view branch) {
  if (branch.starts_with(kHeads)) branch.remove_prefix(kHeads.size());
  return std::string(branch);
}

// Gerrit's words from an error answer: plain text (most REST errors) or a
// JSON string, without the XSSI guard and surrounding blanks.
std::string gerrit_words(const http_client::Response& r) {
  std::string_view text = strip_xssi(r.body);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.size() > 300) text = text.substr(0, 300);
  return std::string(text);
}

ProjectSetupError failure(const std::string& what, const http_client::Response& r,
                          const RestOptions& options) {
  ProjectSetupError e;
  e.http_status = r.status;
  std::string words = gerrit_words(r);
  e.message = what + ": Gerrit answered HTTP " + std::to_string(r.status) +
              (words.empty() ? "" : " (" + words + ")");
  if (e.auth()) {
    e.message += r.status == 401
                     ? "; check the HTTP credentials of user '" + options.user +
                           "' (serve --gerrit-http-user / --gerrit-http-password)"
                     : "; user '" + options.user + "' may not create projects or branches";
  }
  return e;
}

ProjectSetupError no_answer(const std::string& what, const std::string& why) {
  ProjectSetupError e;
  e.message = what + ": " + why;
  return e;
}

}  // namespace

std::string encode_segment(std::string_view name) {
  return boost::urls::encode(name, boost::urls::unreserved_chars);
}

std::string project_path(std::string_view project) {
  return "/a/projects/" + encode_segment(project);
}

std::string branch_path(std::string_view project, std::string_view branch) {
  return project_path(project) + "/branches/" + encode_segment(short_branch(branch));
}

std::vector<std::string> branches_to_create(const std::vector<std::string>& filters) {
  std::vector<std::string> out;
  for (const auto& filter : filters) {
    if (filter.find_first_of("*?[") != std::string::npos) continue;  // a glob names no branch
    std::string name = short_branch(filter);
    if (name.empty() || std::find(out.begin(), out.end(), name) != out.end()) continue;
    out.push_back(std::move(name));
  }
  return out;
}

Expected<ProjectSetupResult, ProjectSetupError> setup_project(const RestOptions& options,
                                                              const ProjectSetup& setup) {
  if (setup.project.empty()) return unexpected(no_answer("Gerrit set-up", "no project name"));
  if (options.user.empty()) {
    return unexpected(no_answer("Gerrit set-up of " + setup.project,
                                "no Gerrit HTTP user configured (serve --gerrit-http-url, "
                                "--gerrit-http-user, --gerrit-http-password)"));
  }
  ProjectSetupResult result;
  json::array branches;
  for (const auto& b : setup.branches) branches.emplace_back(short_branch(b));
  json::object input{{"create_empty_commit", true}};
  if (!branches.empty()) input["branches"] = branches;

  const std::string what = "create Gerrit project " + setup.project;
  auto created = rest_send(options, "PUT", project_path(setup.project), json::serialize(input));
  if (!created) return unexpected(no_answer(what, created.error()));
  if (created->status == 201) {
    result.project_created = true;
    for (const auto& b : branches) result.branches_created.emplace_back(b.as_string());
    return result;
  }
  if (created->status != 409) return unexpected(failure(what, *created, options));

  // The project exists: make sure of each branch. Gerrit answers 409 for one
  // that is there (and for other conflicts, so a 409 is confirmed by a GET).
  for (const auto& b : branches) {
    const std::string name(b.as_string());
    const std::string step = "create branch " + name + " in Gerrit project " + setup.project;
    auto r = rest_send(options, "PUT", branch_path(setup.project, name), "{}");
    if (!r) return unexpected(no_answer(step, r.error()));
    if (r->status == 201) {
      result.branches_created.push_back(name);
      continue;
    }
    if (r->status == 409) {
      auto there = rest_send(options, "GET", branch_path(setup.project, name));
      if (there && there->status == 200) {
        result.branches_existing.push_back(name);
        continue;
      }
    }
    return unexpected(failure(step, *r, options));
  }
  return result;
}

Expected<wharf::v1::GerritProjectSetup, ProjectSetupError> setup_for_binding(
    const RestOptions& options, const wharf::v1::GerritSource& binding) {
  ProjectSetup setup;
  setup.project = binding.project();
  setup.branches = branches_to_create({binding.branches().begin(), binding.branches().end()});
  auto done = setup_project(options, setup);
  if (!done) return unexpected(std::move(done.error()));
  wharf::v1::GerritProjectSetup record;
  record.set_project_created(done->project_created);
  for (auto& b : done->branches_created) record.add_branches_created(b);
  for (auto& b : done->branches_existing) record.add_branches_existing(b);
  return record;
}

}  // namespace wharf::gerrit
