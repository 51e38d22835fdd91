// `wharf events append|tail|export` and `wharf audit verify`: the log from the
// command line, for scripting, tests and auditors.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <stdexcept>

#include "api/event_json.h"
#include "api/tokens.h"
#include "cli/commands.h"
#include "engine/target.h"
#include "events/checkpoint.h"
#include "events/event_store.h"
#include "events/export.h"
#include "events/hash_chain.h"
#include "events/ids.h"

namespace wharf::cli {
namespace {

using events::Envelope;
using events::EventStore;
using events::ExpectedVersion;

struct AppendArgs {
  std::string stream;
  std::string expected = "any";
  std::string payload;  // JSON of wharf.v1.Payload; stdin when empty
  bool envelope = false;
  std::string event_id;
  std::string actor;
  std::string channel = "cli";
  std::string correlation_id;
  std::string causation_id;
  int64_t occurred_at_us = 0;
};

struct TailArgs {
  uint64_t from = 1;
  uint64_t limit = 0;
  bool follow = false;
};

struct ExportArgs {
  std::string out;
  uint64_t from = 1;
  uint64_t to = 0;
  std::string audit_key;  // sign a checkpoint into the header
};

struct VerifyArgs {
  std::string file;
  std::string trust_key;    // hex or file: the export must be signed by it
  std::string expect_head;  // hex head hash the export must end at
};

struct ProveArgs {
  uint64_t position = 0;
  std::string out;
  std::string audit_key;  // sign a fresh checkpoint when the log has none covering the position
};

struct VerifyProofArgs {
  std::string proof;
  std::string trust_key;
};

[[noreturn]] void fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "wharf: %s\n", message.c_str());
  std::fflush(stderr);
  throw CLI::RuntimeError(code);
}

// Writers take the store's lock; readers open a read-only view that follows a
// running server (`wharf serve`) instead of competing for the lock.
enum class Access { kWrite, kRead };

std::unique_ptr<EventStore> open_store(Access access) {
  events::StoreOptions options;
  options.read_only = access == Access::kRead;
  auto store = EventStore::open(store_dir(global_options().data_dir), options);
  if (!store) fail(store.error().message);
  return std::move(store.value());
}

ExpectedVersion parse_expected(const std::string& text) {
  if (text == "any") return ExpectedVersion::any();
  if (text == "none" || text == "no-stream") return ExpectedVersion::no_stream();
  try {
    size_t used = 0;
    uint64_t v = std::stoull(text, &used);
    if (used == text.size()) return ExpectedVersion::exact(v);
  } catch (const std::exception&) {
  }
  fail("--expected must be any, none or a stream version, not '" + text + "'", 2);
}

wharf::v1::Channel parse_channel(const std::string& text) {
  wharf::v1::Channel channel;
  std::string upper = "CHANNEL_";
  for (char c : text)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  if (!wharf::v1::Channel_Parse(upper, &channel)) {
    fail("--channel must be one of ui, api, gerrit, system, cli; not '" + text + "'", 2);
  }
  return channel;
}

template <typename Message>
void parse_json(const std::string& json, Message* message, const std::string& what) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    fail("bad " + what + " JSON: " + std::string(status.message()) +
             "\n  expected the protobuf JSON form of " + message->GetDescriptor()->full_name() +
             ", e.g. {\"projectCreated\":{\"projectId\":\"p1\",\"name\":\"Payments\"}}",
         2);
  }
}

std::string to_json(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) fail("cannot print event as JSON: " + std::string(status.message()));
  return out;
}

void run_append(const AppendArgs& args) {
  std::string json = args.payload;
  if (json.empty()) {
    json.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (json.find_first_not_of(" \t\r\n") == std::string::npos) {
    fail("no payload: pass --payload JSON or pipe the JSON to stdin", 2);
  }
  Envelope event;
  if (args.envelope) {
    parse_json(json, &event, "envelope");
  } else {
    parse_json(json, event.mutable_payload(), "payload");
  }
  if (events::payload_type(event.payload()).empty()) {
    fail("the payload sets no event type (one field of wharf.v1.Payload, e.g. \"projectCreated\")",
         2);
  }
  if (!args.event_id.empty()) event.set_event_id(args.event_id);
  if (event.event_id().empty()) event.set_event_id(events::new_uuid());
  if (args.occurred_at_us != 0) event.set_occurred_at_us(args.occurred_at_us);
  if (event.occurred_at_us() == 0) {
    event.set_occurred_at_us(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
  }
  if (!args.actor.empty() || !event.has_actor()) {
    const char* user = std::getenv("USER");
    event.mutable_actor()->set_id(!args.actor.empty() ? args.actor
                                                      : (user != nullptr ? user : "cli"));
    event.mutable_actor()->set_channel(parse_channel(args.channel));
  }
  if (!args.correlation_id.empty()) event.set_correlation_id(args.correlation_id);
  if (!args.causation_id.empty()) event.set_causation_id(args.causation_id);

  auto store = open_store(Access::kWrite);
  auto result = store->append(args.stream, parse_expected(args.expected), {event});
  if (!result)
    fail(std::string(events::to_string(result.error().code)) + ": " + result.error().message);
  if (result->already_present) {
    // stderr: stdout carries only the position, for scripts.
    std::fprintf(stderr, "wharf: event %s was already in the log; nothing written\n",
                 event.event_id().c_str());
  }
  std::printf("%llu\n", static_cast<unsigned long long>(result->first_position));
}

volatile std::sig_atomic_t g_interrupted = 0;

void run_tail(const TailArgs& args) {
  auto store = open_store(Access::kRead);
  uint64_t printed = 0;
  uint64_t next = std::max<uint64_t>(args.from, 1);
  auto print = [&](const Envelope& e) {
    // Credentials in old events are masked here as on every read path
    // (docs/targets.md#the-past); the hash printed is still the stored one.
    std::string line;
    if (engine::holds_credentials(e)) {
      Envelope masked = e;
      engine::mask_credentials(masked);
      line = to_json(masked);
    } else {
      line = to_json(e);
    }
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    next = e.position() + 1;
    return args.limit == 0 || ++printed < args.limit;
  };
  auto scanned = store->scan(next, 0, print);
  if (!scanned) fail(scanned.error().message);
  std::fflush(stdout);
  if (!args.follow) return;
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  while (!g_interrupted && (args.limit == 0 || printed < args.limit)) {
    store->wait_for_head_beyond(next - 1,
                                std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
    auto more = store->scan(next, 0, print);
    if (!more) fail(more.error().message);
    std::fflush(stdout);
  }
}


std::string trusted_key(const std::string& text) {
  auto key = events::parse_public_key(text);
  if (!key) fail(key.error(), 2);
  return *key;
}

void run_export(const ExportArgs& args) {
  std::unique_ptr<EventStore> store;
  events::ExportOptions options;
  options.from_position = args.from;
  options.to_position = args.to;
  if (!args.audit_key.empty()) {
    // Signed exports are recorded as CheckpointSigned events when this
    // process can write the log; beside a running server the checkpoint is
    // in the header only (the server records its own periodically).
    events::Checkpointer signer(load_audit_key(args.audit_key));
    events::StoreOptions writable;
    writable.create_if_missing = false;
    auto opened = EventStore::open(store_dir(global_options().data_dir), writable);
    if (opened && args.to == 0) {
      store = std::move(*opened);
      auto recorded = signer.record(*store, "export", api::now_us());
      if (!recorded) fail(recorded.error().message);
      options.checkpoint = *recorded;
      std::fprintf(stderr, "wharf: signed checkpoint over 1..%llu recorded at position %llu\n",
                   static_cast<unsigned long long>(recorded->head_position()),
                   static_cast<unsigned long long>(store->head_position()));
    } else {
      if (opened) (*opened)->close();
      store = open_store(Access::kRead);
      auto signed_now = signer.sign(*store, args.to, "export", api::now_us());
      if (!signed_now) fail(signed_now.error().message);
      options.checkpoint = *signed_now;
    }
  } else {
    store = open_store(Access::kRead);
  }
  options.include = api::without_credentials(nullptr, options.filter_description);
  auto summary = events::export_events(*store, args.out, options);
  if (!summary) fail(summary.error().message);
  std::printf("exported positions %llu..%llu (%llu events) of store %s to %s; head hash %s%s\n",
              static_cast<unsigned long long>(summary->from_position),
              static_cast<unsigned long long>(summary->to_position),
              static_cast<unsigned long long>(summary->events_written), store->store_id().c_str(),
              args.out.c_str(), events::to_hex(summary->head_hash).c_str(),
              options.checkpoint ? "; signed" : "");
}

void run_verify(const VerifyArgs& args) {
  // A flipped byte can make a string field invalid UTF-8; the report says so.
  google::protobuf::LogSilencer quiet;
  if (args.file.empty() && (!args.trust_key.empty() || !args.expect_head.empty())) {
    fail("--trust-key and --expect-head check an export: give --file", 2);
  }
  events::VerifyExportOptions options;
  if (!args.trust_key.empty()) options.trusted_public_key = trusted_key(args.trust_key);
  if (!args.expect_head.empty()) {
    auto head = events::parse_public_key(args.expect_head);  // 64 hex digits, like a key
    if (!head) fail("--expect-head must be the 64 hex digits of a head hash", 2);
    options.expected_head_hash = *head;
  }
  events::VerifyReport report = args.file.empty()
                                    ? events::verify_store(store_dir(global_options().data_dir))
                                    : events::verify_export(args.file, options);
  if (report.ok) {
    std::printf("OK: %s\n", report.message.c_str());
    return;
  }
  if (report.first_bad_position != 0) {
    fail("verification FAILED at position " + std::to_string(report.first_bad_position) + " (" +
         std::to_string(report.events_checked) + " events before it verified): " + report.message);
  }
  fail("verification FAILED: " + report.message);
}

void run_keygen(const std::string& out) {
  auto key = events::SigningKey::generate();
  if (!key) fail(key.error());
  if (auto saved = key->save(out); !saved) fail(saved.error());
  const std::string pub = events::to_hex(key->public_key());
  std::ofstream(out + ".pub") << pub << "\n";
  std::printf(
      "private key %s (mode 0600; give it to `wharf serve --audit-key`)\n"
      "public key  %s (also in %s.pub; auditors pass it as --trust-key)\n",
      out.c_str(), pub.c_str(), out.c_str());
}

void run_prove(const ProveArgs& args) {
  auto store = open_store(Access::kRead);
  if (args.position == 0 || args.position > store->head_position()) {
    fail("--position must be 1.." + std::to_string(store->head_position()), 2);
  }
  auto logged = events::latest_checkpoint(*store, args.position);
  if (!logged) fail(logged.error().message);
  wharf::v1::CheckpointSigned checkpoint;
  if (logged->has_value()) {
    checkpoint = **logged;
  } else if (!args.audit_key.empty()) {
    events::Checkpointer signer(load_audit_key(args.audit_key));
    auto signed_now = signer.sign(*store, 0, "proof", api::now_us());
    if (!signed_now) fail(signed_now.error().message);
    checkpoint = *signed_now;
  } else {
    fail("no signed checkpoint in the log covers position " + std::to_string(args.position) +
         " yet: wait for the server's next one, or give --audit-key");
  }
  auto proof = events::prove(*store, args.position, checkpoint);
  if (!proof) fail(proof.error().message);
  std::ofstream(args.out, std::ios::trunc) << to_json(*proof) << "\n";
  std::printf("proof of position %llu in the checkpoint over 1..%llu (%d hashes) written to %s\n",
              static_cast<unsigned long long>(args.position),
              static_cast<unsigned long long>(checkpoint.head_position()), proof->path_size(),
              args.out.c_str());
}

void run_verify_proof(const VerifyProofArgs& args) {
  std::ifstream in(args.proof);
  if (!in) fail("cannot read " + args.proof);
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  wharf::v1::MerkleProof proof;
  parse_json(json, &proof, "proof");
  auto report = events::verify_proof(proof, trusted_key(args.trust_key));
  if (!report.ok) fail("proof FAILED: " + report.message);
  std::printf("OK: %s\n", report.message.c_str());
}

}  // namespace

void register_event_commands(CLI::App& app) {
  auto& events_group = group(app, "events", "append to, read and export the event log");

  auto append_args = std::make_shared<AppendArgs>();
  auto* append = events_group.add_subcommand(
      "append",
      "append one event; prints its global position.\n"
      "The payload is the protobuf JSON of wharf.v1.Payload, e.g.\n"
      "  wharf events append --stream project-p1 --expected none \\\n"
      "    --payload '{\"projectCreated\":{\"projectId\":\"p1\",\"name\":\"Payments\"}}'\n"
      "Without --payload the JSON is read from stdin.");
  add_data_option(*append);
  append->add_option("--stream", append_args->stream, "stream id, e.g. project-p1")->required();
  append
      ->add_option("--expected", append_args->expected,
                   "expected stream version: any, none (stream must not exist) or N")
      ->capture_default_str();
  append->add_option("--payload", append_args->payload, "payload JSON (default: read stdin)");
  append->add_flag(
      "--envelope", append_args->envelope,
      "the JSON is a whole wharf.v1.Envelope (eventId, actor, correlationId, payload...)");
  append->add_option("--event-id", append_args->event_id,
                     "idempotency key (default: a new UUID); re-appending it writes nothing");
  append->add_option("--occurred-at-us", append_args->occurred_at_us,
                     "when it happened, µs since the epoch (default: now); give the same value "
                     "with the same --event-id to make a retry idempotent");
  append->add_option("--actor", append_args->actor, "who (default: $USER)");
  append->add_option("--channel", append_args->channel, "ui, api, gerrit, system or cli")
      ->capture_default_str();
  append->add_option("--correlation-id", append_args->correlation_id,
                     "run or request this belongs to");
  append->add_option("--causation-id", append_args->causation_id,
                     "event or command that caused it");
  append->callback([append_args] { run_append(*append_args); });

  auto tail_args = std::make_shared<TailArgs>();
  auto* tail = events_group.add_subcommand(
      "tail", "print events as JSON lines (protobuf JSON of wharf.v1.Envelope), oldest first");
  add_data_option(*tail);
  tail->add_option("--from", tail_args->from, "first global position")->capture_default_str();
  tail->add_option("--limit", tail_args->limit, "stop after N events (0 = no limit)");
  tail->add_flag("--follow,-f", tail_args->follow, "keep printing new events until interrupted");
  tail->callback([tail_args] { run_tail(*tail_args); });

  auto export_args = std::make_shared<ExportArgs>();
  auto* exp = events_group.add_subcommand(
      "export",
      "write a self-contained, hash-chained export file that `wharf audit verify --file` checks "
      "without the store");
  add_data_option(*exp);
  exp->add_option("--out", export_args->out, "output file")->required();
  exp->add_option("--from", export_args->from, "first position")->capture_default_str();
  exp->add_option("--to", export_args->to, "last position (default: the head)");
  exp->add_option("--audit-key", export_args->audit_key,
                  "sign a checkpoint of the export's end into its header (`wharf audit keygen`)")
      ->envname("WHARF_AUDIT_KEY");
  exp->callback([export_args] { run_export(*export_args); });

  auto& audit = group(app, "audit", "verify and export the tamper-evident log");
  auto verify_args = std::make_shared<VerifyArgs>();
  auto* verify = audit.add_subcommand(
      "verify",
      "recompute the hash chain of a store (--data) or an export file (--file); exits 1 naming "
      "the first position that does not match");
  add_data_option(*verify);
  verify->add_option("--file", verify_args->file, "verify this export file instead of a store");
  verify->add_option(
      "--trust-key", verify_args->trust_key,
      "Ed25519 public key (64 hex digits, or a file with them or a PEM key): the export's "
      "signed checkpoint must verify with it, for the header's store and head");
  verify->add_option(
      "--expect-head", verify_args->expect_head,
      "hex head hash (e.g. from a checkpoint you trust) the export's chain must end at");
  verify->callback([verify_args] { run_verify(*verify_args); });

  auto keygen_out = std::make_shared<std::string>();
  auto* keygen = audit.add_subcommand(
      "keygen",
      "create an Ed25519 key for signing checkpoints: FILE (private, 0600) and FILE.pub (hex)");
  keygen->add_option("--out", *keygen_out, "private key file to create (never overwritten)")
      ->required();
  keygen->callback([keygen_out] { run_keygen(*keygen_out); });

  auto prove_args = std::make_shared<ProveArgs>();
  auto* prove = audit.add_subcommand(
      "prove",
      "write a Merkle proof that the event at --position is in a signed checkpoint (the newest "
      "in the log covering it); `wharf audit verify-proof` checks it with only the public key");
  add_data_option(*prove);
  prove->add_option("--position", prove_args->position, "global position of the event")->required();
  prove->add_option("--out", prove_args->out, "proof file (JSON of wharf.v1.MerkleProof)")
      ->required();
  prove
      ->add_option(
          "--audit-key", prove_args->audit_key,
          "private key to sign a fresh checkpoint when none in the log covers the position")
      ->envname("WHARF_AUDIT_KEY");
  prove->callback([prove_args] { run_prove(*prove_args); });

  auto verify_proof_args = std::make_shared<VerifyProofArgs>();
  auto* verify_proof = audit.add_subcommand(
      "verify-proof",
      "check a proof from `wharf audit prove` offline: event hash, Merkle path, signature");
  verify_proof->add_option("--proof", verify_proof_args->proof, "proof file")->required();
  verify_proof->add_option("--trust-key", verify_proof_args->trust_key, "the trusted public key")
      ->required();
  verify_proof->callback([verify_proof_args] { run_verify_proof(*verify_proof_args); });
}

events::SigningKey load_audit_key(const std::string& path) {
  auto key = events::SigningKey::load(path);
  if (!key) fail(key.error());
  return std::move(*key);
}

}  // namespace wharf::cli
