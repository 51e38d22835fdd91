// Against a real Gerrit 3.10 (tests/peers/gerrit): wharf connected over real
// SSH observes exactly one commit per qualifying event; after a broken
// session, a hung stream or a Gerrit restart, reconnect + REST catch-up give
// every merged change exactly one CommitObserved. If Gerrit cannot be fetched
// or started within the budget, every test fails with Gerrit's message.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "adapters/gerrit/bus_sink.h"
#include "adapters/gerrit/connection.h"
#include "adapters/gerrit/ingestor.h"
#include "tests/gerrit/gerrit_peer.h"
#include "tests/gerrit/store_fixture.h"
#include "tests/gerrit/tcp_proxy.h"

namespace wharf::gerrit {
namespace {

using namespace std::chrono_literals;
using testing::Change;
using testing::GerritPeer;

bool eventually(const std::function<bool()>& condition, std::chrono::seconds timeout = 60s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

// One Gerrit for the whole binary (started once: it is the slow part).
class RealGerrit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    site_ = new testing::TempDir();
    peer_ = new GerritPeer(site_->path() + "/site");
    auto t0 = std::chrono::steady_clock::now();
    try {
      peer_->start();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0).count();
      std::printf("[gerrit] %s[gerrit] first start incl. init: %lld ms (init %lld ms, daemon %lld ms)\n",
                  peer_->last_start_output_.c_str(), static_cast<long long>(ms),
                  static_cast<long long>(peer_->init_ms), static_cast<long long>(peer_->start_ms));
    } catch (const std::exception& e) {
      *start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    peer_->stop();
    delete peer_;
    delete site_;
  }

  void SetUp() override { ASSERT_TRUE(start_error_->empty()) << *start_error_; }

  // The wharf side: store + bus + ingestor + SSH connection to `ssh_port`.
  void connect(const std::string& gerrit_project, int ssh_port) {
    fx_ = std::make_unique<testing::StoreFixture>();
    fx_->create_project("it-" + gerrit_project, gerrit_project, {"master"}, {"recheck"},
                        "127.0.0.1");
    sink_ = std::make_unique<BusCommitSink>(fx_->bus());
    IngestOptions ingest;
    ingest.host = "127.0.0.1";
    ingest.ref_update_hold_us = 3'000'000;
    ingest.async_sink = true;  // as in wharf serve
    ingestor_ = std::make_unique<Ingestor>(ingest, fx_->bindings(), *sink_, probe_);
    ConnectionOptions c;
    c.ssh.host = "127.0.0.1";
    c.ssh.port = ssh_port;
    c.ssh.user = "admin";
    c.ssh.key_file = peer_->key_file;
    c.ssh.known_hosts_file = fx_->dir() + "/known_hosts";
    c.ssh.connect_timeout_s = 5;
    c.rest.base_url = peer_->http_url();
    c.rest.user = "admin";
    c.rest.http_password = "secret";
    c.catchup_margin_s = 30;
    c.backoff_initial_ms = 200;
    c.backoff_max_ms = 2000;
    c.keepalive_interval_s = 2;
    c.silence_probe_s = 2;
    c.probe_timeout_s = 3;
    connection_ = std::make_unique<GerritConnection>(c, *ingestor_);
    connection_->start();
    ASSERT_TRUE(eventually([&] { return probe_.snapshot().connected; }))
        << probe_.snapshot().last_error;
    // stream-events registers its listener just after the channel opens.
    std::this_thread::sleep_for(1500ms);
  }

  void TearDown() override {
    if (connection_) connection_->stop();
    if (fx_) fx_->bus().drain();  // async recordings call back into the ingestor
  }

  // CommitObserved of change `number` for its merge (branch ref), and in total.
  size_t merged(uint64_t number) const {
    size_t n = 0;
    for (const auto& c : fx_->commits()) {
      n += c.change_number() == number && c.ref() == "refs/heads/master";
    }
    return n;
  }
  size_t commits() const { return fx_->commits().size(); }

  Change push_and_merge(const std::string& project, const std::string& subject) {
    Change c = peer_->push_change(project, subject);
    peer_->approve_and_submit(c);
    return c;
  }

  static testing::TempDir* site_;
  static GerritPeer* peer_;
  static std::string* start_error_;
  std::unique_ptr<testing::StoreFixture> fx_;
  std::unique_ptr<BusCommitSink> sink_;
  IngestProbe probe_{"127.0.0.1"};
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<GerritConnection> connection_;
};

testing::TempDir* RealGerrit::site_ = nullptr;
GerritPeer* RealGerrit::peer_ = nullptr;
std::string* RealGerrit::start_error_ = new std::string();

TEST_F(RealGerrit, PushVoteSubmitAndRecheckEachStartOneRun) {
  peer_->create_project("it-basic");
  connect("it-basic", peer_->ssh_port);

  Change a = peer_->push_change("it-basic", "first change");
  ASSERT_TRUE(eventually([&] { return commits() == 1; })) << commits();
  auto observed = fx_->commits();
  EXPECT_EQ(observed[0].commit_sha(), a.sha);
  EXPECT_EQ(observed[0].change_number(), a.number);
  EXPECT_EQ(observed[0].patchset(), 1u);
  EXPECT_EQ(observed[0].source(), "gerrit-stream");

  peer_->approve_and_submit(a);  // comment-added (no trigger word), ref-updated, change-merged
  ASSERT_TRUE(eventually([&] { return merged(a.number) == 1; }));
  std::this_thread::sleep_for(4000ms);  // past the ref-update hold
  EXPECT_EQ(commits(), 2u);             // the merge's branch ref-updated is not a second run
  EXPECT_EQ(fx_->commits()[1].commit_sha(), a.sha);  // fast-forward: newRev == patch set

  peer_->comment(a, "recheck");
  ASSERT_TRUE(eventually([&] { return commits() == 3; }));
  peer_->comment(a, "looks fine to me");
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(commits(), 3u);
  EXPECT_EQ(fx_->count("BuildRequested"), 3u);
  EXPECT_EQ(fx_->count("PipelineRunStarted"), 3u);

  IngestStats s = probe_.snapshot();
  EXPECT_GE(s.events_by_type["patchset-created"], 1u);
  EXPECT_GE(s.events_by_type["change-merged"], 1u);
  EXPECT_GE(s.events_by_type["comment-added"], 3u);
  EXPECT_GE(s.events_by_type["ref-updated"], 3u);
  EXPECT_EQ(s.bad_lines, 0u);
  EXPECT_EQ(s.sink_errors, 0u);
}

TEST_F(RealGerrit, BrokenSessionIsCaughtUpOverRest) {
  peer_->create_project("it-break");
  testing::TcpProxy proxy(peer_->ssh_port);
  connect("it-break", proxy.port());

  Change a = push_and_merge("it-break", "before the break");
  ASSERT_TRUE(eventually([&] { return merged(a.number) == 1; }));

  proxy.cut();
  ASSERT_TRUE(eventually([&] { return !probe_.snapshot().connected; }));
  Change b = push_and_merge("it-break", "during the break 1");
  Change c = push_and_merge("it-break", "during the break 2");
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(merged(b.number), 0u);  // the stream could not see them
  proxy.restore();

  ASSERT_TRUE(eventually([&] { return merged(b.number) == 1 && merged(c.number) == 1; }))
      << probe_.snapshot().last_error;
  EXPECT_TRUE(connection_->wait_catchup_idle(30000));
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(merged(a.number), 1u);
  EXPECT_EQ(merged(b.number), 1u);
  EXPECT_EQ(merged(c.number), 1u);
  for (const auto& commit : fx_->commits()) {
    if (commit.change_number() == b.number || commit.change_number() == c.number) {
      EXPECT_EQ(commit.source(), "gerrit-catchup");
    }
  }
  IngestStats s = probe_.snapshot();
  EXPECT_GE(s.reconnects, 1u);
  EXPECT_GE(s.catchups, 1u);
}

TEST_F(RealGerrit, HungStreamIsDetectedAndCaughtUp) {
  peer_->create_project("it-hung");
  testing::TcpProxy proxy(peer_->ssh_port);
  connect("it-hung", proxy.port());

  proxy.freeze();  // the TCP connection stays up, nothing moves
  Change d = push_and_merge("it-hung", "while the stream hangs");
  ASSERT_TRUE(eventually([&] {
    return probe_.snapshot().last_error.find("hung") != std::string::npos;
  })) << probe_.snapshot().last_error;
  proxy.restore();
  ASSERT_TRUE(eventually([&] { return merged(d.number) == 1; })) << probe_.snapshot().last_error;
  EXPECT_TRUE(connection_->wait_catchup_idle(30000));
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(merged(d.number), 1u);
}

TEST_F(RealGerrit, GerritRestartIsCaughtUp) {
  peer_->create_project("it-restart");
  testing::TcpProxy proxy(peer_->ssh_port);
  connect("it-restart", proxy.port());

  Change e = push_and_merge("it-restart", "before the restart");
  ASSERT_TRUE(eventually([&] { return merged(e.number) == 1; }));

  proxy.cut();  // wharf stays away until the changes below are merged
  peer_->stop();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_NO_THROW(peer_->start());
  std::printf("[gerrit] restart: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()));
  Change f = push_and_merge("it-restart", "after the restart 1");
  Change g = push_and_merge("it-restart", "after the restart 2");
  proxy.restore();

  ASSERT_TRUE(eventually([&] { return merged(f.number) == 1 && merged(g.number) == 1; }))
      << probe_.snapshot().last_error;
  EXPECT_TRUE(connection_->wait_catchup_idle(30000));
  std::this_thread::sleep_for(2500ms);
  EXPECT_EQ(merged(e.number), 1u);
  EXPECT_EQ(merged(f.number), 1u);
  EXPECT_EQ(merged(g.number), 1u);
  EXPECT_GE(probe_.snapshot().reconnects, 1u);
}

}  // namespace
}  // namespace wharf::gerrit
