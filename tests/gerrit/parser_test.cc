// The parser over every real sample: each line parses, old and new shapes
// normalise to the same fields, and the dedup key does not depend on the
// transport's shape.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "adapters/gerrit/dedup_key.h"
#include "adapters/gerrit/event_parser.h"
#include "tests/gerrit/fixture.h"

namespace wharf::gerrit {
namespace {

namespace json = boost::json;
using testing::sample;
using testing::samples;

GerritEvent parsed(const std::string& line) {
  auto e = parse_event(line);
  EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().message);
  return e ? *e : GerritEvent{};
}

// The webhooks plugin / events-log shape of a stream-events line (§1.6).
std::string as_webhook(const std::string& line) {
  json::object o = json::parse(line).as_object();
  if (auto* p = o.if_contains("project"); p && p->is_string()) {
    json::object name;
    name["name"] = p->get_string();
    o["project"] = std::move(name);
  }
  if (auto* k = o.if_contains("changeKey"); k && k->is_object() && k->as_object().contains("id")) {
    json::object key;
    key["key"] = k->as_object().at("id");
    o["changeKey"] = std::move(key);
  }
  return json::serialize(o);
}

// The stream-events shape of a webhook line.
std::string as_stream(const std::string& line) {
  json::object o = json::parse(line).as_object();
  if (auto* p = o.if_contains("project"); p && p->is_object()) {
    json::value name = p->as_object().at("name");
    o["project"] = name;
  }
  if (auto* k = o.if_contains("changeKey"); k && k->is_object() && k->as_object().contains("key")) {
    json::object id;
    id["id"] = k->as_object().at("key");
    o["changeKey"] = std::move(id);
  }
  return json::serialize(o);
}

TEST(GerritParser, EveryRealSampleParses) {
  ASSERT_EQ(samples().size(), 29u);
  const std::vector<std::string> types = {
      "comment-added",    "change-merged",   "ref-updated",          "patchset-created",
      "change-restored",  "change-abandoned", "merge-failed",        "change-deferred",
      "ref-updated",      "ref-updated",     "ref-updated",          "reviewer-deleted",
      "ref-updated",      "comment-added",   "project-created",      "project-head-updated",
      "ref-updated",      "ref-updated",     "patchset-created",     "comment-added",
      "change-merged",    "change-abandoned", "change-deleted",      "hashtags-changed",
      "vote-deleted",     "change-restored", "reviewer-added",       "topic-changed",
      "dropped-output"};
  for (size_t i = 1; i <= samples().size(); ++i) {
    SCOPED_TRACE("fixture line " + std::to_string(i));
    GerritEvent e = parsed(sample(i));
    EXPECT_EQ(e.type, types[i - 1]);
    EXPECT_FALSE(e.event_key.empty());
    EXPECT_TRUE(e.event_key.starts_with(e.type + "|"));
  }
}

TEST(GerritParser, LegacyStringNumbersAndMissingCreatedOn) {
  GerritEvent e = parsed(sample(1));
  EXPECT_EQ(e.change_number, 236085u);
  EXPECT_EQ(e.patchset, 1u);
  EXPECT_EQ(e.created_on, 0);
  EXPECT_EQ(e.project, "qt/qtdeclarative");
  EXPECT_EQ(e.branch, "dev");
  EXPECT_EQ(e.ref_name, "refs/heads/dev");
  EXPECT_EQ(e.revision, "e0f9e7d6792348ab307e67ac0f775bc5abfc6e07");
  EXPECT_EQ(e.actor.username, "qt_sanity_bot");
  ASSERT_EQ(e.approvals.size(), 2u);
  EXPECT_EQ(e.approvals[1].type, "Code-Review");
  EXPECT_EQ(e.approvals[1].value, "-2");
}

TEST(GerritParser, LegacyShortRefNameBecomesFull) {
  GerritEvent e = parsed(sample(3));
  EXPECT_EQ(e.ref_update.ref_name, "refs/heads/master");
  EXPECT_EQ(e.project, "qtqa/tqtc-coin-ci");
  EXPECT_EQ(e.ref_update.new_rev, "a80ed61a98fd0a1d13eab95252db189cdeb0fe96");
}

TEST(GerritParser, WebhookShapeNormalises) {
  GerritEvent e = parsed(sample(19));
  EXPECT_EQ(e.project, "TestRepo1");
  EXPECT_EQ(e.change_id, "Ie10fd901201c53e9fe3b9766343060763ac81dc6");
  EXPECT_EQ(e.change_number, 2u);
  EXPECT_EQ(e.patchset, 1u);
  EXPECT_EQ(e.branch, "patch_create");
  EXPECT_EQ(e.created_on, 1700478732);
  GerritEvent merged = parsed(sample(21));
  EXPECT_EQ(merged.new_rev, "4c688da535ea3352536e3b320880aa353bd404b2");
  EXPECT_EQ(merged.actor.username, "admin");
}

TEST(GerritParser, ProjectEventsUseProjectName) {
  EXPECT_EQ(parsed(sample(15)).project, "TestRepo3");
  EXPECT_EQ(parsed(sample(16)).project, "TestRepo3");
}

TEST(GerritParser, DedupKeyIsTheSameForStreamAndWebhookShapes) {
  for (size_t i = 1; i <= samples().size(); ++i) {
    SCOPED_TRACE("fixture line " + std::to_string(i));
    const std::string& line = sample(i);
    GerritEvent original = parsed(line);
    EXPECT_EQ(parsed(as_webhook(line)).event_key, original.event_key);
    EXPECT_EQ(parsed(as_stream(line)).event_key, original.event_key);
  }
  // Lines 19-22 came from the webhooks plugin: their stream shape differs in
  // bytes but not in key.
  EXPECT_NE(as_stream(sample(21)), sample(21));
  EXPECT_EQ(parsed(as_stream(sample(21))).event_key, parsed(sample(21)).event_key);
}

TEST(GerritParser, DedupKeyIgnoresKeyOrderAndStringNumbers) {
  // A reviewer-added (generic canonical hash) with keys reversed and numbers as strings.
  json::object o = json::parse(sample(27)).as_object();
  json::object reversed;
  std::vector<std::string> keys;
  for (auto& kv : o) keys.insert(keys.begin(), std::string(kv.key()));
  for (auto& k : keys) reversed[k] = o[k];
  reversed["change"].as_object()["number"] = "1";
  reversed["patchSet"].as_object()["number"] = "1";
  EXPECT_EQ(parsed(json::serialize(reversed)).event_key, parsed(sample(27)).event_key);
}

TEST(GerritParser, DistinctEventsHaveDistinctKeys) {
  std::set<std::string> keys;
  for (const auto& line : samples()) keys.insert(parsed(line).event_key);
  // Lines 25 and 26 are different events about the same change.
  EXPECT_EQ(keys.size(), samples().size());
}

TEST(GerritParser, BadInputIsReportedNotThrown) {
  auto garbage = parse_event("{\"type\":\"patchset-created\",\"change\":");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().status, ParseStatus::kBadJson);
  EXPECT_NE(garbage.error().message.find("patchset-created"), std::string::npos);

  EXPECT_EQ(parse_event("[1,2]").error().status, ParseStatus::kNotAnObject);
  EXPECT_EQ(parse_event("{\"change\":{}}").error().status, ParseStatus::kNoType);
  EXPECT_EQ(parse_event("{\"type\":7}").error().status, ParseStatus::kNoType);
  EXPECT_EQ(parse_event("   \r\n").error().status, ParseStatus::kEmpty);

  std::string big = "{\"type\":\"comment-added\",\"comment\":\"" + std::string(2000, 'x') + "\"}";
  auto too_large = parse_event(big, ParseLimits{1000});
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.error().status, ParseStatus::kTooLarge);
  EXPECT_LT(too_large.error().message.size(), 400u);  // a snippet, not the line
}

TEST(GerritParser, WrongTypesInFieldsAreTolerated) {
  auto e = parse_event(
      R"({"type":"patchset-created","change":{"number":-4,"project":["x"]},"patchSet":"oops",)"
      R"("project":17,"eventCreatedOn":"1700000000","approvals":[1,{"type":5}]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->change_number, 0u);
  EXPECT_EQ(e->project, "17");
  EXPECT_EQ(e->created_on, 1700000000);
  EXPECT_EQ(e->approvals.size(), 1u);
}

TEST(GerritParser, SnippetIsShortAndEscaped) {
  EXPECT_EQ(snippet("a\nb"), "a\\x0ab");
  std::string s = snippet(std::string(1000, 'y'), 10);
  EXPECT_TRUE(s.starts_with("yyyyyyyyyy…(1000 bytes)"));
}

}  // namespace
}  // namespace wharf::gerrit
