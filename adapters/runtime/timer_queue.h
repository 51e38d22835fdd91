#pragma once
// Timers for step timeouts: fire a function once the injected clock reaches a
// due time. Scheduling the same key twice keeps one timer (the later due time
// wins), so a replay after restart does not double them.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "adapters/runtime/clock.h"

namespace wharf::runtime {

class TimerQueue {
 public:
  explicit TimerQueue(const Clock& clock);
  ~TimerQueue();  // stops; pending timers are dropped (recover() re-creates them)

  void schedule(const std::string& key, int64_t due_us, std::function<void()> fire);
  size_t pending() const;
  void stop();

 private:
  void loop();

  const Clock& clock_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::map<std::string, std::pair<int64_t, std::function<void()>>> timers_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wharf::runtime
