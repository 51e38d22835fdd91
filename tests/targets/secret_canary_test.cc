// The secret canary (docs/targets.md#threat-model-who-can-read-what): a real
// `wharf serve` deploys through a real Kubernetes control plane
// (tests/peers/kubernetes_cluster.h) and the Portainer test peer with
// credentials that are unique marker strings registered as targets: a
// ServiceAccount token nobody else holds, and an API key the peer alone
// accepts. Then every byte wharf produced is searched for the markers: the
// API's answers for viewer, deployer, owner and admin, the SSE stream, both
// export downloads, a terminal session's frames and serve's log while it
// ran, serve's own log, and (serve stopped, RocksDB rewritten uncompressed) every file of
// the data directory. With `--workers kafka`: every message on the events,
// tasks and results topics (a real broker, tests/peers/kafka, read back with
// a consumer) and the worker's own log. Every place searched must also hold
// a non-secret marker put beside the secret (a setting, the image name, a
// user name, typed text), so the search provably sees that place. A rotation
// then makes the next deploy use the new credentials while the cluster and the
// peer refuse the old ones. `wharf targets migrate` moves credentials of an
// old log into targets.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "adapters/kafka/topic_reader.h"
#include "events/event_store.h"
#include "events/export.h"
#include "events/ids.h"
#include "tests/api/sse_client.h"
#include "tests/canary/peers.h"
#include "tests/events/raw_rocksdb.h"
#include "tests/kafka/kafka_broker.h"
#include "tests/peers/kubernetes_cluster.h"
#include "tests/runtime/e2e_support.h"
#include "tests/serve_process.h"

namespace wharf::targets {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using runtime::testing::eventually;

std::string random_hex() {
  std::random_device rd;
  std::ostringstream out;
  out << std::hex << rd() << rd();
  return out.str();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

uint16_t port_of(const std::string& url) {
  return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

const wharf::testing::KubernetesCluster& cluster() {
  static const wharf::testing::KubernetesCluster& c =
      []() -> const wharf::testing::KubernetesCluster& {
    auto& made = wharf::testing::kubernetes_cluster();
    made.create_deployment("hello", "registry.test/hello:none", {.replicas = 2});
    return made;
  }();
  return c;
}

// A ServiceAccount name of its own for each use (lower-case, DNS-1123).
std::string account(const std::string& what) {
  std::string name = "canary-" + what + "-" + random_hex();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name.substr(0, 60);
}

// Opens a terminal (WebSocket) on `environment` of project shop as the
// holder of `token`, types `input`, reads until `until` came back, then
// exits the shell; returns every frame's bytes (output and notes).
std::string terminal_session(const std::string& serve_url, const std::string& token,
                             const std::string& environment, const std::string& input,
                             const std::string& until) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_of(serve_url)));
  websocket::stream<asio::ip::tcp::socket> ws(std::move(socket));
  ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
    req.set(beast::http::field::authorization, "Bearer " + token);
  }));
  ws.handshake("127.0.0.1", "/api/v1/projects/shop/environments/" + environment + "/terminal");
  // Never wait forever: after 60 s the socket is shut down and reads fail.
  std::promise<void> done;
  std::thread watchdog([fd = ws.next_layer().native_handle(), f = done.get_future()]() mutable {
    if (f.wait_for(std::chrono::seconds(60)) == std::future_status::timeout) {
      ::shutdown(fd, SHUT_RDWR);
    }
  });
  ws.binary(true);
  ws.write(asio::buffer(input));
  std::string frames;
  beast::flat_buffer buffer;
  bool exited = false;
  for (;;) {
    beast::error_code ec;
    ws.read(buffer, ec);
    if (ec) break;  // closed: the shell exited
    frames += beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    if (!exited && frames.find(until) != std::string::npos) {
      exited = true;
      ws.write(asio::buffer(std::string("exit 0\n")));
    }
  }
  done.set_value();
  watchdog.join();
  if (!exited) ADD_FAILURE() << "the terminal closed before " << until << ": " << frames;
  const auto& reason = ws.reason().reason;
  return frames + std::string(reason.data(), reason.size());
}

// Every record of `topic` (keys, values, headers) as one text.
std::string topic_text(const std::string& brokers, const std::string& topic, size_t* count) {
  auto records = kafka::read_topic(brokers, topic);
  if (!records) {
    ADD_FAILURE() << topic << ": " << records.error();
    return {};
  }
  std::string text;
  for (const auto& r : *records) {
    text += r.key + '\n' + r.value + '\n' + r.event_id + '\n' + r.type + '\n';
  }
  *count = records->size();
  return text;
}

class SecretCanary : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster();
    k8s_account_ = account("a");
    k8s_marker_ = cluster().service_account_token(k8s_account_);
    portainer_ = std::make_unique<canary_testing::PeerProcess>(
        WHARF_PORTAINER_PEER,
        std::vector<std::string>{"--api-key", portainer_marker_, "--step", "0.2"});
    portainer_->post("/peer/services",
                     {{"name", "hello"}, {"image", "registry.test/hello:none"}, {"replicas", 1}});
    serve_ = std::make_unique<wharf::testing::ServeProcess>(
        dir_.path() / "data", std::vector<std::string>{"--target-probe-interval", "1"});
    serve_->start();
  }
  void TearDown() override {
    if (serve_) serve_->kill_now();
  }

  http_client::Response call(const std::string& method, const std::string& path,
                             const std::string& token, const std::string& body = {}) {
    http_client::Request req;
    req.method = method;
    req.url = serve_->url() + path;
    req.body = body;
    req.headers = {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
    auto r = http_client::send(req);
    if (!r) throw std::runtime_error(path + ": " + r.error());
    return *r;
  }
  std::string token_for(const std::string& user) {
    auto r = serve_->api("POST", "/api/v1/tokens", R"({"user":")" + user + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("token").as_string());
  }
  // Starts a run of `sha` and waits for its PipelineRunCompleted; the outcome.
  std::string run(const std::string& sha) {
    auto started = serve_->api("POST", "/api/v1/projects/shop/runs",
                               R"({"commit_sha":")" + sha + R"(","branch":"main"})");
    EXPECT_EQ(started.status, 202) << started.body;
    const std::string run_id(json::parse(started.body).at("run_id").as_string());
    std::string outcome;
    eventually(
        [&] {
          auto events = json::parse(
              serve_->api("GET", "/api/v1/events?type=PipelineRunCompleted&limit=1000").body);
          for (const auto& e : events.at("events").as_array()) {
            if (e.at("data").at("run_id").as_string() == run_id) {
              outcome = std::string(e.at("data").at("outcome").as_string());
            }
          }
          return !outcome.empty();
        },
        std::chrono::seconds(120));
    if (outcome != "RUN_OUTCOME_SUCCEEDED") {
      ADD_FAILURE() << "run " << run_id << ": " << outcome << "\n" << serve_->tail();
    }
    return outcome;
  }
  // Registers the targets "k8s" (the marker token) and "swarm" (the marker
  // API key) and defines project shop deploying `repo` to both.
  void define_shop(const fs::path& repo) {
    cluster().connect(wharf::testing::ServeTargets(*serve_), "k8s", k8s_marker_);
    auto ptr = serve_->api("POST", "/api/v1/targets",
                           R"({"name":"swarm","kind":"portainer","url":")" + portainer_->url() +
                               R"(","endpoint_id":"1","credential":{"kind":"api_key","api_key":")" +
                               portainer_marker_ + R"("}})");
    ASSERT_EQ(ptr.status, 201) << ptr.body;
    const std::string project = R"({
    "project_id": "shop",
    "repository": {"local_git": {"path": ")" +
                                repo.string() + R"(", "branch": "main"}},
    "environments": [
      {"name": "staging", "target": "kubernetes", "target_ref": "k8s", "auto_deploy": true,
       "settings": {"deployment": "hello", "container": "app", "note": ")" +
                                control_marker_ + R"(",
                    "image": "registry.test/)" +
                                image_marker_ +
                                R"(:{version}", "rollout_timeout_s": "60"}},
      {"name": "prod", "target": "swarm", "target_ref": "swarm", "auto_deploy": true,
       "settings": {"service": "hello", "image": "registry.test/hello:{version}",
                    "update_timeout_s": "60"}}],
    "template": {"build": {"command": "sh build.sh", "artifact_path": "dist", "timeout_s": 120}}})";
    auto created = serve_->api("POST", "/api/v1/projects", project);
    ASSERT_EQ(created.status, 202) << created.body;
  }
  std::string image_in_k8s() {
    auto d = cluster().deployment("hello");
    return std::string(
        d["spec"].at("template").at("spec").at("containers").as_array()[0].at("image").as_string());
  }
  int portainer_status_with(const std::string& key) {
    http_client::Request req;
    req.url = portainer_->url() + "/api/status";
    req.headers = {{"X-API-Key", key}};
    auto r = http_client::send(req);
    return r ? r->status : 0;
  }

  runtime::testing::TempDir dir_;
  std::string k8s_account_, k8s_marker_;
  // A non-secret setting: the searches must find it where the log is.
  const std::string control_marker_ = "canaryVisibleNote" + random_hex();
  // The Kubernetes image's repository: in deploy progress messages and logs.
  const std::string image_marker_ = "canaryimage" + random_hex();
  const std::string portainer_marker_ = "canaryPtrKey" + random_hex();
  std::unique_ptr<canary_testing::PeerProcess> portainer_;
  std::unique_ptr<wharf::testing::ServeProcess> serve_;
};

TEST_F(SecretCanary, NoCredentialLeavesWharfInClearAndARotationTakesTheNextDeploy) {
  const fs::path repo = dir_.path() / "repo";
  const std::string first = runtime::testing::make_hello_repo(repo);

  ASSERT_NO_FATAL_FAILURE(define_shop(repo));
  ASSERT_EQ(run(first), "RUN_OUTCOME_SUCCEEDED");
  const std::string first_image = image_in_k8s();
  EXPECT_EQ(first_image.rfind("registry.test/" + image_marker_ + ":", 0), 0u) << first_image;

  // The probe reached both with their credentials (the peers check them).
  ASSERT_TRUE(eventually(
      [&] {
        for (const char* t : {"k8s", "swarm"}) {
          auto h =
              json::parse(serve_->api("GET", std::string("/api/v1/targets/") + t + "/health").body);
          if (!h.at("known").as_bool() || !h.at("reachable").as_bool()) return false;
        }
        return true;
      },
      std::chrono::seconds(30)))
      << serve_->api("GET", "/api/v1/targets").body;
  EXPECT_NE(serve_->api("GET", "/metrics")
                .body.find("wharf_target_reachable{target=\"k8s\",kind=\"kubernetes\"} 1"),
            std::string::npos);

  // Rotation: new credentials for both targets, then the old ones are
  // revoked (the ServiceAccount deleted, the peer's key changed). The next
  // run deploys with the new ones.
  const std::string k8s_account_b = account("b");
  const std::string rotated = cluster().service_account_token(k8s_account_b);
  const std::string rotated_key = "canaryPtrRotated" + random_hex();
  auto rotate = serve_->api("POST", "/api/v1/targets/k8s/credentials",
                            R"({"credential":{"kind":"bearer_token","token":")" + rotated +
                                R"("},"reason":"rotation test"})");
  ASSERT_EQ(rotate.status, 200) << rotate.body;
  auto rotate_ptr = serve_->api("POST", "/api/v1/targets/swarm/credentials",
                                R"({"credential":{"kind":"api_key","api_key":")" + rotated_key +
                                    R"("},"reason":"rotation test"})");
  ASSERT_EQ(rotate_ptr.status, 200) << rotate_ptr.body;
  cluster().delete_service_account(k8s_account_);
  portainer_->post("/peer/credentials", {{"api_key", rotated_key}});
  ASSERT_TRUE(eventually([&] { return cluster().status_with(k8s_marker_, "hello") == 401; },
                         std::chrono::seconds(30)))
      << "the cluster refuses the old token";
  EXPECT_EQ(portainer_status_with(portainer_marker_), 401) << "the peer refuses the old key";
  EXPECT_EQ(cluster().status_with(rotated, "hello"), 200);
  const std::string second = runtime::testing::commit_version(repo, "2.0.0");
  ASSERT_EQ(run(second), "RUN_OUTCOME_SUCCEEDED");
  // The second run's image is on the cluster (each run's version differs).
  EXPECT_EQ(image_in_k8s().rfind("registry.test/" + image_marker_ + ":", 0), 0u) << image_in_k8s();
  EXPECT_NE(image_in_k8s(), first_image);
  // The deploy's calls were made as the new ServiceAccount.
  EXPECT_GE(cluster()
                .audited("patch", "deployments", "hello", 200,
                         "system:serviceaccount:default:" + k8s_account_b)
                .size(),
            1u)
      << "the second deploy did not patch with the rotated token";

  const std::vector<const std::string*> markers = {&k8s_marker_, &portainer_marker_, &rotated,
                                                   &rotated_key};
  // A terminal on staging (exec through the cluster with the rotated token):
  // its frames, and serve's log while it ran. The operator's name (in the
  // log's session line) and the typed text (in the frames) are the
  // non-secret markers.
  {
    const std::string op = "canaryop" + random_hex();
    serve_->api("POST", "/api/v1/projects/shop/permissions",
                R"({"user":")" + op + R"(","role":"deployer"})");
    const size_t log_from = serve_->log().size();
    const std::string frames =
        terminal_session(serve_->url(), token_for(op), "staging",
                         "echo " + control_marker_ + "-typed\n", control_marker_ + "-typed\r\n");
    EXPECT_NE(frames.find(control_marker_), std::string::npos) << frames;
    EXPECT_NE(frames.find("shell exited 0"), std::string::npos) << frames;
    ASSERT_TRUE(eventually(
        [&] { return serve_->log().find("closed after", log_from) != std::string::npos; },
        std::chrono::seconds(10)));
    const std::string during = serve_->log().substr(log_from);
    EXPECT_NE(during.find(op + " from "), std::string::npos) << during;
    for (const std::string* marker : markers) {
      EXPECT_EQ(frames.find(*marker), std::string::npos)
          << "the terminal's frames hold " << *marker;
      EXPECT_EQ(during.find(*marker), std::string::npos)
          << "serve's log during the terminal holds " << *marker;
    }
    size_t execs = 0;
    for (const auto& pod : cluster().running_pods("hello")) {
      execs +=
          cluster()
              .audited("", "pods/exec", pod, 0, "system:serviceaccount:default:" + k8s_account_b)
              .size();
    }
    EXPECT_EQ(execs, 1u) << "the terminal did not exec with the rotated token";
  }

  // Everything wharf answers, for every role.
  serve_->api("POST", "/api/v1/projects/shop/permissions", R"({"user":"vera","role":"viewer"})");
  serve_->api("POST", "/api/v1/projects/shop/permissions", R"({"user":"dan","role":"deployer"})");
  serve_->api("POST", "/api/v1/projects/shop/permissions", R"({"user":"olive","role":"owner"})");
  const std::vector<std::string> tokens = {token_for("vera"), token_for("dan"), token_for("olive")};
  std::string seen;
  const std::vector<std::string> paths = {"/api/v1/projects",
                                          "/api/v1/projects/shop",
                                          "/api/v1/projects/shop/environments",
                                          "/api/v1/projects/shop/environments/staging",
                                          "/api/v1/projects/shop/environments/prod",
                                          "/api/v1/projects/shop/environments/staging/history",
                                          "/api/v1/projects/shop/runs",
                                          "/api/v1/projects/shop/versions",
                                          "/api/v1/events?limit=1000",
                                          "/api/v1/events?project=shop&limit=1000",
                                          "/api/v1/streams/target-k8s",
                                          "/api/v1/streams/project-shop",
                                          "/api/v1/audit?project=shop",
                                          "/api/v1/audit",
                                          "/api/v1/targets",
                                          "/api/v1/targets/k8s",
                                          "/api/v1/targets/swarm/health",
                                          "/api/v1/targets/k8s/health?check=true",
                                          "/api/v1/permissions",
                                          "/api/v1/me"};
  for (const auto& token : tokens) {
    for (const auto& path : paths) seen += call("GET", path, token).body;
  }
  for (const auto& path : paths) seen += serve_->api("GET", path).body;
  auto runs = json::parse(serve_->api("GET", "/api/v1/projects/shop/runs").body);
  for (const auto& r : runs.at("runs").as_array()) {
    const std::string id(r.at("run_id").as_string());
    seen += serve_->api("GET", "/api/v1/projects/shop/runs/" + id).body;
    seen += serve_->api("GET", "/api/v1/projects/shop/runs/" + id + "/logs").body;
  }
  EXPECT_NE(seen.find("\"k8s\""), std::string::npos);  // the answers are there
  // The SSE stream, from the first event to the head (admin's: sees everything).
  {
    std::ifstream token_file(dir_.path() / "data" / "admin-token");
    std::string admin;
    std::getline(token_file, admin);
    const uint64_t head =
        static_cast<uint64_t>(json::parse(serve_->api("GET", "/api/v1/events?limit=1").body)
                                  .at("head")
                                  .to_number<int64_t>());
    api::testing::SseClient sse(port_of(serve_->url()), "/api/v1/events/stream", admin, 0);
    ASSERT_TRUE(sse.ok()) << sse.header();
    for (;;) {
      auto frame = sse.next();
      ASSERT_TRUE(frame);
      seen += frame->data;
      if (frame->id >= head) break;
    }
  }
  for (const auto& [path, token] : std::vector<std::pair<std::string, std::string>>{
           {"/api/v1/projects/shop/audit/export", tokens[2]}}) {
    auto r = call("GET", path, token);
    EXPECT_EQ(r.status, 200) << path;
    seen += r.body;
  }
  auto whole = serve_->api("GET", "/api/v1/audit/export");
  EXPECT_EQ(whole.status, 200);
  seen += whole.body;

  for (const std::string* marker : markers) {
    EXPECT_EQ(seen.find(*marker), std::string::npos) << "an API answer holds " << *marker;
  }
  EXPECT_NE(seen.find(control_marker_), std::string::npos) << "the answers hold the settings";

  // Serve's log, then (serve stopped, the RocksDB databases rewritten) every file
  // of the data directory.
  ASSERT_EQ(serve_->terminate(), 0);
  const std::string log = slurp(dir_.path() / "data" / "serve.log");
  for (const std::string* marker : markers) {
    EXPECT_EQ(log.find(*marker), std::string::npos) << "serve's log holds " << *marker;
  }
  // Every RocksDB database of the data directory rewritten into uncompressed
  // tables: what it holds is on disk as stored, so the search below finds
  // every string (a compressed block can hide one).
  for (const auto& e : fs::recursive_directory_iterator(dir_.path() / "data")) {
    if (e.path().filename() == "CURRENT") {
      events::testing::compact_uncompressed(e.path().parent_path().string());
    }
  }
  size_t files = 0;
  bool control_on_disk = false;
  for (const auto& e : fs::recursive_directory_iterator(dir_.path() / "data")) {
    if (!e.is_regular_file() || e.path().filename() == "admin-token") continue;
    ++files;
    const std::string bytes = slurp(e.path());
    control_on_disk = control_on_disk || bytes.find(control_marker_) != std::string::npos;
    for (const std::string* marker : markers) {
      EXPECT_EQ(bytes.find(*marker), std::string::npos) << e.path() << " holds " << *marker;
    }
  }
  EXPECT_GT(files, 10u);
  EXPECT_TRUE(control_on_disk) << "the search does not see what the log stores";
  EXPECT_TRUE(fs::exists(dir_.path() / "data" / "secrets" / "target" / "k8s" / "2.sealed"));
  EXPECT_FALSE(fs::exists(dir_.path() / "data" / "secrets" / "target" / "k8s" / "1.sealed"));
}

// `wharf serve --workers kafka` on a real broker: the deploys run in a
// `wharf worker` process that opens the credentials from the sealed store it
// shares with serve. Every message on the events, tasks and results topics
// (read back with a consumer) and the worker's own log: no credential; the
// non-secret markers are there (the settings note in events and tasks, the
// image name in results and the worker's log).
TEST_F(SecretCanary, WorkersOverKafkaCarryNoCredential) {
  const std::string brokers = kafka::testing::KafkaBroker::shared().bootstrap();
  ASSERT_EQ(serve_->terminate(), 0);  // this test's serve hands its work to a worker
  const std::string suffix = random_hex();
  const std::string events = "canary.events." + suffix, tasks = "canary.tasks." + suffix,
                    results = "canary.results." + suffix;
  const fs::path data = dir_.path() / "data-kafka";
  serve_ = std::make_unique<wharf::testing::ServeProcess>(
      data,
      std::vector<std::string>{"--workers", "kafka", "--kafka-relay", "true", "--kafka-brokers",
                               brokers, "--kafka-topic", events, "--task-topic", tasks,
                               "--result-topic", results, "--target-probe-interval", "1"});
  serve_->start();
  const fs::path worker_log = dir_.path() / "worker.log";
  const pid_t worker = fork();
  if (worker == 0) {
    int fd = open(worker_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    const std::string bin = wharf::testing::wharf_bin();
    const std::string worker_data = (dir_.path() / "worker").string();
    const std::string key = (data / "secret.key").string(), secrets = (data / "secrets").string();
    execl(bin.c_str(), bin.c_str(), "worker", "--data", worker_data.c_str(), "--brokers",
          brokers.c_str(), "--task-topic", tasks.c_str(), "--result-topic", results.c_str(),
          "--group", ("canary-" + suffix).c_str(), "--name", "canary-worker", "--secret-key-file",
          key.c_str(), "--secrets-dir", secrets.c_str(), nullptr);
    _exit(127);
  }
  struct StopWorker {
    pid_t pid;
    ~StopWorker() {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  } stop_worker{worker};

  const fs::path repo = dir_.path() / "repo";
  const std::string first = runtime::testing::make_hello_repo(repo);
  ASSERT_NO_FATAL_FAILURE(define_shop(repo));
  ASSERT_EQ(run(first), "RUN_OUTCOME_SUCCEEDED") << slurp(worker_log);
  EXPECT_EQ(image_in_k8s().rfind("registry.test/" + image_marker_ + ":", 0), 0u) << image_in_k8s();
  // The worker patched, with the sealed token (the ServiceAccount's).
  EXPECT_GE(cluster()
                .audited("patch", "deployments", "hello", 200,
                         "system:serviceaccount:default:" + k8s_account_)
                .size(),
            1u);
  const std::string wlog = slurp(worker_log);
  EXPECT_NE(wlog.find("patched default/hello to registry.test/" + image_marker_), std::string::npos)
      << "the deploy ran in the worker: " << wlog;

  const std::vector<const std::string*> markers = {&k8s_marker_, &portainer_marker_};
  // Each topic separately: each must hold its non-secret marker.
  const std::vector<std::pair<std::string, const std::string*>> topics = {
      {events, &control_marker_}, {tasks, &control_marker_}, {results, &image_marker_}};
  for (const auto& [topic, control] : topics) {
    size_t count = 0;
    std::string text;
    // The relay and the results may trail the run's completion by a moment.
    eventually(
        [&] {
          text = topic_text(brokers, topic, &count);
          return text.find(*control) != std::string::npos;
        },
        std::chrono::seconds(30));
    EXPECT_GT(count, 0u) << topic;
    EXPECT_NE(text.find(*control), std::string::npos) << topic << " lacks " << *control;
    for (const std::string* marker : markers) {
      EXPECT_EQ(text.find(*marker), std::string::npos) << topic << " holds " << *marker;
    }
  }
  for (const std::string* marker : markers) {
    EXPECT_EQ(wlog.find(*marker), std::string::npos) << "the worker's log holds " << *marker;
  }
  ASSERT_EQ(serve_->terminate(), 0);
  const std::string log = slurp(data / "serve.log");
  EXPECT_NE(log.find("workers: tasks go to " + tasks), std::string::npos) << log;
  for (const std::string* marker : markers) {
    EXPECT_EQ(log.find(*marker), std::string::npos) << "serve's log holds " << *marker;
  }
}

// A log from before targets holds a cluster's token and a Portainer API key in
// environment settings. `wharf targets migrate` moves them into targets (the
// peers accept the moved credentials), re-defines the environments by
// reference, and an export of the old log still verifies, with those events
// as placeholders and no credential in it.
TEST_F(SecretCanary, MigrateMovesOldCredentialsIntoTargets) {
  ASSERT_EQ(serve_->terminate(), 0);
  const fs::path data = dir_.path() / "data";
  uint64_t old_position = 0;
  {
    events::StoreOptions options;
    auto store = events::EventStore::open((data / "events").string(), options);
    ASSERT_TRUE(store) << store.error().message;
    wharf::v1::Payload p;
    auto* c = p.mutable_project_created();
    c->set_project_id("legacy");
    c->set_name("legacy");
    c->set_owner("admin");
    auto* k = c->add_environments();
    k->set_name("prod");
    k->set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
    (*k->mutable_settings())["api_url"] = cluster().url();
    (*k->mutable_settings())["ca_file"] = cluster().ca_file();
    (*k->mutable_settings())["token"] = k8s_marker_;
    (*k->mutable_settings())["deployment"] = "hello";
    auto* s = c->add_environments();
    s->set_name("edge");
    s->set_target(wharf::v1::TARGET_TYPE_SWARM);
    (*s->mutable_settings())["portainer_url"] = portainer_->url();
    (*s->mutable_settings())["api_key"] = portainer_marker_;
    (*s->mutable_settings())["service"] = "hello";
    events::Envelope e;
    e.set_event_id(events::new_uuid());
    e.mutable_actor()->set_id("admin");
    *e.mutable_payload() = p;
    auto appended = (*store)->append("project-legacy", events::ExpectedVersion::any(), {e});
    ASSERT_TRUE(appended) << appended.error().message;
    old_position = appended->last_position;
    (*store)->close();
  }
  serve_->start();
  std::ifstream token_file(data / "admin-token");
  std::string admin;
  std::getline(token_file, admin);
  const std::string wharf = wharf::testing::wharf_bin();
  const fs::path out = dir_.path() / "migrate.out";
  const int rc =
      std::system(("'" + wharf + "' targets migrate --data '" + data.string() + "' --server " +
                   serve_->url() + " --token " + admin + " >'" + out.string() + "' 2>&1")
                      .c_str());
  ASSERT_EQ(rc, 0) << slurp(out);
  EXPECT_NE(slurp(out).find("legacy/prod: target legacy-prod"), std::string::npos) << slurp(out);
  EXPECT_EQ(slurp(out).find(k8s_marker_), std::string::npos);

  // The moved credentials work: the peers check them.
  for (const char* target : {"legacy-prod", "legacy-edge"}) {
    auto check =
        serve_->api("GET", std::string("/api/v1/targets/") + target + "/health?check=true");
    ASSERT_EQ(check.status, 200) << check.body;
    EXPECT_TRUE(json::parse(check.body).at("check").at("reachable").as_bool()) << check.body;
  }
  // The environments name them now, with no credential or connection setting.
  const uint64_t head =
      static_cast<uint64_t>(json::parse(serve_->api("GET", "/api/v1/events?limit=1").body)
                                .at("head")
                                .to_number<int64_t>());
  auto project = json::parse(
      serve_->api("GET", "/api/v1/projects/legacy?min_position=" + std::to_string(head)).body);
  json::value spec;
  for (const auto& env : project.at("environments").as_array()) {
    if (env.at("name").as_string() == "prod") spec = env;
  }
  ASSERT_TRUE(spec.is_object()) << json::serialize(project);
  EXPECT_EQ(spec.at("target_ref").as_string(), "legacy-prod");
  EXPECT_FALSE(spec.at("settings").as_object().contains("token"));
  EXPECT_FALSE(spec.at("settings").as_object().contains("api_url"));
  EXPECT_EQ(spec.at("settings").at("deployment").as_string(), "hello");

  // An export of the whole log: the old event is a placeholder, the chain verifies.
  const fs::path file = dir_.path() / "log.wexp";
  ASSERT_EQ(std::system(("'" + wharf + "' events export --data '" + data.string() + "' --out '" +
                         file.string() + "' >/dev/null 2>&1")
                            .c_str()),
            0);
  const std::string bytes = slurp(file);
  EXPECT_EQ(bytes.find(k8s_marker_), std::string::npos);
  EXPECT_EQ(bytes.find(portainer_marker_), std::string::npos);
  const fs::path verified = dir_.path() / "verify.out";
  EXPECT_EQ(std::system(("'" + wharf + "' audit verify --file '" + file.string() + "' >'" +
                         verified.string() + "' 2>&1")
                            .c_str()),
            0)
      << slurp(verified);
  auto read = events::read_export(file.string());
  ASSERT_TRUE(read);
  bool placeholder = false;
  for (const auto& r : read->records) {
    placeholder = placeholder || (r.has_omitted() && r.omitted().position() == old_position);
  }
  EXPECT_TRUE(placeholder);
}

}  // namespace
}  // namespace wharf::targets
