// The Kubernetes deploy target against a real control plane
// (tests/peers/kubernetes_cluster.h: kube-apiserver, controller-manager,
// scheduler, etcd and a kwok node; one per test binary): the PATCH, the
// rollout rule on real controller status, the progress deadline, RBAC, a
// conflicting change, and a pipeline with a rollback.
#include "adapters/kubernetes/deploy_target.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <future>

#include "adapters/http/http_client.h"
#include "adapters/kubernetes/deployment_watch.h"
#include "adapters/kubernetes/pod_logs.h"
#include "adapters/runtime/runtime.h"
#include "tests/peers/kubernetes_cluster.h"
#include "tests/runtime/e2e_support.h"
#include "tests/targets/test_targets.h"

namespace wharf::kubernetes {
namespace {

namespace json = boost::json;
using wharf::testing::KubernetesCluster;

// Deployments are watched straight from etcd (no watch cache), so an etcd
// compaction expires resourceVersions the way it does on a long-lived cluster.
const KubernetesCluster& cluster() {
  static KubernetesCluster c({"--watch-cache-sizes=deployments.apps#0"});
  return c;
}

// The cluster registered as targets: "k8s" (the limited token), "k8s-wrong"
// (a token it does not know), "k8s-outsider" (authenticated, no rights) and
// "k8s-untrusted" (a CA that did not sign the server's certificate).
targets::testing::TestTargets& clusters() {
  static targets::testing::TestTargets t;
  static const bool registered = [] {
    cluster().connect(t, "k8s");
    cluster().connect(t, "k8s-wrong", "wrong");
    cluster().connect(t, "k8s-outsider", cluster().outsider_token());
    cluster().connect(t, "k8s-untrusted", {}, "/etc/ssl/certs/ca-certificates.crt");
    return true;
  }();
  (void)registered;
  return t;
}

// The cluster registered with client certificates of user wharf-cert:
// "k8s-cert" (signed by the cluster's --client-ca-file CA), and
// "k8s-cert-stranger" (signed by a CA the cluster does not know).
targets::testing::TestTargets& cert_clusters() {
  static targets::testing::TestTargets t;
  static const bool registered = [] {
    cluster().connect_with_cert(t, "k8s-cert");
    cluster().connect_with_cert(t, "k8s-cert-stranger", "stranger");
    return true;
  }();
  (void)registered;
  return t;
}

// The cluster as wharf reads it for an environment naming target "k8s".
ClusterTarget target_of(const std::string& deployment) {
  return cluster_of_settings({{"deployment", deployment}}, "k8s", clusters()).value();
}

std::string image_of(const std::string& deployment, size_t container = 0) {
  auto d = cluster().deployment(deployment);
  return std::string(d["spec"]
                         .at("template")
                         .at("spec")
                         .at("containers")
                         .as_array()
                         .at(container)
                         .at("image")
                         .as_string());
}

engine::DeployJob job(const std::string& deployment, const std::string& version,
                      const std::string& target = "k8s") {
  engine::DeployJob j;
  j.deploy_id = "d-" + deployment + "-" + version;
  j.project_id = "web";
  j.environment = "prod";
  j.attempt = 1;
  j.spec.set_version(version);
  j.spec.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  (*j.spec.mutable_config())["GREETING"] = "hello";
  j.spec.set_target_ref(target);
  auto& s = *j.spec.mutable_target_settings();
  s["deployment"] = deployment;
  s["container"] = "app";
  s["image"] = "registry.example/web:{version}";
  s["url"] = "https://web.example";
  s["rollout_timeout_s"] = "30";
  return j;
}

struct Result {
  engine::DeployOutcome outcome;
  std::vector<std::string> progress;
};

Result deploy(KubernetesDeployTarget& target, const engine::DeployJob& j) {
  auto promise = std::make_shared<std::promise<engine::DeployOutcome>>();
  auto progress = std::make_shared<std::vector<std::string>>();
  auto mutex = std::make_shared<std::mutex>();
  target.start(j, {[progress, mutex](const engine::StepProgress& p) {
                     std::lock_guard lock(*mutex);
                     progress->push_back(p.message);
                   },
                   [promise](const engine::DeployOutcome& o) { promise->set_value(o); }});
  auto future = promise->get_future();
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    throw std::runtime_error("no deploy outcome within 60 s");
  }
  std::lock_guard lock(*mutex);
  return {future.get(), *progress};
}

TEST(KubernetesDeployTarget, PatchesTheImageAndWaitsForTheRollout) {
  cluster().create_deployment("web-a", "registry.example/web:1.0.0",
                              {.replicas = 3, .sidecar = true});
  const int64_t generation = cluster().deployment("web-a")["metadata"].at("generation").as_int64();
  KubernetesDeployTarget target(clusters(), std::chrono::milliseconds(50));
  const Result r = deploy(target, job("web-a", "1.1.0"));
  ASSERT_TRUE(r.outcome.succeeded) << r.outcome.reason;
  EXPECT_EQ(r.outcome.url, "https://web.example");
  auto d = cluster().deployment("web-a");
  const auto& containers = d["spec"].at("template").at("spec").at("containers").as_array();
  ASSERT_EQ(containers.size(), 2u);  // the sidecar survived the strategic merge
  EXPECT_EQ(containers[0].at("image").as_string(), "registry.example/web:1.1.0");
  EXPECT_EQ(containers[0].at("env").at(0).at("name").as_string(), "GREETING");
  EXPECT_EQ(containers[1].at("image").as_string(), "envoy:1");
  // One PATCH, one new generation, and the controllers finished it before wharf said so.
  EXPECT_EQ(cluster().writes("patch", "deployments", "web-a", 200), 1);
  EXPECT_EQ(d["metadata"].at("generation").as_int64(), generation + 1);
  EXPECT_EQ(d["status"].at("observedGeneration").as_int64(), generation + 1);
  EXPECT_EQ(d["status"].at("updatedReplicas").as_int64(), 3);
  EXPECT_EQ(d["status"].at("availableReplicas").as_int64(), 3);
  EXPECT_EQ(d["status"].at("replicas").as_int64(), 3);
  // The rollout was watched, not assumed.
  bool saw_waiting = false;
  for (const auto& m : r.progress)
    saw_waiting |=
        m.find("replicas") != std::string::npos || m.find("observed") != std::string::npos;
  EXPECT_TRUE(saw_waiting);
}

// wharf restarted mid-rollout: the Deployment already carries the deploy's
// key, so the repeated start only watches (one PATCH in the audit log).
TEST(KubernetesDeployTarget, ARepeatedStartMidRolloutWatchesWithoutPatchingAgain) {
  cluster().create_deployment("web-b", "registry.example/web:1.0.0");
  cluster().cordon(true);  // the new pods cannot be scheduled: the rollout waits
  {
    KubernetesDeployTarget first(clusters(), std::chrono::milliseconds(50));
    auto outcome = std::make_shared<std::promise<engine::DeployOutcome>>();
    first.start(job("web-b", "2.0.0"),
                {[](const engine::StepProgress&) {},
                 [outcome](const engine::DeployOutcome& o) { outcome->set_value(o); }});
    ASSERT_TRUE(runtime::testing::eventually(
        [&] { return image_of("web-b") == "registry.example/web:2.0.0"; },
        std::chrono::seconds(30)));
    // The first target goes away mid-rollout without an outcome (wharf stopping).
  }
  EXPECT_FALSE(cluster().rolled_out("web-b", std::chrono::seconds(1)));
  cluster().cordon(false);
  KubernetesDeployTarget after_restart(clusters(), std::chrono::milliseconds(50));
  const Result again = deploy(after_restart, job("web-b", "2.0.0"));
  EXPECT_TRUE(again.outcome.succeeded) << again.outcome.reason;
  ASSERT_FALSE(again.progress.empty());
  EXPECT_NE(again.progress[0].find("already patched"), std::string::npos) << again.progress[0];
  EXPECT_EQ(cluster().writes("patch", "deployments", "web-b"), 1);
  EXPECT_TRUE(cluster().rolled_out("web-b", std::chrono::seconds(1)));
}

// Pods that never become ready: the Deployment controller's progress
// deadline ends the deploy with its own condition message.
TEST(KubernetesDeployTarget, ProgressDeadlineExceededFailsTheDeployWithTheControllersMessage) {
  cluster().create_deployment("web-c", "registry.example/web:1.0.0",
                              {.replicas = 2, .progress_deadline_s = 2});
  KubernetesDeployTarget target(clusters(), std::chrono::milliseconds(50));
  const Result r = deploy(target, job("web-c", "crashloop"));  // kwok: never ready
  EXPECT_FALSE(r.outcome.succeeded);
  EXPECT_NE(r.outcome.reason.find("deployment \"web-c\" exceeded its progress deadline: "
                                  "ReplicaSet \"web-c-"),
            std::string::npos)
      << r.outcome.reason;
  EXPECT_NE(r.outcome.reason.find("has timed out progressing"), std::string::npos)
      << r.outcome.reason;
  // The old pods still serve: maxUnavailable 25% of 2 rounds down to 0.
  EXPECT_EQ(cluster().deployment("web-c")["status"].at("availableReplicas").as_int64(), 2);
}

TEST(KubernetesDeployTarget, AWrongTokenRbacOrAMissingDeploymentIsAClearFailure) {
  KubernetesDeployTarget target(clusters(), std::chrono::milliseconds(50));
  cluster().create_deployment("web-d", "registry.example/web:1.0.0");
  const Result unauthorized = deploy(target, job("web-d", "1.0.1", "k8s-wrong"));
  EXPECT_FALSE(unauthorized.outcome.succeeded);
  EXPECT_EQ(unauthorized.outcome.reason, "GET deployment default/web-d: HTTP 401: Unauthorized");

  // Authenticated, but RBAC grants this user nothing.
  const Result forbidden = deploy(target, job("web-d", "1.0.1", "k8s-outsider"));
  EXPECT_FALSE(forbidden.outcome.succeeded);
  EXPECT_NE(forbidden.outcome.reason.find(
                "HTTP 403: deployments.apps \"web-d\" is forbidden: User \"outsider\" cannot get "
                "resource \"deployments\" in API group \"apps\" in the namespace \"default\""),
            std::string::npos)
      << forbidden.outcome.reason;

  // The limited token: its RoleBinding is in namespace default only.
  auto elsewhere = job("web-d", "1.0.1");
  (*elsewhere.spec.mutable_target_settings())["namespace"] = "kube-system";
  const Result other_namespace = deploy(target, elsewhere);
  EXPECT_FALSE(other_namespace.outcome.succeeded);
  EXPECT_NE(other_namespace.outcome.reason.find("HTTP 403: deployments.apps \"web-d\" is "
                                                "forbidden: User \"wharf\" cannot get"),
            std::string::npos)
      << other_namespace.outcome.reason;
  EXPECT_EQ(cluster().writes("patch", "deployments", "web-d"), 0);

  const Result missing = deploy(target, job("no-such-deployment", "1.0.0"));
  EXPECT_FALSE(missing.outcome.succeeded);
  EXPECT_NE(
      missing.outcome.reason.find("HTTP 404: deployments.apps \"no-such-deployment\" not found"),
      std::string::npos)
      << missing.outcome.reason;

  // No target named, or one nobody registered: nothing is called.
  auto incomplete = job("web-d", "1.0.2");
  incomplete.spec.clear_target_ref();
  const Result no_target = deploy(target, incomplete);
  EXPECT_FALSE(no_target.outcome.succeeded);
  EXPECT_EQ(no_target.outcome.reason,
            "kubernetes environment names no target: set its target_ref to a registered cluster "
            "(docs/targets.md)");
  const Result unknown = deploy(target, job("web-d", "1.0.2", "nowhere"));
  EXPECT_FALSE(unknown.outcome.succeeded);
  EXPECT_NE(unknown.outcome.reason.find("\"nowhere\""), std::string::npos)
      << unknown.outcome.reason;
  // Settings cannot point the deploy elsewhere: the target's URL, CA and
  // token are the registry's (a stray api_url or ca_file is not read).
  auto stray = job("web-d", "1.0.2");
  (*stray.spec.mutable_target_settings())["api_url"] = "https://127.0.0.1:1";
  (*stray.spec.mutable_target_settings())["ca_file"] = "/etc/ssl/certs/ca-certificates.crt";
  const Result ignored = deploy(target, stray);
  EXPECT_TRUE(ignored.outcome.succeeded) << ignored.outcome.reason;

  // A CA that did not sign the server's certificate: no answer, nothing sent.
  const Result tls = deploy(target, job("web-d", "1.0.3", "k8s-untrusted"));
  EXPECT_FALSE(tls.outcome.succeeded);
  EXPECT_NE(tls.outcome.reason.find("certificate verify failed"), std::string::npos)
      << tls.outcome.reason;
}

// A client_cert target: wharf presents the certificate in the TLS handshake
// and sends no token; the apiserver's audit log shows the PATCH made as the
// certificate's user (CN wharf-cert, group wharf-deployers by its O).
TEST(KubernetesClientCertificate, TheDeployPatchesAsTheCertificatesUser) {
  cluster().create_deployment("web-cert", "registry.example/web:1.0.0");
  KubernetesDeployTarget target(cert_clusters(), std::chrono::milliseconds(50));
  const Result r = deploy(target, job("web-cert", "1.1.0", "k8s-cert"));
  ASSERT_TRUE(r.outcome.succeeded) << r.outcome.reason;
  EXPECT_EQ(image_of("web-cert"), "registry.example/web:1.1.0");
  EXPECT_EQ(cluster().audited("patch", "deployments", "web-cert", 200, "wharf-cert").size(), 1u);
  EXPECT_EQ(cluster().writes("patch", "deployments", "web-cert"), 0);  // not as the token's user
  // The probe authenticates the same way.
  auto probe = probe_cluster(cert_clusters().resolve("k8s-cert").value());
  EXPECT_TRUE(probe.reachable) << probe.error;
  EXPECT_EQ(probe.server_version, cluster().version());
}

// A certificate from a CA the cluster does not know: the apiserver answers
// 401 and the failure names the certificate. An expired one, a key that is
// not the certificate's, or text that is no PEM: refused before any call,
// saying which.
TEST(KubernetesClientCertificate, AWrongOrExpiredCertificateIsAPreciseError) {
  cluster().create_deployment("web-cert-bad", "registry.example/web:1.0.0");
  KubernetesDeployTarget target(cert_clusters(), std::chrono::milliseconds(50));
  const Result stranger = deploy(target, job("web-cert-bad", "1.0.1", "k8s-cert-stranger"));
  EXPECT_FALSE(stranger.outcome.succeeded);
  EXPECT_NE(stranger.outcome.reason.find(
                "GET deployment default/web-cert-bad: HTTP 401: Unauthorized (the cluster did "
                "not accept the client certificate CN=wharf-cert,O=wharf-deployers (issued by "
                "CN=stranger-ca, valid until "),
            std::string::npos)
      << stranger.outcome.reason;
  EXPECT_NE(stranger.outcome.reason.find("is it signed by the CA of the API server's "
                                         "--client-ca-file?)"),
            std::string::npos)
      << stranger.outcome.reason;

  const auto& expired = cluster().client_cert("expired");
  const std::string expired_cert = KubernetesCluster::read_file(expired.cert);
  const std::string expired_key = KubernetesCluster::read_file(expired.key);
  const std::string good_cert = KubernetesCluster::read_file(cluster().client_cert().cert);
  auto refused = targets::check_credential(wharf::v1::CREDENTIAL_KIND_CLIENT_CERT,
                                           {{"cert", expired_cert}, {"key", expired_key}});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("the client certificate CN=wharf-cert,O=wharf-deployers (issued "
                                 "by CN=wharf-test-ca) expired on "),
            std::string::npos)
      << refused.error();
  auto wrong_key = targets::check_credential(wharf::v1::CREDENTIAL_KIND_CLIENT_CERT,
                                             {{"cert", good_cert}, {"key", expired_key}});
  ASSERT_FALSE(wrong_key);
  EXPECT_EQ(wrong_key.error(),
            "the private key does not belong to the client certificate "
            "CN=wharf-cert,O=wharf-deployers (issued by CN=wharf-test-ca)");
  auto not_pem = targets::check_credential(wharf::v1::CREDENTIAL_KIND_CLIENT_CERT,
                                           {{"cert", "hello"}, {"key", expired_key}});
  ASSERT_FALSE(not_pem);
  EXPECT_EQ(not_pem.error(), "the client certificate is not a PEM certificate");

  // Sealed anyway (by reference, or it expired since): the deploy fails
  // before calling the cluster, naming the target.
  targets::testing::TestTargets sealed;
  wharf::v1::TargetSpec spec;
  spec.set_name("k8s-cert-expired");
  spec.set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
  spec.set_url(cluster().url());
  spec.set_ca_file(cluster().ca_file());
  spec.set_credential(wharf::v1::CREDENTIAL_KIND_CLIENT_CERT);
  sealed.add(spec, {{"cert_file", expired.cert}, {"key_file", expired.key}});
  KubernetesDeployTarget with_expired(sealed, std::chrono::milliseconds(50));
  const Result late = deploy(with_expired, job("web-cert-bad", "1.0.2", "k8s-cert-expired"));
  EXPECT_FALSE(late.outcome.succeeded);
  EXPECT_NE(late.outcome.reason.find("target k8s-cert-expired: the client certificate "
                                     "CN=wharf-cert,O=wharf-deployers (issued by "
                                     "CN=wharf-test-ca) expired on "),
            std::string::npos)
      << late.outcome.reason;
  EXPECT_TRUE(cluster().audited("", "deployments", "web-cert-bad", 0, "wharf-cert").empty());
  EXPECT_EQ(image_of("web-cert-bad"), "registry.example/web:1.0.0");
}

// An in-cluster service account: the token, ca.crt and namespace are read
// from the mounted directory (here a temp dir standing in for
// /var/run/secrets/kubernetes.io/serviceaccount) at every resolve, so a
// rotated token (projected tokens are) is used by the next deploy.
TEST(KubernetesServiceAccount, ReadsTheMountedFilesAndTheRotatedToken) {
  cluster().create_deployment("web-sa", "registry.example/web:1.0.0");
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("wharf-sa-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir / (std::string(name) + ".tmp")) << text;
    std::filesystem::rename(dir / (std::string(name) + ".tmp"), dir / name);  // as kubelet: atomic
  };
  write("token", cluster().service_account_token("wharf-sa-1") + "\n");
  write("ca.crt", KubernetesCluster::read_file(cluster().ca_file()));
  write("namespace", "default");

  targets::testing::TestTargets in_cluster(dir);  // as serve/worker --service-account-dir
  wharf::v1::TargetSpec spec;
  spec.set_name("k8s-in-cluster");
  spec.set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
  spec.set_url(cluster().url());  // no ca_file: the mounted ca.crt
  spec.set_credential(wharf::v1::CREDENTIAL_KIND_SERVICE_ACCOUNT);
  in_cluster.add(spec, {});
  auto resolved = in_cluster.resolve("k8s-in-cluster");
  ASSERT_TRUE(resolved) << resolved.error();
  EXPECT_EQ(resolved->spec.ca_file(), (dir / "ca.crt").string());
  EXPECT_EQ(resolved->spec.default_namespace(), "default");

  KubernetesDeployTarget target(in_cluster, std::chrono::milliseconds(50));
  const Result first = deploy(target, job("web-sa", "1.1.0", "k8s-in-cluster"));
  ASSERT_TRUE(first.outcome.succeeded) << first.outcome.reason;
  EXPECT_EQ(cluster()
                .audited("patch", "deployments", "web-sa", 200,
                         "system:serviceaccount:default:wharf-sa-1")
                .size(),
            1u);

  // The token rotates (another account here, so the old one can be revoked
  // and the audit log tells them apart): the next deploy uses the new one.
  write("token", cluster().service_account_token("wharf-sa-2"));
  cluster().delete_service_account("wharf-sa-1");
  const Result second = deploy(target, job("web-sa", "1.2.0", "k8s-in-cluster"));
  ASSERT_TRUE(second.outcome.succeeded) << second.outcome.reason;
  EXPECT_EQ(cluster()
                .audited("patch", "deployments", "web-sa", 200,
                         "system:serviceaccount:default:wharf-sa-2")
                .size(),
            1u);

  // No token mounted: a clear failure naming the file.
  std::filesystem::remove(dir / "token");
  const Result none = deploy(target, job("web-sa", "1.3.0", "k8s-in-cluster"));
  EXPECT_FALSE(none.outcome.succeeded);
  EXPECT_EQ(none.outcome.reason,
            "target k8s-in-cluster (service account): cannot read a token from " +
                (dir / "token").string());
  std::filesystem::remove_all(dir);
}

// Someone else changes the Deployment between wharf's read and its PATCH:
// the PATCH carries the resourceVersion it read, the API server answers 409
// Conflict, and wharf reads the Deployment again and patches the new one
// (the other change survives the strategic merge).
TEST(KubernetesDeployTarget, AConflictingChangeIsA409AndWharfPatchesTheNewVersion) {
  cluster().create_deployment("web-e", "registry.example/web:1.0.0", {.sidecar = true});
  int changes = 0;
  KubernetesDeployTarget target(
      clusters(), std::chrono::milliseconds(50), [&](const std::string& name) {
        if (name != "web-e" || changes++ > 0) return;
        cluster().patch(
            KubernetesCluster::deployment_path("web-e"),
            json::object{
                {"spec",
                 json::object{
                     {"template",
                      json::object{
                          {"spec", json::object{{"containers", json::array{json::object{
                                                                   {"name", "envoy"},
                                                                   {"image", "envoy:2"}}}}}}}}}}});
      });
  const Result r = deploy(target, job("web-e", "3.0.0"));
  ASSERT_TRUE(r.outcome.succeeded) << r.outcome.reason;
  // At least the one the other change caused (the controller's status writes
  // during the rollout that change started can cost a few more).
  EXPECT_GE(cluster().writes("patch", "deployments", "web-e", 409), 1);
  EXPECT_EQ(cluster().writes("patch", "deployments", "web-e", 200), 1);
  EXPECT_EQ(image_of("web-e", 0), "registry.example/web:3.0.0");
  EXPECT_EQ(image_of("web-e", 1), "envoy:2");
  bool told = false;
  for (const auto& m : r.progress) told |= m.find("HTTP 409") != std::string::npos;
  EXPECT_TRUE(told);
}

// The watch under the rollout wait: the listed state first, then each change
// as the controllers make it, over one open watch.
TEST(DeploymentWatch, BringsTheListedStateThenEachChange) {
  cluster().create_deployment("web-w", "registry.example/web:1.0.0");
  const ClusterTarget t = target_of("web-w");
  DeploymentWatch watch(t, "web-w");
  auto first = watch.take(std::chrono::seconds(20));
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["metadata"].at("name").as_string(), "web-w");
  cluster().patch(KubernetesCluster::deployment_path("web-w"),
                  json::object{{"spec", json::object{{"replicas", 3}}}});
  int64_t available = 0;
  for (int i = 0; i < 100 && available != 3; ++i) {
    if (auto next = watch.take(std::chrono::milliseconds(200))) {
      auto* n = (*next)["status"].as_object().if_contains("availableReplicas");
      available = n && n->is_int64() ? n->as_int64() : 0;
    }
  }
  EXPECT_EQ(available, 3);
  EXPECT_EQ(watch.watches_opened(), 1);
  EXPECT_EQ(watch.relists(), 0);
}

// A watch from a resourceVersion etcd compacted away: the API server answers
// 410 Gone (an ERROR event, reason Expired), the watch lists again and goes on.
TEST(DeploymentWatch, RelistsOn410GoneAndGoesOn) {
  cluster().create_deployment("web-g", "registry.example/web:1.0.0");
  const std::string old_version = resource_version_of(cluster().deployment("web-g"));
  cluster().patch(KubernetesCluster::deployment_path("web-g"),
                  json::object{{"spec", json::object{{"replicas", 1}}}});
  ASSERT_TRUE(cluster().rolled_out("web-g", std::chrono::seconds(30)));
  cluster().compact();
  const ClusterTarget t = target_of("web-g");
  DeploymentWatch watch(t, "web-g", old_version);
  auto first = watch.take(std::chrono::seconds(20));
  ASSERT_TRUE(first);
  EXPECT_EQ(watch.relists(), 1);
  EXPECT_EQ((*first)["spec"].at("replicas").as_int64(), 1);  // the state now, from the list
  cluster().patch(KubernetesCluster::deployment_path("web-g"),
                  json::object{{"spec", json::object{{"replicas", 2}}}});
  int64_t replicas = 0;
  for (int i = 0; i < 100 && replicas != 2; ++i) {
    if (auto next = watch.take(std::chrono::milliseconds(200)))
      replicas = (*next)["spec"].at("replicas").as_int64();
  }
  EXPECT_EQ(replicas, 2);
  EXPECT_EQ(watch.watches_opened(), 2);  // the expired one, then one from the list
}

// The engine routes a Kubernetes environment's deploys here; a rollback
// replays the recorded spec, so the old image is patched back.
TEST(KubernetesPipeline, ARunDeploysToKubernetesAndARollbackPatchesTheOldImageBack) {
  using namespace wharf::runtime::testing;
  cluster().create_deployment("hello", "registry.example/hello:0.0.0");
  TempDir dir;
  const fs::path repo = dir.path() / "repo";
  const std::string first = make_hello_repo(repo);
  const std::string second = commit_version(repo, "2.0.0");
  auto store = open_store(dir.path() / "events", true);
  runtime::Runtime rt(
      *store, runtime::RuntimeOptions{.data_dir = dir.path() / "data", .targets = &clusters()});
  ASSERT_TRUE(rt.start());
  auto ctx = [&] { return rt.commands().user_context("alice", wharf::v1::CHANNEL_CLI); };

  engine::CreateProject project = hello_project("hello", repo);
  project.environments.resize(1);  // one environment: prod on Kubernetes
  wharf::v1::EnvironmentSpec& prod = project.environments[0];
  prod.set_name("prod");
  prod.set_target(wharf::v1::TARGET_TYPE_KUBERNETES);
  prod.clear_post_deploy_tests();
  prod.set_target_ref("k8s");
  auto& settings = *prod.mutable_settings();
  settings["deployment"] = "hello";
  settings["container"] = "app";
  settings["image"] = "registry.example/hello:{version}";
  ASSERT_TRUE(rt.commands().execute(project, ctx()));

  auto image = [&] { return image_of("hello"); };
  std::vector<std::string> images;
  for (const auto& sha : {first, second}) {
    auto commit = make_commit("hello", sha);
    ASSERT_TRUE(rt.commands().execute(commit, ctx()));
    const std::string run = engine::run_id_of(commit);
    ASSERT_TRUE(eventually(
        [&] {
          return run_completed(*store, run) ||
                 run_completed(*store, run, wharf::v1::RUN_OUTCOME_FAILED);
        },
        std::chrono::seconds(90)));
    ASSERT_TRUE(run_completed(*store, run)) << "run " << run << " failed";
    images.push_back(image());
  }
  // Each run's image is the one its recorded DeploySpec names.
  auto requested = events_of_type(*store, "DeployRequested");
  ASSERT_EQ(requested.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(images[i], "registry.example/hello:" +
                             requested[i].payload().deploy_requested().spec().version());
  }
  EXPECT_NE(images[0], images[1]);

  auto succeeded = events_of_type(*store, "DeploySucceeded");
  ASSERT_EQ(succeeded.size(), 2u);
  engine::RequestRollback rollback;
  rollback.project_id = "hello";
  rollback.environment = "prod";
  rollback.target_deploy_event_id = succeeded[0].event_id();
  rollback.reason = "2.0.0 breaks checkout";
  ASSERT_TRUE(rt.commands().execute(rollback, ctx()));
  ASSERT_TRUE(eventually([&] { return events_of_type(*store, "DeploySucceeded").size() == 3; },
                         std::chrono::seconds(60)));
  EXPECT_EQ(image(), images[0]);
  EXPECT_EQ(events_of_type(*store, "DeployFailed").size(), 0u);
  rt.stop();
}

}  // namespace
}  // namespace wharf::kubernetes
