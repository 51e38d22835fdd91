#pragma once
// A real Kubernetes control plane for a test binary
// (tests/peers/kubernetes-real: kube-apiserver, controller-manager, scheduler,
// etcd and a kwok node, built by its fetch script). Started in a temp
// directory of its own on first use, stopped at exit (and by cluster.py's
// watchdog if the test binary dies). connect() is the one place tests hand
// wharf the cluster's address and credentials.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "adapters/http/http_client.h"
#include "tests/test_paths.h"

namespace wharf::testing {

class KubernetesCluster {
 public:
  // `apiserver_args`: extra kube-apiserver flags (e.g. a watch cache off).
  explicit KubernetesCluster(const std::vector<std::string>& apiserver_args = {}) {
    char pattern[] = "/tmp/wharf-k8s-XXXXXX";
    if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = pattern;
    std::vector<std::string> args{"start", "--dir", dir_, "--owner", std::to_string(getpid())};
    for (const auto& a : apiserver_args) args.push_back("--apiserver-arg=" + a);
    const std::string out = run(args, true);
    std::error_code ec;
    auto parsed = boost::json::parse(out, ec);
    if (ec || !parsed.is_object()) {
      throw std::runtime_error("the Kubernetes control plane did not start (" + script() +
                               "; run tests/peers/kubernetes-real/fetch first): " + out);
    }
    const auto& o = parsed.as_object();
    auto str = [&](const char* key) { return std::string(o.at(key).as_string()); };
    url_ = str("url");
    ca_file_ = str("ca_file");
    admin_token_ = str("admin_token");
    token_ = str("token");
    outsider_token_ = str("outsider_token");
    reader_token_ = str("reader_token");
    log_file_ = str("log_file");
    kubeconfig_ = str("kubeconfig");
    admin_kubeconfig_ = str("admin_kubeconfig");
    node_ = str("node");
    version_ = str("server_version");
    bin_dir_ = str("bin_dir");
    audit_log_ = str("audit_log");
    etcd_url_ = str("etcd_url");
    for (const char* name : {"client", "expired", "stranger"}) {
      client_certs_[name] = {str((std::string(name) + "_cert").c_str()),
                             str((std::string(name) + "_key").c_str())};
    }
  }
  ~KubernetesCluster() {
    try {
      run({"stop", "--dir", dir_}, false);
      std::filesystem::remove_all(dir_);
    } catch (...) {
    }
  }
  KubernetesCluster(const KubernetesCluster&) = delete;
  KubernetesCluster& operator=(const KubernetesCluster&) = delete;

  const std::string& url() const { return url_; }
  const std::string& ca_file() const { return ca_file_; }
  // The limited test token (RBAC: what wharf needs in namespace default).
  const std::string& token() const { return token_; }
  // Authenticated, no rights: every call is a 403.
  const std::string& outsider_token() const { return outsider_token_; }
  // May read deployments, pods and pod logs, but not exec.
  const std::string& reader_token() const { return reader_token_; }
  const std::string& admin_token() const { return admin_token_; }
  const std::string& version() const { return version_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& admin_kubeconfig() const { return admin_kubeconfig_; }
  const std::string& bin_dir() const { return bin_dir_; }

  // PEM files of a client certificate of user "wharf-cert" (group
  // wharf-deployers: the limited token's rights): "client" (signed by the
  // cluster's CA, the --client-ca-file), "expired" (the same CA, expired
  // yesterday), "stranger" (a CA the cluster does not know).
  struct CertFiles {
    std::string cert, key;
  };
  const CertFiles& client_cert(const std::string& which = "client") const {
    return client_certs_.at(which);
  }

  // Registers this cluster as target `name` with `targets`: anything with
  // kubernetes(name, url, ca_file, token) — TestTargets
  // (tests/targets/test_targets.h) for adapter tests, ServerTargets
  // (tests/targets/server_targets.h) for a running server. The bearer token
  // is the limited one and the CA the cluster's unless given. Environments
  // then name the target (target_ref); no test puts the cluster's URL or
  // token into settings.
  template <class Targets>
  void connect(Targets&& targets, const std::string& name, const std::string& token = {},
               const std::string& ca_file = {}) const {
    targets.kubernetes(name, url_, ca_file.empty() ? ca_file_ : ca_file,
                       token.empty() ? token_ : token);
  }

  // Registers this cluster as target `name` with the client certificate
  // `which` (client_cert()): targets.kubernetes_client_cert(name, url,
  // ca_file, cert PEM, key PEM).
  template <class Targets>
  void connect_with_cert(Targets&& targets, const std::string& name,
                         const std::string& which = "client") const {
    const auto& files = client_cert(which);
    targets.kubernetes_client_cert(name, url_, ca_file_, read_file(files.cert),
                                   read_file(files.key));
  }
  static std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.empty()) throw std::runtime_error("cannot read " + path);
    return text;
  }

  // A call with the admin token (test set-up and assertions); throws when no answer came.
  http_client::Response admin(const std::string& method, const std::string& path,
                              const std::string& body = {},
                              const std::string& content_type = "application/json") const {
    http_client::Request req;
    req.method = method;
    req.url = url_ + path;
    req.headers = {{"Authorization", "Bearer " + admin_token_}, {"Accept", "application/json"}};
    if (!body.empty()) req.headers.emplace_back("Content-Type", content_type);
    req.body = body;
    req.ca_file = ca_file_;
    auto r = http_client::send(req);
    if (!r) throw std::runtime_error(method + " " + path + ": " + r.error());
    return std::move(*r);
  }
  // GET as admin: the object, or nullopt on 404; other statuses throw.
  std::optional<boost::json::object> find(const std::string& path) const {
    auto r = admin("GET", path);
    if (r.status == 404) return std::nullopt;
    if (r.status != 200) throw std::runtime_error("GET " + path + ": " + http_client::describe(r));
    return boost::json::parse(r.body).as_object();
  }
  boost::json::object get(const std::string& path) const {
    auto o = find(path);
    if (!o) throw std::runtime_error("GET " + path + ": not found");
    return std::move(*o);
  }
  static std::string deployment_path(const std::string& name) {
    return "/apis/apps/v1/namespaces/default/deployments/" + name;
  }
  boost::json::object deployment(const std::string& name) const {
    return get(deployment_path(name));
  }
  // The first container's image of a Deployment object, and of one by name.
  static std::string first_image(const boost::json::object& deployment) {
    return std::string(deployment.at("spec")
                           .at("template")
                           .at("spec")
                           .at("containers")
                           .at(0)
                           .at("image")
                           .as_string());
  }
  std::string image(const std::string& name) const { return first_image(deployment(name)); }
  // POST an object into `collection` as admin; throws unless created.
  void create(const std::string& collection, const boost::json::object& object) const {
    auto r = admin("POST", collection, boost::json::serialize(object));
    if (r.status != 201)
      throw std::runtime_error("POST " + collection + ": " + http_client::describe(r));
  }
  void patch(const std::string& path, const boost::json::object& body,
             const std::string& content_type = "application/strategic-merge-patch+json") const {
    auto r = admin("PATCH", path, boost::json::serialize(body), content_type);
    if (r.status != 200)
      throw std::runtime_error("PATCH " + path + ": " + http_client::describe(r));
  }

  struct DeploymentOptions {
    int replicas = 2;
    int progress_deadline_s = 600;
    bool sidecar = false;  // a second container "envoy" (envoy:1)
    std::string container = "app";
  };
  // Creates a Deployment (pods labelled app=<name>, container "app") and
  // waits until it is rolled out.
  void create_deployment(const std::string& name, const std::string& image,
                         DeploymentOptions options) const {
    namespace json = boost::json;
    json::array containers{json::object{{"name", options.container}, {"image", image}}};
    if (options.sidecar)
      containers.push_back(json::object{{"name", "envoy"}, {"image", "envoy:1"}});
    json::object labels{{"app", name}};
    create("/apis/apps/v1/namespaces/default/deployments",
           json::object{
               {"apiVersion", "apps/v1"},
               {"kind", "Deployment"},
               {"metadata", json::object{{"name", name}, {"labels", labels}}},
               {"spec",
                json::object{{"replicas", options.replicas},
                             {"progressDeadlineSeconds", options.progress_deadline_s},
                             {"selector", json::object{{"matchLabels", labels}}},
                             {"template",
                              json::object{{"metadata", json::object{{"labels", labels}}},
                                           {"spec", json::object{{"containers", containers}}}}}}}});
    if (!rolled_out(name, std::chrono::seconds(60)))
      throw std::runtime_error("deployment " + name + " did not roll out");
  }
  void create_deployment(const std::string& name, const std::string& image) const {
    create_deployment(name, image, DeploymentOptions{});
  }
  // A Service selecting app=<name> (port 80) and an Ingress routing to it.
  void create_service_and_ingress(const std::string& name) const {
    namespace json = boost::json;
    create(
        "/api/v1/namespaces/default/services",
        json::object{{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", json::object{{"name", name}}},
                     {"spec", json::object{{"selector", json::object{{"app", name}}},
                                           {"ports", json::array{json::object{
                                                         {"port", 80}, {"targetPort", 8080}}}}}}});
    json::object backend{
        {"service", json::object{{"name", name}, {"port", json::object{{"number", 80}}}}}};
    json::object path{{"path", "/"}, {"pathType", "Prefix"}, {"backend", backend}};
    create(
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        json::object{
            {"apiVersion", "networking.k8s.io/v1"},
            {"kind", "Ingress"},
            {"metadata",
             json::object{{"name", name},
                          {"annotations", json::object{{"kubernetes.io/ingress.class", "nginx"}}}}},
            {"spec",
             json::object{{"rules", json::array{json::object{
                                        {"host", name + ".example"},
                                        {"http", json::object{{"paths", json::array{path}}}}}}}}}});
  }
  // The Deployment's rollout is complete (kubectl's rule, as observed here).
  bool rolled_out(const std::string& name, std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto d = find(deployment_path(name));
      if (d) {
        auto n = [&](const char* part, const char* key) -> int64_t {
          auto* v = (*d)[part].as_object().if_contains(key);
          return v && v->is_int64() ? v->as_int64() : 0;
        };
        const int64_t wanted = n("spec", "replicas");
        if (n("status", "observedGeneration") >= n("metadata", "generation") &&
            n("status", "updatedReplicas") == wanted && n("status", "replicas") == wanted &&
            n("status", "availableReplicas") == wanted)
          return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Cordons (or uncordons) the node: new pods stay Pending, so a rollout waits.
  void cordon(bool on) const {
    patch("/api/v1/nodes/" + node_,
          boost::json::object{{"spec", boost::json::object{{"unschedulable", on}}}});
  }
  // A ServiceAccount `name` in namespace default with the rights the limited
  // token has (ClusterRole wharf-deployer) and a fresh token of it (the
  // TokenRequest API, one hour): a credential nobody else knows, which the
  // apiserver refuses (401) once delete_service_account(name) ran.
  std::string service_account_token(const std::string& name) const {
    namespace json = boost::json;
    create("/api/v1/namespaces/default/serviceaccounts",
           json::object{{"apiVersion", "v1"},
                        {"kind", "ServiceAccount"},
                        {"metadata", json::object{{"name", name}}}});
    create("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
           json::object{{"apiVersion", "rbac.authorization.k8s.io/v1"},
                        {"kind", "RoleBinding"},
                        {"metadata", json::object{{"name", name}}},
                        {"roleRef", json::object{{"apiGroup", "rbac.authorization.k8s.io"},
                                                 {"kind", "ClusterRole"},
                                                 {"name", "wharf-deployer"}}},
                        {"subjects", json::array{json::object{{"kind", "ServiceAccount"},
                                                              {"name", name},
                                                              {"namespace", "default"}}}}});
    auto r =
        admin("POST", "/api/v1/namespaces/default/serviceaccounts/" + name + "/token",
              json::serialize(json::object{{"apiVersion", "authentication.k8s.io/v1"},
                                           {"kind", "TokenRequest"},
                                           {"spec", json::object{{"expirationSeconds", 3600}}}}));
    if (r.status != 201)
      throw std::runtime_error("token of " + name + ": " + http_client::describe(r));
    return std::string(json::parse(r.body).at("status").at("token").as_string());
  }
  void delete_service_account(const std::string& name) const {
    auto r = admin("DELETE", "/api/v1/namespaces/default/serviceaccounts/" + name);
    if (r.status != 200)
      throw std::runtime_error("DELETE serviceaccount " + name + ": " + http_client::describe(r));
  }
  // The answer's status to a GET of Deployment `name` with `token`.
  int status_with(const std::string& token, const std::string& name) const {
    http_client::Request req;
    req.url = url_ + deployment_path(name);
    req.headers = {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}};
    req.ca_file = ca_file_;
    auto r = http_client::send(req);
    return r ? r->status : 0;
  }
  // The requests the apiserver's audit log holds (writes to deployments,
  // services and ingresses; pods/exec) made with `user`'s token on object
  // `name` of `resource` ("deployments", "pods/exec"), with `verb` (any when
  // empty) and answer `code` (any when 0): their request URIs.
  std::vector<std::string> audited(const std::string& verb, const std::string& resource,
                                   const std::string& name, int code = 0,
                                   const std::string& user = "wharf") const {
    std::ifstream in(audit_log_);
    std::vector<std::string> uris;
    std::set<std::string> seen;  // a long-running request (exec) has several stages
    for (std::string line; std::getline(in, line);) {
      std::error_code ec;
      auto e = boost::json::parse(line, ec);
      if (ec || !e.is_object()) continue;
      const auto& o = e.as_object();
      auto at = [&](const char* a, const char* b) -> std::string {
        auto* x = o.if_contains(a);
        if (!x || !x->is_object()) return {};
        auto* y = x->as_object().if_contains(b);
        return y && y->is_string() ? std::string(y->as_string()) : std::string();
      };
      std::string what = at("objectRef", "resource");
      if (const std::string sub = at("objectRef", "subresource"); !sub.empty()) what += "/" + sub;
      if ((!verb.empty() && o.at("verb").as_string() != verb) || at("user", "username") != user ||
          what != resource || at("objectRef", "name") != name)
        continue;
      if (code != 0) {
        auto* status = o.if_contains("responseStatus");
        if (!status || !status->is_object() ||
            status->as_object().at("code").to_number<int>() != code)
          continue;
      }
      if (!seen.insert(std::string(o.at("auditID").as_string())).second) continue;
      uris.emplace_back(o.at("requestURI").as_string());
    }
    return uris;
  }
  // How many `verb` requests wharf's token made on `resource` `name` (answered `code`).
  int writes(const std::string& verb, const std::string& resource, const std::string& name,
             int code = 0) const {
    return static_cast<int>(audited(verb, resource, name, code).size());
  }
  // The names of the running pods labelled app=<app>, sorted.
  std::vector<std::string> running_pods(const std::string& app) const {
    auto list = get("/api/v1/namespaces/default/pods?labelSelector=app%3D" + app);
    std::vector<std::string> names;
    for (const auto& item : list["items"].as_array()) {
      if (item.at("status").as_object().if_contains("phase") &&
          item.at("status").at("phase").as_string() == "Running")
        names.emplace_back(item.at("metadata").at("name").as_string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  // Compacts etcd's history up to now (what etcd does every few minutes on a
  // real cluster): resourceVersions before it cannot be watched from etcd.
  void compact() const {
    http_client::Request req;
    req.method = "POST";
    req.url = etcd_url_ + "/v3/kv/range";
    req.body = R"({"key":"AA=="})";
    auto now = http_client::send(req);
    if (!now || now->status != 200) throw std::runtime_error("etcd: no revision");
    const std::string revision(
        boost::json::parse(now->body).at("header").at("revision").as_string());
    req.url = etcd_url_ + "/v3/kv/compaction";
    req.body = R"({"revision":")" + revision + R"(","physical":true})";
    auto done = http_client::send(req);
    if (!done || done->status != 200) throw std::runtime_error("etcd: compaction failed");
  }
  // Appends lines to every container's log (kwok serves it, CRI format, followed).
  void append_log(const std::vector<std::string>& lines) const {
    std::ofstream out(log_file_, std::ios::app);
    for (const auto& line : lines)
      out << "2026-01-01T00:00:00.000000000Z stdout F " << line << "\n";
  }

 private:
  static std::string script() {
    return std::string(WHARF_SOURCE_DIR) + "/tests/peers/kubernetes-real/cluster.py";
  }
  // Runs cluster.py; returns its stdout (stderr too when `merge`).
  static std::string run(std::vector<std::string> args, bool merge) {
    std::vector<std::string> argv{"python3", script()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c_argv;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(out[1], 1);
      if (merge) dup2(out[1], 2);
      close(out[0]);
      close(out[1]);
      execvp("python3", c_argv.data());
      _exit(127);
    }
    close(out[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, n);
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    // The JSON line is the last line when it started.
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      auto end = text.find_last_not_of('\n');
      auto start = text.rfind('\n', end);
      return text.substr(start == std::string::npos ? 0 : start + 1);
    }
    return text;
  }

  std::string dir_, url_, ca_file_, admin_token_, token_, outsider_token_, reader_token_, log_file_,
      kubeconfig_, admin_kubeconfig_, node_, version_, bin_dir_, audit_log_, etcd_url_;
  std::map<std::string, CertFiles> client_certs_;
};

// The cluster of this test binary: started on first use.
inline KubernetesCluster& kubernetes_cluster() {
  static KubernetesCluster cluster;
  return cluster;
}

}  // namespace wharf::testing
