// Catch-up subscription: reads history in chunks with EventStore::scan, then
// waits for the durable head to move. History and live events come from the
// same reader and the same cursor, so there is no switch to get wrong: the
// next position asked for is always last_delivered + 1.
#include <atomic>
#include <mutex>
#include <thread>

#include "events/event_store.h"

namespace wharf::events {

struct Subscription::State {
  const EventStore* store = nullptr;
  Handler handler;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> last_delivered{0};
  mutable std::mutex error_mu;
  std::string error;
  std::thread thread;

  void fail(std::string message) {
    std::lock_guard lock(error_mu);
    error = std::move(message);
  }

  void run(uint64_t from_position) {
    constexpr uint64_t kChunk = 1024;
    uint64_t next = std::max<uint64_t>(from_position, 1);
    while (!stopping.load()) {
      uint64_t head = store->head_position();
      if (head < next) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
        head = store->wait_for_head_beyond(next - 1, deadline);
        if (head < next && std::chrono::steady_clock::now() < deadline && !stopping.load()) {
          fail("event store closed");  // woke early without progress: the store closed
          return;
        }
        continue;
      }
      bool keep_going = true;
      auto scanned = store->scan(next, std::min(head, next + kChunk - 1), [&](const Envelope& e) {
        if (stopping.load()) return keep_going = false;
        if (e.position() != next) {
          fail("gap in the log: expected position " + std::to_string(next) + ", read " +
               std::to_string(e.position()));
          return keep_going = false;
        }
        keep_going = handler(e);
        last_delivered.store(e.position());
        ++next;
        return keep_going;
      });
      if (!scanned) {
        fail(scanned.error().message);
        return;
      }
      if (!keep_going) return;
    }
  }
};

Subscription::Subscription(const EventStore& store, uint64_t from_position, Handler handler)
    : state_(std::make_shared<State>()) {
  state_->store = &store;
  state_->handler = std::move(handler);
  state_->thread = std::thread([state = state_, from_position] { state->run(from_position); });
}

Subscription::~Subscription() { stop(); }

void Subscription::stop() {
  state_->stopping.store(true);
  if (state_->thread.joinable()) {
    if (state_->thread.get_id() == std::this_thread::get_id()) {
      state_->thread.detach();  // stop() from inside the handler: the loop ends on return
    } else {
      state_->thread.join();
    }
  }
}

uint64_t Subscription::last_delivered() const { return state_->last_delivered.load(); }

std::string Subscription::error() const {
  std::lock_guard lock(state_->error_mu);
  return state_->error;
}

}  // namespace wharf::events
