#pragma once
// ProjectionRunner: hosts every projection on one RocksDB (DATA/projections),
// folds the log into them and tells readers how far each one has got.
//
// Each projection's checkpoint (last applied position) is written in the same
// WriteBatch as the state it covers, so after a restart or SIGKILL the runner
// resumes from the checkpoint and converges to the same state: a batch is
// either wholly there or not at all.
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "events/event_store.h"
#include "projections/error.h"
#include "projections/projection.h"
#include "projections/projection_db.h"

namespace wharf::projections {

struct RunnerOptions {
  size_t batch_events = 8192;  // events folded per WriteBatch while catching up
  // catch_up() (and so rebuild()) writes its batches without the WAL and
  // makes them durable with a flush of every column family each
  // `flush_every_batches` batches and at the end. A crash in between loses
  // only unflushed batches: each column family's flushed state is a prefix of
  // its batches with the checkpoint they carry, so it resumes from there.
  size_t flush_every_batches = 64;
  // catch_up() folds the projections whose checkpoint is 0 (a rebuild, a new
  // node) in memory and writes their state as SST files, ingested directly
  // (ProjectionDb::ingest), instead of through WriteBatches and the
  // memtable: in segments of at most this many bytes of state (all of them
  // together), each ingested with its checkpoint. 0: the WriteBatch path only.
  size_t bulk_segment_bytes = size_t{1} << 30;
  // Threads folding those projections side by side, each from the same batch
  // of the log (read once, on a thread of its own).
  size_t bulk_threads = 2;
};

// Called after each durable point of catch_up()/rebuild() (a flush, an
// ingested bulk segment, and the end): (position reached, log head). Every
// position reported survives a crash.
using Progress = std::function<void(uint64_t position, uint64_t head)>;

class ProjectionRunner {
 public:
  // Opens `dir` (see projections_dir()). `store` may be null: the runner is
  // then fed with apply() only (auditors replaying an export file). A
  // projection whose stored schema version differs from its code is reset to
  // position 0 here.
  static Expected<std::unique_ptr<ProjectionRunner>, Error> open(const std::string& dir,
                                                                 const events::EventStore* store,
                                                                 RunnerOptions options = {});
  ~ProjectionRunner();  // stops the subscription

  // Reads the log from the lowest checkpoint to the current head on this
  // thread, in batches. Returns the position reached.
  Expected<uint64_t, Error> catch_up(const Progress& progress = {});

  // Follows the log on a Subscription from the lowest checkpoint (live).
  Expected<void, Error> start();
  void stop();

  // Folds `events` (ascending positions) into every projection whose
  // checkpoint is below each event, in one WriteBatch with the checkpoints.
  Expected<void, Error> apply(const std::vector<Envelope>& events);

  // Resets the named projections (all when empty) and replays the log from
  // position 0 into them. Safe to kill: a later catch_up() resumes.
  Expected<uint64_t, Error> rebuild(const std::vector<std::string>& names,
                                    const Progress& progress = {});

  // Last applied position of one projection (0 for unknown names).
  uint64_t position(const std::string& name) const;
  // Lowest position over all projections.
  uint64_t position() const;
  std::vector<std::pair<std::string, uint64_t>> positions() const;

  // Waits until every named projection (all when empty) has applied
  // `min_position`; kTimeout names the laggards otherwise.
  Expected<void, Error> wait_for(uint64_t min_position, std::chrono::milliseconds timeout,
                                 const std::vector<std::string>& names = {}) const;

  // (name, SHA-256 hex) per projection, over its whole column family.
  Expected<std::vector<std::pair<std::string, std::string>>, Error> digests() const;

  // Last log position recorded at or before `time_us` (0 if none), from the
  // audit projection's time index: two seeks.
  uint64_t position_at_time(int64_t time_us) const;

  // Readers hold this shared lock while using column family handles: rebuild
  // replaces them under the exclusive lock.
  std::shared_lock<std::shared_mutex> read_lock() const {
    return std::shared_lock<std::shared_mutex>(handles_mu_);
  }
  const ProjectionDb& db() const { return *db_; }
  const events::EventStore* store() const { return store_; }
  // Set when the live subscription failed (it has then stopped).
  std::string error() const;

 private:
  ProjectionRunner() = default;
  Expected<void, Error> ensure_schema(size_t index);
  // `wal` false: written without the WAL (catch_up, which flushes).
  Expected<void, Error> apply_locked(std::span<const Envelope* const> events, bool wal = true);
  size_t index_of(const std::string& name) const;
  using LogBatch = Expected<events::EventBatch, events::Error>;
  // Reads up to batch_events events from `from` on another thread (which also
  // frees `done`, a batch already folded: freeing envelopes costs).
  std::future<LogBatch> read_ahead(uint64_t from, events::EventBatch done) const;
  // catch_up()'s first phase: the projections at position 0, from SST files.
  Expected<void, Error> bulk_load(const Progress& progress);

  const events::EventStore* store_ = nullptr;
  RunnerOptions options_;
  std::unique_ptr<ProjectionDb> db_;
  std::vector<std::unique_ptr<Projection>> projections_;

  mutable std::shared_mutex handles_mu_;
  std::mutex write_mu_;  // one writer at a time (subscription, catch_up, rebuild)

  mutable std::mutex position_mu_;
  mutable std::condition_variable position_cv_;
  std::vector<uint64_t> positions_;  // parallel to projections_
  rocksdb::WriteBatch batch_;        // apply_locked's, under write_mu_

  std::unique_ptr<events::Subscription> subscription_;
  std::vector<Envelope> pending_;  // subscription thread only
  mutable std::mutex error_mu_;
  std::string error_;
};

}  // namespace wharf::projections
