// The pure parts of the Kubernetes and Swarm maintenance adapters: Docker's
// multiplexed log stream taken apart in any slicing, the exec channel frames
// (resize included) and the channel-3 Status, the request paths, and the
// terminal's control messages.
#include <gtest/gtest.h>

#include "adapters/kubernetes/pod_exec.h"
#include "adapters/kubernetes/pod_logs.h"
#include "adapters/swarm/container_exec.h"
#include "adapters/swarm/service_logs.h"
#include "api/api_error.h"
#include "api/cluster_sessions.h"
#include "api/terminal_protocol.h"
#include "api/websocket_auth.h"
#include "tests/targets/test_targets.h"

namespace wharf {
namespace {

// Target "k" (a cluster at http://k) and "p" (Portainer at http://p, endpoint 3).
targets::testing::TestTargets& registered() {
  static targets::testing::TestTargets t;
  static const bool done = [] {
    t.kubernetes("k", "http://k", "", "t");
    t.portainer("p", "http://p", "3", {{"api_key", "k"}});
    return true;
  }();
  (void)done;
  return t;
}

std::string frame(uint8_t stream, const std::string& payload) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  const uint32_t n = static_cast<uint32_t>(payload.size());
  h[4] = static_cast<char>(n >> 24);
  h[5] = static_cast<char>(n >> 16);
  h[6] = static_cast<char>(n >> 8);
  h[7] = static_cast<char>(n);
  return h + payload;
}

std::string demux_all(const std::string& bytes, size_t slice, std::string* streams = nullptr) {
  std::string out;
  swarm::DockerStreamDemux demux([&](int stream, std::string_view payload) {
    out += payload;
    if (streams) *streams += std::string(payload.size(), static_cast<char>('0' + stream));
    return true;
  });
  for (size_t at = 0; at < bytes.size(); at += slice) {
    EXPECT_TRUE(demux.feed(std::string_view(bytes).substr(at, slice)));
  }
  return out;
}

TEST(DockerStreamDemux, TakesFramesApartInAnySlicing) {
  const std::string big(70000, 'x');
  const std::string bytes =
      frame(1, "out 1\n") + frame(2, "err 1\n") + frame(1, big) + frame(1, "");
  for (size_t slice : {1, 3, 7, 8, 9, 4096, 1 << 20}) {
    std::string streams;
    EXPECT_EQ(demux_all(bytes, slice, &streams), "out 1\nerr 1\n" + big) << slice;
    EXPECT_EQ(streams.substr(0, 12), "111111222222") << slice;
  }
}

TEST(DockerStreamDemux, PassesARawTtyStreamThrough) {
  EXPECT_EQ(demux_all("hello\nworld\n", 1), "hello\nworld\n");
  EXPECT_EQ(demux_all("hello\nworld\n", 100), "hello\nworld\n");
}

TEST(DockerStreamDemux, StopsWhenTheSinkSaysSo) {
  int calls = 0;
  swarm::DockerStreamDemux demux([&](int, std::string_view) { return ++calls < 2; });
  EXPECT_FALSE(demux.feed(frame(1, "a") + frame(1, "b") + frame(1, "c")));
  EXPECT_EQ(calls, 2);
}

TEST(PodExec, FramesAndStatus) {
  EXPECT_EQ(kubernetes::exec_frame(0, "ls\n"), std::string("\0ls\n", 4));
  EXPECT_EQ(kubernetes::exec_status_reason(R"({"metadata":{},"status":"Success"})"),
            "shell exited 0");
  EXPECT_EQ(kubernetes::exec_status_reason(
                R"({"status":"Failure","reason":"NonZeroExitCode","message":"exit status 3",)"
                R"("details":{"causes":[{"reason":"ExitCode","message":"3"}]}})"),
            "shell exited 3");
  EXPECT_EQ(kubernetes::exec_status_reason(
                R"({"status":"Failure","reason":"InternalError","message":"no such file"})"),
            "exec error: no such file");
  // What kube-apiserver relays from kwok's exec (no NonZeroExitCode mapping).
  EXPECT_EQ(kubernetes::exec_status_reason(
                R"({"status":"Failure","reason":"InternalError","code":500,)"
                R"("message":"Internal error occurred: error executing command in container: )"
                R"(exit status 3"})"),
            "shell exited 3");
}

TEST(PodExec, ResizeIsChannelFourWithTheTerminalSize) {
  EXPECT_EQ(kubernetes::exec_resize_frame(132, 43), "\x04{\"Width\":132,\"Height\":43}");
}

TEST(ContainerExec, ResizePathCarriesRowsAsHAndColumnsAsW) {
  auto t = swarm::portainer_of_settings({{"service", "hello"}}, "p", registered());
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(swarm::exec_resize_path(*t, "e1", 132, 43),
            "/api/endpoints/3/docker/exec/e1/resize?h=43&w=132");
}

TEST(TerminalProtocol, AResizeMessageGivesColumnsAndRows) {
  auto size = api::parse_terminal_message(R"({"resize":{"cols":132,"rows":43}})");
  EXPECT_EQ(size.cols, 132);
  EXPECT_EQ(size.rows, 43);
  size = api::parse_terminal_message(R"( {"resize": {"rows": 1, "cols": 65535}} )");
  EXPECT_EQ(size.cols, 65535);
  EXPECT_EQ(size.rows, 1);
}

// The code and the field of the refusal a text frame gets.
std::pair<std::string, std::string> refusal(std::string_view text) {
  try {
    api::parse_terminal_message(text);
  } catch (const api::ApiError& e) {
    const auto* field =
        e.details().is_object() ? e.details().as_object().if_contains("field") : nullptr;
    return {e.code(), field && field->is_string() ? std::string(field->as_string()) : ""};
  }
  return {"accepted", ""};
}

TEST(TerminalProtocol, EveryOtherTextFrameIsRefusedNamingWhatIsWrong) {
  using R = std::pair<std::string, std::string>;
  EXPECT_EQ(refusal("ls -l\n"), (R{"malformed_json", ""}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":80,"rows":24})"), (R{"malformed_json", ""}));
  EXPECT_EQ(refusal("[80,24]"), (R{"wrong_type", ""}));  // not an object
  EXPECT_EQ(refusal(""), (R{"malformed_json", ""}));
  EXPECT_EQ(refusal("{}"), (R{"missing_field", "resize"}));
  EXPECT_EQ(refusal("\"\xff\""), (R{"malformed_json", ""}));  // not UTF-8
  EXPECT_EQ(refusal(R"({"size":{"cols":80,"rows":24}})").first, "unknown_field");
  EXPECT_EQ(refusal(R"({"resize":[80,24]})"), (R{"wrong_type", "resize"}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":80}})"), (R{"missing_field", "resize.rows"}));
  EXPECT_EQ(refusal(R"({"resize":{"rows":24}})"), (R{"missing_field", "resize.cols"}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":"wide","rows":24}})"), (R{"wrong_type", "resize.cols"}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":80,"rows":-1}})"), (R{"wrong_type", "resize.rows"}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":80.5,"rows":24}})"), (R{"wrong_type", "resize.cols"}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":0,"rows":24}})"), (R{"invalid_value", "resize.cols"}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":80,"rows":65536}})"), (R{"invalid_value", "resize.rows"}));
  EXPECT_EQ(refusal(R"({"resize":{"cols":80,"rows":24,"x":1}})").first, "unknown_field");
}

// A browser's token arrives as a subprotocol item; the one the terminal
// speaks is found among the others.
TEST(TerminalSubprotocol, TheBearerItemIsBase64urlOfTheToken) {
  using api::bearer_from_subprotocols;
  // "~~~???" is "fn5+Pz8/" in base64 and "fn5-Pz8_" in base64url.
  EXPECT_EQ(bearer_from_subprotocols("wharf.terminal.v1, wharf.bearer.fn5-Pz8_"), "~~~???");
  EXPECT_EQ(bearer_from_subprotocols("wharf.bearer.d2hhcmYtdG9rPz4=,wharf.terminal.v1"),
            "wharf-tok?>");
  EXPECT_EQ(bearer_from_subprotocols("wharf.bearer.YWJj"), "abc");
  EXPECT_EQ(bearer_from_subprotocols("wharf.bearer.YWI"), "ab");
  EXPECT_EQ(bearer_from_subprotocols("wharf.terminal.v1"), std::nullopt);
  EXPECT_EQ(bearer_from_subprotocols(""), std::nullopt);
  auto refused = [](const char* header) {
    try {
      bearer_from_subprotocols(header);
    } catch (const api::ApiError& e) {
      return std::to_string(static_cast<int>(e.status())) + " " + e.code();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refused("wharf.bearer.fn5+Pz8/"), "401 invalid_token");  // base64, not base64url
  EXPECT_EQ(refused("wharf.bearer."), "401 invalid_token");
  EXPECT_EQ(refused("wharf.bearer.YWJjZ"), "401 invalid_token");  // a length no encoding has
  EXPECT_EQ(refused("wharf.bearer.YWK"), "401 invalid_token");    // stray low bits
}

TEST(TerminalSubprotocol, OfferedProtocolsAreMatchedWholeAfterTrimming) {
  EXPECT_TRUE(
      api::offers_subprotocol("wharf.bearer.YWJj,  wharf.terminal.v1 ", "wharf.terminal.v1"));
  EXPECT_TRUE(api::offers_subprotocol("wharf.terminal.v1", api::kTerminalSubprotocol));
  EXPECT_FALSE(api::offers_subprotocol("wharf.terminal.v10", "wharf.terminal.v1"));
  EXPECT_FALSE(api::offers_subprotocol("", "wharf.terminal.v1"));
}

TEST(PodExec, PathNamesEveryWordTheContainerAndATty) {
  kubernetes::ClusterTarget t;
  t.ns = "shop";
  t.container = "app";
  kubernetes::PodExecOptions o;
  o.pod = "hello-1";
  o.command = {"/bin/bash", "-l"};
  EXPECT_EQ(kubernetes::pod_exec_path(t, o),
            "/api/v1/namespaces/shop/pods/hello-1/exec?command=%2Fbin%2Fbash&command=-l&"
            "container=app&stdin=true&stdout=true&stderr=false&tty=true");
}

TEST(PodLogs, PathCarriesContainerFollowAndTail) {
  auto t = kubernetes::cluster_of_settings({{"deployment", "hello"}, {"namespace", "shop"}}, "k",
                                           registered());
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->container, "hello");
  kubernetes::PodLogOptions o;
  o.pod = "hello-1";
  o.tail_lines = 50;
  o.follow = true;
  EXPECT_EQ(kubernetes::pod_log_path(*t, o),
            "/api/v1/namespaces/shop/pods/hello-1/log?container=hello&follow=true&tailLines=50");
  EXPECT_FALSE(kubernetes::cluster_of_settings({{"deployment", "hello"}}, "", registered()));
  EXPECT_FALSE(kubernetes::cluster_of_settings({{"deployment", "hello"}}, "p", registered()));
}

TEST(ServiceLogs, PathAsksForBothStreams) {
  auto t = swarm::portainer_of_settings({{"service", "hello"}}, "p", registered());
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(swarm::service_logs_path(*t, {0, false}),
            "/api/endpoints/3/docker/services/hello/logs?stdout=1&stderr=1&tail=all");
  EXPECT_EQ(swarm::service_logs_path(*t, {10, true}),
            "/api/endpoints/3/docker/services/hello/logs?stdout=1&stderr=1&follow=1&tail=10");
}

TEST(ClusterSessions, ExecCommandSplitsAtSpacesAndDefaultsToSh) {
  EXPECT_EQ(api::exec_command_of({}), std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(api::exec_command_of({{"exec_command", " /bin/bash  -l "}}),
            (std::vector<std::string>{"/bin/bash", "-l"}));
}

}  // namespace
}  // namespace wharf
