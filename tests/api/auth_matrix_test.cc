// Every route x every role: no token -> 401; a role below the route's -> 403
// naming the missing role; the route's role or higher -> neither.
#include <map>

#include "tests/api/sse_client.h"

namespace wharf::api::testing {
namespace {

enum Level { kAnonymous = 0, kStranger, kViewerUser, kDeployerUser, kOwnerUser, kAdminUser };
const char* const kLevelNames[] = {"anonymous", "stranger", "viewer", "deployer", "owner", "admin"};

// The least level a route needs; routes whose check lives in the handler
// (approve/deny: owner of the request's project; audit without a project: admin)
// are listed by pattern.
Level needed(const App::RouteInfo& route) {
  static const std::map<std::string, Level> in_handler = {
      {"/api/v1/permissions/requests/{request}/approve", kOwnerUser},
      {"/api/v1/permissions/requests/{request}/deny", kOwnerUser},
      {"/api/v1/audit", kAdminUser},
      // targets: shown to anyone holding a role somewhere (routes_targets.cc)
      {"/api/v1/targets", kViewerUser},
      {"/api/v1/targets/{name}", kViewerUser},
      {"/api/v1/targets/{name}/health", kViewerUser},
  };
  if (auto it = in_handler.find(route.pattern);
      it != in_handler.end() && route.access == Access::kAuthenticated) {
    return it->second;
  }
  switch (route.access) {
    case Access::kPublic: return kAnonymous;
    case Access::kAuthenticated: return kStranger;
    case Access::kViewer: return kViewerUser;
    case Access::kDeployer: return kDeployerUser;
    case Access::kOwner: return kOwnerUser;
    case Access::kAdmin: return kAdminUser;
    case Access::kWebhook: return kAnonymous;
  }
  return kAdminUser;
}

std::string fill(std::string pattern) {
  static const std::map<std::string, std::string> values = {
      {"{project}", "p"},    {"{environment}", "staging"},
      {"{run}", "r1"},       {"{step}", "build-1"},
      {"{deploy}", "dep1"},  {"{version}", "v1"},
      {"{request}", "req1"}, {"{stream}", "project-p"},
      {"{kind}", "gerrit"},  {"{token}", "tok1"},
      {"{name}", "t1"}};
  for (const auto& [k, v] : values) {
    for (size_t at = pattern.find(k); at != std::string::npos; at = pattern.find(k)) {
      pattern.replace(at, k.size(), v);
    }
  }
  return pattern;
}

TEST(AuthMatrixTest, EveryRouteForEveryRole) {
  ApiHarness h;
  h.create_project("p", "olive");
  h.grant("p", "vera", wharf::v1::ROLE_VIEWER);
  h.grant("p", "dan", wharf::v1::ROLE_DEPLOYER);
  wharf::v1::Payload request;
  request.mutable_permission_requested()->set_request_id("req1");
  request.mutable_permission_requested()->set_project_id("p");
  // Someone without a token asks, so approving it (as owner/admin, below)
  // changes nobody's rights in this matrix.
  request.mutable_permission_requested()->set_user("rita");
  request.mutable_permission_requested()->set_role(wharf::v1::ROLE_VIEWER);
  h.append("access-p", request);
  const std::string tokens[] = {"",
                                h.token_for("sam"),
                                h.token_for("vera"),
                                h.token_for("dan"),
                                h.token_for("olive"),
                                h.admin_token()};
  size_t checked = 0;
  for (const auto& route : h.server().app().routes()) {
    if (route.access == Access::kWebhook) continue;  // signature, not roles: auth_test.cc
    const Level need = needed(route);
    const std::string target = fill(route.pattern);
    for (int level = kAnonymous; level <= kAdminUser; ++level) {
      SCOPED_TRACE(route.method + " " + target + " as " + kLevelNames[level]);
      unsigned status = 0;
      std::string body;
      if (route.pattern == "/api/v1/events/stream") {
        SseClient sse(h.port(), target, tokens[level]);
        status = static_cast<unsigned>(std::stoi(sse.header().substr(9, 3)));
      } else {
        Client c(h.port());
        auto r = c.request(beast::http::string_to_verb(route.method), target, tokens[level],
                           route.method == "GET" ? "" : "{}");
        status = r.status;
        body = r.body;
      }
      ++checked;
      if (level == kAnonymous && need != kAnonymous) {
        EXPECT_EQ(status, 401u) << body;
      } else if (level < need) {
        EXPECT_EQ(status, 403u) << body;
        if (status == 403u) {
          auto missing = json::parse(body).at("error").at("details").at("missing_role");
          EXPECT_EQ(std::string(missing.as_string()), kLevelNames[need]);
        }
      } else {
        EXPECT_NE(status, 401u) << body;
        EXPECT_NE(status, 403u) << body;
      }
    }
  }
  EXPECT_GT(checked, 150u);
}

}  // namespace
}  // namespace wharf::api::testing
