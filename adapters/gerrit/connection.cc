#include "adapters/gerrit/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "adapters/gerrit/status_file.h"

namespace wharf::gerrit {

namespace {
using Steady = std::chrono::steady_clock;

int64_t seconds_since(Steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(Steady::now() - t).count();
}
}  // namespace

GerritConnection::GerritConnection(ConnectionOptions options, Ingestor& ingestor)
    : options_(std::move(options)), ingestor_(ingestor) {}

GerritConnection::~GerritConnection() { stop(); }

int64_t GerritConnection::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Where a gap in the stream begins: the newest event seen, else the last
// persisted one, else the first connect of this process.
int64_t GerritConnection::gap_start_s() const {
  int64_t last = ingestor_.probe().last_event_created_s();
  if (last > 0) return last;
  if (checkpoint_s_ > 0) return checkpoint_s_;
  return first_connected_s_;
}

void GerritConnection::start() {
  if (stream_thread_.joinable()) return;
  stopping_ = false;
  if (options_.load_checkpoint) checkpoint_s_ = options_.load_checkpoint();
  ingestor_.on_dropped_output([this] {
    std::lock_guard lock(mutex_);
    int64_t since = gap_start_s();
    pending_since_s_ = pending_since_s_ < 0 ? since : std::min(pending_since_s_, since);
    pending_why_ = "dropped-output";
    wake_.notify_all();
  });
  ingestor_.probe().set_state("connecting", false, now_us());
  worker_thread_ = std::thread([this] { worker_loop(); });
  stream_thread_ = std::thread([this] { stream_loop(); });
}

void GerritConnection::stop() {
  if (!stream_thread_.joinable() && !worker_thread_.joinable()) return;
  stopping_ = true;
  wake_.notify_all();
  if (stream_thread_.joinable()) stream_thread_.join();
  if (worker_thread_.joinable()) worker_thread_.join();
  ingestor_.on_dropped_output({});
  ingestor_.flush();
  ingestor_.probe().set_state("stopped", false, now_us());
  if (!options_.status_file.empty()) {
    (void)write_status_file(options_.status_file, ingestor_.probe().snapshot(now_us()));
  }
}

void GerritConnection::request_catchup(int64_t since_s, const std::string& why) {
  std::lock_guard lock(mutex_);
  pending_since_s_ = pending_since_s_ < 0 ? since_s : std::min(pending_since_s_, since_s);
  pending_why_ = why;
  wake_.notify_all();
}

bool GerritConnection::wait_catchup_idle(int timeout_ms) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return pending_since_s_ < 0 && !catchup_running_;
  });
}

bool GerritConnection::sleep_interruptible(int ms) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_.load(); });
}

void GerritConnection::stream_loop() {
  std::mt19937_64 rng(std::random_device{}());
  int attempt = 0;
  while (!stopping_) {
    bool opened = false;
    int64_t lived_s = run_session(opened);
    if (stopping_) break;
    if (opened && lived_s >= options_.stable_after_s) attempt = 0;
    double base = options_.backoff_initial_ms;
    for (int i = 0; i < attempt; ++i) base *= options_.backoff_multiplier;
    base = std::min<double>(base, options_.backoff_max_ms);
    // Full jitter in [base/2, base]: many wharfs never reconnect in step.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    int delay_ms = static_cast<int>(base * jitter(rng));
    ++attempt;
    ingestor_.probe().set_state("backoff", false, now_us());
    spdlog::info("gerrit {}: reconnecting in {} ms", options_.ssh.host, delay_ms);
    if (!sleep_interruptible(delay_ms)) break;
  }
}

int64_t GerritConnection::run_session(bool& opened) {
  IngestProbe& probe = ingestor_.probe();
  probe.set_state("connecting", false, now_us());
  auto stream = SshStream::open(options_.ssh);
  if (!stream) {
    probe.error(stream.error());
    spdlog::warn("gerrit {}: {}", options_.ssh.host, stream.error());
    return 0;
  }
  opened = true;
  const auto started = Steady::now();
  int64_t since = 0;
  {
    std::lock_guard lock(mutex_);
    if (first_connected_s_ == 0) first_connected_s_ = now_us() / 1'000'000;
    if (sessions_++ > 0) probe.reconnect();
    since = gap_start_s();
  }
  probe.set_state("streaming", true, now_us());
  spdlog::info("gerrit {}: streaming events as {}", options_.ssh.host, options_.ssh.user);
  // The stream is open first, so nothing after `since` falls between the two.
  if (sessions_ > 1 || checkpoint_s_ > 0) request_catchup(since, "reconnect");

  std::string buffer;
  auto last_rx = Steady::now();
  auto last_probe = Steady::now();
  auto last_keepalive = Steady::now();
  std::string why = "closed by the server";
  while (!stopping_) {
    auto r = (*stream)->read(buffer, 200);
    if (r == SshStream::Read::kData) {
      last_rx = Steady::now();
      size_t start = 0;
      for (size_t nl = buffer.find('\n'); nl != std::string::npos;
           nl = buffer.find('\n', start)) {
        ingestor_.ingest_line(std::string_view(buffer).substr(start, nl - start),
                              "gerrit-stream", now_us());
        start = nl + 1;
      }
      buffer.erase(0, start);
      if (buffer.size() > ingestor_.limits().max_line_bytes) {
        // An endless line: count it as too large and resynchronise at the next newline.
        ingestor_.ingest_line(buffer, "gerrit-stream", now_us());
        buffer.clear();
      }
      continue;
    }
    if (r == SshStream::Read::kClosed) {
      why = "closed (exit status " + std::to_string((*stream)->exit_status()) + ")";
      break;
    }
    if (r == SshStream::Read::kError) {
      why = "read failed: " + (*stream)->error();
      break;
    }
    if (seconds_since(last_keepalive) >= options_.keepalive_interval_s) {
      last_keepalive = Steady::now();
      if (auto ok = (*stream)->keepalive(); !ok) {
        why = "keepalive failed: " + ok.error();
        break;
      }
    }
    if (seconds_since(last_rx) >= options_.silence_probe_s &&
        seconds_since(last_probe) >= options_.silence_probe_s) {
      last_probe = Steady::now();
      auto answer = (*stream)->probe(options_.probe_timeout_s * 1000);
      if (!answer) {
        why = "stream hung (" + answer.error() + ")";
        break;
      }
    }
  }
  int64_t lived = seconds_since(started);
  if (!stopping_) {
    probe.error(why);
    spdlog::warn("gerrit {}: session ended after {} s: {}", options_.ssh.host, lived, why);
  }
  probe.set_state(stopping_ ? "stopped" : "connecting", false, now_us());
  return lived;
}

void GerritConnection::worker_loop() {
  int64_t last_saved = 0;
  auto last_status = Steady::now() - std::chrono::hours(1);
  auto last_checkpoint = Steady::now();
  while (!stopping_) {
    int64_t since = -1;
    std::string why;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(250),
                     [&] { return stopping_.load() || pending_since_s_ >= 0; });
      if (stopping_) break;
      if (pending_since_s_ >= 0) {
        since = pending_since_s_;
        why = pending_why_;
        pending_since_s_ = -1;
        catchup_running_ = true;
      }
    }
    if (since >= 0) {
      run_catchup(since, why);
      std::lock_guard lock(mutex_);
      catchup_running_ = false;
      wake_.notify_all();
    }
    ingestor_.release_held(now_us());
    if (!options_.status_file.empty() &&
        Steady::now() - last_status >= std::chrono::seconds(1)) {
      last_status = Steady::now();
      if (auto ok = write_status_file(options_.status_file, ingestor_.probe().snapshot(now_us()));
          !ok) {
        spdlog::warn("gerrit {}: {}", options_.ssh.host, ok.error());
      }
    }
    int64_t last_event = ingestor_.probe().last_event_created_s();
    if (options_.save_checkpoint && last_event != last_saved &&
        Steady::now() - last_checkpoint >= std::chrono::seconds(5)) {
      last_checkpoint = Steady::now();
      options_.save_checkpoint(last_event);
      last_saved = last_event;
    }
  }
  int64_t last_event = ingestor_.probe().last_event_created_s();
  if (options_.save_checkpoint && last_event > 0 && last_event != last_saved) {
    options_.save_checkpoint(last_event);
  }
}

void GerritConnection::run_catchup(int64_t since_s, const std::string& why) {
  if (options_.rest.base_url.empty()) {
    spdlog::warn("gerrit {}: events may have been lost ({}), but no REST URL is configured "
                 "for catch-up",
                 options_.ssh.host, why);
    return;
  }
  const int64_t from = std::max<int64_t>(since_s - options_.catchup_margin_s, 0);
  const int64_t age = now_us() / 1'000'000 - from + 1;
  spdlog::info("gerrit {}: catch-up after {} for changes since {} ({} s)", options_.ssh.host,
               why, from, age);
  // Retry a few times: right after a Gerrit restart SSH may be up before HTTP.
  for (int attempt = 0; attempt < 5 && !stopping_; ++attempt) {
    auto events = fetch_missed_events(options_.rest, from, age + attempt * 2);
    if (!events) {
      ingestor_.probe().error("catch-up: " + events.error());
      spdlog::warn("gerrit {}: catch-up failed: {}", options_.ssh.host, events.error());
      if (!sleep_interruptible(1000 << attempt)) return;
      continue;
    }
    size_t observed = 0;
    for (const GerritEvent& e : *events) {
      observed += ingestor_.ingest_event(e, "gerrit-catchup", now_us()) == Outcome::kObserved;
    }
    ingestor_.probe().catchup(events->size());
    spdlog::info("gerrit {}: catch-up read {} change(s), {} new", options_.ssh.host,
                 events->size(), observed);
    return;
  }
}

}  // namespace wharf::gerrit
