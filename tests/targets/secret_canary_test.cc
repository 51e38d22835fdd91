// The secret canary (docs/targets.md#threat-model-who-can-read-what): a real
// `wharf serve` deploys through a real Kubernetes control plane
// (tests/peers/kubernetes_cluster.h) and the Portainer test peer with
// credentials that are unique marker strings registered as targets: a
// ServiceAccount token nobody else holds, and an API key the peer alone
// accepts. Then every byte wharf produced is searched for the markers: the
// API's answers for viewer, deployer, owner and admin, the SSE stream, both
// export downloads, serve's own log, and (serve stopped, RocksDB compacted)
// every file of the data directory — where a non-secret marker in the same
// settings is found, so the search can see what the log stores. A rotation
// then makes the next deploy use the new credentials while the cluster and the
// peer refuse the old ones. `wharf targets migrate` moves credentials of an
// old log into targets.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "events/event_store.h"
#include "events/export.h"
#include "events/ids.h"
#include "tests/api/sse_client.h"
#include "tests/canary/peers.h"
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

// Compacts every column family of the RocksDB database in `dir` (serve
// stopped): what the log holds moves from the write-ahead log and level-0
// files into compacted tables, the files an attacker with the disk reads.
void compact(const fs::path& dir) {
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.string(), &families).ok())
      << dir;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& f : families) descriptors.emplace_back(f, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::Open(rocksdb::DBOptions(), dir.string(), descriptors, &handles, &raw).ok())
      << dir;
  std::unique_ptr<rocksdb::DB> db(raw);
  for (auto* h : handles) {
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    EXPECT_TRUE(db->CompactRange(options, h, nullptr, nullptr).ok());
  }
  for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  EXPECT_TRUE(db->Close().ok());
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
  const std::string portainer_marker_ = "canaryPtrKey" + random_hex();
  std::unique_ptr<canary_testing::PeerProcess> portainer_;
  std::unique_ptr<wharf::testing::ServeProcess> serve_;
};

TEST_F(SecretCanary, NoCredentialLeavesWharfInClearAndARotationTakesTheNextDeploy) {
  const fs::path repo = dir_.path() / "repo";
  const std::string first = runtime::testing::make_hello_repo(repo);

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
                    "image": "registry.test/hello:{version}", "rollout_timeout_s": "60"}},
      {"name": "prod", "target": "swarm", "target_ref": "swarm", "auto_deploy": true,
       "settings": {"service": "hello", "image": "registry.test/hello:{version}",
                    "update_timeout_s": "60"}}],
    "template": {"build": {"command": "sh build.sh", "artifact_path": "dist", "timeout_s": 120}}})";
  auto created = serve_->api("POST", "/api/v1/projects", project);
  ASSERT_EQ(created.status, 202) << created.body;
  ASSERT_EQ(run(first), "RUN_OUTCOME_SUCCEEDED");
  const std::string first_image = image_in_k8s();
  EXPECT_EQ(first_image.rfind("registry.test/hello:", 0), 0u) << first_image;

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
  EXPECT_EQ(image_in_k8s().rfind("registry.test/hello:", 0), 0u) << image_in_k8s();
  EXPECT_NE(image_in_k8s(), first_image);
  // The deploy's calls were made as the new ServiceAccount.
  EXPECT_GE(cluster()
                .audited("patch", "deployments", "hello", 200,
                         "system:serviceaccount:default:" + k8s_account_b)
                .size(),
            1u)
      << "the second deploy did not patch with the rotated token";

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

  const std::vector<const std::string*> markers = {&k8s_marker_, &portainer_marker_, &rotated,
                                                   &rotated_key};
  for (const std::string* marker : markers) {
    EXPECT_EQ(seen.find(*marker), std::string::npos) << "an API answer holds " << *marker;
  }
  EXPECT_NE(seen.find(control_marker_), std::string::npos) << "the answers hold the settings";

  // Serve's log, then (serve stopped, the log's RocksDB compacted) every file
  // of the data directory.
  ASSERT_EQ(serve_->terminate(), 0);
  const std::string log = slurp(dir_.path() / "data" / "serve.log");
  for (const std::string* marker : markers) {
    EXPECT_EQ(log.find(*marker), std::string::npos) << "serve's log holds " << *marker;
  }
  compact(dir_.path() / "data" / "events");
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
