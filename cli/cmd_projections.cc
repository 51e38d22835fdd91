// `wharf projections rebuild|digest|status` and `wharf audit export|replay|report`:
// the read side from the command line, for operators and auditors.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <set>

#include "api/proto_json.h"
#include "api/event_json.h"
#include "api/tokens.h"
#include "cli/api_client.h"
#include "cli/commands.h"
#include "events/checkpoint.h"
#include "events/event_store.h"
#include "events/export.h"
#include "projections/audit_tools.h"
#include "projections/insights_queries.h"
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
    std::fprintf(
        stderr, "%s: %llu/%llu events (%.0f%%), %.0f events/s\n", what,
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
  if (!t)
    fail(std::string(flag) + ": expected an RFC 3339 time or a position, got '" + text + "'", 2);
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

// The read side `audit report` and `insights` compute from: an export file
// replayed into a scratch directory (its chain verified, noted on `notes`), or
// the store in --data with its projections caught up.
struct ReadSide {
  std::unique_ptr<events::EventStore> store;
  std::unique_ptr<Scratch> scratch;
  std::unique_ptr<pj::ProjectionRunner> runner;
};
ReadSide open_read_side(const std::string& file, std::FILE* notes) {
  ReadSide side;
  if (!file.empty()) {
    side.scratch = std::make_unique<Scratch>("", false);
    side.runner = open_runner(side.scratch->path(), nullptr);
    auto replayed = pj::replay_export(file, *side.runner);
    if (!replayed) fail(replayed.error().message);
    std::fprintf(notes, "%s: chain verified; positions %llu..%llu\n", file.c_str(),
                 static_cast<unsigned long long>(replayed->header.from_position()),
                 static_cast<unsigned long long>(replayed->header.to_position()));
  } else {
    side.store = open_existing_store();
    side.runner = open_runner(pj::projections_dir(global_options().data_dir), side.store.get());
    auto reached = side.runner->catch_up(progress_printer("catch up"));
    if (!reached) fail(reached.error().message);
  }
  return side;
}

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
    std::printf("%-13s %10llu  (%llu behind)\n", name.c_str(),
                static_cast<unsigned long long>(position),
                static_cast<unsigned long long>(store->head_position() - position));
  }
}

void run_audit_export(const ExportArgs& args) {
  auto store = open_existing_store();
  events::ExportOptions options;
  if (!args.from.empty()) {
    // --from names the first event recorded at or after it.
    auto t = pj::parse_rfc3339(args.from);
    options.from_position =
        t ? pj::log_position_at_time(*store, *t - 1) + 1 : position_of(*store, args.from, "--from");
  }
  options.to_position =
      args.to.empty() ? store->head_position() : position_of(*store, args.to, "--to");
  if (options.to_position < options.from_position) {
    fail("empty range: --from is after --to (positions " + std::to_string(options.from_position) +
             ".." + std::to_string(options.to_position) + ")",
         2);
  }
  if (!args.project.empty()) {
    options.include = pj::project_filter(*store, args.project);
    options.filter_description = "project " + args.project;
  }
  options.include =
      api::without_credentials(std::move(options.include), options.filter_description);
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
  std::printf(
      "store %s, positions %llu..%llu, filter: %s; replayed %llu events (%llu omitted) "
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
  ReadSide side = open_read_side(args.file, stdout);
  pj::ProjectionRunner* runner = side.runner.get();
  uint64_t from = 0, to = UINT64_MAX;
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

struct InsightsArgs {
  ServerOptions api;
  std::string file, data, project, environment, from, to, bucket = "week";
  bool detail = false, json = false, local = false;
};

std::string seconds_text(double s) {
  char buf[64];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%.0fs (%.1fd)", s, s / 86400);
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%.0fs (%.1fh)", s, s / 3600);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  }
  return buf;
}

void print_figures(const char* label, const wharf::views::v1::InsightsFigures& f) {
  std::printf(
      "%-28s deploys %4u (%.2f/day)  lead median %s p90 %s  CFR %.1f%% (%u/%u)  "
      "restore median %s p90 %s%s\n",
      label, f.deployments(), f.deployments_per_day(), seconds_text(f.lead_time_median_s()).c_str(),
      seconds_text(f.lead_time_p90_s()).c_str(), 100.0 * f.change_failure_rate(),
      f.failed_deployments(), f.deployments(), seconds_text(f.time_to_restore_median_s()).c_str(),
      seconds_text(f.time_to_restore_p90_s()).c_str(),
      f.unrestored() > 0 ? (" (" + std::to_string(f.unrestored()) + " unrestored)").c_str() : "");
}

void print_insights(const wharf::views::v1::InsightsReport& r) {
  std::printf("delivery metrics %s .. %s (as of position %llu; failure window %llds)\n\n",
              r.from().c_str(), r.to().c_str(), static_cast<unsigned long long>(r.position()),
              static_cast<long long>(r.failure_window_s()));
  print_figures("all", r.total());
  for (const auto& g : r.groups()) {
    print_figures((g.project_id() + "/" + g.environment()).c_str(), g.figures());
  }
  if (r.buckets_size() > 0) std::printf("\nper %s:\n", r.bucket().c_str());
  for (const auto& b : r.buckets()) print_figures(b.start().substr(0, 10).c_str(), b.figures());
  if (r.deployments_size() > 0) std::printf("\ndeployments (position, time, where, version):\n");
  for (const auto& f : r.deployments()) {
    std::printf("  %8llu %s %s/%s %s%s%s%s\n", static_cast<unsigned long long>(f.position()),
                pj::format_rfc3339(f.deployed_at_us()).c_str(), f.project_id().c_str(),
                f.environment().c_str(), f.version().c_str(), f.rollback() ? " (rollback)" : "",
                f.failure().position() != 0 ? (" FAILED by " + f.failure().kind() + " @" +
                                               std::to_string(f.failure().position()))
                                                  .c_str()
                                            : "",
                f.restore().position() != 0
                    ? (", restored @" + std::to_string(f.restore().position())).c_str()
                    : "");
  }
}

int64_t insights_time(const std::string& text, const char* flag, int64_t fallback) {
  if (text.empty()) return fallback;
  auto t = pj::parse_rfc3339(text);
  if (!t) fail(std::string(flag) + ": expected an RFC 3339 time, got '" + text + "'", 2);
  return *t;
}

void run_insights(const InsightsArgs& args) {
  if (!pj::insights::parse_bucket(args.bucket)) {
    fail("--bucket: none, day, week or month", 2);
  }
  if (!args.file.empty() && args.local) fail("insights takes --file or --local, not both", 2);
  if (args.file.empty() && !args.local) {
    // Through the server's API: the same query, the same JSON.
    auto q = [](const std::string& text) {  // a query value, percent-encoded
      std::string out;
      for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':') {
          out.push_back(static_cast<char>(c));
        } else {
          char hex[4];
          std::snprintf(hex, sizeof hex, "%%%02X", c);
          out += hex;
        }
      }
      return out;
    };
    std::string path = "/insights?bucket=" + q(args.bucket);
    if (!args.project.empty()) path += "&project=" + q(args.project);
    if (!args.environment.empty()) path += "&environment=" + q(args.environment);
    if (!args.from.empty()) path += "&from=" + q(args.from);
    if (!args.to.empty()) path += "&to=" + q(args.to);
    if (args.detail) path += "&detail=true";
    const std::string body = call_api(args.api, api_request(args.api, "GET", path));
    if (args.json) {
      std::printf("%s\n", body.c_str());
      return;
    }
    wharf::views::v1::InsightsReport report;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(body, &report, options).ok()) {
      fail("the server's answer is not an insights report");
    }
    print_insights(report);
    return;
  }
  ReadSide side = open_read_side(args.file, stderr);
  pj::ProjectionRunner* runner = side.runner.get();
  pj::InsightsFilter filter;
  filter.project = args.project;
  filter.environment = args.environment;
  filter.to_us = insights_time(args.to, "--to", api::now_us());
  filter.from_us = insights_time(args.from, "--from", filter.to_us - pj::insights::kDefaultRangeUs);
  filter.bucket = *pj::insights::parse_bucket(args.bucket);
  filter.detail = args.detail;
  const pj::Queries queries(*runner);
  auto report = pj::InsightsQueries(queries).insights(filter, {});
  if (!report) fail(report.error().message, 2);
  if (args.json) {
    std::string out;
    if (!api::append_view_json(*report, out)) fail("cannot print the report as JSON");
    std::printf("%s\n", out.c_str());
    return;
  }
  print_insights(*report);
}

}  // namespace

static void register_insights_command(CLI::App& app) {
  auto args = std::make_shared<InsightsArgs>();
  auto* cmd = app.add_subcommand(
      "insights",
      "the four delivery metrics (deployment frequency, lead time for changes, change failure "
      "rate, time to restore) per project and environment, from the log (docs/insights.md): "
      "through the server's API (default), from the local store (--local --data DIR, server "
      "stopped) or offline from an audit export (--file)");
  add_server_options(cmd, args->api, "a viewer's");
  cmd->add_option("--file", args->file,
                  "compute from this export file (wharf audit export), offline");
  cmd->add_flag("--local", args->local, "compute from the store in --data (the server stopped)");
  add_data_option(*cmd);
  cmd->add_option("--project", args->project, "one project (id); default: all you may see");
  cmd->add_option("--environment", args->environment, "one environment; default: all");
  cmd->add_option("--from", args->from, "RFC 3339 time, inclusive; default: 90 days before --to");
  cmd->add_option("--to", args->to, "RFC 3339 time, exclusive; default: now");
  cmd->add_option("--bucket", args->bucket, "none, day, week or month")->capture_default_str();
  cmd->add_flag("--detail", args->detail,
                "list every deployment counted, with its failure and restore");
  cmd->add_flag("--json", args->json, "print the JSON of GET /api/v1/insights");
  cmd->callback([args] { run_insights(*args); });
}

void register_projection_commands(CLI::App& app) {
  register_insights_command(app);
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

  auto* status =
      projections.add_subcommand("status", "checkpoint of each projection vs the log head");
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
  replay->add_flag("--digests", replay_args->digests,
                   "also print the replayed projections' digests");
  replay->callback([replay_args] { run_audit_replay(*replay_args); });

  auto report_args = std::make_shared<ReportArgs>();
  auto* report = audit.add_subcommand(
      "report",
      "a table of who deployed what where, who approved, what failed, what was rolled back and "
      "why; from the store (--data) or from an export file (--file), no server needed");
  add_data_option(*report);
  report->add_option("--file", report_args->file,
                     "report from this export file (then --data is not used)");
  report->add_option("--project", report_args->project, "only this project");
  report->add_option("--from", report_args->from, "RFC 3339 time (or position)");
  report->add_option("--to", report_args->to, "RFC 3339 time (or position)");
  report->callback([report_args] { run_audit_report(*report_args); });
}

}  // namespace wharf::cli
