// `wharf projections rebuild|digest|status` and `wharf audit export|replay|report`:
// the read side from the command line, for operators and auditors.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <set>

#include "api/tokens.h"
#include "cli/commands.h"
#include "events/checkpoint.h"
#include "events/event_store.h"
#include "events/export.h"
#include "projections/audit_tools.h"
#include "projections/projection_db.h"
#include "projections/queries.h"
#include "projections/runner.h"
#include "projections/time_format.h"

namespace wharf::cli {
namespace {

namespace pj = wharf::projections;

[[noreturn]] void fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "wharf: %s\n", message.c_str());
  std::fflush(stderr);
  throw CLI::RuntimeError(code);
}

std::unique_ptr<events::EventStore> open_existing_store() {
  events::StoreOptions options;
  options.create_if_missing = false;
  auto store = events::EventStore::open(store_dir(global_options().data_dir), options);
  if (!store) fail(store.error().message);
  return std::move(store.value());
}

std::unique_ptr<pj::ProjectionRunner> open_runner(const std::string& dir,
                                                  const events::EventStore* store) {
  auto runner = pj::ProjectionRunner::open(dir, store);
  if (!runner) fail("projections at " + dir + ": " + runner.error().message);
  return std::move(runner.value());
}

// Progress on stderr at most once a second, so long rebuilds show life.
pj::Progress progress_printer(const char* what) {
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  auto started = std::chrono::steady_clock::now();
  return [what, last, started](uint64_t position, uint64_t head) {
    auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::seconds(1) && position < head) return;
    *last = now;
    double seconds = std::chrono::duration<double>(now - started).count();
    std::fprintf(stderr, "%s: %llu/%llu events (%.0f%%), %.0f events/s\n", what,
                 static_cast<unsigned long long>(position), static_cast<unsigned long long>(head),
                 head == 0 ? 100.0 : 100.0 * static_cast<double>(position) / static_cast<double>(head),
                 seconds > 0 ? static_cast<double>(position) / seconds : 0.0);
    std::fflush(stderr);
  };
}

void print_digests(const pj::ProjectionRunner& runner) {
  auto digests = runner.digests();
  if (!digests) fail(digests.error().message);
  for (const auto& [name, digest] : *digests) {
    std::printf("%-13s %10llu  %s\n", name.c_str(),
                static_cast<unsigned long long>(runner.position(name)), digest.c_str());
  }
}

// A position ("1234") or an RFC 3339 time mapped to the last position at/before it.
uint64_t position_of(const events::EventStore& store, const std::string& text, const char* flag) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoull(text);
  }
  auto t = pj::parse_rfc3339(text);
  if (!t) fail(std::string(flag) + ": expected an RFC 3339 time or a position, got '" + text + "'", 2);
  return pj::log_position_at_time(store, *t);
}

// A scratch directory for offline replays, removed on exit unless kept.
class Scratch {
 public:
  explicit Scratch(std::string dir, bool keep) : keep_(keep) {
    if (dir.empty()) {
      std::random_device rd;
      dir = (std::filesystem::temp_directory_path() /
             ("wharf-audit-" + std::to_string(::getpid()) + "-" + std::to_string(rd())))
                .string();
      owned_ = true;
    }
    path_ = dir;
  }
  ~Scratch() {
    if (owned_ && !keep_) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool keep_ = false;
  bool owned_ = false;
};

std::set<std::string> projects_in(const pj::Queries& queries) {
  std::set<std::string> projects;
  pj::AuditFilter f;
  f.limit = 5000;
  for (;;) {
    auto page = queries.audit(f, {});
    if (!page) fail(page.error().message);
    for (const auto& e : page->entries()) {
      if (!e.project_id().empty()) projects.insert(e.project_id());
    }
    if (page->next_cursor() == 0) break;
    f.cursor = page->next_cursor();
  }
  return projects;
}

struct RebuildArgs {
  std::vector<std::string> names;
};
struct DigestArgs {
  bool as_is = false;
};
struct ExportArgs {
  std::string project, from, to, out;
  std::string audit_key;  // sign a checkpoint over 1..to into the header
};
struct ReplayArgs {
  std::string file, project, scratch;
  ReplayKafkaOptions kafka;  // brokers set: replay from the events topic instead
  bool keep = false;
  bool digests = false;
};
struct ReportArgs {
  std::string file, project, from, to;
};

void run_rebuild(const RebuildArgs& args) {
  auto store = open_existing_store();
  auto runner = open_runner(pj::projections_dir(global_options().data_dir), store.get());
  auto started = std::chrono::steady_clock::now();
  auto reached = runner->rebuild(args.names, progress_printer("rebuild"));
  if (!reached) fail(reached.error().message);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("rebuilt %s to position %llu in %.2f s\n",
              args.names.empty() ? "all projections" : "the named projections",
              static_cast<unsigned long long>(*reached), seconds);
  print_digests(*runner);
}

void run_digest(const DigestArgs& args) {
  auto store = open_existing_store();
  auto runner = open_runner(pj::projections_dir(global_options().data_dir), store.get());
  if (!args.as_is) {
    auto reached = runner->catch_up(progress_printer("catch up"));
    if (!reached) fail(reached.error().message);
  }
  print_digests(*runner);
}

void run_status() {
  auto store = open_existing_store();
  auto runner = open_runner(pj::projections_dir(global_options().data_dir), store.get());
  std::printf("log head %llu\n", static_cast<unsigned long long>(store->head_position()));
  for (const auto& [name, position] : runner->positions()) {
    std::printf("%-13s %10llu  (%llu behind)\n", name.c_str(), static_cast<unsigned long long>(position),
                static_cast<unsigned long long>(store->head_position() - position));
  }
}

void run_audit_export(const ExportArgs& args) {
  auto store = open_existing_store();
  events::ExportOptions options;
  if (!args.from.empty()) {
    // --from names the first event recorded at or after it.
    auto t = pj::parse_rfc3339(args.from);
    options.from_position = t ? pj::log_position_at_time(*store, *t - 1) + 1
                              : position_of(*store, args.from, "--from");
  }
  options.to_position = args.to.empty() ? store->head_position() : position_of(*store, args.to, "--to");
  if (options.to_position < options.from_position) {
    fail("empty range: --from is after --to (positions " + std::to_string(options.from_position) +
         ".." + std::to_string(options.to_position) + ")", 2);
  }
  if (!args.project.empty()) {
    options.include = pj::project_filter(*store, args.project);
    options.filter_description = "project " + args.project;
  }
  if (!args.audit_key.empty()) {
    events::Checkpointer signer(load_audit_key(args.audit_key));
    auto signed_now = signer.sign(*store, options.to_position, "export", api::now_us());
    if (!signed_now) fail(signed_now.error().message);
    options.checkpoint = *signed_now;
  }
  auto summary = events::export_events(*store, args.out, options);
  if (!summary) fail(summary.error().message);
  std::printf("exported positions %llu..%llu to %s: %llu events, %llu omitted (chain kept)%s\n",
              static_cast<unsigned long long>(summary->from_position),
              static_cast<unsigned long long>(summary->to_position), args.out.c_str(),
              static_cast<unsigned long long>(summary->events_written),
              static_cast<unsigned long long>(summary->events_omitted),
              options.checkpoint ? "; signed" : "");
}

void run_audit_replay(const ReplayArgs& args) {
  if (!args.kafka.brokers.empty()) {
    if (!args.file.empty()) fail("audit replay takes --file or --brokers, not both", 2);
    if (int rc = replay_kafka(args.kafka); rc != 0) throw CLI::RuntimeError(rc);
    return;
  }
  if (args.file.empty()) fail("audit replay needs --file FILE (an export) or --brokers B", 2);
  Scratch scratch(args.scratch, args.keep);
  auto runner = open_runner(scratch.path(), nullptr);
  auto replayed = pj::replay_export(args.file, *runner);
  if (!replayed) fail(replayed.error().message);
  const auto& h = replayed->header;
  std::printf("%s: chain verified (%s)\n", args.file.c_str(), replayed->verify.message.c_str());
  std::printf("store %s, positions %llu..%llu, filter: %s; replayed %llu events (%llu omitted) "
              "in %s\n\n",
              h.store_id().c_str(), static_cast<unsigned long long>(h.from_position()),
              static_cast<unsigned long long>(h.to_position()),
              h.filter().empty() ? "none" : h.filter().c_str(),
              static_cast<unsigned long long>(replayed->events_applied),
              static_cast<unsigned long long>(replayed->events_omitted), scratch.path().c_str());
  pj::Queries queries(*runner);
  std::set<std::string> projects;
  if (args.project.empty()) {
    projects = projects_in(queries);
  } else {
    projects.insert(args.project);
  }
  for (const auto& p : projects) {
    pj::print_version_history(std::cout, queries, p, {});
    std::cout << "\n";
    pj::print_environment_timeline(std::cout, queries, p, h.from_position(), h.to_position(), {});
    std::cout << "\n";
  }
  if (args.digests) print_digests(*runner);
}

void run_audit_report(const ReportArgs& args) {
  std::unique_ptr<events::EventStore> store;
  std::unique_ptr<Scratch> scratch;
  std::unique_ptr<pj::ProjectionRunner> runner;
  uint64_t from = 0, to = UINT64_MAX;
  if (!args.file.empty()) {
    scratch = std::make_unique<Scratch>("", false);
    runner = open_runner(scratch->path(), nullptr);
    auto replayed = pj::replay_export(args.file, *runner);
    if (!replayed) fail(replayed.error().message);
    std::printf("%s: chain verified; positions %llu..%llu\n", args.file.c_str(),
                static_cast<unsigned long long>(replayed->header.from_position()),
                static_cast<unsigned long long>(replayed->header.to_position()));
  } else {
    store = open_existing_store();
    runner = open_runner(pj::projections_dir(global_options().data_dir), store.get());
    auto reached = runner->catch_up(progress_printer("catch up"));
    if (!reached) fail(reached.error().message);
  }
  if (!args.from.empty()) {
    auto t = pj::parse_rfc3339(args.from);
    from = t ? runner->position_at_time(*t - 1) + 1 : std::stoull(args.from);
  }
  if (!args.to.empty()) {
    auto t = pj::parse_rfc3339(args.to);
    to = t ? runner->position_at_time(*t) : std::stoull(args.to);
  }
  pj::Queries queries(*runner);
  pj::print_deploy_report(std::cout, queries, args.project, from, to, {});
}

}  // namespace

void register_projection_commands(CLI::App& app) {
  auto& projections = group(app, "projections",
                            "read models (projects, runs, versions, environments, permissions, "
                            "audit) kept in DATA/projections");

  auto rebuild_args = std::make_shared<RebuildArgs>();
  auto* rebuild = projections.add_subcommand(
      "rebuild",
      "drop the named projections (default: all) and fold the whole log into them again from "
      "position 0, printing progress; then print their digests. Stop `wharf serve` first.");
  add_data_option(*rebuild);
  rebuild->add_option("names", rebuild_args->names,
                      "projects, runs, versions, environments, permissions, audit");
  rebuild->callback([rebuild_args] { run_rebuild(*rebuild_args); });

  auto digest_args = std::make_shared<DigestArgs>();
  auto* digest = projections.add_subcommand(
      "digest",
      "catch the projections up with the log, then print per projection: name, checkpoint "
      "position, SHA-256 over its whole state. Equal digests = equal state.");
  add_data_option(*digest);
  digest->add_flag("--as-is", digest_args->as_is, "do not catch up first");
  digest->callback([digest_args] { run_digest(*digest_args); });

  auto* status = projections.add_subcommand("status", "checkpoint of each projection vs the log head");
  add_data_option(*status);
  status->callback([] { run_status(); });

  auto& audit = group(app, "audit", "verify and export the tamper-evident log");

  auto export_args = std::make_shared<ExportArgs>();
  auto* exp = audit.add_subcommand(
      "export",
      "write the events of a time range (optionally of one project) with what is needed to "
      "verify them against the chain; other events in the range become hash-only placeholders");
  add_data_option(*exp);
  exp->add_option("--project", export_args->project, "only this project's events");
  exp->add_option("--from", export_args->from, "RFC 3339 time (or position); default: the start");
  exp->add_option("--to", export_args->to, "RFC 3339 time (or position); default: the head");
  exp->add_option("--out", export_args->out, "output file")->required();
  exp->add_option("--audit-key", export_args->audit_key,
                  "Ed25519 private key (`wharf audit keygen`): sign a checkpoint over 1..--to into "
                  "the header, so `audit verify --trust-key` ties the file to this store");
  exp->callback([export_args] { run_audit_export(*export_args); });

  auto replay_args = std::make_shared<ReplayArgs>();
  auto* replay = audit.add_subcommand(
      "replay",
      "verify an export file, rebuild the projections from it alone in a scratch directory (no "
      "server, no store) and print each project's version history and environment timeline");
  replay->add_option("--file", replay_args->file, "export file (wharf audit export)");
  replay->add_option("--brokers", replay_args->kafka.brokers,
                     "replay the events topic on these Kafka brokers instead of a file "
                     "(same as audit replay-kafka)");
  replay->add_option("--topic", replay_args->kafka.topic, "events topic (with --brokers)")
      ->capture_default_str();
  replay->add_option("--project", replay_args->project, "only this project");
  replay->add_option("--scratch", replay_args->scratch, "use this directory (default: a temp dir)");
  replay->add_flag("--keep", replay_args->keep, "keep the temp scratch directory");
  replay->add_flag("--digests", replay_args->digests, "also print the replayed projections' digests");
  replay->callback([replay_args] { run_audit_replay(*replay_args); });

  auto report_args = std::make_shared<ReportArgs>();
  auto* report = audit.add_subcommand(
      "report",
      "a table of who deployed what where, who approved, what failed, what was rolled back and "
      "why; from the store (--data) or from an export file (--file), no server needed");
  add_data_option(*report);
  report->add_option("--file", report_args->file, "report from this export file (then --data is not used)");
  report->add_option("--project", report_args->project, "only this project");
  report->add_option("--from", report_args->from, "RFC 3339 time (or position)");
  report->add_option("--to", report_args->to, "RFC 3339 time (or position)");
  report->callback([report_args] { run_audit_report(*report_args); });
}

}  // namespace wharf::cli
