// Access decider: roles and permission requests on "access-<project>".
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RequestPermission request(const std::string& user, wharf::v1::Role role, const std::string& id) {
  RequestPermission r;
  r.project_id = "shop";
  r.user = user;
  r.role = role;
  r.reason = "on call";
  r.request_id = id;
  return r;
}

TEST(AccessDecider, RequestThenGrantByOwner) {
  Log log;
  auto req = log.when(request("bob", wharf::v1::ROLE_DEPLOYER, "pr-1"), "bob");
  ASSERT_THAT(types(req), ElementsAre("PermissionRequested"));
  EXPECT_EQ(req->at(0).stream_id(), "access-shop");

  GrantPermission grant;
  grant.project_id = "shop";
  grant.request_id = "pr-1";
  auto g = log.when(grant, "ada");
  ASSERT_THAT(types(g), ElementsAre("PermissionGranted"));
  const auto& p = g->at(0).payload().permission_granted();
  EXPECT_EQ(p.user(), "bob");
  EXPECT_EQ(p.role(), wharf::v1::ROLE_DEPLOYER);
  EXPECT_EQ(p.granted_by(), "ada");
  EXPECT_EQ(p.request_id(), "pr-1");

  StreamState s = fold("access-shop", log.streams["access-shop"]);
  EXPECT_TRUE(s.access()->holds("bob", wharf::v1::ROLE_DEPLOYER));
  EXPECT_EQ(s.access()->highest_role("bob"), wharf::v1::ROLE_DEPLOYER);
  EXPECT_TRUE(s.access()->pending.empty());

  auto again = log.when(grant, "ada");
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Rejection::Code::kInvalidTransition);
  EXPECT_THAT(again.error().reason, HasSubstr("already decided"));
}

TEST(AccessDecider, DenyPendingRequest) {
  Log log;
  ASSERT_TRUE(log.when(request("eve", wharf::v1::ROLE_OWNER, "pr-9"), "eve"));
  DenyPermission deny;
  deny.project_id = "shop";
  deny.request_id = "pr-9";
  deny.reason = "no";
  auto d = log.when(deny, "ada");
  ASSERT_THAT(types(d), ElementsAre("PermissionDenied"));
  EXPECT_EQ(d->at(0).payload().permission_denied().user(), "eve");
  EXPECT_EQ(d->at(0).payload().permission_denied().denied_by(), "ada");

  auto twice = log.when(deny, "ada");
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, Rejection::Code::kInvalidTransition);

  deny.request_id = "pr-404";
  auto unknown = log.when(deny, "ada");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Rejection::Code::kNotFound);
}

TEST(AccessDecider, RevokeOnlyWhatIsHeld) {
  Log log;
  RevokePermission revoke;
  revoke.project_id = "shop";
  revoke.user = "bob";
  revoke.role = wharf::v1::ROLE_DEPLOYER;
  auto none = log.when(revoke, "ada");
  ASSERT_FALSE(none.has_value());
  EXPECT_EQ(none.error().reason, "bob does not hold deployer on shop; nothing to revoke");

  GrantPermission grant{"shop", "bob", wharf::v1::ROLE_DEPLOYER, ""};
  ASSERT_THAT(types(log.when(grant, "ada")), ElementsAre("PermissionGranted"));
  EXPECT_THAT(types(log.when(grant, "ada")), ElementsAre());  // holding it already: no-op
  ASSERT_THAT(types(log.when(revoke, "ada")), ElementsAre("PermissionRevoked"));
  StreamState s = fold("access-shop", log.streams["access-shop"]);
  EXPECT_FALSE(s.access()->holds("bob", wharf::v1::ROLE_DEPLOYER));
  EXPECT_EQ(s.access()->ever_granted.count("bob#" + std::to_string(wharf::v1::ROLE_DEPLOYER)), 1u);
}

TEST(AccessDecider, RequestingAHeldRoleOrNoRoleIsRejected) {
  Log log;
  ASSERT_TRUE(log.when(GrantPermission{"shop", "bob", wharf::v1::ROLE_VIEWER, ""}, "ada"));
  auto held = log.when(request("bob", wharf::v1::ROLE_VIEWER, "pr-2"), "bob");
  ASSERT_FALSE(held.has_value());
  EXPECT_EQ(held.error().code, Rejection::Code::kAlreadyExists);
  auto norole = log.when(request("bob", wharf::v1::ROLE_UNSPECIFIED, "pr-3"), "bob");
  ASSERT_FALSE(norole.has_value());
  EXPECT_EQ(norole.error().code, Rejection::Code::kInvalidArgument);
  // The same request id twice is one request.
  ASSERT_TRUE(log.when(request("bob", wharf::v1::ROLE_DEPLOYER, "pr-4"), "bob"));
  EXPECT_THAT(types(log.when(request("bob", wharf::v1::ROLE_DEPLOYER, "pr-4"), "bob")),
              ElementsAre());
}

}  // namespace
}  // namespace wharf::engine::testing
