#include "adapters/runtime/timer_queue.h"

#include <vector>

namespace wharf::runtime {

TimerQueue::TimerQueue(const Clock& clock) : clock_(clock), thread_([this] { loop(); }) {}

TimerQueue::~TimerQueue() { stop(); }

void TimerQueue::schedule(const std::string& key, int64_t due_us, std::function<void()> fire) {
  std::lock_guard lock(mutex_);
  if (stopping_) return;
  auto& slot = timers_[key];
  if (!slot.second || due_us > slot.first) slot.first = due_us;
  slot.second = std::move(fire);
  wake_.notify_one();
}

size_t TimerQueue::pending() const {
  std::lock_guard lock(mutex_);
  return timers_.size();
}

void TimerQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    timers_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TimerQueue::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // The clock may be a manual one that jumps, so poll it rather than sleep until a due time.
    wake_.wait_for(lock, std::chrono::milliseconds(20));
    if (stopping_) break;
    const int64_t now = clock_.now_us();
    std::vector<std::function<void()>> due;
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->second.first <= now) {
        due.push_back(std::move(it->second.second));
        it = timers_.erase(it);
      } else {
        ++it;
      }
    }
    lock.unlock();
    for (auto& fire : due) fire();
    lock.lock();
  }
}

}  // namespace wharf::runtime
