// Reading step logs by run and step from byte offsets (the API's tail).
#include <gtest/gtest.h>

#include <fstream>

#include "adapters/local/layout.h"
#include "adapters/runtime/step_logs.h"
#include "tests/runtime/runtime_fixture.h"

namespace wharf::runtime {
namespace {

using namespace wharf::runtime::testing;

TEST(StepLogs, ReadsFromOffsetsAndListsSteps) {
  TempDir dir;
  local::DataLayout layout(dir.path());
  fs::create_directories(layout.run_log_dir("r-1"));
  std::ofstream(layout.build_log("r-1", 1)) << "line one\nline two\n";
  std::ofstream(layout.tests_log("r-1", "staging", 1)) << "ok\n";

  auto logs = list_run_logs(dir.path(), "r-1");
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].step, "build-1");
  EXPECT_EQ(logs[0].size, 18u);
  EXPECT_EQ(logs[1].step, "tests-staging-1");

  auto head = read_run_log(dir.path(), "r-1", "build-1", 0, 9);
  ASSERT_TRUE(head) << head.error();
  EXPECT_EQ(head->data, "line one\n");
  EXPECT_EQ(head->next_offset, 9u);
  auto rest = read_run_log(dir.path(), "r-1", "build-1", head->next_offset);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->data, "line two\n");
  EXPECT_EQ(rest->next_offset, rest->size);
  // Appended output shows up from the last offset on.
  std::ofstream(layout.build_log("r-1", 1), std::ios::app) << "line three\n";
  auto more = read_run_log(dir.path(), "r-1", "build-1", rest->next_offset);
  ASSERT_TRUE(more);
  EXPECT_EQ(more->data, "line three\n");
  auto past_end = read_run_log(dir.path(), "r-1", "build-1", 1000);
  ASSERT_TRUE(past_end);
  EXPECT_TRUE(past_end->data.empty());
}

TEST(StepLogs, RefusesPathsOutsideTheRun) {
  TempDir dir;
  EXPECT_FALSE(read_run_log(dir.path(), "r-1", "../../etc/passwd", 0));
  EXPECT_FALSE(read_run_log(dir.path(), "r-1", "build-9", 0));
  EXPECT_TRUE(list_run_logs(dir.path(), "missing").empty());
}

}  // namespace
}  // namespace wharf::runtime
