#pragma once
// Self-contained exports of the log and verification of the hash chain, for
// `wharf events export`, `wharf audit verify` and `wharf audit export`.
//
// File format (docs/storage.md#export-format): one varint-length-delimited
// wharf.v1.ExportHeader, then one delimited wharf.v1.ExportRecord per position
// from_position..to_position. An event the filter leaves out is written as
// OmittedEvent{position, content_digest, hash}, so the chain still verifies.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "events/event_store.h"

namespace wharf::events {

inline constexpr const char* kExportFormat = "wharf-export-v1";

struct ExportOptions {
  uint64_t from_position = 1;
  uint64_t to_position = 0;                      // 0 = the head at export time
  std::function<bool(const Envelope&)> include;  // null = every event
  std::string filter_description;                // recorded in the header, for humans
  // Put in the header (events/checkpoint.h); it must cover exactly
  // to_position, which defaults to its head_position.
  std::optional<wharf::v1::CheckpointSigned> checkpoint;
};

struct ExportSummary {
  uint64_t from_position = 0;
  uint64_t to_position = 0;  // from_position - 1 when the range is empty
  uint64_t events_written = 0;
  uint64_t events_omitted = 0;
  std::string head_hash;  // hash at to_position (raw 32 bytes)
};

// Writes positions [from, to] of `store` to `path` (via `path`.tmp, fsync,
// rename: a crash never leaves a half file under the final name).
Expected<ExportSummary, Error> export_events(const EventStore& store, const std::string& path,
                                             const ExportOptions& options = {});

struct ExportFile {
  wharf::v1::ExportHeader header;
  std::vector<wharf::v1::ExportRecord> records;
};

// Reads a whole export (no chain check; see verify_export).
Expected<ExportFile, Error> read_export(const std::string& path);

struct VerifyReport {
  bool ok = false;
  uint64_t events_checked = 0;      // positions whose hash was recomputed and matched
  uint64_t first_bad_position = 0;  // 0 when ok, or when the fault has no position
  std::string message;              // what was checked, or what is wrong and where
};

// Recomputes the chain of the store in `dir` from position 1 and checks the
// positions are dense and the stream and event-id indexes agree with the log.
// Opens RocksDB read-only, so it works beside a running server.
VerifyReport verify_store(const std::string& dir);

// Recomputes the chain of an export from its header's hash_before to its
// head_hash, needing nothing but the file.
struct VerifyExportOptions {
  std::string trusted_public_key;  // raw Ed25519 key: the header's checkpoint must be signed by it
  std::string expected_head_hash;  // raw 32 bytes: the chain must end there
};
VerifyReport verify_export(const std::string& path, const VerifyExportOptions& options = {});

}  // namespace wharf::events
