// The group-commit writer, in two threads so that staging the next batch
// (validation, positions, hashes) overlaps the fsync of the current one:
//
//   callers --queue--> sequencer --ready_ (one batch)--> committer --> ack
//
// The sequencer validates against RocksDB plus what it staged earlier and
// that may not be durable yet (staged_ids_, version_cache_). The committer
// writes one synced WriteBatch per batch, then advances the head and answers
// every caller of that batch. After a failed write every later batch fails
// too (its staging assumed the failed one), and the store refuses appends
// until reopened. Rules: docs/storage.md#durability-and-group-commit.
#include <unordered_set>

#include "events/hash_chain.h"
#include "events/keys.h"
#include "events/rocks_event_store.h"

namespace wharf::events::internal {

std::optional<Error> RocksEventStore::prepare(PendingAppend& pending, const std::string& stream,
                                              ExpectedVersion expected,
                                              std::vector<Envelope> events) {
  auto refused = [](ErrorCode code, std::string message) {
    return std::optional<Error>(fail(code, std::move(message)).error);
  };
  if (closed_.load()) return refused(ErrorCode::kClosed, "event store is closed");
  if (options_.read_only) {
    return refused(ErrorCode::kInvalidArgument, "event store " + dir_ + " is open read-only");
  }
  if (std::string why; options_.gate != nullptr && !options_.gate->accepting(why)) {
    return refused(ErrorCode::kNotLeader, why);
  }
  if (stream.empty() || stream.find('\0') != std::string::npos || stream.size() > 1024) {
    return refused(ErrorCode::kInvalidArgument,
                   "bad stream id '" + stream + "': must be 1-1024 bytes without NUL");
  }
  if (events.empty()) {
    return refused(ErrorCode::kInvalidArgument, "append to " + stream + " without events");
  }
  pending.stream = stream;
  pending.expected = expected;
  pending.digests.reserve(events.size());
  std::unordered_set<std::string_view> ids;
  for (auto& event : events) {
    if (event.event_id().empty()) {
      return refused(ErrorCode::kInvalidArgument,
                     "an event appended to " + stream + " has no event_id");
    }
    std::string type = payload_type(event.payload());
    if (type.empty()) {
      return refused(ErrorCode::kInvalidArgument, "event " + event.event_id() + " has no payload");
    }
    if (!ids.insert(event.event_id()).second) {
      return refused(ErrorCode::kInvalidArgument,
                     "event id " + event.event_id() + " appears twice in one append to " + stream);
    }
    event.set_position(0);
    event.set_stream_version(0);
    event.set_recorded_at_us(0);
    event.clear_prev_hash();
    event.clear_hash();
    event.set_stream_id(stream);
    event.set_type(std::move(type));
    pending.digests.push_back(sha256(serialize_deterministic(event)));
  }
  pending.events = std::move(events);
  return std::nullopt;
}

bool RocksEventStore::enqueue(std::unique_ptr<PendingAppend>& pending) {
  {
    std::lock_guard lock(queue_mu_);
    if (closed_.load()) return false;
    queued_events_ += pending->events.size();
    queue_.push_back(std::move(pending));
  }
  queue_cv_.notify_one();
  return true;
}

Expected<AppendResult, Error> RocksEventStore::append(const std::string& stream,
                                                      ExpectedVersion expected,
                                                      std::vector<Envelope> events) {
  auto pending = std::make_unique<PendingAppend>();
  if (auto refused = prepare(*pending, stream, expected, std::move(events))) {
    return unexpected(std::move(*refused));
  }
  // Shared with the callback: the writer may still be inside set_value when
  // get() returns here.
  auto promise = std::make_shared<std::promise<Expected<AppendResult, Error>>>();
  auto result = promise->get_future();
  pending->done = [promise](Expected<AppendResult, Error> r) { promise->set_value(std::move(r)); };
  if (!enqueue(pending)) return fail(ErrorCode::kClosed, "event store is closed");
  return result.get();
}

void RocksEventStore::append_async(const std::string& stream, ExpectedVersion expected,
                                   std::vector<Envelope> events, AppendDone done) {
  auto pending = std::make_unique<PendingAppend>();
  if (auto refused = prepare(*pending, stream, expected, std::move(events))) {
    done(unexpected(std::move(*refused)));
    return;
  }
  pending->done = std::move(done);
  if (!enqueue(pending)) pending->done(fail(ErrorCode::kClosed, "event store is closed"));
}

Expected<AppendResult, Error> RocksEventStore::apply_replicated(std::vector<std::string> records,
                                                                ReplicationGate::Meta meta) {
  if (closed_.load()) return fail(ErrorCode::kClosed, "event store is closed");
  if (options_.read_only) {
    return fail(ErrorCode::kInvalidArgument, "event store " + dir_ + " is open read-only");
  }
  auto pending = std::make_unique<PendingAppend>();
  pending->replicated = true;
  pending->stream = "(replicated)";
  pending->records = std::move(records);
  pending->meta = std::move(meta);
  auto promise = std::make_shared<std::promise<Expected<AppendResult, Error>>>();
  auto result = promise->get_future();
  pending->done = [promise](Expected<AppendResult, Error> r) { promise->set_value(std::move(r)); };
  if (!enqueue(pending)) return fail(ErrorCode::kClosed, "event store is closed");
  return result.get();
}

uint64_t RocksEventStore::stored_stream_version(const std::string& stream) const {
  const std::string prefix = keys::stream_prefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf()));
  it->SeekForPrev(keys::stream_key(stream, UINT64_MAX));
  if (!it->Valid() || !has_stream_prefix(it->key(), prefix)) return 0;
  return keys::read_be64(it->key().ToStringView().substr(prefix.size()));
}

void RocksEventStore::start_writer() {
  staged_position_ = head_position();
  staged_hash_ = head_hash_;
  writer_ = std::thread([this] { sequencer_loop(); });
  writer_started_ = true;
}

std::string RocksEventStore::write_failure() const {
  std::lock_guard lock(failure_mu_);
  return write_failure_;
}

void RocksEventStore::sequencer_loop() {
  committer_ = std::thread([this] { committer_loop(); });
  std::vector<std::unique_ptr<PendingAppend>> appends;
  while (true) {
    appends.clear();
    {
      std::unique_lock lock(queue_mu_);
      // Stage the next batch while the committer syncs only when enough is
      // queued to be worth its own fsync; otherwise wait for the committer
      // to go idle so that everything queued meanwhile shares one sync.
      queue_cv_.wait(lock, [&] {
        return closed_.load() || (!queue_.empty() && (!committer_busy_.load() ||
                                                      queued_events_ >= kPipelineMinEvents));
      });
      // Cluster mode: the callers the last transaction answered send their
      // next commands a moment later. Without this pause the first of them
      // would go alone into the next transaction and the rest into the one
      // after: batches alternating 1 and n-1, half the throughput.
      if (options_.gate != nullptr && !closed_.load() && !queue_.front()->replicated &&
          !committer_busy_.load() && queued_events_ < kPipelineMinEvents) {
        queue_cv_.wait_for(lock, kGateLinger,
                           [&] { return closed_.load() || queued_events_ >= kPipelineMinEvents; });
      }
      if (closed_.load()) {
        for (auto& p : queue_) p->done(fail(ErrorCode::kClosed, "event store is closed"));
        queue_.clear();
        break;
      }
      size_t events = 0;
      // Replicated records and local appends never share a batch: only local
      // ones pass the gate.
      while (!queue_.empty() &&
             (appends.empty() ||
              (events + queue_.front()->events.size() <= options_.max_batch_events &&
               queue_.front()->replicated == appends.front()->replicated))) {
        events += queue_.front()->events.size();
        queued_events_ -= queue_.front()->events.size();
        appends.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (failed_.load()) {
      for (auto& p : appends) p->done(fail(ErrorCode::kIo, write_failure()));
      continue;
    }
    if (gate_failed_.load()) restage_from_head();
    auto batch = stage(appends);
    std::unique_lock lock(commit_mu_);
    commit_cv_.wait(lock, [&] { return ready_ == nullptr; });
    ready_ = std::move(batch);
    committer_busy_.store(true);
    lock.unlock();
    commit_cv_.notify_all();
  }
  {
    std::unique_lock lock(commit_mu_);
    commit_cv_.wait(lock, [&] { return ready_ == nullptr; });
    committer_stop_ = true;
  }
  commit_cv_.notify_all();
  committer_.join();
}

void RocksEventStore::committer_loop() {
  while (true) {
    std::unique_ptr<StagedBatch> batch;
    {
      std::unique_lock lock(commit_mu_);
      commit_cv_.wait(lock, [&] { return ready_ != nullptr || committer_stop_; });
      if (ready_ == nullptr) return;
      batch = std::move(ready_);
    }
    commit_cv_.notify_all();
    commit(*batch);
    {
      std::lock_guard lock(commit_mu_);
      if (ready_ == nullptr) committer_busy_.store(false);
    }
    {
      std::lock_guard lock(queue_mu_);  // no lost wake-up for the sequencer
    }
    queue_cv_.notify_all();
  }
}

void RocksEventStore::restage_from_head() {
  {
    std::unique_lock lock(commit_mu_);
    commit_cv_.wait(lock, [&] { return ready_ == nullptr && !committer_busy_.load(); });
  }
  std::lock_guard lock(head_mu_);
  staged_position_ = head_position_.load();
  staged_hash_ = head_hash_;
  version_cache_.clear();
  staged_ids_.clear();
  staged_ids_by_batch_.clear();
  in_flight_hashes_.clear();
  gate_failed_.store(false);
}

void RocksEventStore::stop_store(const std::string& why) {
  std::lock_guard lock(failure_mu_);
  if (failed_.load()) return;
  write_failure_ = why + "; the store refuses every write until reopened";
  failed_.store(true);
}

Expected<uint64_t, Error> RocksEventStore::known_position(const std::string& event_id) {
  if (auto it = staged_ids_.find(event_id); it != staged_ids_.end()) return it->second.position;
  std::string value;
  auto status = db_->Get(rocksdb::ReadOptions(), ids_cf(), event_id, &value);
  if (status.IsNotFound()) return uint64_t{0};
  if (!status.ok()) {
    return fail(code_of(status), "cannot look up event id " + event_id + ": " + status.ToString());
  }
  if (value.size() < 8) return fail(ErrorCode::kCorruption, "malformed index entry of " + event_id);
  return keys::read_be64(value);
}

Expected<AppendResult, Error> RocksEventStore::stage_replicated(PendingAppend& p,
                                                                StagedBatch& batch,
                                                                uint64_t& next_position,
                                                                std::string& prev_hash) {
  auto corrupt = [&](uint64_t position, std::string what) {
    std::string message = "replicated record at position " + std::to_string(position) + ": " + what;
    stop_store(message);
    Error e;
    e.code = ErrorCode::kCorruption;
    e.position = position;
    e.message = std::move(message);
    return unexpected(std::move(e));
  };
  AppendResult r;
  r.already_present = true;
  Envelope ev;
  for (const auto& record : p.records) {
    if (!ev.ParseFromString(record)) return corrupt(next_position, "does not decode");
    const uint64_t position = ev.position();
    if (position < next_position) {
      // A copy of an event this store has: it must be the same event.
      std::string have;
      if (auto it = in_flight_hashes_.find(position); it != in_flight_hashes_.end()) {
        if (it->second != ev.hash()) {
          // This node's own batch for that position is still on its way to
          // the log; if the log holds another event there, that batch fails
          // (fenced) and the store re-stages - then this record is applied.
          Error e;
          e.code = ErrorCode::kNotLeader;
          e.position = position;
          e.message = "position " + std::to_string(position) +
                      " is held by a batch of this node not yet written; retry";
          return unexpected(std::move(e));
        }
        continue;
      } else {
        auto stored = read_position(position);
        if (!stored)
          return corrupt(position, "cannot read the local copy: " + stored.error().message);
        have = stored->hash();
      }
      if (have != ev.hash()) {
        return corrupt(position, "hash " + to_hex(ev.hash()) + " differs from this node's " +
                                     to_hex(have) + " (the copies diverged)");
      }
      continue;
    }
    if (position != next_position) {
      return corrupt(position, "expected position " + std::to_string(next_position) +
                                   " next (a record is missing or out of order)");
    }
    if (ev.prev_hash() != prev_hash) {
      return corrupt(position, "prev_hash " + to_hex(ev.prev_hash()) + " does not link to " +
                                   to_hex(prev_hash));
    }
    const std::string hash = chain_hash(prev_hash, content_digest(ev));
    if (hash != ev.hash()) return corrupt(position, "hash does not match its content");
    const uint64_t version = staged_stream_version(ev.stream_id());
    if (ev.stream_version() != version + 1) {
      return corrupt(position, "stream " + ev.stream_id() + " version " +
                                   std::to_string(ev.stream_version()) + " after version " +
                                   std::to_string(version));
    }
    auto known = known_position(ev.event_id());
    if (!known) return corrupt(position, known.error().message);
    if (*known != 0) {
      return corrupt(position, "event id " + ev.event_id() + " is already at position " +
                                   std::to_string(*known));
    }
    // The idempotency digest is over the caller's content, as prepare() makes it.
    Envelope caller = ev;
    caller.set_position(0);
    caller.set_stream_version(0);
    caller.set_recorded_at_us(0);
    caller.clear_prev_hash();
    caller.clear_hash();
    const std::string digest = sha256(serialize_deterministic(caller));
    batch.write.Put(log_cf(), keys::log_key(position), record);
    batch.write.Put(streams_cf(), keys::stream_key(ev.stream_id(), ev.stream_version()),
                    keys::be64(position));
    batch.write.Put(ids_cf(), ev.event_id(), keys::event_id_value(position, digest));
    staged_ids_[ev.event_id()] = StagedId{position, digest, batch.seq};
    staged_ids_by_batch_.back().second.push_back(ev.event_id());
    version_cache_[ev.stream_id()] = ev.stream_version();
    last_recorded_at_us_ = std::max(last_recorded_at_us_, ev.recorded_at_us());
    if (r.already_present) r.first_position = position;
    r.already_present = false;
    r.last_position = position;
    r.stream_version = ev.stream_version();
    prev_hash = hash;
    ++next_position;
  }
  if (!r.already_present) {
    for (const auto& [key, value] : p.meta) {
      batch.write.Put(meta_cf(), keys::user_meta_key(key), value);
    }
  }
  return r;
}

uint64_t RocksEventStore::staged_stream_version(const std::string& stream) {
  if (auto it = version_cache_.find(stream); it != version_cache_.end()) return it->second;
  uint64_t v = stored_stream_version(stream);
  version_cache_.emplace(stream, v);
  return v;
}

std::unique_ptr<StagedBatch> RocksEventStore::stage(
    std::vector<std::unique_ptr<PendingAppend>>& appends) {
  auto batch = std::make_unique<StagedBatch>();
  batch->seq = ++staged_seq_;
  batch->outcomes.reserve(appends.size());

  // Forget staged ids the committer has made durable: RocksDB has them now.
  const uint64_t committed = committed_seq_.load(std::memory_order_acquire);
  while (!staged_ids_by_batch_.empty() && staged_ids_by_batch_.front().first <= committed) {
    for (const auto& id : staged_ids_by_batch_.front().second) {
      auto it = staged_ids_.find(id);
      if (it != staged_ids_.end() && it->second.batch <= committed) staged_ids_.erase(it);
    }
    staged_ids_by_batch_.pop_front();
  }
  // The version cache may hold staged versions; clear it only when nothing is in flight.
  if (version_cache_.size() > 100000 && committed + 1 == batch->seq) version_cache_.clear();
  staged_ids_by_batch_.emplace_back(batch->seq, std::vector<std::string>());
  auto& staged_here = staged_ids_by_batch_.back().second;

  uint64_t next_position = staged_position_ + 1;
  batch->first_position = next_position;
  std::string prev_hash = staged_hash_;
  const int64_t recorded_at = std::max(now_us(), last_recorded_at_us_);
  std::string stored;
  std::vector<std::string> lookup_values;
  std::vector<rocksdb::Slice> lookup_keys;
  if (options_.gate != nullptr) {
    const uint64_t durable = head_position();
    while (!in_flight_hashes_.empty() && in_flight_hashes_.begin()->first <= durable) {
      in_flight_hashes_.erase(in_flight_hashes_.begin());
    }
  }

  for (auto& owned : appends) {
    PendingAppend* p = owned.get();
    StagedBatch::Outcome outcome{std::move(owned), std::nullopt};
    if (p->replicated) {
      batch->replicated = true;
      if (!failed_.load()) outcome.result = stage_replicated(*p, *batch, next_position, prev_hash);
      if (!outcome.result) outcome.result = fail(ErrorCode::kIo, write_failure());
      batch->outcomes.push_back(std::move(outcome));
      continue;
    }
    const size_t n = p->events.size();

    // 1. Idempotency: find each id among staged ids, then in RocksDB.
    std::vector<std::pair<uint64_t, std::string>> known(n);  // position, digest; 0 = unknown
    lookup_keys.clear();
    std::vector<size_t> lookup_index;
    for (size_t i = 0; i < n; ++i) {
      if (auto it = staged_ids_.find(p->events[i].event_id()); it != staged_ids_.end()) {
        known[i] = {it->second.position, it->second.digest};
      } else {
        lookup_keys.emplace_back(p->events[i].event_id());
        lookup_index.push_back(i);
      }
    }
    if (!lookup_keys.empty()) {
      std::vector<rocksdb::ColumnFamilyHandle*> families(lookup_keys.size(), ids_cf());
      lookup_values.clear();
      auto statuses = db_->MultiGet(rocksdb::ReadOptions(), families, lookup_keys, &lookup_values);
      for (size_t k = 0; k < statuses.size() && !outcome.result; ++k) {
        const std::string& id = p->events[lookup_index[k]].event_id();
        if (statuses[k].IsNotFound()) continue;
        if (!statuses[k].ok()) {
          outcome.result = fail(code_of(statuses[k]),
                                "cannot look up event id " + id + ": " + statuses[k].ToString());
        } else if (lookup_values[k].size() != 8 + keys::kDigestSize) {
          outcome.result =
              fail(ErrorCode::kCorruption, "event id index entry for " + id + " is malformed");
        } else {
          known[lookup_index[k]] = {keys::read_be64(lookup_values[k]), lookup_values[k].substr(8)};
        }
      }
    }
    size_t known_count = 0;
    for (size_t i = 0; i < n && !outcome.result; ++i) {
      if (known[i].first == 0) continue;
      if (known[i].second != p->digests[i]) {
        Error e;
        e.code = ErrorCode::kEventIdConflict;
        e.event_id = p->events[i].event_id();
        e.position = known[i].first;
        e.stream = p->stream;
        e.message = "event id " + e.event_id + " already exists at position " +
                    std::to_string(known[i].first) + " with different content";
        outcome.result = unexpected(std::move(e));
      }
      ++known_count;
    }
    if (!outcome.result && known_count > 0 && known_count < n) {
      size_t first_known = 0;
      while (known[first_known].first == 0) ++first_known;
      Error e;
      e.code = ErrorCode::kEventIdConflict;
      e.stream = p->stream;
      e.event_id = p->events[first_known].event_id();
      e.position = known[first_known].first;
      e.message = "append to " + p->stream + " mixes " + std::to_string(known_count) +
                  " existing event ids (e.g. " + e.event_id + ") with " +
                  std::to_string(n - known_count) + " new ones";
      outcome.result = unexpected(std::move(e));
    }
    if (!outcome.result && known_count == n) {
      AppendResult r;  // an idempotent retry: the original positions, nothing written
      r.first_position = known.front().first;
      r.last_position = known.back().first;
      r.stream_version = staged_stream_version(p->stream);
      r.already_present = true;
      outcome.result = std::move(r);
    }
    if (outcome.result) {
      batch->outcomes.push_back(std::move(outcome));
      continue;
    }

    // 2. Optimistic concurrency against the staged version of the stream.
    uint64_t version = staged_stream_version(p->stream);
    const auto kind = p->expected.kind;
    bool matches = kind == ExpectedVersion::Kind::kAny ||
                   (kind == ExpectedVersion::Kind::kNoStream && version == 0) ||
                   (kind == ExpectedVersion::Kind::kExact && version == p->expected.version);
    if (!matches) {
      Error e;
      e.code = ErrorCode::kConflict;
      e.stream = p->stream;
      e.expected_version = kind == ExpectedVersion::Kind::kExact ? p->expected.version : 0;
      e.actual_version = version;
      e.message = "conflict on stream " + p->stream + ": expected " +
                  (kind == ExpectedVersion::Kind::kNoStream
                       ? std::string("no stream")
                       : "version " + std::to_string(p->expected.version)) +
                  ", actual version " + std::to_string(version);
      outcome.result = unexpected(std::move(e));
      batch->outcomes.push_back(std::move(outcome));
      continue;
    }

    // 3. Stage: dense positions, stream versions, the hash chain.
    AppendResult r;
    r.first_position = next_position;
    for (size_t i = 0; i < n; ++i) {
      Envelope& ev = p->events[i];
      ev.set_position(next_position);
      ev.set_stream_version(++version);
      ev.set_recorded_at_us(recorded_at);
      stored = serialize_deterministic(ev);  // the canonical bytes: hashes are still clear
      std::string hash;
      if (options_.compute_hash_chain) {
        hash = chain_hash(prev_hash, sha256(stored));
        append_digest_field(stored, kPrevHashField, prev_hash);
        append_digest_field(stored, kHashField, hash);
      } else {
        hash = zero_hash();
      }
      batch->write.Put(log_cf(), keys::log_key(next_position), stored);
      batch->write.Put(streams_cf(), keys::stream_key(p->stream, version),
                       keys::be64(next_position));
      batch->write.Put(ids_cf(), ev.event_id(), keys::event_id_value(next_position, p->digests[i]));
      if (options_.gate != nullptr) {
        in_flight_hashes_[next_position] = hash;
        batch->records.push_back(stored);
      }
      staged_ids_[ev.event_id()] = StagedId{next_position, p->digests[i], batch->seq};
      staged_here.push_back(ev.event_id());
      prev_hash = std::move(hash);
      ++next_position;
    }
    version_cache_[p->stream] = version;
    r.last_position = next_position - 1;
    r.stream_version = version;
    outcome.result = std::move(r);
    batch->outcomes.push_back(std::move(outcome));
  }

  batch->last_position = next_position - 1;
  batch->last_hash = prev_hash;
  if (batch->last_position >= batch->first_position) {
    staged_position_ = batch->last_position;
    staged_hash_ = prev_hash;
    if (!batch->replicated) last_recorded_at_us_ = recorded_at;
  }
  return batch;
}

void RocksEventStore::commit(StagedBatch& batch) {
  std::string failure;
  ErrorCode failure_code = ErrorCode::kIo;
  if (!failed_.load() && options_.gate != nullptr) {
    if (gate_failed_.load()) {  // staged on top of a batch the gate refused
      std::lock_guard lock(failure_mu_);
      failure = gate_failure_;
      failure_code = ErrorCode::kNotLeader;
    } else if (!batch.replicated && !batch.records.empty()) {
      auto published = options_.gate->publish(batch.first_position, batch.records);
      if (published) {
        for (const auto& [key, value] : *published) {
          batch.write.Put(meta_cf(), keys::user_meta_key(key), value);
        }
      } else {
        failure = "positions " + std::to_string(batch.first_position) + ".." +
                  std::to_string(batch.last_position) + " are not in the log: " + published.error();
        failure_code = ErrorCode::kNotLeader;
        std::lock_guard lock(failure_mu_);
        gate_failure_ = failure;
        gate_failed_.store(true);
      }
    }
  }
  if (!failure.empty()) {
    // fall through to answer the batch's callers
  } else if (failed_.load()) {
    failure = write_failure();
  } else if (batch.write.Count() > 0) {
    rocksdb::WriteOptions w;
    w.sync = options_.sync;
    rocksdb::Status s = db_->Write(w, &batch.write);
    if (!s.ok()) {
      failure = "write of positions " + std::to_string(batch.first_position) + ".." +
                std::to_string(batch.last_position) + " failed: " + s.ToString() +
                "; nothing of it was acknowledged and the store refuses appends until reopened";
      std::lock_guard lock(failure_mu_);
      write_failure_ = failure;
      failed_.store(true);
    }
  }
  if (!failure.empty()) {
    // Even rejections of this batch were judged against state that is now
    // lost; the caller learns only that the store failed.
    for (auto& o : batch.outcomes) {
      if (batch.replicated && o.result && !o.result->has_value()) {
        o.append->done(std::move(*o.result));  // the record that stopped the store, named
        continue;
      }
      Error e;
      e.code = failure_code;
      e.stream = o.append->stream;
      e.message = failure;
      o.append->done(unexpected(std::move(e)));
    }
    return;
  }
  if (batch.last_position >= batch.first_position) {
    {
      std::lock_guard lock(head_mu_);
      head_hash_ = batch.last_hash;
      head_position_.store(batch.last_position, std::memory_order_release);
    }
    head_cv_.notify_all();
  }
  committed_seq_.store(batch.seq, std::memory_order_release);
  for (auto& o : batch.outcomes) o.append->done(std::move(*o.result));
}

}  // namespace wharf::events::internal
