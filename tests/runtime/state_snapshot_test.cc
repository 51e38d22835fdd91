// Issue 26: state snapshots (events/state_snapshot.h) of the three in-memory
// consumers of the log — the process manager's engine::ProcessState, the
// API's AccessIndex and the TargetCatalog — on a real RocksDB store holding a
// varied history (bench_scale's generator: projects, runs, deploys,
// canaries, rollbacks, health flaps, permission requests, tokens; plus
// targets, revocations and runs left in progress). Snapshot + tail must give
// the state the whole fold gives, and a snapshot that cannot be trusted must
// be ignored in favour of the whole fold.
#include "events/state_snapshot.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/runtime/runtime.h"
#include "adapters/targets/catalog.h"
#include "api/access_index.h"
#include "bench/scale/history.h"
#include "engine/process_snapshot.h"
#include "events/hash_chain.h"
#include "events/ids.h"
#include "tests/runtime/fake_ports.h"
#include "tests/runtime/runtime_fixture.h"
#include "wharf/v1/snapshot.pb.h"

namespace wharf::runtime {
namespace {

using namespace wharf::runtime::testing;
using wharf::v1::Payload;

void append(events::EventStore& store, const std::string& stream, const Payload& payload,
            const std::string& actor = "alice") {
  events::Envelope e;
  e.set_event_id(events::new_uuid());
  e.set_occurred_at_us(1'700'000'000'000'000);
  e.mutable_actor()->set_id(actor);
  *e.mutable_payload() = payload;
  auto r = store.append(stream, events::ExpectedVersion::any(), {e});
  ASSERT_TRUE(r) << r.error().message;
}

// A history of bench_scale's generator, then what it does not write: targets
// (registered, health, removed), a project environment naming a target,
// revoked roles and tokens. Runs of the history's last projects are still in
// progress at the end and at every cut.
void varied_history(events::EventStore& store, uint64_t events) {
  bench::HistoryOptions options;
  options.events = events;
  options.projects = 12;
  options.end_us = 1'700'000'000'000'000;
  bench::History history(store, options);
  history.generate();
  for (const std::string name : {"k8s-a", "k8s-b"}) {
    Payload p;
    auto* t = p.mutable_target_registered();
    t->mutable_target()->set_name(name);
    t->mutable_target()->set_kind(wharf::v1::TARGET_KIND_KUBERNETES);
    t->mutable_target()->set_url("https://" + name + ":6443");
    t->set_credential_version(1);
    append(store, "target-" + name, p);
  }
  Payload health;
  health.mutable_target_health_changed()->set_name("k8s-a");
  health.mutable_target_health_changed()->set_reachable(true);
  append(store, "target-k8s-a", health);
  Payload removed;
  removed.mutable_target_removed()->set_name("k8s-b");
  append(store, "target-k8s-b", removed);
  Payload env;
  env.mutable_environment_defined()->set_project_id(bench::History::project_name(0));
  env.mutable_environment_defined()->mutable_environment()->set_name("edge");
  env.mutable_environment_defined()->mutable_environment()->set_target_ref("k8s-a");
  // A second target it names: a Dubbo canary's config center.
  (*env.mutable_environment_defined()
        ->mutable_environment()
        ->mutable_settings())["dubbo_config_center"] = "zk-a";
  append(store, "project-" + bench::History::project_name(0), env);
  Payload revoke;
  revoke.mutable_permission_revoked()->set_project_id(bench::History::project_name(1));
  revoke.mutable_permission_revoked()->set_user("eng1");
  append(store, "access-" + bench::History::project_name(1), revoke);
  // A run whose build is outstanding (a restart hands it out again).
  Payload started;
  started.mutable_pipeline_run_started()->set_run_id("svc-0-open");
  started.mutable_pipeline_run_started()->set_project_id(bench::History::project_name(0));
  started.mutable_pipeline_run_started()->set_commit_sha(std::string(40, 'c'));
  started.mutable_pipeline_run_started()->add_environments("dev");
  started.mutable_pipeline_run_started()->add_stages()->set_name("dev");
  append(store, "run-svc-0-open", started);
  Payload build;
  build.mutable_build_requested()->set_run_id("svc-0-open");
  build.mutable_build_requested()->set_project_id(bench::History::project_name(0));
  build.mutable_build_requested()->set_attempt(1);
  build.mutable_build_requested()->set_commit_sha(std::string(40, 'c'));
  append(store, "run-svc-0-open", build);
  Payload issued;
  issued.mutable_token_issued()->set_token_id("tok-x");
  issued.mutable_token_issued()->set_user("eng7");
  issued.mutable_token_issued()->set_token_sha256(std::string(64, 'a'));
  append(store, "tokens", issued);
  Payload token_revoked;
  token_revoked.mutable_token_revoked()->set_token_id("tok-x");
  append(store, "tokens", token_revoked);
}

// What a reaction does, as text (equal reactions, equal text).
std::string describe(const engine::Reaction& reaction) {
  return std::visit(
      [&](const auto& r) -> std::string {
        using T = std::decay_t<decltype(r)>;
        const std::string kind = std::to_string(reaction.index()) + ":";
        if constexpr (std::is_same_v<T, engine::IssueCommand>) {
          return kind + std::to_string(r.command.index()) + ":" + r.context.command_id + ":" +
                 r.context.correlation_id;
        } else if constexpr (std::is_same_v<T, engine::StartBuild>) {
          return kind + r.job.run_id + ":" + std::to_string(r.job.attempt);
        } else if constexpr (std::is_same_v<T, engine::StartDeploy>) {
          return kind + r.job.deploy_id + ":" + std::to_string(r.job.attempt) + ":" +
                 r.job.spec.version();
        } else if constexpr (std::is_same_v<T, engine::StartTests> ||
                             std::is_same_v<T, engine::StartTestCases>) {
          return kind + r.job.run_id + ":" + r.job.environment + ":" +
                 std::to_string(r.job.attempt);
        } else if constexpr (std::is_same_v<T, engine::ScheduleTimer>) {
          return kind + r.key + ":" + std::to_string(r.due_us);
        } else if constexpr (std::is_same_v<T, engine::CancelWork>) {
          return kind + r.id + ":" + std::to_string(r.attempt);
        } else {
          return kind + r.traffic.canary_id + ":" + std::to_string(r.traffic.step) + ":" +
                 std::to_string(static_cast<int>(r.traffic.phase));
        }
      },
      reaction);
}

std::vector<std::string> describe(const std::vector<engine::Reaction>& reactions) {
  std::vector<std::string> out;
  for (const auto& r : reactions) out.push_back(describe(r));
  return out;
}

// recover() walks hash maps: its reactions compare in any order.
std::vector<std::string> describe_recovered(const engine::ProcessState& state) {
  auto out = describe(engine::recover(state));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<events::Envelope> read_everything(const events::EventStore& store) {
  std::vector<events::Envelope> out;
  auto scanned = store.scan(1, 0, [&](const events::Envelope& e) {
    out.push_back(e);
    return true;
  });
  EXPECT_TRUE(scanned);
  return out;
}

class StateSnapshotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    store_ = open_store(dir_->path() / "events");
    varied_history(*store_, 20'000);
  }
  static void TearDownTestSuite() {
    store_.reset();
    dir_.reset();
  }
  void SetUp() override {
    // Each test starts without snapshots.
    for (const char* name : {kProcessSnapshotName, api::AccessIndex::kSnapshotName,
                             targets::TargetCatalog::kSnapshotName}) {
      ASSERT_TRUE(store_->put_meta(events::snapshot_key(name), ""));
    }
  }

  // A runtime's fakes and options over the shared store.
  struct RuntimeKit {
    ManualClock clock;
    FakeBuildRunner build;
    FakeDeployTarget deploy;
    FakeTestRunner tests;
    RuntimeOptions options;
    RuntimeKit() {
      options.data_dir = dir_->path() / "runtime";
      options.clock = &clock;
    }
    Ports ports() { return Ports{&build, &deploy, &tests}; }
  };

  // The access index's state as its snapshot encodes it, after a refresh.
  static std::string access_state(api::AccessIndex& index, events::EventStore& store) {
    index.refresh();
    EXPECT_TRUE(index.save_snapshot(store));
    return stored_state(store, api::AccessIndex::kSnapshotName);
  }
  static std::string catalog_state(targets::TargetCatalog& catalog, events::EventStore& store) {
    catalog.refresh();
    EXPECT_TRUE(catalog.save_snapshot(store));
    return stored_state(store, targets::TargetCatalog::kSnapshotName);
  }
  static std::string stored_state(events::EventStore& store, const char* name) {
    auto bytes = store.get_meta(events::snapshot_key(name));
    EXPECT_TRUE(bytes);
    wharf::v1::StateSnapshot snapshot;
    EXPECT_TRUE(bytes && snapshot.ParseFromString(*bytes));
    return snapshot.state();
  }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<events::EventStore> store_;
};

TEST_F(StateSnapshotTest, ProcessStateFromSnapshotPlusTailReactsAndRecoversLikeTheWholeFold) {
  const auto log = read_everything(*store_);
  ASSERT_GT(log.size(), 20'000u);
  bool runs_in_progress = false, canaries = false, queued_deploys = false;
  for (size_t cut : {size_t{1}, log.size() / 4, log.size() / 2, log.size() * 3 / 4, log.size() - 3,
                     log.size()}) {
    engine::ProcessState whole;
    for (size_t i = 0; i < cut; ++i) whole.apply(log[i]);
    const auto message = engine::to_snapshot(whole);
    wharf::v1::ProcessStateSnapshot parsed;
    ASSERT_TRUE(parsed.ParseFromString(message.SerializeAsString()));
    engine::ProcessState restored;
    ASSERT_TRUE(engine::from_snapshot(std::move(parsed), restored));
    EXPECT_EQ(restored.last_position(), whole.last_position());
    EXPECT_EQ(describe_recovered(restored), describe_recovered(whole)) << "cut at " << cut;
    for (const auto& run : message.runs()) runs_in_progress |= run.status() == 1;
    for (const auto& env : message.environments()) {
      canaries |= env.canary().finished_size() > 0;
      queued_deploys |= env.queue_size() > 0;
      // Bounded (engine/reactor.h): the latest success, not every deploy.
      EXPECT_LE(env.succeeded_size(), 1) << env.stream();
      EXPECT_LE(env.maintenance().after_deploy_requested_size(), 1) << env.stream();
    }
    // Both fold the tail in lock step and react alike to every event of it.
    for (size_t i = cut; i < log.size(); ++i) {
      whole.apply(log[i]);
      restored.apply(log[i]);
      ASSERT_EQ(describe(engine::react(restored, log[i])), describe(engine::react(whole, log[i])))
          << "cut at " << cut << ", event " << log[i].position() << " " << log[i].type();
    }
    EXPECT_EQ(events::serialize_deterministic(engine::to_snapshot(restored)),
              events::serialize_deterministic(engine::to_snapshot(whole)));
    EXPECT_EQ(describe_recovered(restored), describe_recovered(whole));
  }
  EXPECT_TRUE(runs_in_progress);
  EXPECT_TRUE(canaries);
  EXPECT_TRUE(queued_deploys);
}

// The log's first `cut` events in a store of their own (same positions and
// hashes, another store id): read models folded there stop at `cut`.
std::unique_ptr<events::EventStore> prefix_of(const events::EventStore& store, uint64_t cut,
                                              const fs::path& dir) {
  auto prefix = open_store(dir);
  std::vector<std::string> records;
  EXPECT_TRUE(store.scan(1, cut, [&](const events::Envelope& e) {
    records.push_back(e.SerializeAsString());
    return true;
  }));
  auto applied = prefix->apply_replicated(records, {});
  EXPECT_TRUE(applied) << applied.error().message;
  return prefix;
}

TEST_F(StateSnapshotTest, AccessIndexAndCatalogFromSnapshotPlusTailEqualTheWholeFold) {
  api::AccessIndex whole(*store_);
  const std::string expected = access_state(whole, *store_);
  targets::TargetCatalog whole_catalog(*store_);
  const std::string expected_catalog = catalog_state(whole_catalog, *store_);
  const uint64_t head = store_->head_position();
  ASSERT_EQ(whole.fold_counters().events_folded.load(), head);
  ASSERT_EQ(whole.fold_counters().snapshot_position.load(), 0u);
  ASSERT_TRUE(whole_catalog.get("k8s-a"));
  ASSERT_FALSE(whole_catalog.get("k8s-b"));
  ASSERT_EQ(whole_catalog.used_by("k8s-a").size(), 1u);
  ASSERT_EQ(whole_catalog.used_by("zk-a").size(), 1u);
  ASSERT_TRUE(whole.token("tok-x") && whole.token("tok-x")->revoked);

  for (uint64_t cut : {uint64_t{1}, head / 3, head * 2 / 3, head - 2, head}) {
    SetUp();
    auto prefix = prefix_of(*store_, cut, dir_->path() / ("prefix-" + std::to_string(cut)));
    api::AccessIndex partial(*prefix);
    targets::TargetCatalog partial_catalog(*prefix);
    const std::string access_at_cut = access_state(partial, *prefix);
    const std::string catalog_at_cut = catalog_state(partial_catalog, *prefix);
    ASSERT_EQ(partial.position(), cut);
    // Those states as snapshots of the whole store at `cut`.
    ASSERT_TRUE(events::save_snapshot(*store_, api::AccessIndex::kSnapshotName,
                                      api::AccessIndex::kSnapshotSchema, cut, access_at_cut));
    ASSERT_TRUE(events::save_snapshot(*store_, targets::TargetCatalog::kSnapshotName,
                                      targets::TargetCatalog::kSnapshotSchema, cut,
                                      catalog_at_cut));
    api::AccessIndex restored(*store_);
    targets::TargetCatalog restored_catalog(*store_);
    EXPECT_EQ(access_state(restored, *store_), expected) << "cut at " << cut;
    EXPECT_EQ(catalog_state(restored_catalog, *store_), expected_catalog) << "cut at " << cut;
    EXPECT_EQ(restored_catalog.used_by("k8s-a"), whole_catalog.used_by("k8s-a"));
    EXPECT_EQ(restored_catalog.used_by("zk-a"), whole_catalog.used_by("zk-a"));
    // Only the tail was folded: the counters /metrics shows.
    EXPECT_EQ(restored.fold_counters().snapshot_position.load(), cut);
    EXPECT_EQ(restored.fold_counters().events_folded.load(), head - cut);
    EXPECT_EQ(restored_catalog.fold_counters().events_folded.load(), head - cut);
    EXPECT_EQ(restored.visible_projects({"eng1", false, ""}),
              whole.visible_projects({"eng1", false, ""}));
    EXPECT_EQ(restored.grants("", "").size(), whole.grants("", "").size());
    EXPECT_EQ(restored.requests("", "").size(), whole.requests("", "").size());
  }
}

// A snapshot that cannot be trusted is ignored: the whole log is folded and
// the state is the whole fold's.
TEST_F(StateSnapshotTest, CorruptOldForeignOrMismatchedSnapshotsFallBackToTheWholeFold) {
  api::AccessIndex whole(*store_);
  const std::string expected = access_state(whole, *store_);
  const uint64_t head = store_->head_position();
  auto good = store_->get_meta(events::snapshot_key(api::AccessIndex::kSnapshotName));
  ASSERT_TRUE(good);
  wharf::v1::StateSnapshot valid;
  ASSERT_TRUE(valid.ParseFromString(*good));
  ASSERT_EQ(valid.position(), head);

  std::vector<std::pair<std::string, std::string>> bad;
  bad.emplace_back("garbage", "\xff\xff not a snapshot");
  auto variant = [&](const std::string& why, auto change) {
    wharf::v1::StateSnapshot s = valid;
    change(s);
    bad.emplace_back(why, s.SerializeAsString());
  };
  variant("old schema", [](auto& s) { s.set_schema(s.schema() + 1); });
  variant("another store", [](auto& s) { s.set_store_id("another-store"); });
  variant("past the head", [&](auto& s) { s.set_position(head + 10); });
  variant("another chain", [](auto& s) { s.set_event_hash(std::string(32, 'x')); });
  variant("state does not decode", [](auto& s) { s.set_state("\xff\xff\xff"); });
  // A snapshot of the state at the head that claims an earlier position: its
  // hash is the head's, not the earlier event's.
  variant("wrong position", [&](auto& s) { s.set_position(head / 2); });

  for (const auto& [why, bytes] : bad) {
    ASSERT_TRUE(store_->put_meta(events::snapshot_key(api::AccessIndex::kSnapshotName), bytes));
    api::AccessIndex index(*store_);
    index.refresh();
    EXPECT_EQ(index.fold_counters().snapshot_position.load(), 0u) << why;
    EXPECT_EQ(index.fold_counters().events_folded.load(), head) << why;
    EXPECT_EQ(access_state(index, *store_), expected) << why;
  }

  // The process manager's snapshot likewise.
  ASSERT_TRUE(store_->put_meta(events::snapshot_key(kProcessSnapshotName), "\x01garbage"));
  RuntimeKit kit;
  Runtime runtime(*store_, kit.options, kit.ports());
  ASSERT_TRUE(runtime.start());
  EXPECT_EQ(runtime.process_manager().fold_counters().snapshot_position.load(), 0u);
  // (and events its recovered commands appended since)
  EXPECT_GE(runtime.process_manager().fold_counters().events_folded.load(), head);
  runtime.stop();
}

// A snapshot of a build before the state was bounded (schema 1: every deploy
// ever made; schema 2: every failed run) is not misread: one warning says
// why, the whole log is folded, and the stop writes this build's schema.
TEST_F(StateSnapshotTest, AProcessSnapshotOfAnOldSchemaIsRefoldedWithALogLine) {
  engine::ProcessState whole;
  for (const auto& e : read_everything(*store_)) whole.apply(e);
  for (uint32_t old : {1u, 2u}) {
    SetUp();
    const uint64_t head = store_->head_position();
    ASSERT_TRUE(events::save_snapshot(*store_, kProcessSnapshotName, old, head,
                                      engine::to_snapshot(whole).SerializeAsString()));
    std::ostringstream lines;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
    spdlog::default_logger()->sinks().push_back(sink);
    RuntimeKit kit;
    {
      Runtime runtime(*store_, kit.options, kit.ports());
      ASSERT_TRUE(runtime.start());
      EXPECT_EQ(runtime.process_manager().fold_counters().snapshot_position.load(), 0u);
      EXPECT_GE(runtime.process_manager().fold_counters().events_folded.load(), head);
      runtime.stop();
    }
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
    EXPECT_NE(
        lines.str().find("process-manager: state snapshot not used (schema " + std::to_string(old) +
                         ", this build reads " + std::to_string(engine::kProcessStateSchema) +
                         "); folding the whole log"),
        std::string::npos)
        << lines.str();
    wharf::v1::StateSnapshot written;
    auto bytes = store_->get_meta(events::snapshot_key(kProcessSnapshotName));
    ASSERT_TRUE(bytes && written.ParseFromString(*bytes));
    EXPECT_EQ(written.schema(), engine::kProcessStateSchema);
    EXPECT_GE(written.position(), head);
  }
}

// The process manager: a stop writes its snapshot; the next start folds only
// what came after it and recovers the same outstanding work as a start that
// folds the whole log.
TEST_F(StateSnapshotTest, ProcessManagerRestartsFromItsSnapshotAndRecoversTheSameWork) {
  RuntimeKit kit;
  auto start = [&](Runtime& runtime) {
    ASSERT_TRUE(runtime.start());
    // Recovered follow-up commands may append: wait until the log is still.
    for (uint64_t seen = 0; seen != store_->head_position();) {
      seen = store_->head_position();
      runtime.process_manager().wait_until_handled(
          seen, std::chrono::steady_clock::now() + std::chrono::seconds(5));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  };
  uint64_t snapshot = 0;
  {
    Runtime runtime(*store_, kit.options, kit.ports());
    start(runtime);
    EXPECT_EQ(runtime.process_manager().fold_counters().snapshot_position.load(), 0u);
    EXPECT_GE(runtime.process_manager().fold_counters().events_folded.load(), 20'000u);
    EXPECT_GT(runtime.process_manager().stats().recovered, 0u);  // runs in progress
    runtime.stop();                                              // writes the snapshot
    snapshot = runtime.process_manager().fold_counters().snapshot_written_position.load();
  }
  ASSERT_EQ(snapshot, store_->head_position());
  uint64_t recovered_from_snapshot = 0;
  {
    Runtime runtime(*store_, kit.options, kit.ports());
    start(runtime);
    const auto& counters = runtime.process_manager().fold_counters();
    EXPECT_EQ(counters.snapshot_position.load(), snapshot);
    EXPECT_EQ(counters.events_folded.load(), store_->head_position() - snapshot);
    recovered_from_snapshot = runtime.process_manager().stats().recovered;
    runtime.stop();
  }
  SetUp();  // no snapshot: the whole log
  {
    Runtime runtime(*store_, kit.options, kit.ports());
    start(runtime);
    EXPECT_EQ(runtime.process_manager().fold_counters().snapshot_position.load(), 0u);
    EXPECT_EQ(runtime.process_manager().stats().recovered, recovered_from_snapshot);
    runtime.stop();
  }
}

}  // namespace
}  // namespace wharf::runtime
