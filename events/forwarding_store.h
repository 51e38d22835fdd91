#pragma once
// An EventStore that hands every required method to another store, for
// wrappers that change one behaviour (benchmarks' synchronous appends, tests'
// gated reads). The optional methods - append_async, read_batch, scan,
// apply_replicated - are deliberately NOT forwarded: they keep the base
// class's defaults, which go through the forwarded required ones, so a
// wrapper that changes append or read_all changes them too. A wrapper that
// wants the inner store's faster path for one of them overrides it itself.
#include <chrono>
#include <string>
#include <vector>

#include "events/event_store.h"

namespace wharf::events {

class ForwardingStore : public EventStore {
 public:
  explicit ForwardingStore(EventStore& inner) : inner_(inner) {}

  Expected<AppendResult, Error> append(const std::string& stream, ExpectedVersion expected,
                                       std::vector<Envelope> events) override {
    return inner_.append(stream, expected, std::move(events));
  }
  Expected<std::vector<Envelope>, Error> read_stream(const std::string& stream,
                                                     uint64_t from_version, size_t max_count,
                                                     Direction direction) const override {
    return inner_.read_stream(stream, from_version, max_count, direction);
  }
  Expected<std::vector<Envelope>, Error> read_all(uint64_t from_position,
                                                  size_t max_count) const override {
    return inner_.read_all(from_position, max_count);
  }
  Expected<Envelope, Error> read_event(const std::string& event_id) const override {
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
  Expected<void, Error> put_meta(const std::string& key, const std::string& value) override {
    return inner_.put_meta(key, value);
  }
  Expected<std::string, Error> get_meta(const std::string& key) const override {
    return inner_.get_meta(key);
  }
  void close() override { inner_.close(); }

 protected:
  EventStore& inner() const { return inner_; }

 private:
  EventStore& inner_;
};

}  // namespace wharf::events
