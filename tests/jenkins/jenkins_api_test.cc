#include "adapters/jenkins/jenkins_api.h"

#include <gtest/gtest.h>

namespace wharf::jenkins {
namespace {

TEST(JenkinsApi, JobPathSplitsFoldersAndEncodes) {
  EXPECT_EQ(job_path("app"), "/job/app");
  EXPECT_EQ(job_path("team/app/build"), "/job/team/job/app/job/build");
  EXPECT_EQ(job_path("my team/a+b"), "/job/my%20team/job/a%2Bb");
  EXPECT_EQ(join_url("http://j:8080/", "/job/a"), "http://j:8080/job/a");
  EXPECT_EQ(query_of({{"B", "x y"}, {"A", "1#2"}}), "A=1%232&B=x%20y");
}

TEST(JenkinsApi, TemplatesExpandKnownNamesAndRejectUnknownOnes) {
  std::map<std::string, std::string> v{{"commit", "abc"}, {"branch", "main"}};
  EXPECT_EQ(*expand("${commit}-${branch}", v), "abc-main");
  EXPECT_EQ(*expand("cost $5 $${commit}", v), "cost $5 ${commit}");
  auto bad = expand("${nope}", v);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("unknown template ${nope}"), std::string::npos);
  EXPECT_NE(bad.error().find("${branch}"), std::string::npos);
  EXPECT_FALSE(expand("${commit", v));
}

TEST(JenkinsApi, CrumbAndCrumbRequests) {
  auto c = parse_crumb(
      R"({"_class":"hudson.security.csrf.DefaultCrumbIssuer","crumb":"abc","crumbRequestField":"Jenkins-Crumb"})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->field, "Jenkins-Crumb");
  EXPECT_EQ(c->value, "abc");
  EXPECT_FALSE(parse_crumb(R"({"crumb":"abc"})"));
  EXPECT_FALSE(parse_crumb("<html>"));
  EXPECT_TRUE(asks_for_crumb(403, "No valid crumb was included in the request"));
  EXPECT_FALSE(asks_for_crumb(403, "Authentication required"));
  EXPECT_FALSE(asks_for_crumb(401, "crumb"));
}

TEST(JenkinsApi, QueueIdFromLocation) {
  EXPECT_EQ(queue_id_of("http://j/queue/item/42/"), 42u);
  EXPECT_EQ(queue_id_of("http://j/queue/item/7"), 7u);
  EXPECT_FALSE(queue_id_of("http://j/job/a/"));
  EXPECT_FALSE(queue_id_of("http://j/queue/item/x/"));
  EXPECT_FALSE(queue_id_of(""));
}

TEST(JenkinsApi, QueueItemStates) {
  auto waiting = parse_queue_item(
      R"({"_class":"hudson.model.Queue$BuildableItem","why":"Waiting for next available executor"})");
  ASSERT_TRUE(waiting);
  EXPECT_EQ(waiting->state, QueueItem::State::kWaiting);
  EXPECT_EQ(waiting->why, "Waiting for next available executor");
  auto left = parse_queue_item(
      R"({"_class":"hudson.model.Queue$LeftItem","cancelled":false,"executable":{"number":12,"url":"u"}})");
  ASSERT_TRUE(left);
  EXPECT_EQ(left->state, QueueItem::State::kStarted);
  EXPECT_EQ(left->build_number, 12u);
  auto assigning =
      parse_queue_item(R"({"_class":"hudson.model.Queue$LeftItem","executable":null})");
  EXPECT_EQ(assigning->state, QueueItem::State::kWaiting);
  auto cancelled = parse_queue_item(R"({"cancelled":true,"executable":null})");
  EXPECT_EQ(cancelled->state, QueueItem::State::kCancelled);
  auto garbage = parse_queue_item(R"({"why": tru)");
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().find("unreadable JSON in the queue item"), std::string::npos);
}

TEST(JenkinsApi, BuildInfoAndFindingOurBuild) {
  auto b = parse_build_info(R"({"number":3,"building":false,"result":"SUCCESS","duration":1200,
      "description":null,"artifacts":[{"relativePath":"out/image.json"}],
      "actions":[{},{"_class":"hudson.model.ParametersAction","parameters":[
        {"name":"WHARF_RUN_ID","value":"r1#1"},{"name":"N","value":5},{"name":"F","value":true}]}]})");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->number, 3u);
  EXPECT_FALSE(b->building);
  EXPECT_EQ(b->result, "SUCCESS");
  EXPECT_EQ(b->duration_ms, 1200u);
  EXPECT_EQ(b->artifacts, std::vector<std::string>{"out/image.json"});
  EXPECT_EQ(b->parameters.at("N"), "5");
  EXPECT_EQ(b->parameters.at("F"), "true");
  EXPECT_FALSE(parse_build_info(R"({"building":true})"));  // no number

  const char* job = R"({"builds":[
      {"number":9,"actions":[{"parameters":[{"name":"WHARF_RUN_ID","value":"r2#1"}]}]},
      {"number":8,"actions":[{"parameters":[{"name":"WHARF_RUN_ID","value":"r1#2"}]}]},
      {"number":7,"actions":[{"parameters":[{"name":"WHARF_RUN_ID","value":"r1#1"}]}]}]})";
  EXPECT_EQ(find_build(job, "r1#1")->number, 7u);
  EXPECT_EQ(find_build(job, "r1#2")->number, 8u);
  EXPECT_EQ(find_build(job, "r3#1")->number, 0u);
  EXPECT_EQ(find_build(job, "r3#1")->builds, 3u);
  EXPECT_FALSE(find_build("[", "r1#1"));
  // A page of allBuilds (what the runner asks for: `builds` stops at 100).
  EXPECT_EQ(builds_page_tree(100, 100),
            "allBuilds[number,queueId,actions[parameters[name,value]]]{100,200}");
  const char* page = R"({"allBuilds":[
      {"number":5,"actions":[{"parameters":[{"name":"WHARF_RUN_ID","value":"r0#1"}]}]}]})";
  EXPECT_EQ(find_build(page, "r0#1")->number, 5u);
  EXPECT_EQ(find_build(page, "r0#1")->builds, 1u);
  EXPECT_EQ(find_build(R"({"allBuilds":[]})", "r0#1")->builds, 0u);

  const char* queue = R"({"items":[
      {"id":5,"task":{"url":"http://j/job/other/"},"actions":[{"parameters":[{"name":"WHARF_RUN_ID","value":"r1#1"}]}]},
      {"id":6,"task":{"url":"http://j/job/team/job/app/"},"actions":[{"parameters":[{"name":"WHARF_RUN_ID","value":"r1#1"}]}]}]})";
  EXPECT_EQ(find_queued(queue, "/job/team/job/app", "r1#1")->value_or(0), 6u);
  EXPECT_EQ(find_queued(queue, "/job/other", "r1#1")->value_or(0), 5u);
  EXPECT_FALSE(find_queued(queue, "/job/app", "r1#1")->has_value());  // team/app is not app
}

TEST(JenkinsApi, ProgressiveTextHeaders) {
  auto p = parse_progressive("120", "true", 100, 20);
  EXPECT_EQ(p.next_offset, 120u);
  EXPECT_TRUE(p.more);
  EXPECT_FALSE(p.restarted);
  auto done = parse_progressive("150", "", 120, 30);
  EXPECT_FALSE(done.more);
  auto restarted = parse_progressive("40", "true", 100, 40);  // start beyond the log: from 0
  EXPECT_TRUE(restarted.restarted);
  EXPECT_EQ(restarted.next_offset, 40u);
  auto no_header = parse_progressive("", "", 10, 5);
  EXPECT_EQ(no_header.next_offset, 15u);
  auto empty = parse_progressive("0", "true", 0, 0);  // no log file yet
  EXPECT_EQ(empty.next_offset, 0u);
  EXPECT_TRUE(empty.more);
  EXPECT_FALSE(empty.restarted);
}

TEST(JenkinsApi, ImageArtifacts) {
  const std::string hex(64, 'a');
  auto a = parse_artifact(R"({"image":"reg/app:1","digest":"sha256:)" + hex + "\"}");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->reference(), "reg/app:1@sha256:" + hex);
  auto pinned = parse_artifact("{\"ref\":\"reg/app:1@sha256:" + hex + "\"}");
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->digest, "sha256:" + hex);
  EXPECT_EQ(pinned->reference(), "reg/app:1@sha256:" + hex);
  EXPECT_FALSE(parse_artifact(R"({"image":"reg/app:1"})"));
  EXPECT_FALSE(parse_artifact(R"({"image":"reg/app:1","digest":"sha256:zz"})"));
  EXPECT_FALSE(parse_artifact(R"({"digest":"sha256:)" + hex + "\"}"));
  auto from_text = artifact_from_reference("built reg/app:2@sha256:" + hex + " ok");
  ASSERT_TRUE(from_text);
  EXPECT_EQ(from_text->image, "reg/app:2");
  EXPECT_FALSE(artifact_from_reference("reg/app:2@sha256:abc"));
  EXPECT_FALSE(artifact_from_reference("no image"));
}

TEST(JenkinsApi, ErrorTextPrefersXErrorThenTitle) {
  EXPECT_EQ(error_text("No such job", "<html>"), "No such job");
  EXPECT_EQ(error_text("", "<html><head><title>Error 404 Not Found</title>"),
            "Error 404 Not Found");
  EXPECT_EQ(error_text("", "line1\nline2"), "line1 line2");
}

}  // namespace
}  // namespace wharf::jenkins
