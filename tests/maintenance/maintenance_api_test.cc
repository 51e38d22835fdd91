// Service logs and the terminal against a real process and a real shell,
// over the real server: what arrives, what is audited, who may, and a window
// resize the shell sees.
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <thread>

#include "tests/maintenance/local_service_fixture.h"
#include "tests/runtime/child_descriptors.h"

namespace wharf::api::testing {
namespace {

using MaintenanceApi = LocalServiceServer;

int highest_line(const std::string& text) {
  int best = -1;
  for (size_t at = text.find("line"); at != std::string::npos; at = text.find("line", at + 1)) {
    size_t end = at + 4;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    if (end > at + 4 && end < text.size() && text[end] == '\n') {
      best = std::max(best, std::stoi(text.substr(at + 4, end - at - 4)));
    }
  }
  return best;
}

TEST_F(MaintenanceApi, LogsFollowTheRunningProcessAndTheOpeningIsAudited) {
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // some output exists
  std::string before;
  std::ifstream in(log_);
  before.assign(std::istreambuf_iterator<char>(in), {});
  const int last_before = highest_line(before);
  ASSERT_GE(last_before, 0);

  Client c(server_->port());
  c.send_raw("GET " + kEnv +
             "/logs?follow=true&tail=3&format=sse HTTP/1.1\r\nHost: x\r\n"
             "Authorization: Bearer " +
             token("vic") + "\r\n\r\n");
  std::string got;
  char buf[4096];
  beast::error_code ec;
  // Follow until lines appear that the process wrote after the request.
  while (highest_line(got) < last_before + 10 && got.size() < (1 << 20)) {
    size_t n = c.socket().read_some(asio::buffer(buf), ec);
    ASSERT_FALSE(ec) << ec.message() << " after " << got;
    got.append(buf, n);
  }
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  EXPECT_NE(got.find("event: log\ndata: line"), std::string::npos);
  c.socket().close();

  auto opened = of_type("ServiceLogsOpened");
  ASSERT_EQ(opened.size(), 1u);
  const auto& o = opened[0].payload().service_logs_opened();
  EXPECT_EQ(o.user(), "vic");
  EXPECT_EQ(o.deploy_id(), "d-1");
  EXPECT_TRUE(o.follow());
  EXPECT_EQ(o.tail_lines(), 3u);
  EXPECT_EQ(o.source(), "local:" + log_.string());
  // The session ends once the client is gone.
  for (int i = 0; i < 200 && host_->open_sessions() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(host_->open_sessions(), 0u);
}

TEST_F(MaintenanceApi, LogsWithoutFollowAnswerTheTailAndEnd) {
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto r = get(kEnv + "/logs?tail=2", token("vic"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 2) << r.body;
  EXPECT_EQ(r.body.rfind("line", 0), 0u) << r.body;
}

TEST_F(MaintenanceApi, TerminalRoundTripRunsAShellInTheServiceDirectory) {
  asio::io_context io;
  auto terminal = open_terminal(io, "Bearer " + token("olga"));
  auto& ws = *terminal;
  ws.binary(true);  // binary frames are input; text frames are control messages
  ws.write(asio::buffer(std::string("echo hi-$((40+2)); pwd\n")));
  std::string out;
  beast::flat_buffer buffer;
  while (out.find("hi-42") == std::string::npos ||
         out.find(work_.string(), out.find("hi-42")) == std::string::npos) {
    ws.read(buffer);
    out += beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    ASSERT_LT(out.size(), 1u << 20) << out;
  }
  ws.close(websocket::close_code::normal);

  ASSERT_EQ(of_type("TerminalOpened").size(), 1u);
  EXPECT_EQ(of_type("TerminalOpened")[0].payload().terminal_opened().where(),
            "local:" + work_.string());
  auto closed = wait_for("TerminalClosed");
  ASSERT_EQ(closed.size(), 1u);
  const auto& c = closed[0].payload().terminal_closed();
  EXPECT_EQ(c.user(), "olga");
  EXPECT_EQ(c.reason(), "client closed");
  EXPECT_EQ(c.bytes_in(), std::string("echo hi-$((40+2)); pwd\n").size());
  EXPECT_GT(c.bytes_out(), 0u);
  EXPECT_EQ(c.session_id(), of_type("TerminalOpened")[0].payload().terminal_opened().session_id());
}

// The shell's output (binary frames) until it holds `want`; text frames go to
// `notes`.
std::string read_output(websocket::stream<tcp::socket>& ws, const std::string& want,
                        std::vector<std::string>& notes) {
  std::string out;
  beast::flat_buffer buffer;
  while (out.find(want) == std::string::npos) {
    beast::error_code ec;
    ws.read(buffer, ec);
    if (ec) {
      ADD_FAILURE() << "closed (" << ec.message() << ") before " << want << " in: " << out;
      break;
    }
    (ws.got_binary() ? out : notes.emplace_back()) += beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
  }
  return out;
}

std::string base64url(const std::string& text) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int held = 0;
  for (unsigned char c : text) {
    bits = (bits << 8) | c;
    held += 8;
    while (held >= 6) out += kAlphabet[(bits >> (held -= 6)) & 63];
  }
  if (held > 0) out += kAlphabet[(bits << (6 - held)) & 63];
  return out;
}

// What a browser does: no Authorization header (a WebSocket cannot set one),
// the token as a subprotocol item beside wharf.terminal.v1.
// Issue 21: the terminal's shell holds the pty as stdin, stdout and stderr
// and nothing of the server's — not its listening socket, not the client's
// connection, not the extra socket and file held here without close-on-exec.
TEST_F(MaintenanceApi, TheTerminalShellHoldsOnlyItsPty) {
  runtime::testing::HeldDescriptors held(dir_.path());
  const auto listing = dir_.path() / "fds";
  asio::io_context io;
  auto terminal = open_terminal(io, "Bearer " + token("olga"));
  auto& ws = *terminal;
  ws.binary(true);
  ws.write(asio::buffer(runtime::testing::list_descriptors_into(listing) + "; exit 0\n"));
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (!ec) ws.read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  const std::string text = runtime::testing::slurp(listing);
  auto fds = runtime::testing::listed_descriptors(text);
  EXPECT_EQ(runtime::testing::beyond_stdio(fds), "") << text;
  ASSERT_EQ(fds.size(), 3u) << text;
  EXPECT_EQ(fds[0].rfind("/dev/pts/", 0), 0u) << text;
  EXPECT_EQ(fds[1], std::filesystem::canonical(listing).string());
  EXPECT_EQ(fds[2], fds[0]) << text;
}

TEST_F(MaintenanceApi, ABrowserTerminalCarriesItsTokenAsASubprotocol) {
  asio::io_context io;
  websocket::response_type answer;
  auto terminal = open_terminal(io, "wharf.terminal.v1, wharf.bearer." + base64url(token("olga")),
                                true, &answer);
  auto& ws = *terminal;
  EXPECT_EQ(answer[beast::http::field::sec_websocket_protocol], "wharf.terminal.v1")
      << "the token is never echoed; the protocol is selected";
  ws.binary(true);
  ws.write(asio::buffer(std::string("echo via-$((6*7))\n")));
  std::vector<std::string> notes;
  EXPECT_NE(read_output(ws, "via-42", notes).find("via-42"), std::string::npos);
  EXPECT_TRUE(notes.empty());
  ws.close(websocket::close_code::normal);
  ASSERT_EQ(of_type("TerminalOpened").size(), 1u);
  EXPECT_EQ(of_type("TerminalOpened")[0].payload().terminal_opened().user(), "olga");
}

TEST_F(MaintenanceApi, WhenTheShellExitsTheCloseFrameAndTheAuditCarryItsExitCode) {
  asio::io_context io;
  auto terminal = open_terminal(io, "Bearer " + token("olga"));
  auto& ws = *terminal;
  ws.binary(true);
  ws.write(asio::buffer(std::string("exit 7\n")));
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (!ec) ws.read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed) << ec.message();
  EXPECT_EQ(ws.reason().code, websocket::close_code::normal);
  EXPECT_EQ(std::string(ws.reason().reason.data(), ws.reason().reason.size()), "shell exited 7");
  auto closed = wait_for("TerminalClosed");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].payload().terminal_closed().reason(), "shell exited 7");
}

TEST_F(MaintenanceApi, ASubprotocolTokenIsCheckedLikeAHeaderAndOnlyOnAWebSocket) {
  auto with_protocols = [](std::string protocols) {
    auto headers = websocket_upgrade();
    headers["Sec-WebSocket-Protocol"] = std::move(protocols);
    return headers;
  };
  const std::string viewer = "wharf.terminal.v1, wharf.bearer." + base64url(token("vic"));
  EXPECT_EQ(get(kEnv + "/terminal", "", with_protocols(viewer)).status, 403u);
  auto garbled = get(kEnv + "/terminal", "", with_protocols("wharf.bearer.not+base64url"));
  EXPECT_EQ(garbled.status, 401u);
  EXPECT_NE(garbled.body.find("invalid_token"), std::string::npos) << garbled.body;
  auto unknown = get(kEnv + "/terminal", "", with_protocols("wharf.bearer." + base64url("nope")));
  EXPECT_EQ(unknown.status, 401u);
  EXPECT_EQ(get(kEnv + "/terminal", "", with_protocols("wharf.terminal.v1")).status, 401u);
  // A plain request carrying the header is not a WebSocket: the token is not taken.
  const std::string owner = "wharf.bearer." + base64url(token("olga"));
  EXPECT_EQ(get(kEnv + "/logs", "", {{"Sec-WebSocket-Protocol", owner}}).status, 401u);
  EXPECT_TRUE(of_type("TerminalOpened").empty());
}

TEST_F(MaintenanceApi, TerminalResizeSetsThePtyWindowSizeAndABadOneNeverReachesTheShell) {
  asio::io_context io;
  auto terminal = open_terminal(io, "Bearer " + token("olga"));
  auto& ws = *terminal;
  auto input = [&](const std::string& text) {
    ws.binary(true);
    ws.write(asio::buffer(text));
  };
  auto control = [&](const std::string& text) {
    ws.text(true);
    ws.write(asio::buffer(text));
  };
  std::vector<std::string> notes;
  // The pty echoes input: the markers are computed so only the output matches.
  const std::string first = "stty size; echo m-$((1+1))\n";
  input(first);
  EXPECT_NE(read_output(ws, "m-2", notes).find("24 80\r\n"), std::string::npos)
      << "a new terminal is 80x24";
  control(R"({"resize":{"cols":132,"rows":43}})");
  const std::string second = "stty size; echo m-$((2+1))\n";
  input(second);
  EXPECT_NE(read_output(ws, "m-3", notes).find("43 132\r\n"), std::string::npos);
  control(R"({"resize":{"cols":"wide","rows":24}})");
  control("echo typed-as-$((3*3))\n");
  control(R"({"resize":{"cols":0,"rows":24}})");
  const std::string third = "stty size; echo m-$((3+1))\n";
  input(third);
  const std::string out = read_output(ws, "m-4", notes);
  EXPECT_NE(out.find("43 132\r\n"), std::string::npos) << out;
  // Input reaching the shell would be echoed by the pty (and run).
  EXPECT_EQ(out.find("wide"), std::string::npos) << out;
  EXPECT_EQ(out.find("typed-as"), std::string::npos) << out;
  EXPECT_EQ(out.find("resize"), std::string::npos) << out;
  ASSERT_EQ(notes.size(), 3u);
  auto refusal = [&](size_t i) { return boost::json::parse(notes[i]).at("error").as_object(); };
  EXPECT_EQ(refusal(0).at("code").as_string(), "wrong_type");
  EXPECT_EQ(refusal(0).at("details").at("field").as_string(), "resize.cols");
  EXPECT_EQ(refusal(1).at("code").as_string(), "malformed_json");
  EXPECT_EQ(refusal(2).at("code").as_string(), "invalid_value");
  EXPECT_EQ(refusal(2).at("details").at("field").as_string(), "resize.cols");
  ws.close(websocket::close_code::normal);

  auto closed = wait_for("TerminalClosed");
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].payload().terminal_closed().reason(), "client closed");
  EXPECT_EQ(closed[0].payload().terminal_closed().bytes_in(),
            first.size() + second.size() + third.size())
      << "control messages are not input";
  EXPECT_EQ(of_type("TerminalOpened").size(), 1u);
}

TEST_F(MaintenanceApi, EveryRouteAnswers401WithoutATokenAnd403WithoutTheRole) {
  const std::string stranger = token("sam");
  const std::string viewer = token("vic");
  const auto upgrade = websocket_upgrade();
  EXPECT_EQ(get(kEnv + "/logs", "").status, 401u);
  EXPECT_EQ(get(kEnv + "/logs", stranger).status, 403u);
  EXPECT_EQ(get(kEnv + "/terminal", "", upgrade).status, 401u);
  EXPECT_EQ(get(kEnv + "/terminal", viewer, upgrade).status, 403u);
  Client c1(server_->port());
  EXPECT_EQ(c1.request(beast::http::verb::post, kEnv + "/test-cases", "", "{}").status, 401u);
  Client c2(server_->port());
  EXPECT_EQ(c2.request(beast::http::verb::post, kEnv + "/test-cases", viewer, "{}").status, 403u);
  EXPECT_TRUE(of_type("ServiceLogsOpened").empty());
  EXPECT_TRUE(of_type("TerminalOpened").empty());
  EXPECT_GE(of_type("AccessDenied").size(), 3u);
}

}  // namespace
}  // namespace wharf::api::testing
