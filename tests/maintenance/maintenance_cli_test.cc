// `wharf logs` and `wharf terminal` run as a user runs them, against the real
// server and a real local service: what they print, how they exit, what the
// server audits, and a refusal's message.
#include <thread>

#include "tests/cli_process.h"
#include "tests/maintenance/local_service_fixture.h"

namespace wharf::api::testing {
namespace {

class MaintenanceCli : public LocalServiceServer {
 protected:
  std::string server() const {
    return "--server http://127.0.0.1:" + std::to_string(server_->port());
  }
  wharf::testing::CliRun wharf(const std::string& args, const std::string& input = "") {
    return cli_.run(args, input);
  }
  wharf::testing::CliRunner cli_{dir_.path()};
};

TEST_F(MaintenanceCli, TerminalRunsPipedInputAndExitsWithTheShellsCode) {
  auto r = wharf("terminal shop staging " + server() + " --token " + token("olga"),
                 "echo cli-$((6*7)); pwd\nexit 5\n");
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.out.find("cli-42"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(work_.string()), std::string::npos) << "the service's directory: " << r.out;
  EXPECT_NE(r.err.find("terminal closed: shell exited 5"), std::string::npos) << r.err;
  auto opened = of_type("TerminalOpened");
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].payload().terminal_opened().user(), "olga");
}

TEST_F(MaintenanceCli, PipedInputWithoutExitEndsTheShellAtItsEnd) {
  auto r = wharf("terminal shop staging " + server() + " --token " + token("olga"),
                 "echo last-$((1+1))\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("last-2"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("terminal closed: shell exited 0"), std::string::npos) << r.err;
}

TEST_F(MaintenanceCli, ATerminalTheServerRefusesSaysWhyAndOpensNothing) {
  auto viewer = wharf("terminal shop staging " + server() + " --token " + token("vic"), "");
  EXPECT_EQ(viewer.exit_code, 1);
  EXPECT_NE(viewer.err.find("terminal refused: HTTP 403"), std::string::npos) << viewer.err;
  auto unknown = wharf("terminal shop nowhere " + server() + " --token " + token("olga"), "");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("terminal refused: HTTP 404"), std::string::npos) << unknown.err;
  auto down = wharf("terminal shop staging --server http://127.0.0.1:1 --token x", "");
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("cannot reach http://127.0.0.1:1"), std::string::npos) << down.err;
  EXPECT_NE(down.err.find("Connection refused\n"), std::string::npos)
      << "the message ends there, without Boost's source location: " << down.err;
  EXPECT_TRUE(of_type("TerminalOpened").empty());
}

TEST_F(MaintenanceCli, LogsPrintTheTailOfTheRunningService) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // some lines exist
  auto r = wharf("logs shop staging --tail 3 " + server() + " --token " + token("vic"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t lines = 0;
  for (char c : r.out) lines += c == '\n';
  EXPECT_EQ(lines, 3u) << r.out;
  EXPECT_EQ(r.out.rfind("line", 0), 0u) << r.out;
  ASSERT_EQ(of_type("ServiceLogsOpened").size(), 1u);
}

TEST_F(MaintenanceCli, EveryMaintenanceCommandHasHelp) {
  for (const std::string cmd : {"terminal", "logs", "health", "testcases list", "testcases run"}) {
    auto r = wharf(cmd + " --help");
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_NE(r.out.find("--server"), std::string::npos) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("--token"), std::string::npos) << cmd << ": " << r.out;
  }
}

}  // namespace
}  // namespace wharf::api::testing
