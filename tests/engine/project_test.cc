// Project decider: given events, when a command, then events / a rejection.
#include "tests/engine/scenario.h"

namespace wharf::engine::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ProjectDecider, CreateProjectRecordsEverythingAndDefaultsOwnerToActor) {
  Log log;
  auto r = log.when(demo_project("shop", {environment("staging"), environment("prod")}), "ada");
  ASSERT_TRUE(r.has_value());
  ASSERT_THAT(types(r), ElementsAre("ProjectCreated"));
  const auto& c = r->at(0).payload().project_created();
  EXPECT_EQ(c.project_id(), "shop");
  EXPECT_EQ(c.owner(), "ada");
  EXPECT_EQ(c.environments_size(), 2);
  EXPECT_EQ(c.environments(1).name(), "prod");
  EXPECT_EQ(c.template_().start_command(), "./app --port $PORT");
  EXPECT_EQ(r->at(0).stream_id(), "project-shop");
}

TEST(ProjectDecider, CreatingAnExistingProjectIsRejected) {
  Log log;
  ASSERT_TRUE(log.when(demo_project()).has_value());
  auto r = log.when(demo_project());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Rejection::Code::kAlreadyExists);
  EXPECT_EQ(r.error().reason, "project shop already exists");
}

TEST(ProjectDecider, CreateProjectValidatesIdsAndEnvironments) {
  Log log;
  auto bad_id = log.when(demo_project("shop/../x"));
  ASSERT_FALSE(bad_id.has_value());
  EXPECT_EQ(bad_id.error().code, Rejection::Code::kInvalidArgument);
  EXPECT_THAT(bad_id.error().reason, HasSubstr("project id"));

  auto twice = log.when(demo_project("shop", {environment("prod"), environment("prod")}));
  ASSERT_FALSE(twice.has_value());
  EXPECT_THAT(twice.error().reason, HasSubstr("prod is listed twice"));

  auto dash = log.when(demo_project("shop", {environment("us-east")}));
  ASSERT_FALSE(dash.has_value());
  EXPECT_THAT(dash.error().reason, HasSubstr("no '-'"));

  CreateProject no_name = demo_project();
  no_name.name.clear();
  EXPECT_FALSE(log.when(no_name).has_value());
  EXPECT_TRUE(log.all.empty());
}

TEST(ProjectDecider, BindRepository) {
  Log log;
  BindRepository bind;
  bind.project_id = "shop";
  bind.repository.mutable_gerrit()->set_host("review.example.org");
  bind.repository.mutable_gerrit()->set_project("shop");
  auto missing = log.when(bind);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Rejection::Code::kNotFound);

  ASSERT_TRUE(log.when(demo_project()).has_value());
  auto r = log.when(bind);
  ASSERT_THAT(types(r), ElementsAre("RepositoryBound"));
  StreamState s = fold("project-shop", log.streams["project-shop"]);
  EXPECT_TRUE(s.project()->repository.has_gerrit());

  BindRepository empty;
  empty.project_id = "shop";
  auto e = log.when(empty);
  ASSERT_FALSE(e.has_value());
  EXPECT_THAT(e.error().reason, HasSubstr("names no source"));
}

TEST(ProjectDecider, DefineEnvironmentAppendsReplacesAndReorders) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {environment("staging"), environment("prod")})));
  DefineEnvironment qa;
  qa.project_id = "shop";
  qa.environment = environment("qa");
  auto added = log.when(qa);
  ASSERT_THAT(types(added), ElementsAre("EnvironmentDefined"));
  EXPECT_EQ(added->at(0).payload().environment_defined().order(), 2u);

  DefineEnvironment first = qa;
  first.order = 0;
  ASSERT_TRUE(log.when(first).has_value());
  DefineEnvironment replace;
  replace.project_id = "shop";
  replace.environment = environment("prod", false, true);
  auto replaced = log.when(replace);
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->at(0).payload().environment_defined().order(), 2u);  // kept its place

  StreamState s = fold("project-shop", log.streams["project-shop"]);
  std::vector<std::string> names;
  for (const auto& e : s.project()->environments) names.push_back(e.name());
  EXPECT_THAT(names, ElementsAre("qa", "staging", "prod"));
  EXPECT_TRUE(s.project()->find_environment("prod")->requires_approval());

  DefineEnvironment far = qa;
  far.order = 7;
  auto r = log.when(far);
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().reason, HasSubstr("past the end"));
}

TEST(ProjectDecider, UpdatePipelineTemplateRejectsUnknownProjectAndEmptyBuild) {
  Log log;
  UpdatePipelineTemplate update;
  update.project_id = "shop";
  update.pipeline.mutable_build()->set_command("make release");
  auto missing = log.when(update);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, Rejection::Code::kNotFound);
  EXPECT_EQ(missing.error().reason, "project shop does not exist");

  ASSERT_TRUE(log.when(demo_project()).has_value());
  UpdatePipelineTemplate no_build;
  no_build.project_id = "shop";
  no_build.pipeline.set_start_command("./app");
  auto empty = log.when(no_build);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, Rejection::Code::kInvalidArgument);
  EXPECT_THAT(empty.error().reason, HasSubstr("needs a build command"));
  EXPECT_EQ(log.streams["project-shop"].size(), 1u);  // only ProjectCreated
}

TEST(ProjectDecider, UpdatePipelineTemplateReplacesTheTemplate) {
  Log log;
  ASSERT_TRUE(log.when(demo_project()).has_value());
  UpdatePipelineTemplate update;
  update.project_id = "shop";
  update.pipeline.mutable_build()->set_command("make release");
  update.pipeline.set_start_command("./app-v2 --port $PORT");
  auto r = log.when(update, "olive");
  ASSERT_THAT(types(r), ElementsAre("PipelineTemplateUpdated"));
  EXPECT_EQ(r->at(0).stream_id(), "project-shop");
  EXPECT_EQ(r->at(0).payload().pipeline_template_updated().project_id(), "shop");
  StreamState s = fold("project-shop", log.streams["project-shop"]);
  EXPECT_EQ(s.project()->pipeline.build().command(), "make release");
  EXPECT_EQ(s.project()->pipeline.start_command(), "./app-v2 --port $PORT");
}

// A run started before the update keeps its copy; a run started after
// builds with the new command.
TEST(ProjectDecider, RunsStartedAfterAnUpdateUseTheNewTemplate) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {environment("staging")})).has_value());
  auto before = log.when(commit("aaa111"));
  ASSERT_TRUE(before.has_value());
  ASSERT_THAT(types(before), ElementsAre("CommitObserved", "PipelineRunStarted", "BuildRequested"));
  EXPECT_EQ(before->at(2).payload().build_requested().step().command(), "make");

  UpdatePipelineTemplate update;
  update.project_id = "shop";
  update.pipeline.mutable_build()->set_command("make release");
  ASSERT_TRUE(log.when(update).has_value());

  auto after = log.when(commit("bbb222"));
  ASSERT_TRUE(after.has_value());
  ASSERT_THAT(types(after), ElementsAre("CommitObserved", "PipelineRunStarted", "BuildRequested"));
  EXPECT_EQ(after->at(1).payload().pipeline_run_started().template_().build().command(),
            "make release");
  EXPECT_EQ(after->at(2).payload().build_requested().step().command(), "make release");
  // The earlier run's recorded template is untouched.
  const auto& first_run = log.streams[before->at(1).stream_id()];
  EXPECT_EQ(first_run.at(1).payload().pipeline_run_started().template_().build().command(), "make");
}

TEST(ProjectDecider, EvolveIsALeftFold) {
  Log log;
  ASSERT_TRUE(log.when(demo_project("shop", {environment("staging")})));
  ProjectState s;
  for (const auto& e : log.all) s = evolve(std::move(s), e);
  EXPECT_TRUE(s.exists);
  EXPECT_EQ(s.environments.size(), 1u);
  EXPECT_EQ(s.pipeline.build().command(), "make");
}

}  // namespace
}  // namespace wharf::engine::testing
