// The mapper over the real samples: the right ones become triggers, the
// noise does not; bindings by project, branch glob and trigger words.
#include <gtest/gtest.h>

#include "adapters/gerrit/event_parser.h"
#include "adapters/gerrit/trigger.h"
#include "tests/gerrit/fixture.h"

namespace wharf::gerrit {
namespace {

using testing::sample;
using testing::samples;

TriggerDecision decide(size_t line) {
  auto e = parse_event(sample(line));
  EXPECT_TRUE(e);
  return to_trigger(*e, "review.example.org");
}

TEST(GerritTrigger, OnlyQualifyingSamplesAreTriggers) {
  // patchset-created 4, 19; change-merged 2, 21; comment-added 1, 14, 20;
  // ref-updated of a branch: 3 (legacy short name), 17 (branch created).
  const std::set<size_t> triggers = {1, 2, 3, 4, 14, 17, 19, 20, 21};
  for (size_t i = 1; i <= samples().size(); ++i) {
    SCOPED_TRACE("fixture line " + std::to_string(i));
    EXPECT_EQ(decide(i).trigger.has_value(), triggers.count(i) == 1);
  }
}

TEST(GerritTrigger, RefUpdateNoiseIsNoise) {
  for (size_t line : {9, 10, 11, 13, 18}) {  // patch-set ref, meta, staging, meta, deletion
    SCOPED_TRACE("fixture line " + std::to_string(line));
    TriggerDecision d = decide(line);
    EXPECT_FALSE(d.trigger);
    EXPECT_EQ(d.why_not, NotATrigger::kNoise);
  }
  EXPECT_EQ(decide(6).why_not, NotATrigger::kType);  // change-abandoned
}

TEST(GerritTrigger, FieldsOfAPatchSet) {
  CommitTrigger t = *decide(4).trigger;
  EXPECT_EQ(t.gerrit_project, "qt/qtopcua");
  EXPECT_EQ(t.branch, "dev");
  EXPECT_EQ(t.commit_sha, "0316904a4a5274166e8b785b09c1727aa6485ede");
  EXPECT_EQ(t.ref, "refs/changes/52/235852/2");
  EXPECT_EQ(t.change_number, 235852u);
  EXPECT_EQ(t.patchset, 2u);
  EXPECT_EQ(t.author.username, "basyskom.jannis.voelker");
  EXPECT_EQ(t.subject, "Split qopcuabrowsing.h/.cpp");
  EXPECT_EQ(t.dedup_key, "gerrit:review.example.org:patchset-created|qt/qtopcua|235852|2");
}

TEST(GerritTrigger, MergeBuildsTheBranchTip) {
  CommitTrigger modern = *decide(21).trigger;
  EXPECT_EQ(modern.commit_sha, "4c688da535ea3352536e3b320880aa353bd404b2");  // newRev
  EXPECT_EQ(modern.ref, "refs/heads/test_branch");
  EXPECT_EQ(modern.branch, "test_branch");
  CommitTrigger legacy = *decide(2).trigger;  // no newRev on 2.x: the patch set
  EXPECT_EQ(legacy.commit_sha, "41d29efb4196d5fd447190d3b8ec26d70b9f8eec");
}

TEST(GerritTrigger, LegacyShortRefIsABranch) {
  CommitTrigger t = *decide(3).trigger;
  EXPECT_EQ(t.branch, "master");
  EXPECT_EQ(t.ref, "refs/heads/master");
  EXPECT_EQ(t.gerrit_project, "qtqa/tqtc-coin-ci");
}

TEST(GerritBindings, GlobsHostsAndTriggerWords) {
  EXPECT_TRUE(glob_match("release/*", "release/1.2"));
  EXPECT_TRUE(glob_match("*", "feature/x/y"));
  EXPECT_FALSE(glob_match("main", "main2"));
  EXPECT_TRUE(host_matches("", "anything"));
  EXPECT_TRUE(host_matches("Review.Example.org:29418", "review.example.org"));
  EXPECT_FALSE(host_matches("other.example.org", "review.example.org"));

  google::protobuf::RepeatedPtrField<std::string> words;
  words.Add("recheck");
  EXPECT_TRUE(has_trigger_word("Patch Set 3:\n\nReCheck please", words));
  EXPECT_FALSE(has_trigger_word("prechecked it", words));
  EXPECT_FALSE(has_trigger_word("recheck-all", words));
  EXPECT_FALSE(has_trigger_word("anything", {}));
}

TEST(GerritBindings, MatchByProjectBranchAndWords) {
  BindingSet set;
  wharf::v1::GerritSource storj;
  storj.set_project("storj/storj");
  storj.add_branches("master");
  storj.add_trigger_words("recheck");
  set.bind("storj", storj);
  wharf::v1::GerritSource any_branch;
  any_branch.set_project("storj/storj");
  any_branch.add_trigger_words("(1 comment)");
  set.bind("storj-all", any_branch);
  wharf::v1::GerritSource elsewhere = storj;
  elsewhere.set_host("other.example.org");
  set.bind("storj-other-host", elsewhere);

  CommitTrigger comment = *decide(14).trigger;  // comment "Patch Set 14:\n\n(1 comment)"
  auto bound = bound_projects(comment, set);
  ASSERT_EQ(bound.size(), 1u);
  EXPECT_EQ(bound[0].project_id, "storj-all");

  comment.comment = "recheck";
  EXPECT_EQ(bound_projects(comment, set).size(), 1u);
  comment.branch = "release";
  ASSERT_EQ(bound_projects(comment, set).size(), 0u);  // neither word nor branch
}

TEST(GerritBindings, FoldedFromProjectEvents) {
  BindingSet set;
  wharf::v1::Envelope created;
  auto* c = created.mutable_payload()->mutable_project_created();
  c->set_project_id("p1");
  c->mutable_repository()->mutable_gerrit()->set_project("TestRepo");
  set.apply(created);
  EXPECT_EQ(set.match("h", "TestRepo", "main").size(), 1u);
  wharf::v1::Envelope rebound;
  auto* r = rebound.mutable_payload()->mutable_repository_bound();
  r->set_project_id("p1");
  r->mutable_repository()->mutable_local_git()->set_path("/srv/git");
  set.apply(rebound);
  EXPECT_EQ(set.match("h", "TestRepo", "main").size(), 0u);
}

}  // namespace
}  // namespace wharf::gerrit
