// GET /api/v1/me (who am I, roles per project) and the export downloads
// (/api/v1/audit/export for admins, /api/v1/projects/{p}/audit/export for
// owners): the bytes are a wharf-export-v1 file that verifies on its own.
#include <fstream>

#include "events/checkpoint.h"
#include "events/export.h"
#include "events/hash_chain.h"
#include "tests/api/api_test_support.h"

namespace wharf::api::testing {
namespace {

TEST(SessionRoutesTest, MeNamesTheUserAndEveryRoleHeld) {
  ApiHarness h;
  h.create_project("shop", "olive");
  h.create_project("blog", "bob");
  h.create_project("wiki", "bob");
  h.grant("blog", "olive", wharf::v1::ROLE_DEPLOYER);
  auto me = h.get("/api/v1/me", h.token_for("olive"));
  ASSERT_EQ(me.status, 200u) << me.body;
  auto body = me.json().as_object();
  EXPECT_EQ(body.at("user").as_string(), "olive");
  EXPECT_FALSE(body.at("admin").as_bool());
  EXPECT_FALSE(body.at("token_id").as_string().empty());
  const auto& roles = body.at("roles").as_array();
  ASSERT_EQ(roles.size(), 2u) << me.body;  // not wiki
  EXPECT_EQ(roles[0].at("project").as_string(), "blog");
  EXPECT_EQ(roles[0].at("role").as_string(), "deployer");
  EXPECT_EQ(roles[1].at("project").as_string(), "shop");
  EXPECT_EQ(roles[1].at("role").as_string(), "owner");

  auto admin = h.get("/api/v1/me", h.admin_token()).json().as_object();
  EXPECT_TRUE(admin.at("admin").as_bool());
  EXPECT_EQ(admin.at("roles").as_array().size(), 3u);

  EXPECT_EQ(h.get("/api/v1/me").status, 401u);
}

TEST(SessionRoutesTest, ProjectExportHoldsOnlyThatProjectAndVerifies) {
  ApiHarness h;
  h.create_project("shop", "olive");
  h.create_project("blog", "bob");
  h.grant("shop", "vera", wharf::v1::ROLE_VIEWER);
  auto r = h.get("/api/v1/projects/shop/audit/export", h.token_for("olive"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.headers["Content-Type"], "application/octet-stream");
  EXPECT_NE(r.headers["Content-Disposition"].find("attachment; filename=\"wharf-shop-"),
            std::string::npos);
  const auto file = (h.dir() / "download.wexp").string();
  std::ofstream(file, std::ios::binary) << r.body;

  const auto report = events::verify_export(file);
  EXPECT_TRUE(report.ok) << report.message;
  auto exported = events::read_export(file);
  ASSERT_TRUE(exported) << exported.error().message;
  EXPECT_EQ(std::to_string(exported->header.to_position()),
            r.headers["X-Wharf-Export-To-Position"]);
  size_t shop_events = 0;
  for (const auto& record : exported->records) {
    if (!record.has_event()) continue;
    const auto& p = record.event().payload();
    const bool shop = (p.has_project_created() && p.project_created().project_id() == "shop") ||
                      (p.has_permission_granted() && p.permission_granted().project_id() == "shop");
    EXPECT_TRUE(shop) << record.event().ShortDebugString();
    ++shop_events;
  }
  EXPECT_EQ(shop_events, 2u);
  EXPECT_EQ(r.headers["X-Wharf-Export-Events"], "2");
}

TEST(SessionRoutesTest, WholeLogExportIsForAdminsOnly) {
  ApiHarness h;
  h.create_project("shop", "olive");
  auto denied = h.get("/api/v1/audit/export", h.token_for("olive"));
  EXPECT_EQ(denied.status, 403u);
  EXPECT_EQ(denied.error_code(), "forbidden");
  auto viewer = h.get("/api/v1/projects/shop/audit/export", h.token_for("sam"));
  EXPECT_EQ(viewer.status, 403u);

  auto r = h.get("/api/v1/audit/export", h.admin_token());
  ASSERT_EQ(r.status, 200u) << r.body;
  const auto file = (h.dir() / "all.wexp").string();
  std::ofstream(file, std::ios::binary) << r.body;
  const auto report = events::verify_export(file);
  EXPECT_TRUE(report.ok) << report.message;
  EXPECT_GE(report.events_checked, 2u);  // the first admin token, the project, the denials
  EXPECT_EQ(r.headers["X-Wharf-Export-Events"], r.headers["X-Wharf-Export-To-Position"]);
}

// With `serve --audit-key` a download carries a checkpoint signed when it was
// asked for: it verifies with that public key and with no other, and the
// checkpoint is an event in the log (the auditor can find it later).
TEST(SessionRoutesTest, ExportDownloadsAreSignedByTheServerKey) {
  ApiHarness h;
  h.create_project("shop", "olive");
  auto key = events::SigningKey::generate();
  ASSERT_TRUE(key) << key.error();
  const auto trusted = key->public_key();
  events::PeriodicCheckpoints checkpoints(h.store(), std::move(*key), std::chrono::hours(1),
                                          now_us);
  h.services().checkpoints = &checkpoints;
  h.create_project("blog", "bob");  // the head moves past the checkpoint made at start
  const auto before = checkpoints.recorded();

  for (const std::string target : {"/api/v1/audit/export", "/api/v1/projects/shop/audit/export"}) {
    auto r = h.get(target, h.admin_token());
    ASSERT_EQ(r.status, 200u) << r.body;
    EXPECT_EQ(r.headers["X-Wharf-Export-Signed-By"], events::to_hex(trusted));
    const auto file = (h.dir() / "signed.wexp").string();
    std::ofstream(file, std::ios::binary | std::ios::trunc) << r.body;

    events::VerifyExportOptions with_key;
    with_key.trusted_public_key = trusted;
    const auto report = events::verify_export(file, with_key);
    EXPECT_TRUE(report.ok) << target << ": " << report.message;

    auto other = events::SigningKey::generate();
    ASSERT_TRUE(other) << other.error();
    events::VerifyExportOptions wrong_key;
    wrong_key.trusted_public_key = other->public_key();
    const auto refused = events::verify_export(file, wrong_key);
    EXPECT_FALSE(refused.ok) << target;
  }
  // One checkpoint for both downloads: the second found the head unmoved.
  EXPECT_EQ(checkpoints.recorded(), before + 1);
  auto latest = events::latest_checkpoint(h.store(), h.store().head_position() - 1);
  ASSERT_TRUE(latest) << latest.error().message;
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->public_key(), trusted);
  EXPECT_EQ((*latest)->head_position(), h.store().head_position() - 1);
  EXPECT_EQ((*latest)->reason(), "export by admin");
  h.services().checkpoints = nullptr;
  checkpoints.stop();
}

// Without a key the download is the chain only: a trusted key refuses it.
TEST(SessionRoutesTest, UnsignedExportFailsATrustedKeyCheck) {
  ApiHarness h;
  h.create_project("shop", "olive");
  auto r = h.get("/api/v1/audit/export", h.admin_token());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.headers.count("X-Wharf-Export-Signed-By"), 0u);
  const auto file = (h.dir() / "plain.wexp").string();
  std::ofstream(file, std::ios::binary) << r.body;
  auto key = events::SigningKey::generate();
  ASSERT_TRUE(key) << key.error();
  events::VerifyExportOptions with_key;
  with_key.trusted_public_key = key->public_key();
  const auto report = events::verify_export(file, with_key);
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.message.find("no signed checkpoint"), std::string::npos) << report.message;
}

}  // namespace
}  // namespace wharf::api::testing
