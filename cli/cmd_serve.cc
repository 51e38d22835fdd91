// `wharf serve`: the whole system in one process — store, engine runtime,
// projections, HTTP API, Kafka relay, Gerrit ingestion — until SIGTERM.
#include <signal.h>
#include <unistd.h>
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "adapters/dubbo/config_center.h"
#include "adapters/gerrit/ingestor.h"
#include "adapters/gerrit/project_setup.h"
#include "adapters/gerrit/service.h"
#include "adapters/jenkins/build_runner.h"
#include "adapters/jenkins/client.h"
#include "adapters/kafka/cluster_node.h"
#include "adapters/kafka/relay.h"
#include "adapters/kubernetes/deploy_target.h"
#include "adapters/local/deploy_target.h"
#include "adapters/runtime/runtime.h"
#include "adapters/swarm/deploy_target.h"
#include "adapters/targets/catalog.h"
#include "adapters/targets/pending_credential.h"
#include "adapters/targets/probe.h"
#include "adapters/targets/registry.h"
#include "adapters/targets/sealed_store.h"
#include "adapters/workers/task_dispatcher.h"
#include "api/api_error.h"
#include "api/server.h"
#include "api/tokens.h"
#include "cli/cluster_routing.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/maintenance_serve.h"
#include "cli/shutdown_signal.h"
#include "engine/default_ports.h"
#include "events/checkpoint.h"
#include "events/event_store.h"
#include "events/hash_chain.h"
#include "projections/queries.h"
#include "projections/runner.h"

namespace wharf::cli {
namespace {

struct ServeConfig {
  std::string config_file;
  std::string listen = "127.0.0.1";
  int port = kDefaultApiPort;
  std::string canary_router_listen = "127.0.0.1";
  int canary_router_base_port = kDefaultRouterBasePort;  // 0 = free ports (docs/canary.md)
  int threads = 0;  // 0 = one per core
  int response_cache_entries = 4096;  // 0 = off
  std::string ui_dir = kDefaultUiDir;  // built web UI; empty = none
  std::string brokers;  // empty = embedded Kafka (librdkafka mock cluster)
  std::string topic = "wharf.events";
  bool relay = true;
  bool fsync = true;
  std::string first_token_file;      // where the first admin token is written (0600)
  std::string audit_key;             // Ed25519 key signing checkpoints; empty = no signing
  std::string secret_key_file;       // the sealed store's key; empty = DATA/secret.key
  std::string service_account_dir = targets::kServiceAccountDir;  // service_account targets
  int target_probe_interval_s = 30;  // reachability probe of every target; 0 = off
  int checkpoint_interval_s = 300;
  gerrit::GerritConfig gerrit;   // host empty = no Gerrit connection
  std::string workers = "local";  // "local": in-process runners; "kafka": `wharf worker`s
  wharf::workers::TaskTopics tasks;  // bootstrap filled from the relay's brokers
  MaintenanceConfig maintenance;     // health monitor, logs and terminals (docs/operations.md)
  jenkins::ServerConfig jenkins;  // Jenkins build steps' server and credentials (docs/jenkins.md)
  // Cluster mode (docs/cluster.md); empty cluster = single node (the default).
  std::string cluster;
  std::string cluster_node;       // default <hostname>-<port>
  std::string cluster_advertise;  // default http://<listen or hostname>:<port>
  std::string cluster_topic;      // default wharf.<cluster>.events
  int cluster_session_timeout_ms = 6000;
  bool cluster_forward = true;  // followers forward commands (false: 307 to the leader)
  int cluster_forward_timeout_ms = 15000;
};

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

// A cluster node that must stop (it lost its role, its writer was fenced, its
// log does not verify) asks for the ordinary shutdown, and exits hard if that
// has not finished within `grace`: cut off from the brokers, a Kafka call or
// an HTTP thread waiting for a commit can block for minutes, and a node that
// never exits is never restarted by its supervisor (the long chaos run's node
// that hung in shutdown for good). The store is crash-safe (RocksDB WAL, the
// offset in the same batch as the events), so this is an ordinary crash.
constexpr std::chrono::seconds kClusterStopGrace{20};
// `serve --cluster`'s HTTP threads when --threads is 0 (see where it is used).
constexpr unsigned kClusterHttpThreads = 64;

void stop_node_within(std::chrono::seconds grace) {
  static std::once_flag once;
  std::call_once(once, [grace] {
    std::thread([grace] {
      std::this_thread::sleep_for(grace);
      spdlog::error("cluster: the node did not stop within {} s; exiting now (status 1)",
                    grace.count());
      spdlog::default_logger()->flush();
      std::_Exit(1);
    }).detach();
  });
  kill(getpid(), SIGTERM);
}

boost::json::object cluster_json(const kafka::ClusterStatus& st) {
  return {{"role", kafka::to_string(st.role)},
          {"node", st.node},
          {"leader", st.leader_node},
          {"leader_api", st.leader_api},
          {"epoch", st.epoch},
          {"applied_position", st.applied_position},
          {"offset", st.offset},
          {"end_offset", st.end_offset},
          {"lag", st.lag},
          {"failovers", st.failovers},
          {"fencing_errors", st.fencing_errors},
          {"transactions", st.transactions},
          {"indefinite_commits", st.indefinite_commits},
          {"stopped", st.stopped}};
}

void register_cluster_metrics(api::MetricsRegistry& metrics, const kafka::ClusterNode& node) {
  metrics.gauge_function(
      "wharf_cluster_role", "1 for this node's current cluster role", {"role"}, [&node] {
        const auto role = node.status().role;
        std::vector<api::MetricsRegistry::Sample> out;
        for (auto r : {kafka::ClusterRole::kCatchingUp, kafka::ClusterRole::kFollower,
                       kafka::ClusterRole::kElecting, kafka::ClusterRole::kLeader,
                       kafka::ClusterRole::kStopped}) {
          out.push_back({{kafka::to_string(r)}, r == role ? 1.0 : 0.0});
        }
        return out;
      });
  auto gauge = [&](const char* name, const char* help, auto field) {
    metrics.gauge_function(name, help, {}, [&node, field] {
      return std::vector<api::MetricsRegistry::Sample>{
          {{}, static_cast<double>(field(node.status()))}};
    });
  };
  gauge("wharf_cluster_lag_records", "Records (and markers) of the topic not yet applied here",
        [](const kafka::ClusterStatus& s) { return s.lag; });
  gauge("wharf_cluster_epoch", "Epoch of the newest LeaderChanged barrier applied",
        [](const kafka::ClusterStatus& s) { return s.epoch; });
  gauge("wharf_cluster_failovers_total", "LeaderChanged barriers applied by this node",
        [](const kafka::ClusterStatus& s) { return s.failovers; });
  gauge("wharf_cluster_fencing_errors_total", "Commits of this node's writer refused as fenced",
        [](const kafka::ClusterStatus& s) { return s.fencing_errors; });
  gauge("wharf_cluster_transactions_total", "Kafka transactions committed by this node",
        [](const kafka::ClusterStatus& s) { return s.transactions; });
  gauge("wharf_cluster_indefinite_commits_total",
        "Commits whose outcome was unknown and was read back from the log",
        [](const kafka::ClusterStatus& s) { return s.indefinite_commits; });
  gauge("wharf_cluster_last_commit_ms", "Duration of this node's last Kafka transaction",
        [](const kafka::ClusterStatus& s) { return s.last_commit_ms; });
}

// Prints the first admin token of an empty store once, and keeps it in a
// file only root can read so scripts/run can show it again.
void announce_first_token(events::EventStore& store, const std::string& file) {
  auto issued = api::issue_first_admin_token(store, api::now_us());
  if (!issued) throw std::runtime_error("cannot issue the first admin token: " + issued.error().message);
  if (!issued->has_value()) return;
  const auto& token = **issued;
  spdlog::warn("first admin token (shown once; create more with `wharf token create`): {}",
               token.token);
  if (!file.empty()) {
    std::ofstream out(file, std::ios::trunc);
    out << token.token << "\n";
    std::filesystem::permissions(file, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
  }
}

void register_component_metrics(api::MetricsRegistry& metrics, const events::EventStore& store,
                                const projections::ProjectionRunner& projections,
                                const kafka::Relay* relay, const gerrit::GerritService* gerrit) {
  metrics.gauge_function("wharf_log_head_position", "Last durable position of the event log", {},
                         [&store] {
                           return std::vector<api::MetricsRegistry::Sample>{
                               {{}, static_cast<double>(store.head_position())}};
                         });
  metrics.gauge_function(
      "wharf_projection_lag_events", "Log head minus the projection's checkpoint", {"projection"},
      [&store, &projections] {
        std::vector<api::MetricsRegistry::Sample> samples;
        const auto head = store.head_position();
        for (const auto& [name, position] : projections.positions()) {
          samples.push_back({{name}, static_cast<double>(head - std::min(head, position))});
        }
        return samples;
      });
  if (relay != nullptr) {
    metrics.gauge_function("wharf_kafka_relay_lag_events", "Events not yet acknowledged by Kafka",
                           {}, [relay] {
                             return std::vector<api::MetricsRegistry::Sample>{
                                 {{}, static_cast<double>(relay->stats().lag_events)}};
                           });
    metrics.gauge_function("wharf_kafka_relay_lag_ms", "Age of the oldest unacknowledged event",
                           {}, [relay] {
                             return std::vector<api::MetricsRegistry::Sample>{
                                 {{}, static_cast<double>(relay->stats().lag_ms)}};
                           });
  }
  if (gerrit != nullptr) {
    metrics.gauge_function("wharf_gerrit_connected", "1 while the stream-events session is up", {},
                           [gerrit] {
                             return std::vector<api::MetricsRegistry::Sample>{
                                 {{}, gerrit->stats().connected ? 1.0 : 0.0}};
                           });
    metrics.gauge_function(
        "wharf_gerrit_events", "Gerrit events by outcome", {"kind"}, [gerrit] {
          const auto st = gerrit->stats();
          return std::vector<api::MetricsRegistry::Sample>{
              {{"lines"}, static_cast<double>(st.lines)},
              {{"bad_lines"}, static_cast<double>(st.bad_lines)},
              {{"unknown_types"}, static_cast<double>(st.unknown_types)},
              {{"dropped_output"}, static_cast<double>(st.dropped_output)},
              {{"deduplicated"}, static_cast<double>(st.deduplicated)},
              {{"observed"}, static_cast<double>(st.observed)},
              {{"reconnects"}, static_cast<double>(st.reconnects)}};
        });
  }
}

// The local canary routers' counts (docs/canary.md): requests and 5xx per side.
void register_canary_metrics(api::MetricsRegistry& metrics,
                             const router::LocalCanaryTarget& canary) {
  metrics.gauge_function(
      "wharf_canary_router_requests", "Requests through the local canary router, by side",
      {"project", "environment", "side", "outcome"}, [&canary] {
        std::vector<api::MetricsRegistry::Sample> out;
        for (const auto& r : canary.routers()) {
          auto add = [&](const char* side, const router::SideCounts& c) {
            out.push_back({{r.project_id, r.environment, side, "all"}, double(c.requests)});
            out.push_back({{r.project_id, r.environment, side, "5xx"}, double(c.errors)});
          };
          add("stable", r.counts.stable);
          add("canary", r.counts.canary);
        }
        return out;
      });
  metrics.gauge_function("wharf_canary_weight", "Percent of traffic the local router sends to the canary",
                         {"project", "environment"}, [&canary] {
                           std::vector<api::MetricsRegistry::Sample> out;
                           for (const auto& r : canary.routers()) {
                             out.push_back({{r.project_id, r.environment}, double(r.weight)});
                           }
                           return out;
                         });
}

// What the Jenkins build runner did (docs/jenkins.md): builds by how they
// went, and the calls it repeated or a crumb it had to fetch.
void register_jenkins_metrics(api::MetricsRegistry& metrics, const runtime::Runtime& runtime) {
  metrics.gauge_function(
      "wharf_jenkins_builds", "Jenkins build steps since start, by what happened", {"event"},
      [&runtime] {
        const auto* runner = runtime.jenkins_build_runner();
        const auto st = runner ? runner->stats() : jenkins::RunnerStats{};
        return std::vector<api::MetricsRegistry::Sample>{
            {{"triggered"}, static_cast<double>(st.triggered)},
            {{"adopted"}, static_cast<double>(st.adopted)},
            {{"succeeded"}, static_cast<double>(st.succeeded)},
            {{"failed"}, static_cast<double>(st.failed)},
            {{"cancelled"}, static_cast<double>(st.cancelled)}};
      });
  metrics.gauge_function(
      "wharf_jenkins_calls", "Jenkins calls repeated (no answer or 5xx) and crumbs fetched",
      {"kind"}, [&runtime] {
        const auto* runner = runtime.jenkins_build_runner();
        const auto st = runner ? runner->stats() : jenkins::RunnerStats{};
        return std::vector<api::MetricsRegistry::Sample>{
            {{"retries"}, static_cast<double>(st.retries)},
            {{"crumb_fetches"}, static_cast<double>(st.crumb_fetches)}};
      });
}

// The reachability probe's verdicts as the log holds them (docs/targets.md):
// 1 reachable, 0 not, -1 not probed yet.
// How the in-memory consumers of the log started (events/state_snapshot.h):
// the snapshot position each began from and the events each folded since.
void register_state_metrics(
    api::MetricsRegistry& metrics,
    std::vector<std::pair<std::string, const events::FoldCounters*>> consumers) {
  metrics.gauge_function("wharf_state_events_folded",
                         "Events folded by an in-memory consumer since start", {"consumer"},
                         [consumers] {
                           std::vector<api::MetricsRegistry::Sample> out;
                           for (const auto& [name, c] : consumers) {
                             out.push_back({{name}, static_cast<double>(c->events_folded.load())});
                           }
                           return out;
                         });
  metrics.gauge_function(
      "wharf_state_snapshot_position",
      "Position of the state snapshot a consumer started from (0: none), or last wrote",
      {"consumer", "snapshot"}, [consumers] {
        std::vector<api::MetricsRegistry::Sample> out;
        for (const auto& [name, c] : consumers) {
          out.push_back({{name, "loaded"}, static_cast<double>(c->snapshot_position.load())});
          out.push_back(
              {{name, "written"}, static_cast<double>(c->snapshot_written_position.load())});
        }
        return out;
      });
}

void register_target_metrics(api::MetricsRegistry& metrics, targets::TargetCatalog& catalog) {
  metrics.gauge_function(
      "wharf_target_reachable", "Target reachability (1 yes, 0 no, -1 not probed yet)",
      {"target", "kind"}, [&catalog] {
        catalog.refresh();
        std::vector<api::MetricsRegistry::Sample> out;
        for (const auto& t : catalog.list()) {
          out.push_back({{t.spec.name(), engine::target_kind_name(t.spec.kind())},
                         t.health_known ? (t.reachable ? 1.0 : 0.0) : -1.0});
        }
        return out;
      });
}

// --jenkins-url/-user/-token: a shorthand for one Jenkins target named
// "jenkins" (docs/jenkins.md). Registered at start, updated or rotated when
// the flags changed since; the token is sealed, never logged.
void register_jenkins_flags(const jenkins::ServerConfig& flags, targets::TargetCatalog& catalog,
                            const targets::TargetResolver& resolver, targets::SealedStore& secrets,
                            runtime::CommandBus& bus) {
  if (flags.url.empty()) return;
  v1::TargetSpec spec;
  spec.set_name("jenkins");
  spec.set_kind(v1::TARGET_KIND_JENKINS);
  spec.set_url(flags.url);
  spec.set_ca_file(flags.ca_file);
  spec.set_insecure_skip_tls_verify(flags.insecure);
  spec.set_description("serve --jenkins-url");
  const bool with_token = !flags.user.empty() || !flags.token.empty();
  spec.set_credential(with_token ? v1::CREDENTIAL_KIND_USER_TOKEN : v1::CREDENTIAL_KIND_NONE);
  const targets::CredentialFields fields{{"user", flags.user}, {"token", flags.token}};
  auto ctx = [&bus](const std::string& what) {
    return bus.system_context("jenkins-flags/" + what + "/" + std::to_string(api::now_us()));
  };
  auto run = [&](const engine::Command& command, uint32_t version, const std::string& what) {
    auto pending = targets::PendingCredential::seal(&secrets, targets::target_entry("jenkins"),
                                                    version, targets::encode_credential(fields));
    if (!pending) throw std::runtime_error("jenkins target: " + pending.error());
    auto done = bus.execute(command, ctx(what));
    if (!done) throw std::runtime_error("jenkins target: " + done.error().message());
    pending->keep();
  };
  catalog.refresh();
  auto current = catalog.get("jenkins");
  if (!current) {
    run(engine::RegisterTarget{spec,
                               with_token ? catalog.last_credential_version("jenkins") + 1 : 0,
                               "serve --jenkins-* flags"},
        with_token ? catalog.last_credential_version("jenkins") + 1 : 0, "register");
    spdlog::info("jenkins: registered target \"jenkins\" at {} from the --jenkins-* flags",
                 flags.url);
    return;
  }
  // The sealed credential differs from the flags' (or this node cannot open
  // it: sealed on another node, docs/targets.md#several-nodes): rotate.
  std::string why;
  if (current->spec.credential() != spec.credential()) {
    why = "the --jenkins-* credential changed";
  } else if (with_token) {
    auto opened = resolver.resolve("jenkins");
    if (!opened) {
      why = "its sealed credential does not open here (" + opened.error() + ")";
    } else if (opened->user != flags.user || opened->token != flags.token) {
      why = "the --jenkins-* credential changed";
    }
  }
  if (!why.empty()) {
    if (!with_token) {
      throw std::runtime_error(
          "jenkins target: --jenkins-user/--jenkins-token are gone but target "
          "\"jenkins\" holds a credential; remove or update it through "
          "/api/v1/targets");
    }
    run(engine::RotateTargetCredentials{"jenkins", current->credential_version + 1,
                                        v1::CREDENTIAL_KIND_USER_TOKEN, "serve --jenkins-* flags"},
        current->credential_version + 1, "rotate");
    spdlog::info("jenkins: {}; target \"jenkins\" rotated to credential version {}", why,
                 current->credential_version + 1);
    catalog.refresh();
    current = catalog.get("jenkins");
    if (!current) return;
  }
  // Only a changed spec is written: a restart with the same flags appends
  // nothing (and runs no command).
  spec.set_credential(current->spec.credential());
  if (google::protobuf::util::MessageDifferencer::Equals(current->spec, spec)) return;
  run(engine::UpdateTarget{spec, "serve --jenkins-* flags"}, 0, "update");
  spdlog::info("jenkins: the --jenkins-* flags changed; target \"jenkins\" updated");
}

void register_worker_metrics(api::MetricsRegistry& metrics,
                             const workers::TaskDispatcher& dispatcher) {
  metrics.gauge_function(
      "wharf_worker_tasks", "Tasks handed to `wharf worker`s, by state", {"state"}, [&dispatcher] {
        const auto st = dispatcher.stats();
        return std::vector<api::MetricsRegistry::Sample>{
            {{"sent"}, static_cast<double>(st.tasks_sent)},
            {{"results"}, static_cast<double>(st.results_received)},
            {{"unmatched_results"}, static_cast<double>(st.results_unmatched)},
            {{"waiting"}, static_cast<double>(st.waiting)}};
      });
}

// With --workers kafka: the ports that hand work to `wharf worker` processes
// over the relay's Kafka (a real broker, or the embedded one for one machine).
std::unique_ptr<workers::TaskDispatcher> start_task_dispatcher(ServeConfig& config,
                                                               const kafka::Relay* relay) {
  if (config.workers == "local") return nullptr;
  if (config.workers != "kafka") {
    throw std::runtime_error("--workers must be local or kafka, not '" + config.workers + "'");
  }
  config.tasks.bootstrap = !config.brokers.empty() ? config.brokers
                           : relay != nullptr      ? relay->bootstrap_servers()
                                                   : "";
  if (config.tasks.bootstrap.empty()) {
    throw std::runtime_error("--workers kafka needs --kafka-brokers or the embedded relay");
  }
  Expected<void, std::string> made;
  if (config.brokers.empty() && relay != nullptr && relay->embedded_cluster() != nullptr) {
    // The embedded cluster has no CreateTopics API; it is told directly.
    for (const auto& topic : {config.tasks.tasks, config.tasks.results}) {
      if (made) made = relay->embedded_cluster()->create_topic(topic, config.tasks.partitions);
    }
  } else {
    made = workers::ensure_topics(config.tasks);
  }
  if (!made) {
    spdlog::warn("workers: could not create {} and {} ({}); relying on auto-creation",
                 config.tasks.tasks, config.tasks.results, made.error());
  }
  auto dispatcher = workers::TaskDispatcher::create(config.tasks);
  if (!dispatcher) throw std::runtime_error("workers: " + dispatcher.error());
  return std::move(*dispatcher);
}

void run_serve(CLI::App& cmd, ServeConfig& config) {
  if (!config.config_file.empty()) apply_config_file(cmd, config.config_file);
  ShutdownSignal shutdown;  // before any thread starts

  const std::string data = global_options().data_dir;
  std::filesystem::create_directories(data);
  events::StoreOptions store_options;
  store_options.sync = config.fsync;
  std::unique_ptr<kafka::ClusterNode> cluster;
  if (!config.cluster.empty()) {
    if (config.workers != "local") {
      throw std::runtime_error(
          "--cluster with --workers kafka is not supported yet (docs/cluster.md)");
    }
    kafka::ClusterOptions options;
    options.cluster = config.cluster;
    options.brokers = config.brokers;
    options.topic = config.cluster_topic;
    options.node =
        !config.cluster_node.empty()
            ? config.cluster_node
            : host_name() + "-" + std::to_string(config.port != 0 ? config.port : getpid());
    options.session_timeout_ms = config.cluster_session_timeout_ms;
    auto created = kafka::ClusterNode::create(options);
    if (!created) throw std::runtime_error("cluster: " + created.error());
    cluster = std::move(*created);
    store_options.gate = cluster.get();
    spdlog::info("cluster {}: node {} on topic {} at {} (Kafka is the source of truth)",
                 config.cluster, options.node, cluster->topic(), config.brokers);
  }
  auto store = events::EventStore::open(store_dir(data), store_options);
  if (!store) throw std::runtime_error("cannot open store at " + store_dir(data) + ": " + store.error().message);
  auto& log = **store;
  spdlog::info("store {} at {} (head position {}, fsync {})", log.store_id(), store_dir(data),
               log.head_position(), config.fsync ? "on" : "off");
  if (!cluster) announce_first_token(log, config.first_token_file);
  // Credentials of targets live here, never in the log (docs/targets.md).
  // A wrong or missing key stops serve now rather than every deploy later.
  const std::string key_file = config.secret_key_file.empty()
                                   ? (std::filesystem::path(data) / "secret.key").string()
                                   : config.secret_key_file;
  auto secrets = targets::SealedStore::open({std::filesystem::path(data) / "secrets", key_file});
  if (!secrets) throw std::runtime_error("sealed store: " + secrets.error());
  spdlog::info("sealed store at {} (key {})", (*secrets)->dir().string(), key_file);
  targets::TargetCatalog target_catalog(log);
  target_catalog.refresh();
  targets::CatalogResolver target_registry(target_catalog, secrets->get(),
                                           config.service_account_dir);
  std::unique_ptr<events::PeriodicCheckpoints> checkpoints;
  std::optional<events::SigningKey> cluster_key;  // cluster mode: signs once leading
  if (config.audit_key.empty()) {
    spdlog::warn("audit: no --audit-key: checkpoints are not signed (create a key with `wharf audit keygen`)");
  } else {
    auto key = events::SigningKey::load(config.audit_key);
    if (!key) throw std::runtime_error("audit: " + key.error());
    spdlog::info("audit: signing checkpoints every {}s with key {}", config.checkpoint_interval_s,
                 events::to_hex(key->public_key()));
    if (cluster) {
      cluster_key.emplace(std::move(*key));
    } else {
      checkpoints = std::make_unique<events::PeriodicCheckpoints>(
          log, std::move(*key), std::chrono::seconds(std::max(1, config.checkpoint_interval_s)),
          api::now_us);
    }
  }

  auto projections = projections::ProjectionRunner::open(projections::projections_dir(data), &log);
  if (!projections) throw std::runtime_error("cannot open projections: " + projections.error().message);
  auto caught_up = (*projections)->catch_up([](uint64_t position, uint64_t head) {
    spdlog::info("projections: catching up {}/{}", position, head);
  });
  if (!caught_up) throw std::runtime_error("projections catch-up failed: " + caught_up.error().message);
  if (auto live = (*projections)->start(); !live) {
    throw std::runtime_error("projections: " + live.error().message);
  }
  projections::Queries queries(**projections);

  std::unique_ptr<kafka::Relay> relay;
  if (cluster) {
    spdlog::info("kafka relay off: in cluster mode the topic is the log");
  } else if (config.relay) {
    kafka::RelayOptions relay_options;
    relay_options.brokers = config.brokers;
    relay_options.topic = config.topic;
    auto created = kafka::Relay::create(log, relay_options);
    if (!created) throw std::runtime_error("kafka relay: " + created.error());
    relay = std::move(*created);
    relay->start();
  } else {
    spdlog::info("kafka relay disabled (--kafka-relay=false)");
  }

  std::unique_ptr<workers::TaskDispatcher> dispatcher = start_task_dispatcher(config, relay.get());
  runtime::Ports ports;
  if (dispatcher) {
    ports = {&dispatcher->build_runner(), &dispatcher->deploy_target(), &dispatcher->test_runner()};
    // Deploy tasks name their target (spec + credential version); workers
    // open the credential from their own sealed store.
    dispatcher->set_target_lookup(
        [&target_catalog](const std::string& name) -> std::optional<v1::TargetReference> {
          target_catalog.refresh();
          auto t = target_catalog.get(name);
          if (!t) return std::nullopt;
          v1::TargetReference reference;
          *reference.mutable_target() = t->spec;
          reference.set_credential_version(t->credential_version);
          return reference;
        });
  }
  // Concurrent commands to different streams share group commits; Gerrit
  // bursts and many runs at once need more than a handful of workers.
  runtime::RuntimeOptions runtime_options{.data_dir = data, .command_workers = 16};
  runtime_options.canary_router.listen = config.canary_router_listen;
  runtime_options.jenkins = config.jenkins;
  // The --jenkins-* server is the target "jenkins" (register_jenkins_flags):
  // its URL and credential come from the registry like any Jenkins target's.
  runtime_options.jenkins.url.clear();
  runtime_options.jenkins.user.clear();
  runtime_options.jenkins.token.clear();
  runtime_options.targets = &target_registry;
  runtime_options.canary_router.base_port = static_cast<uint16_t>(config.canary_router_base_port);
  runtime::Runtime runtime(log, runtime_options, ports);
  // The runtime starts beside the HTTP server: its process manager folds its
  // state (from its snapshot, docs/runtime.md) and recovers outstanding work
  // but answers no request, so the API need not wait for it; events appended
  // meanwhile reach it through its subscription. A failure stops serve.
  std::mutex fatal_mu;
  std::string runtime_fatal;
  struct JoinOnExit {
    std::thread thread;
    ~JoinOnExit() {
      if (thread.joinable()) thread.join();
    }
  } runtime_starter;
  if (cluster) {
    spdlog::info("engine runtime waits for leadership (followers run no side effects)");
  } else {
    runtime_starter.thread = std::thread([&] {
      if (auto started = runtime.start(); !started) {
        spdlog::error("engine runtime: {}", started.error());
        {
          std::lock_guard lock(fatal_mu);
          runtime_fatal = started.error();
        }
        kill(getpid(), SIGTERM);
      } else if (dispatcher) {
        spdlog::info(
            "engine runtime started (builds, deploys and tests run on `wharf worker`s via {})",
            config.tasks.tasks);
      } else {
        spdlog::info("engine runtime started (local build, deploy and test runners under {})",
                     data);
      }
    });
  }

  // Cluster mode: on the leader (it records events), in on_leader below.
  if (!cluster) {
    register_jenkins_flags(config.jenkins, target_catalog, target_registry, **secrets,
                           runtime.commands());
  }
  // Each target's reachability, recorded as TargetHealthChanged on a change.
  targets::TargetProber prober(
      target_catalog, target_registry,
      {{v1::TARGET_KIND_KUBERNETES, kubernetes::probe_cluster},
       {v1::TARGET_KIND_PORTAINER, swarm::probe_portainer},
       {v1::TARGET_KIND_JENKINS, jenkins::probe_jenkins},
       {v1::TARGET_KIND_ZOOKEEPER, dubbo::probe_zookeeper}},
      [&runtime](const std::string& name, const targets::ProbeResult& r) {
        auto ctx = runtime.commands().system_context("target-health/" + name + "/" +
                                                     std::to_string(api::now_us()));
        auto done = runtime.commands().execute(
            engine::ObserveTargetHealth{name, r.reachable, r.server_version, r.error}, ctx);
        if (!done && !done.error().stale()) {
          spdlog::warn("targets: recording the health of {}: {}", name, done.error().message());
        }
      },
      std::chrono::seconds(config.target_probe_interval_s));
  if (!cluster) prober.start();  // cluster mode: on the leader only (it records events)

  std::unique_ptr<gerrit::GerritService> gerrit_service;
  if (!config.gerrit.host.empty()) {
    gerrit_service =
        std::make_unique<gerrit::GerritService>(log, runtime.commands(), config.gerrit, data);
    if (cluster) {
      spdlog::info("gerrit: ingestion starts when this node leads");
    } else if (auto started = gerrit_service->start(); !started) {
      throw std::runtime_error("gerrit: " + started.error());
    }
  }

  MaintenanceServe maintenance(config.maintenance, runtime, /*start_health=*/!cluster);
  api::Services services(log);
  services.commands = &runtime.commands();
  maintenance.attach(services);
  services.queries = &queries;
  services.data_dir = data;
  services.canary_router = runtime.canary_router();
  services.checkpoints = checkpoints.get();
  services.targets = &target_catalog;
  services.probe_target = [&prober](const std::string& name) { return prober.check(name); };
  services.secrets = secrets->get();
  if (gerrit_service) {
    services.webhooks["gerrit"] = [&gerrit_service](const api::WebhookDelivery& delivery) {
      const auto outcome = gerrit_service->handle_webhook(delivery.body);
      api::WebhookResult result;
      result.body = boost::json::object{{"outcome", gerrit::to_string(outcome)}};
      return result;
    };
  }
  if (!config.gerrit.http_url.empty()) {  // POST /projects "gerrit_create" (docs/gerrit.md)
    gerrit::RestOptions rest{.base_url = config.gerrit.http_url,
                             .user = config.gerrit.http_user,
                             .http_password = config.gerrit.http_password};
    services.gerrit_setup = [rest](const v1::GerritSource& binding) {
      auto done = gerrit::setup_for_binding(rest, binding);
      if (!done) {
        throw api::ApiError(api::http::status::bad_gateway, "gerrit_setup_failed",
                            done.error().message,
                            boost::json::object{{"gerrit_status", done.error().http_status}});
      }
      return std::move(*done);
    };
  }
  std::string self_api;  // set before the cluster node starts
  if (cluster) {
    CommandRouting routing;
    routing.forward = config.cluster_forward;
    routing.forward_timeout = std::chrono::milliseconds(config.cluster_forward_timeout_ms);
    routing.apply_wait = api::ServerConfig().min_position_wait;
    services.route_command = [&cluster, &self_api, &projections,
                              routing](const api::Request& request) {
      return route_to_leader(*cluster, self_api, **projections, routing, request);
    };
    services.cluster_status = [&cluster] { return cluster_json(cluster->status()); };
    services.ready = [&cluster] {
      const auto role = cluster->status().role;
      return role != kafka::ClusterRole::kCatchingUp && role != kafka::ClusterRole::kStopped;
    };
  }
  api::ServerConfig server_config;
  server_config.listen = config.listen;
  server_config.port = static_cast<uint16_t>(config.port);
  server_config.threads = static_cast<unsigned>(config.threads);
  if (cluster && config.threads == 0) {
    // A command holds its HTTP thread until its Kafka transaction committed
    // (tens to hundreds of ms, not an fsync's few): the store's group commit
    // puts every command waiting meanwhile into the next transaction, so the
    // batch - and the throughput - grows with the commands in flight. One
    // thread per core would allow two (docs/cluster.md#benchmark).
    server_config.threads = kClusterHttpThreads;
  }
  server_config.response_cache_entries = static_cast<size_t>(config.response_cache_entries);
  server_config.ui_dir = config.ui_dir;
  server_config.state_snapshot_interval = std::chrono::seconds(60);
  api::Server server(server_config, services);
  register_component_metrics(server.metrics(), log, **projections, relay.get(),
                             gerrit_service.get());
  if (dispatcher) register_worker_metrics(server.metrics(), *dispatcher);
  register_target_metrics(server.metrics(), target_catalog);
  register_state_metrics(server.metrics(),
                         {{"access_index", &server.app().access().fold_counters()},
                          {"target_catalog", &target_catalog.fold_counters()},
                          {"process_manager", &runtime.process_manager().fold_counters()}});
  maintenance.register_metrics(server.metrics());
  if (runtime.canary_router()) register_canary_metrics(server.metrics(), *runtime.canary_router());
  if (runtime.jenkins_build_runner()) register_jenkins_metrics(server.metrics(), runtime);
  if (cluster) register_cluster_metrics(server.metrics(), *cluster);
  server.start();
  std::string cluster_fatal;
  if (cluster) {
    self_api = !config.cluster_advertise.empty()
                   ? config.cluster_advertise
                   : "http://" + (config.listen == "0.0.0.0" ? host_name() : config.listen) + ":" +
                         std::to_string(server.port());
    // Side effects run only on the leader (docs/cluster.md#side-effects):
    // started once this node's barrier committed; a node that stops leading
    // exits, so none of them outlives its term.
    auto on_leader = [&] {
      try {
        announce_first_token(log, config.first_token_file);
        if (auto started = runtime.start(); !started) {
          throw std::runtime_error("engine runtime: " + started.error());
        }
        register_jenkins_flags(config.jenkins, target_catalog, target_registry, **secrets,
                               runtime.commands());
        if (gerrit_service) {
          if (auto started = gerrit_service->start(); !started) {
            throw std::runtime_error("gerrit: " + started.error());
          }
        }
        maintenance.start_health_monitor();
        prober.start();
        if (cluster_key) {
          checkpoints = std::make_unique<events::PeriodicCheckpoints>(
              log, std::move(*cluster_key),
              std::chrono::seconds(std::max(1, config.checkpoint_interval_s)), api::now_us);
          cluster_key.reset();
        }
        spdlog::info("cluster: side effects started (process manager, health monitor, prober{})",
                     gerrit_service ? ", gerrit" : "");
      } catch (const std::exception& e) {
        spdlog::error("cluster: starting the leader's side effects failed: {}", e.what());
        {
          std::lock_guard lock(fatal_mu);
          cluster_fatal = e.what();
        }
        stop_node_within(kClusterStopGrace);
      }
    };
    auto on_fatal = [&](const std::string& why) {
      {
        std::lock_guard lock(fatal_mu);
        if (cluster_fatal.empty()) cluster_fatal = why;
      }
      stop_node_within(kClusterStopGrace);
    };
    if (auto started = cluster->start(log, self_api, on_leader, on_fatal); !started) {
      throw std::runtime_error("cluster: " + started.error());
    }
    spdlog::info("cluster: node advertises {}; /readyz shows its role", self_api);
  }
  spdlog::info("HTTP API listening on http://{}:{}/api/v1 (metrics at /metrics)", config.listen,
               server.port());
  if (config.ui_dir.empty()) {
    spdlog::info("web UI off (--ui-dir is empty)");
  } else if (api::StaticFiles(config.ui_dir).built()) {
    spdlog::info("web UI at http://{}:{}/ (from {})", config.listen, server.port(), config.ui_dir);
  } else {
    spdlog::warn("web UI not built: no index.html in {} (run scripts/build-ui); / answers a 404 "
                 "page saying so",
                 config.ui_dir);
  }

  const int sig = shutdown.wait();
  spdlog::info("{} received: draining HTTP, stopping engine, relay and projections",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.stop();
  prober.stop();
  if (cluster) cluster->stop();
  maintenance.stop();
  if (gerrit_service) gerrit_service->stop();
  if (runtime_starter.thread.joinable()) runtime_starter.thread.join();
  runtime.stop();
  if (dispatcher) dispatcher->stop();
  if (relay) relay->stop();
  (*projections)->stop();
  if (checkpoints) checkpoints->stop();
  log.close();
  {
    std::lock_guard lock(fatal_mu);
    if (!runtime_fatal.empty()) throw std::runtime_error("engine runtime: " + runtime_fatal);
    if (!cluster_fatal.empty()) {
      throw std::runtime_error("cluster node stopped: " + cluster_fatal +
                               " (restart it: it rejoins as a follower)");
    }
  }
  spdlog::info("wharf serve: stopped cleanly");
}

}  // namespace

void register_serve_commands(CLI::App& app) {
  auto config = std::make_shared<ServeConfig>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Run wharf: event store, pipeline engine, projections, HTTP API, Kafka relay.\n"
      "Settings come from flags, then WHARF_* environment variables, then --config FILE (TOML).");
  add_data_option(*cmd);
  cmd->add_option("--config", config->config_file, "TOML file with any of the settings below")
      ->envname("WHARF_CONFIG");
  cmd->add_option("--listen", config->listen, "address the HTTP API binds")
      ->envname("WHARF_LISTEN")
      ->capture_default_str();
  cmd->add_option("--port", config->port, "HTTP API port (0 = pick a free one)")
      ->envname("WHARF_PORT")
      ->capture_default_str();
  cmd->add_option("--canary-router-listen", config->canary_router_listen,
                  "address the local canary routers bind (docs/canary.md)")
      ->envname("WHARF_CANARY_ROUTER_LISTEN")
      ->capture_default_str();
  cmd->add_option("--canary-router-base-port", config->canary_router_base_port,
                  "port of the first environment's canary router; the next ones count up "
                  "(settings \"router_port\" overrides; 0 = free ports)")
      ->envname("WHARF_CANARY_ROUTER_BASE_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--jenkins-url", config->jenkins.url,
                  "Jenkins root URL for build steps that name none (docs/jenkins.md)")
      ->envname("WHARF_JENKINS_URL");
  cmd->add_option("--jenkins-user", config->jenkins.user, "Jenkins user for build steps")
      ->envname("WHARF_JENKINS_USER");
  cmd->add_option("--jenkins-token", config->jenkins.token,
                  "that user's Jenkins API token (kept out of events)")
      ->envname("WHARF_JENKINS_TOKEN");
  cmd->add_option("--jenkins-ca-file", config->jenkins.ca_file, "CA bundle for an https Jenkins")
      ->envname("WHARF_JENKINS_CA_FILE");
  cmd->add_option("--threads", config->threads,
                  "HTTP worker threads (0 = one per core; 64 in cluster mode)")
      ->envname("WHARF_THREADS")
      ->capture_default_str();
  cmd->add_option("--response-cache", config->response_cache_entries,
                  "rendered answers kept for repeated reads while the log head stands still "
                  "(entries; 0 = off)")
      ->envname("WHARF_RESPONSE_CACHE")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--ui-dir", config->ui_dir,
                  "built web UI (index.html + assets/) served at /; empty = no UI")
      ->envname("WHARF_UI_DIR")
      ->capture_default_str();
  cmd->add_option("--kafka-brokers", config->brokers,
                  "Kafka bootstrap servers; empty = embedded in-process cluster")
      ->envname("WHARF_KAFKA_BROKERS");
  cmd->add_option("--kafka-topic", config->topic, "topic the event log is relayed to")
      ->envname("WHARF_KAFKA_TOPIC")
      ->capture_default_str();
  cmd->add_option("--kafka-relay", config->relay, "relay the log to Kafka (true/false)")
      ->envname("WHARF_KAFKA_RELAY")
      ->capture_default_str();
  cmd->add_option("--workers", config->workers,
                  "where builds, deploys and tests run: local (in this process) or kafka "
                  "(`wharf worker` processes on the task topic)")
      ->envname("WHARF_WORKERS")
      ->check(CLI::IsMember({"local", "kafka"}))
      ->capture_default_str();
  cmd->add_option("--task-topic", config->tasks.tasks, "topic tasks are published to")
      ->envname("WHARF_TASK_TOPIC")
      ->capture_default_str();
  cmd->add_option("--result-topic", config->tasks.results, "topic workers report results on")
      ->envname("WHARF_RESULT_TOPIC")
      ->capture_default_str();
  cmd->add_option("--task-partitions", config->tasks.partitions,
                  "partitions of both topics when wharf creates them (bounds useful workers)")
      ->envname("WHARF_TASK_PARTITIONS")
      ->capture_default_str();
  cmd->add_option("--fsync", config->fsync, "fsync every group commit (true/false)")
      ->envname("WHARF_FSYNC")
      ->capture_default_str();
  cmd->add_option("--audit-key", config->audit_key,
                  "Ed25519 private key (`wharf audit keygen`) signing checkpoints of the log")
      ->envname("WHARF_AUDIT_KEY");
  cmd->add_option("--service-account-dir", config->service_account_dir,
                  "where this pod's service account is mounted (token, ca.crt, namespace): the "
                  "credential of service_account targets, read at every use")
      ->envname("WHARF_SERVICE_ACCOUNT_DIR")
      ->capture_default_str();
  cmd->add_option("--secret-key-file", config->secret_key_file,
                  "key of the sealed store of target credentials (64 hex digits; created 0600 "
                  "when neither it nor the store exists; default DATA/secret.key; "
                  "docs/targets.md)")
      ->envname("WHARF_SECRET_KEY_FILE");
  cmd->add_option("--target-probe-interval", config->target_probe_interval_s,
                  "seconds between reachability probes of every target (0 = off)")
      ->envname("WHARF_TARGET_PROBE_INTERVAL")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--checkpoint-interval", config->checkpoint_interval_s,
                  "seconds between signed checkpoints while the log grows")
      ->envname("WHARF_CHECKPOINT_INTERVAL")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--first-token-file", config->first_token_file,
                  "on an empty store, also write the first admin token to this file (mode 0600)");
  cmd->add_option("--gerrit-host", config->gerrit.host, "Gerrit SSH host; empty = no Gerrit")
      ->envname("WHARF_GERRIT_HOST");
  cmd->add_option("--gerrit-port", config->gerrit.port, "Gerrit SSH port")
      ->envname("WHARF_GERRIT_PORT")
      ->capture_default_str();
  cmd->add_option("--gerrit-user", config->gerrit.user, "Gerrit user with Stream Events")
      ->envname("WHARF_GERRIT_USER");
  cmd->add_option("--gerrit-key-file", config->gerrit.key_file, "private key for that user")
      ->envname("WHARF_GERRIT_KEY_FILE");
  cmd->add_option("--gerrit-known-hosts", config->gerrit.known_hosts_file,
                  "known_hosts file to check the server key against")
      ->envname("WHARF_GERRIT_KNOWN_HOSTS");
  cmd->add_option("--gerrit-http-url", config->gerrit.http_url,
                  "Gerrit REST base URL: catch-up after disconnects, project set-up "
                  "(POST /projects \"gerrit_create\")")
      ->envname("WHARF_GERRIT_HTTP_URL");
  cmd->add_option("--gerrit-http-user", config->gerrit.http_user, "REST user")
      ->envname("WHARF_GERRIT_HTTP_USER");
  cmd->add_option("--gerrit-http-password", config->gerrit.http_password,
                  "REST HTTP password")
      ->envname("WHARF_GERRIT_HTTP_PASSWORD");
  cmd->add_option("--cluster", config->cluster,
                  "run as one node of cluster ID: Kafka (--kafka-brokers) is the source of truth, "
                  "one node leads, every node serves reads (docs/cluster.md); empty = single node")
      ->envname("WHARF_CLUSTER");
  cmd->add_option("--cluster-node", config->cluster_node,
                  "this node's name in the cluster (default <hostname>-<port>)")
      ->envname("WHARF_CLUSTER_NODE");
  cmd->add_option("--cluster-advertise", config->cluster_advertise,
                  "URL other nodes redirect commands to (default http://<listen>:<port>)")
      ->envname("WHARF_CLUSTER_ADVERTISE");
  cmd->add_option("--cluster-topic", config->cluster_topic,
                  "the cluster's log topic (default wharf.<cluster>.events)")
      ->envname("WHARF_CLUSTER_TOPIC");
  cmd->add_option("--cluster-session-timeout-ms", config->cluster_session_timeout_ms,
                  "how long a silent leader keeps leadership before another node takes over")
      ->envname("WHARF_CLUSTER_SESSION_TIMEOUT_MS")
      ->check(CLI::Range(6000, 300000))
      ->capture_default_str();
  cmd->add_option("--cluster-forward", config->cluster_forward,
                  "a follower forwards commands to the leader with the caller's credentials "
                  "(false: it answers 307 with the leader's URL)")
      ->envname("WHARF_CLUSTER_FORWARD")
      ->capture_default_str();
  cmd->add_option("--cluster-forward-timeout-ms", config->cluster_forward_timeout_ms,
                  "how long a follower waits for the leader's answer to a forwarded command "
                  "(then 504 leader_timeout: outcome unknown, retry with the same Idempotency-Key)")
      ->envname("WHARF_CLUSTER_FORWARD_TIMEOUT_MS")
      ->check(CLI::Range(500, 600000))
      ->capture_default_str();
  add_maintenance_options(*cmd, config->maintenance);
  cmd->callback([cmd, config] { run_serve(*cmd, *config); });

  auto& services = group(app, "services", "the local services a data directory runs");
  CLI::App* stop = services.add_subcommand(
      "stop",
      "Stop every local service of --data (deployed instances and canaries; stop `wharf serve` "
      "first). What each environment serves is kept: the next `wharf serve` on --data starts "
      "the current ones again.");
  add_data_option(*stop);
  stop->callback([] {
    const std::string data = global_options().data_dir;
    const int stopped = local::LocalDeployTarget(data).stop_services();
    std::printf("stopped %d local service process%s of %s\n", stopped, stopped == 1 ? "" : "es",
                data.c_str());
  });
}

}  // namespace wharf::cli
