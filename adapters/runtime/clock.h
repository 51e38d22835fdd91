#pragma once
// Time for the runtime, injected so tests drive timers by hand.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace wharf::runtime {

class Clock {
 public:
  virtual ~Clock() = default;
  // Microseconds since the Unix epoch.
  virtual int64_t now_us() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_us() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_us = 1'700'000'000'000'000) : now_(start_us) {}
  int64_t now_us() const override { return now_.load(); }
  void advance(std::chrono::microseconds by) { now_.fetch_add(by.count()); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace wharf::runtime
