// SIGKILL mid-rebuild: a child process rebuilds the projections and reports
// each committed position; the parent kills it part-way, reopens the
// projections (which resume from their checkpoints) and checks they converge
// to the digests of an undisturbed rebuild.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "projections/runner.h"
#include "tests/projections/random_history.h"
#include "tests/test_paths.h"

namespace wharf::projections {
namespace {

using namespace testing;

// Starts the child; returns its pid and a FILE* on its stdout.
pid_t spawn(const std::vector<std::string>& args, FILE** out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  *out = fdopen(fds[0], "r");
  return pid;
}

struct KillResult {
  uint64_t last_reported = 0;
  bool finished = false;
};

// Runs the child until it reports a position >= kill_at, then SIGKILLs it.
KillResult run_and_kill(const std::string& store, const std::string& projections, const char* mode,
                        uint64_t kill_at, const char* segment_bytes) {
  FILE* out = nullptr;
  pid_t pid = spawn({WHARF_REBUILD_CHILD, store, projections, mode, "64", segment_bytes}, &out);
  EXPECT_GT(pid, 0);
  KillResult result;
  char line[64];
  while (std::fgets(line, sizeof line, out) != nullptr) {
    if (std::string(line) == "done\n") {
      result.finished = true;
      break;
    }
    result.last_reported = std::strtoull(line, nullptr, 10);
    if (result.last_reported >= kill_at) {
      kill(pid, SIGKILL);
      break;
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::fclose(out);
  if (!result.finished) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child status " << status << ", last reported " << result.last_reported;
  }
  return result;
}

TEST(CrashTest, SigkillMidRebuildResumesToTheSameDigests) {
  TempDir dir;
  uint64_t head = 0;
  std::vector<std::pair<std::string, std::string>> expected;
  {
    auto store = open_store(dir.path("log"));
    ASSERT_TRUE(store);
    head = append_random_history(*store, 42, std::getenv("CI") ? 12000 : 20000);
    RunnerOptions writebatch;  // the reference: no bulk ingestion
    writebatch.bulk_segment_bytes = 0;
    auto reference = ProjectionRunner::open(dir.path("reference"), store.get(), writebatch);
    ASSERT_TRUE(reference);
    ASSERT_EQ(*(*reference)->catch_up(), head);
    expected = *(*reference)->digests();
  }  // the child needs the store's lock

  // A catch-up into an empty directory killed part-way, then rebuilds killed
  // at several points of the same directory: through WriteBatches ("0") and
  // through bulk SST segments of 200 kB (ingested one after another).
  struct Round {
    const char* mode;
    uint64_t kill_at;
    const char* segment_bytes;
  };
  const Round rounds[] = {{"catchup", head / 3, "0"},          {"rebuild", head / 4, "0"},
                          {"rebuild", head / 2, "200000"},     {"rebuild", head * 3 / 4, "0"},
                          {"rebuild", head * 2 / 3, "200000"}, {"rebuild", head / 3, "200000"}};
  int killed_mid_way = 0;
  for (const auto& round : rounds) {
    SCOPED_TRACE(std::string(round.mode) + " killed at " + std::to_string(round.kill_at) +
                 ", segments of " + round.segment_bytes + " bytes");
    auto killed = run_and_kill(dir.path("log"), dir.path("projections"), round.mode, round.kill_at,
                               round.segment_bytes);
    auto store = open_store(dir.path("log"));
    ASSERT_TRUE(store);
    auto runner = ProjectionRunner::open(dir.path("projections"), store.get());
    ASSERT_TRUE(runner) << runner.error().message;
    if (!killed.finished) {
      // Everything reported was committed with its checkpoint and survived.
      EXPECT_GE((*runner)->position(), killed.last_reported);
      if ((*runner)->position() < head) ++killed_mid_way;
    }
    ASSERT_EQ(*(*runner)->catch_up(), head);
    EXPECT_EQ(*(*runner)->digests(), expected);
  }
  EXPECT_GT(killed_mid_way, 0) << "no round was killed before the end; the test proved nothing";
}

}  // namespace
}  // namespace wharf::projections
