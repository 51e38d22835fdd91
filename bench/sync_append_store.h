#pragma once
// Benchmarks only: an EventStore that forwards everything to another one but
// does not override append_async, so its callers get the base class's
// synchronous default - append() and wait for the fsync. With it, a
// CommandBus worker blocks on each append as it did before append_async: the
// in-run "before" of bench_ingest and bench_pipeline (WHARF_BENCH_SYNC_APPENDS=1).
#include "events/event_store.h"

namespace wharf::bench {

class SyncAppendStore final : public events::EventStore {
 public:
  explicit SyncAppendStore(events::EventStore& inner) : inner_(inner) {}
  Expected<events::AppendResult, events::Error> append(
      const std::string& stream, events::ExpectedVersion expected,
      std::vector<events::Envelope> events) override {
    return inner_.append(stream, expected, std::move(events));
  }
  Expected<std::vector<events::Envelope>, events::Error> read_stream(
      const std::string& stream, uint64_t from_version, size_t max_count,
      events::Direction direction) const override {
    return inner_.read_stream(stream, from_version, max_count, direction);
  }
  Expected<std::vector<events::Envelope>, events::Error> read_all(uint64_t from_position,
                                                                  size_t max_count) const override {
    return inner_.read_all(from_position, max_count);
  }
  Expected<uint64_t, events::Error> scan(
      uint64_t from_position, uint64_t to_position,
      const std::function<bool(const events::Envelope&)>& visit) const override {
    return inner_.scan(from_position, to_position, visit);
  }
  Expected<events::Envelope, events::Error> read_event(const std::string& event_id) const override {
    return inner_.read_event(event_id);
  }
  uint64_t stream_version(const std::string& stream) const override {
    return inner_.stream_version(stream);
  }
  uint64_t head_position() const override { return inner_.head_position(); }
  std::string head_hash() const override { return inner_.head_hash(); }
  std::string store_id() const override { return inner_.store_id(); }
  uint64_t wait_for_head_beyond(uint64_t position,
                                std::chrono::steady_clock::time_point deadline) const override {
    return inner_.wait_for_head_beyond(position, deadline);
  }
  Expected<void, events::Error> put_meta(const std::string& key,
                                         const std::string& value) override {
    return inner_.put_meta(key, value);
  }
  Expected<std::string, events::Error> get_meta(const std::string& key) const override {
    return inner_.get_meta(key);
  }
  void close() override { inner_.close(); }

 private:
  events::EventStore& inner_;
};

}  // namespace wharf::bench
