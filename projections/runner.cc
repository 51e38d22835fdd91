#include "projections/runner.h"

#include <algorithm>
#include <future>
#include <optional>

#include "projections/keys.h"
#include "wharf/views/v1/views.pb.h"

namespace wharf::projections {

namespace {

rocksdb::Slice slice(std::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

}  // namespace

Expected<std::unique_ptr<ProjectionRunner>, Error> ProjectionRunner::open(
    const std::string& dir, const events::EventStore* store, RunnerOptions options) {
  std::unique_ptr<ProjectionRunner> self(new ProjectionRunner());
  self->store_ = store;
  self->options_ = options;
  self->projections_ = make_projections();
  auto db = ProjectionDb::open(dir, projection_names());
  if (!db) return wharf::unexpected(db.error());
  self->db_ = std::move(*db);
  self->positions_.assign(self->projections_.size(), 0);
  for (size_t i = 0; i < self->projections_.size(); ++i) {
    if (auto r = self->ensure_schema(i); !r) return wharf::unexpected(r.error());
    self->positions_[i] = self->db_->checkpoint(self->projections_[i]->name());
  }
  return self;
}

ProjectionRunner::~ProjectionRunner() {
  stop();
}

Expected<void, Error> ProjectionRunner::ensure_schema(size_t index) {
  const auto& p = *projections_[index];
  const std::string want = std::to_string(p.schema_version());
  std::string have;
  auto s = db_->db()->Get(rocksdb::ReadOptions(), db_->cf(p.name()), slice(keys::kSchema), &have);
  if (s.ok() && have == want) return {};
  if (!s.ok() && !s.IsNotFound()) return fail(ErrorCode::kIo, p.name() + ": " + s.ToString());
  if (s.ok() || db_->checkpoint(p.name()) != 0) {
    // Written by other code: its state cannot be trusted, start over.
    if (auto r = db_->reset(p.name()); !r) return r;
  }
  s = db_->db()->Put(rocksdb::WriteOptions(), db_->cf(p.name()), slice(keys::kSchema), want);
  if (!s.ok()) return fail(ErrorCode::kIo, p.name() + ": " + s.ToString());
  return {};
}

size_t ProjectionRunner::index_of(const std::string& name) const {
  for (size_t i = 0; i < projections_.size(); ++i) {
    if (projections_[i]->name() == name) return i;
  }
  return projections_.size();
}

Expected<void, Error> ProjectionRunner::apply(const std::vector<Envelope>& events) {
  std::vector<const Envelope*> pointers;
  pointers.reserve(events.size());
  for (const auto& event : events) pointers.push_back(&event);
  std::lock_guard<std::mutex> lock(write_mu_);
  return apply_locked(pointers);
}

Expected<void, Error> ProjectionRunner::apply_locked(std::span<const Envelope* const> events,
                                                     bool wal) {
  if (events.empty()) return {};
  std::vector<uint64_t> from;
  {
    std::lock_guard<std::mutex> lock(position_mu_);
    from = positions_;
  }
  std::shared_lock<std::shared_mutex> handles(handles_mu_);
  // Reused across batches: its buffer keeps its capacity (no regrowth).
  rocksdb::WriteBatch& batch = batch_;
  batch.Clear();
  std::vector<uint64_t> reached = from;
  for (size_t i = 0; i < projections_.size(); ++i) {
    auto* cf = db_->cf(projections_[i]->name());
    StateBatch state(db_->db(), cf, &batch);
    for (const Envelope* event : events) {
      if (event->position() <= reached[i]) continue;
      projections_[i]->apply(*event, state);
      reached[i] = event->position();
    }
    if (reached[i] != from[i])
      batch.Put(cf, slice(keys::kCheckpoint), keys::encode_position(reached[i]));
  }
  if (batch.Count() == 0) return {};
  rocksdb::WriteOptions wo;
  wo.sync = false;       // the log is the durable record; a lost batch is re-applied from it
  wo.disableWAL = !wal;  // catch_up: durable at its flushes instead
  auto s = db_->db()->Write(wo, &batch);
  if (!s.ok()) {
    // The projections' memos already hold this batch's state: forget them.
    for (auto& p : projections_) p->reset();
    return fail(ErrorCode::kIo, "projections write failed: " + s.ToString());
  }
  {
    std::lock_guard<std::mutex> lock(position_mu_);
    positions_ = reached;
  }
  position_cv_.notify_all();
  return {};
}

std::future<ProjectionRunner::LogBatch> ProjectionRunner::read_ahead(
    uint64_t from, events::EventBatch done) const {
  return std::async(std::launch::async, [this, from, done = std::move(done)]() mutable {
    { events::EventBatch freed = std::move(done); }  // freed here, off the folding thread
    return store_->read_batch(from, options_.batch_events);
  });
}

namespace {

// Relative fold cost per event (measured, bench_rebuild): spreads the
// projections over the bulk threads so that each thread gets a similar share.
int fold_weight(const std::string& name) {
  if (name == "audit" || name == "runs") return 3;
  if (name == "environments") return 2;
  return 1;
}

}  // namespace

Expected<void, Error> ProjectionRunner::bulk_load(const Progress& progress) {
  if (options_.bulk_segment_bytes == 0) return {};
  std::vector<size_t> targets;
  {
    std::lock_guard<std::mutex> lock(position_mu_);
    for (size_t i = 0; i < positions_.size(); ++i) {
      if (positions_[i] == 0) targets.push_back(i);
    }
  }
  if (targets.empty() || store_->head_position() == 0) return {};
  db_->clear_bulk_files();

  // Projections (indexes into `targets`) per thread, heaviest first onto
  // the least loaded thread.
  const size_t threads = std::clamp<size_t>(options_.bulk_threads, 1, targets.size());
  std::vector<std::vector<size_t>> groups(threads);
  {
    std::vector<size_t> order(targets.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    auto weight = [&](size_t k) { return fold_weight(projections_[targets[k]]->name()); };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return weight(a) > weight(b); });
    std::vector<int> load(threads, 0);
    for (size_t k : order) {
      const size_t g = std::min_element(load.begin(), load.end()) - load.begin();
      groups[g].push_back(k);
      load[g] += weight(k);
    }
  }
  // Runs `work(k)` for every target, each group on its own thread.
  auto parallel = [&](const auto& work) {
    std::vector<std::future<void>> others;
    for (size_t g = 1; g < groups.size(); ++g) {
      others.push_back(std::async(std::launch::async, [&, g] {
        for (size_t k : groups[g]) work(k);
      }));
    }
    for (size_t k : groups[0]) work(k);
    for (auto& f : others) f.get();
  };
  auto forget = [&] {
    for (size_t i : targets) projections_[i]->reset();
  };

  uint64_t reached = 0;
  std::future<LogBatch> pending = read_ahead(1, {});
  events::EventBatch folding;
  for (bool more = true; more;) {
    std::shared_lock<std::shared_mutex> handles(handles_mu_);
    std::vector<BulkSink> sinks(targets.size());
    std::vector<std::unique_ptr<StateBatch>> states;
    for (size_t k = 0; k < targets.size(); ++k) {
      states.push_back(std::make_unique<StateBatch>(
          db_->db(), db_->cf(projections_[targets[k]]->name()), &sinks[k]));
    }
    const uint64_t segment_start = reached;
    for (;;) {
      LogBatch events = pending.get();
      if (!events) {
        forget();
        return fail(ErrorCode::kLog, "reading the log at " + std::to_string(reached + 1) + ": " +
                                         events.error().message);
      }
      if (events->empty()) {
        more = false;
        break;
      }
      pending = read_ahead(events->back().position() + 1, std::move(folding));
      folding = std::move(*events);
      parallel([&](size_t k) {
        for (const Envelope* event : folding.events())
          projections_[targets[k]]->apply(*event, *states[k]);
      });
      reached = folding.back().position();
      size_t bytes = 0;
      for (const auto& sink : sinks) bytes += sink.bytes();
      if (bytes >= options_.bulk_segment_bytes) break;
    }
    if (reached == segment_start) break;
    states.clear();
    std::vector<std::optional<Error>> errors(targets.size());
    parallel([&](size_t k) {
      sinks[k].put(keys::kCheckpoint, keys::encode_position(reached));
      if (auto r = db_->ingest(projections_[targets[k]]->name(), sinks[k]); !r)
        errors[k] = r.error();
    });
    for (const auto& e : errors) {
      if (!e) continue;
      if (more) pending.wait();
      forget();
      return wharf::unexpected(*e);
    }
    {
      std::lock_guard<std::mutex> lock(position_mu_);
      for (size_t i : targets) positions_[i] = reached;
    }
    position_cv_.notify_all();
    if (progress) progress(reached, store_->head_position());
  }
  return {};
}

Expected<uint64_t, Error> ProjectionRunner::catch_up(const Progress& progress) {
  if (store_ == nullptr)
    return fail(ErrorCode::kInvalidArgument, "no event store to catch up from");
  std::lock_guard<std::mutex> lock(write_mu_);
  // Batches are written without the WAL, so state is durable only once
  // flushed: flush every N batches (then report progress) and before
  // returning, also on errors, so no later WAL write (the live subscription)
  // can be recovered on top of a lost WAL-less batch.
  size_t unflushed = 0;
  auto durable = [&]() -> Expected<void, Error> {
    if (unflushed == 0) return {};
    unflushed = 0;
    std::shared_lock<std::shared_mutex> handles(handles_mu_);
    if (auto r = db_->flush(); !r) return r;
    if (progress) progress(position(), store_->head_position());
    return {};
  };
  if (auto r = bulk_load(progress); !r) return wharf::unexpected(r.error());
  uint64_t next = position() + 1;
  // The next batch is read on another thread while this one is folded.
  std::future<LogBatch> pending = read_ahead(next, {});
  events::EventBatch folding;
  for (;;) {
    LogBatch events = pending.get();
    if (!events) {
      (void)durable();
      return fail(ErrorCode::kLog,
                  "reading the log at " + std::to_string(next) + ": " + events.error().message);
    }
    if (events->empty()) break;
    next = events->back().position() + 1;
    pending = read_ahead(next, std::move(folding));
    folding = std::move(*events);
    if (auto r = apply_locked(folding.events(), false); !r) {
      pending.wait();
      (void)durable();
      return wharf::unexpected(r.error());
    }
    if (++unflushed >= std::max<size_t>(options_.flush_every_batches, 1)) {
      if (auto r = durable(); !r) {
        pending.wait();
        return wharf::unexpected(r.error());
      }
    }
  }
  if (auto r = durable(); !r) return wharf::unexpected(r.error());
  return position();
}

Expected<void, Error> ProjectionRunner::start() {
  if (store_ == nullptr) return fail(ErrorCode::kInvalidArgument, "no event store to follow");
  if (subscription_) return {};
  pending_.clear();
  subscription_ = std::make_unique<events::Subscription>(
      *store_, position() + 1, [this](const Envelope& event) {
        pending_.push_back(event);
        // Commit when the batch is full or nothing more is durable yet, so a
        // quiet log never leaves events waiting in memory.
        if (pending_.size() >= options_.batch_events ||
            event.position() >= store_->head_position()) {
          auto r = apply(pending_);
          pending_.clear();
          if (!r) {
            std::lock_guard<std::mutex> lock(error_mu_);
            error_ = r.error().message;
            return false;
          }
        }
        return true;
      });
  return {};
}

void ProjectionRunner::stop() {
  if (!subscription_) return;
  subscription_->stop();
  std::string sub_error = subscription_->error();
  subscription_.reset();
  // Events handed over but not yet committed: commit them now.
  if (!pending_.empty()) {
    auto r = apply(pending_);
    pending_.clear();
    if (!r) sub_error = r.error().message;
  }
  if (!sub_error.empty()) {
    std::lock_guard<std::mutex> lock(error_mu_);
    error_ = sub_error;
  }
}

std::string ProjectionRunner::error() const {
  std::lock_guard<std::mutex> lock(error_mu_);
  if (!error_.empty()) return error_;
  return subscription_ ? subscription_->error() : std::string();
}

Expected<uint64_t, Error> ProjectionRunner::rebuild(const std::vector<std::string>& names,
                                                    const Progress& progress) {
  std::vector<std::string> targets = names.empty() ? projection_names() : names;
  for (const auto& n : targets) {
    if (index_of(n) == projections_.size()) {
      return fail(ErrorCode::kInvalidArgument, "unknown projection '" + n + "'");
    }
  }
  bool was_live = subscription_ != nullptr;
  stop();
  {
    std::lock_guard<std::mutex> write(write_mu_);
    std::unique_lock<std::shared_mutex> handles(handles_mu_);
    for (const auto& n : targets) {
      if (auto r = db_->reset(n); !r) return wharf::unexpected(r.error());
      size_t i = index_of(n);
      projections_[i]->reset();
      auto s = db_->db()->Put(rocksdb::WriteOptions(), db_->cf(n), slice(keys::kSchema),
                              std::to_string(projections_[i]->schema_version()));
      if (!s.ok()) return fail(ErrorCode::kIo, n + ": " + s.ToString());
      std::lock_guard<std::mutex> lock(position_mu_);
      positions_[i] = 0;
    }
  }
  auto reached = catch_up(progress);
  if (!reached) return reached;
  if (was_live) {
    if (auto r = start(); !r) return wharf::unexpected(r.error());
  }
  return reached;
}

uint64_t ProjectionRunner::position(const std::string& name) const {
  size_t i = index_of(name);
  std::lock_guard<std::mutex> lock(position_mu_);
  return i < positions_.size() ? positions_[i] : 0;
}

uint64_t ProjectionRunner::position() const {
  std::lock_guard<std::mutex> lock(position_mu_);
  return positions_.empty() ? 0 : *std::min_element(positions_.begin(), positions_.end());
}

std::vector<std::pair<std::string, uint64_t>> ProjectionRunner::positions() const {
  std::lock_guard<std::mutex> lock(position_mu_);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < projections_.size(); ++i)
    out.emplace_back(projections_[i]->name(), positions_[i]);
  return out;
}

Expected<void, Error> ProjectionRunner::wait_for(uint64_t min_position,
                                                 std::chrono::milliseconds timeout,
                                                 const std::vector<std::string>& names) const {
  std::vector<size_t> watched;
  for (const auto& n : names) {
    size_t i = index_of(n);
    if (i == projections_.size())
      return fail(ErrorCode::kInvalidArgument, "unknown projection '" + n + "'");
    watched.push_back(i);
  }
  if (names.empty()) {
    for (size_t i = 0; i < projections_.size(); ++i) watched.push_back(i);
  }
  auto reached = [&] {
    return std::all_of(watched.begin(), watched.end(),
                       [&](size_t i) { return positions_[i] >= min_position; });
  };
  std::unique_lock<std::mutex> lock(position_mu_);
  if (position_cv_.wait_for(lock, timeout, reached)) return {};
  std::string lagging;
  for (size_t i : watched) {
    if (positions_[i] >= min_position) continue;
    if (!lagging.empty()) lagging += ", ";
    lagging += projections_[i]->name() + " at " + std::to_string(positions_[i]);
  }
  return fail(ErrorCode::kTimeout, "min_position " + std::to_string(min_position) +
                                       " not reached within " + std::to_string(timeout.count()) +
                                       " ms (" + lagging + ")");
}

Expected<std::vector<std::pair<std::string, std::string>>, Error> ProjectionRunner::digests()
    const {
  auto handles = read_lock();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : projections_) {
    auto d = db_->digest(p->name());
    if (!d) return wharf::unexpected(d.error());
    out.emplace_back(p->name(), *d);
  }
  return out;
}

uint64_t ProjectionRunner::position_at_time(int64_t time_us) const {
  // The audit entries 'e' BE(pos) -> AuditEntry, whose recorded_at never
  // decreases along positions: binary search for the last entry recorded at
  // or before `time_us`; the answer is just before the next entry (the first
  // later one), or the audit checkpoint when there is none.
  if (time_us < 0) return 0;
  auto handles = read_lock();
  std::unique_ptr<rocksdb::Iterator> it(
      db_->db()->NewIterator(rocksdb::ReadOptions(), db_->cf("audit")));
  const uint64_t checkpoint = position("audit");
  // The first entry at or after `from` (and at most `checkpoint`): its
  // position and recorded_at.
  auto entry_from = [&](uint64_t from) -> std::optional<std::pair<uint64_t, int64_t>> {
    it->Seek(keys::Key('e').pos(from).str());
    if (!it->Valid() || it->key().size() != 9 || it->key()[0] != 'e') return std::nullopt;
    uint64_t at = keys::decode_position(std::string_view(it->key().data() + 1, 8));
    if (at > checkpoint) return std::nullopt;
    wharf::views::v1::AuditEntry e;
    e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
    return std::make_pair(at, e.recorded_at_us());
  };
  uint64_t lo = 1, hi = checkpoint, last = 0;  // last: newest entry at or before time_us
  while (lo <= hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    auto e = entry_from(mid);
    if (e && e->second <= time_us) {
      last = e->first;
      lo = e->first + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (last == 0) return 0;
  if (auto next = entry_from(last + 1)) return next->first - 1;
  return checkpoint;
}

}  // namespace wharf::projections
