#pragma once
// Threads a runner starts for its jobs. Finished threads are joined when the
// next one starts; the destructor asks every job to stop and joins them all.
#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

namespace wharf::local {

class TaskGroup {
 public:
  TaskGroup() = default;
  ~TaskGroup() { stop_and_join(); }
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  // Runs `task` on its own thread. Tasks poll stopping() and return early.
  void run(std::function<void()> task) {
    std::lock_guard lock(mutex_);
    reap_finished_locked();
    auto done = std::make_shared<std::atomic<bool>>(false);
    tasks_.push_back({std::thread([task = std::move(task), done] {
                        task();
                        done->store(true);
                      }),
                      done});
  }

  bool stopping() const { return stopping_.load(); }

  void stop_and_join() {
    stopping_.store(true);
    std::list<Task> tasks;
    {
      std::lock_guard lock(mutex_);
      tasks.swap(tasks_);
    }
    for (auto& t : tasks) {
      if (t.thread.joinable()) t.thread.join();
    }
  }

 private:
  struct Task {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void reap_finished_locked() {
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->done->load()) {
        it->thread.join();
        it = tasks_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::mutex mutex_;
  std::list<Task> tasks_;
  std::atomic<bool> stopping_{false};
};

}  // namespace wharf::local
