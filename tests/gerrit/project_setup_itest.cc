// Gerrit project set-up against a real Gerrit 3.10 (tests/peers/gerrit):
// setup_project creates the project and its branches (seen by Gerrit's own
// GET .../branches), an existing project only gains missing branches, and a
// wrong password is a 401 that creates nothing. Then the same through the
// real `wharf` binary: `project create --gerrit-create` and POST
// /api/v1/projects with "gerrit_create" on `wharf serve` — with a wrong
// password no wharf project exists afterwards. Gerrit failing to start fails
// every test with its message.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "adapters/gerrit/project_setup.h"
#include "adapters/http/http_client.h"
#include "events/event_store.h"
#include "tests/gerrit/gerrit_peer.h"
#include "tests/gerrit/store_fixture.h"
#include "tests/test_paths.h"

namespace wharf::gerrit {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using testing::GerritPeer;
using testing::quote;
using testing::run_command;

class GerritSetup : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    site_ = new testing::TempDir();
    peer_ = new GerritPeer(site_->path() + "/site");
    try {
      peer_->start();
      std::printf("[gerrit] %s", peer_->last_start_output_.c_str());
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

  static RestOptions admin(const std::string& password = "secret") {
    RestOptions o;
    o.base_url = peer_->http_url();
    o.user = "admin";
    o.http_password = password;
    return o;
  }

  // GET under Gerrit's REST root with a hand-encoded path (independent of
  // the code under test); the JSON after the XSSI guard, null unless 200.
  static json::value gerrit_get(const std::string& encoded_path) {
    http_client::Request req;
    req.url = peer_->http_url() + encoded_path;
    req.headers = {{"Authorization", http_client::basic_auth("admin", "secret")}};
    auto r = http_client::send(req);
    if (!r || r->status != 200) return nullptr;
    std::string_view body = r->body;
    EXPECT_TRUE(body.starts_with(")]}'")) << body;
    body.remove_prefix(4);
    return json::parse(body);
  }

  // refs/heads/* of a project -> revision.
  static std::map<std::string, std::string> branches(const std::string& encoded_project) {
    std::map<std::string, std::string> out;
    auto list = gerrit_get("/a/projects/" + encoded_project + "/branches");
    if (!list.is_array()) return out;
    for (const auto& b : list.as_array()) {
      std::string ref(b.at("ref").as_string());
      if (ref.starts_with("refs/heads/")) out[ref] = std::string(b.at("revision").as_string());
    }
    return out;
  }

  static testing::TempDir* site_;
  static GerritPeer* peer_;
  static std::string* start_error_;
};

testing::TempDir* GerritSetup::site_ = nullptr;
GerritPeer* GerritSetup::peer_ = nullptr;
std::string* GerritSetup::start_error_ = new std::string();

TEST_F(GerritSetup, CreatesProjectWithBranches) {
  auto done = setup_project(admin(), {"team/app", {"main", "refs/heads/release/1.0"}});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_TRUE(done->project_created);
  EXPECT_EQ(done->branches_created, (std::vector<std::string>{"main", "release/1.0"}));
  EXPECT_TRUE(done->branches_existing.empty());

  auto heads = branches("team%2Fapp");
  ASSERT_EQ(heads.size(), 2u) << json::serialize(gerrit_get("/a/projects/team%2Fapp/branches"));
  EXPECT_TRUE(heads.count("refs/heads/main"));
  EXPECT_TRUE(heads.count("refs/heads/release/1.0"));
  EXPECT_EQ(heads["refs/heads/main"].size(), 40u);  // the empty initial commit
  // The first branch is HEAD.
  EXPECT_EQ(gerrit_get("/a/projects/team%2Fapp/HEAD").as_string(), "refs/heads/main");
}

TEST_F(GerritSetup, ExistingProjectGainsOnlyMissingBranches) {
  peer_->create_project("plain");  // over SSH, with master
  auto before = branches("plain");
  ASSERT_EQ(before.size(), 1u);
  const std::string master = before.at("refs/heads/master");

  auto done = setup_project(admin(), {"plain", {"master", "dev/next"}});
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_FALSE(done->project_created);
  EXPECT_EQ(done->branches_created, (std::vector<std::string>{"dev/next"}));
  EXPECT_EQ(done->branches_existing, (std::vector<std::string>{"master"}));
  auto after = branches("plain");
  EXPECT_EQ(after.size(), 2u);
  EXPECT_EQ(after["refs/heads/master"], master);    // untouched
  EXPECT_EQ(after["refs/heads/dev/next"], master);  // made from HEAD

  auto again = setup_project(admin(), {"plain", {"master", "dev/next"}});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->project_created);
  EXPECT_TRUE(again->branches_created.empty());
  EXPECT_EQ(again->branches_existing, (std::vector<std::string>{"master", "dev/next"}));
}

TEST_F(GerritSetup, WrongPasswordIsAClearErrorAndCreatesNothing) {
  auto done = setup_project(admin("not-the-password"), {"team/denied", {"main"}});
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().http_status, 401);
  EXPECT_TRUE(done.error().auth());
  const std::string& m = done.error().message;
  EXPECT_NE(m.find("create Gerrit project team/denied"), std::string::npos) << m;
  EXPECT_NE(m.find("HTTP 401"), std::string::npos) << m;
  EXPECT_NE(m.find("credentials of user 'admin'"), std::string::npos) << m;
  EXPECT_TRUE(gerrit_get("/a/projects/team%2Fdenied").is_null());  // 404: not created
}

// ---- through the wharf binary ----

std::unique_ptr<events::EventStore> open_store(const std::string& data) {
  events::StoreOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  auto store = events::EventStore::open(data + "/events", options);
  EXPECT_TRUE(store) << (store ? "" : store.error().message);
  return store ? std::move(*store) : nullptr;
}

// The ProjectCreated of `project`, or nullptr-like default when absent.
std::optional<wharf::v1::ProjectCreated> project_created(const std::string& data,
                                                         const std::string& project) {
  auto store = open_store(data);
  if (!store) return std::nullopt;
  auto events = store->read_stream("project-" + project, 1, 100, events::Direction::kForward);
  if (!events) return std::nullopt;
  for (const auto& e : *events) {
    if (e.payload().has_project_created()) return e.payload().project_created();
  }
  return std::nullopt;
}

TEST_F(GerritSetup, CliProjectCreateSetsUpGerritOrCreatesNothing) {
  testing::TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string base = std::string(WHARF_BIN) + " project create --data " + quote(data) +
                           " --gerrit-host 127.0.0.1 --gerrit-create --gerrit-http-url " +
                           quote(peer_->http_url()) + " --gerrit-http-user admin";

  auto denied = run_command(base + " --name clibad --gerrit-project cli/bad --gerrit-branch main" +
                            " --gerrit-http-password wrong");
  EXPECT_NE(denied.status, 0) << denied.output;
  EXPECT_NE(denied.output.find("HTTP 401"), std::string::npos) << denied.output;
  EXPECT_NE(denied.output.find("project clibad not created"), std::string::npos) << denied.output;
  EXPECT_TRUE(gerrit_get("/a/projects/cli%2Fbad").is_null());
  if (std::filesystem::exists(data + "/events")) {
    EXPECT_FALSE(project_created(data, "clibad").has_value());
  }

  auto ok = run_command(base + " --name cliok --gerrit-project cli/ok --gerrit-branch main" +
                        " --gerrit-branch 'release/*' --gerrit-http-password secret");
  ASSERT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("gerrit project cli/ok created, branch main created"), std::string::npos)
      << ok.output;
  EXPECT_EQ(branches("cli%2Fok").count("refs/heads/main"), 1u);
  auto created = project_created(data, "cliok");
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->repository().gerrit().project(), "cli/ok");
  ASSERT_TRUE(created->has_gerrit_setup());
  EXPECT_TRUE(created->gerrit_setup().project_created());
  ASSERT_EQ(created->gerrit_setup().branches_created_size(), 1);
  EXPECT_EQ(created->gerrit_setup().branches_created(0), "main");
  // No credential in the log.
  auto all = run_command(std::string(WHARF_BIN) + " events export --data " + quote(data) +
                         " --out " + quote(dir.path() + "/export.jsonl"));
  std::ifstream in(dir.path() + "/export.jsonl");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(all.status, 0) << all.output;
  // The password is "secret". The word is also in the binding's field names
  // (webhook_secret_set…) and in the export's own note on placeholders
  // ("…webhook secret hashes…"), so those are taken out before looking for it.
  for (const std::string word : {"webhook_secret_", "webhook secret hashes"}) {
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at)) {
      text.erase(at, word.size());
    }
  }
  EXPECT_EQ(text.find("secret"), std::string::npos);
}

// `wharf serve` on a free port with the given Gerrit HTTP password.
class Serve {
 public:
  Serve(const std::string& data, const std::string& gerrit_url, const std::string& password)
      : data_(data) {
    port_ = free_port();
    const std::string token_file = data + "-token";
    const std::string log = data + "-serve.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      const std::string port = std::to_string(port_);
      ::execl(WHARF_BIN, WHARF_BIN, "serve", "--data", data.c_str(), "--port", port.c_str(),
              "--kafka-relay", "false", "--fsync", "false", "--first-token-file",
              token_file.c_str(), "--gerrit-http-url", gerrit_url.c_str(), "--gerrit-http-user",
              "admin", "--gerrit-http-password", password.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      if (std::filesystem::exists(token_file) && call("GET", "/healthz").status == 200) {
        std::ifstream in(token_file);
        std::getline(in, token_);
        if (!token_.empty()) return;
      }
      std::this_thread::sleep_for(100ms);
    }
    std::ifstream in(log);
    start_error_ =
        "wharf serve did not come up:\n" +
        std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  ~Serve() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  const std::string& start_error() const { return start_error_; }

  http_client::Response call(const std::string& method, const std::string& path,
                             const std::string& body = {}) const {
    http_client::Request req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(port_) + path;
    req.body = body;
    req.timeout = 60s;
    if (!token_.empty()) req.headers.emplace_back("Authorization", "Bearer " + token_);
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    auto r = http_client::send(req);
    return r ? *r : http_client::Response{};
  }

 private:
  static int free_port() {
    auto r = run_command(
        "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
        "print(s.getsockname()[1])'");
    return std::stoi(r.output);
  }
  std::string data_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string token_;
  std::string start_error_;
};

std::string project_body(const std::string& id, const std::string& gerrit_project) {
  json::object body{
      {"project_id", id},
      {"repository",
       json::object{{"gerrit", json::object{{"host", "127.0.0.1"},
                                            {"project", gerrit_project},
                                            {"branches", json::array{"main", "stable"}}}}}},
      {"template", json::object{{"build", json::object{{"command", "true"}}}}},
      {"gerrit_create", true}};
  return json::serialize(body);
}

TEST_F(GerritSetup, ApiProjectCreateSetsUpGerrit) {
  testing::TempDir dir;
  Serve serve(dir.path() + "/data", peer_->http_url(), "secret");
  ASSERT_TRUE(serve.start_error().empty()) << serve.start_error();

  auto created = serve.call("POST", "/api/v1/projects", project_body("apiok", "api/ok"));
  ASSERT_EQ(created.status, 202) << created.body;
  auto heads = branches("api%2Fok");
  EXPECT_EQ(heads.size(), 2u);
  EXPECT_TRUE(heads.count("refs/heads/main"));
  EXPECT_TRUE(heads.count("refs/heads/stable"));
  auto project = serve.call("GET", "/api/v1/projects/apiok?min_position=1");
  EXPECT_EQ(project.status, 200) << project.body;

  // The wharf project exists: refused before Gerrit is asked anything.
  auto twice = serve.call("POST", "/api/v1/projects", project_body("apiok", "api/other"));
  EXPECT_EQ(twice.status, 409) << twice.body;
  EXPECT_TRUE(gerrit_get("/a/projects/api%2Fother").is_null());

  // A Gerrit project that exists already is fine: missing branches are added.
  peer_->create_project("api-existing");
  auto existing = serve.call("POST", "/api/v1/projects", project_body("apiex", "api-existing"));
  ASSERT_EQ(existing.status, 202) << existing.body;
  auto ex_heads = branches("api-existing");
  EXPECT_EQ(ex_heads.size(), 3u);  // master + main + stable

  // Without a Gerrit binding the flag is an error.
  json::object local = json::parse(project_body("apilocal", "x")).as_object();
  local["repository"] = json::object{{"local_git", json::object{{"path", "/tmp"}}}};
  auto no_gerrit = serve.call("POST", "/api/v1/projects", json::serialize(local));
  EXPECT_EQ(no_gerrit.status, 400) << no_gerrit.body;
}

TEST_F(GerritSetup, ApiWrongPasswordAnswers502AndCreatesNoProject) {
  testing::TempDir dir;
  Serve serve(dir.path() + "/data", peer_->http_url(), "wrong");
  ASSERT_TRUE(serve.start_error().empty()) << serve.start_error();

  auto created = serve.call("POST", "/api/v1/projects", project_body("apibad", "api/bad"));
  EXPECT_EQ(created.status, 502) << created.body;
  auto error = json::parse(created.body).at("error").as_object();
  EXPECT_EQ(error.at("code").as_string(), "gerrit_setup_failed");
  const std::string message(error.at("message").as_string());
  EXPECT_NE(message.find("HTTP 401"), std::string::npos) << message;
  EXPECT_NE(message.find("--gerrit-http-password"), std::string::npos) << message;
  EXPECT_EQ(error.at("details").at("gerrit_status").as_int64(), 401);

  EXPECT_EQ(serve.call("GET", "/api/v1/projects/apibad").status, 404);
  EXPECT_TRUE(gerrit_get("/a/projects/api%2Fbad").is_null());
}

}  // namespace
}  // namespace wharf::gerrit
