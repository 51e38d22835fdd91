#include "api/maintenance.h"

#include <fstream>
#include <thread>

#include "adapters/local/deploy_target.h"
#include "wharf/v1/project.pb.h"

namespace wharf::api {

MaintenanceHost::MaintenanceHost(MaintenanceOptions options) : options_(std::move(options)) {}

MaintenanceHost::~MaintenanceHost() {
  stop();
}

void MaintenanceHost::set_local(local::LocalDeployTarget* local) {
  local_ = local;
  if (local == nullptr) return;
  const auto poll = options_.follow_poll;
  resolvers_[wharf::v1::TARGET_TYPE_LOCAL] =
      [local, poll](const LogTarget& t) -> Expected<LogStream, std::string> {
    auto serving = local->serving(t.project_id, t.environment);
    if (!serving || serving->log_file.empty()) {
      return unexpected("no local instance serves " + t.environment + " of " + t.project_id);
    }
    return local_log_stream(serving->log_file, poll);
  };
  const std::string shell = options_.shell;
  terminals_[wharf::v1::TARGET_TYPE_LOCAL] =
      [local, shell](const LogTarget& t) -> Expected<TerminalTarget, std::string> {
    auto serving = local->serving(t.project_id, t.environment);
    if (!serving || serving->work_dir.empty()) {
      return unexpected("no local instance serves " + t.environment);
    }
    return local_terminal(serving->work_dir, shell, t.project_id, t.environment);
  };
}

void MaintenanceHost::set_log_resolver(int target_type, LogResolver resolver) {
  resolvers_[target_type] = std::move(resolver);
}

void MaintenanceHost::set_terminal_resolver(int target_type, TerminalResolver resolver) {
  terminals_[target_type] = std::move(resolver);
}

Expected<TerminalTarget, std::string> MaintenanceHost::terminal_target(
    const LogTarget& target) const {
  auto it = terminals_.find(target.target);
  if (it == terminals_.end() || !it->second) {
    return unexpected(std::string("no terminal for this environment's target"));
  }
  return it->second(target);
}

Expected<LogStream, std::string> MaintenanceHost::log_stream(const LogTarget& target) const {
  auto it = resolvers_.find(target.target);
  if (it == resolvers_.end() || !it->second) {
    return unexpected(std::string("no log reader for this environment's target"));
  }
  return it->second(target);
}

void MaintenanceHost::reap() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

bool MaintenanceHost::spawn(std::function<void(const std::atomic<bool>& stop)> session) {
  std::lock_guard lock(mutex_);
  reap();
  if (stopping_.load() || sessions_.size() >= options_.max_sessions) return false;
  Session& s = sessions_.emplace_back();
  s.thread = std::thread([this, &s, session = std::move(session)] {
    session(stopping_);
    s.done.store(true);
  });
  return true;
}

size_t MaintenanceHost::open_sessions() const {
  std::lock_guard lock(mutex_);
  size_t open = 0;
  for (const auto& s : sessions_) open += s.done.load() ? 0 : 1;
  return open;
}

void MaintenanceHost::stop() {
  stopping_.store(true);
  std::list<Session> all;
  {
    std::lock_guard lock(mutex_);
    all.splice(all.end(), sessions_);
  }
  for (auto& s : all) s.thread.join();
}

std::string_view last_lines(std::string_view text, uint32_t lines) {
  if (lines == 0 || text.empty()) return text;
  size_t end = text.size();
  if (text.back() == '\n') --end;  // a trailing newline ends the last line, it starts none
  size_t pos = end;
  for (uint32_t seen = 0; pos > 0;) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string_view::npos) return text;
    if (++seen == lines) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

LogStream local_log_stream(const std::string& path, std::chrono::milliseconds poll) {
  LogStream stream;
  stream.source = "local:" + path;
  stream.run = [path, poll](uint32_t tail_lines, bool follow, const LogSink& sink,
                            const std::atomic<bool>& stop) -> Expected<void, std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return unexpected("cannot read " + path);
    // The tail: at most the last 1 MiB is searched for `tail_lines` lines.
    constexpr std::streamoff kTailWindow = 1 << 20;
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    const std::streamoff start = tail_lines > 0 && size > kTailWindow ? size - kTailWindow : 0;
    in.seekg(start);
    std::string head(static_cast<size_t>(size - start), '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    std::string_view shown = last_lines(head, tail_lines);
    if (!shown.empty() && !sink(shown)) return {};
    std::streamoff offset = start + static_cast<std::streamoff>(head.size());
    char buffer[16 * 1024];
    while (follow && !stop.load()) {
      in.clear();
      in.seekg(offset);
      in.read(buffer, sizeof buffer);
      const std::streamsize n = in.gcount();
      if (n > 0) {
        offset += n;
        if (!sink(std::string_view(buffer, static_cast<size_t>(n)))) return {};
        continue;
      }
      // Nothing new: an empty chunk lets the writer notice a client that left.
      if (!sink({})) return {};
      std::this_thread::sleep_for(poll);
    }
    return {};
  };
  return stream;
}

}  // namespace wharf::api
