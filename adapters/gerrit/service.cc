#include "adapters/gerrit/service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "adapters/gerrit/status_file.h"

namespace wharf::gerrit {

namespace {
int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

GerritService::GerritService(events::EventStore& store, runtime::CommandBus& bus,
                             GerritConfig config, std::string status_dir)
    : store_(store),
      bus_(bus),
      config_(std::move(config)),
      status_dir_(std::move(status_dir)),
      sink_(bus),
      probe_(config_.host) {
  IngestOptions ingest;
  ingest.host = config_.host;
  ingest.limits.max_line_bytes = config_.max_line_bytes;
  ingest.ref_update_hold_us = config_.ref_update_hold_ms * 1000;
  ingest.async_sink = true;
  ingestor_ = std::make_unique<Ingestor>(ingest, bindings_, sink_, probe_);

  ConnectionOptions c;
  c.ssh.host = config_.host;
  c.ssh.port = config_.port;
  c.ssh.user = config_.user;
  c.ssh.key_file = config_.key_file;
  c.ssh.known_hosts_file = config_.known_hosts_file;
  c.rest.base_url = config_.http_url;
  c.rest.user = config_.http_user;
  c.rest.http_password = config_.http_password;
  c.catchup_margin_s = config_.catchup_margin_s;
  c.keepalive_interval_s = config_.keepalive_interval_s;
  c.silence_probe_s = config_.silence_probe_s;
  c.probe_timeout_s = config_.probe_timeout_s;
  c.backoff_max_ms = config_.backoff_max_ms;
  if (!status_dir_.empty()) c.status_file = status_file_path(status_dir_, config_.host);
  const std::string meta_key = "gerrit/" + config_.host + "/last_event_s";
  c.load_checkpoint = [this, meta_key]() -> int64_t {
    auto value = store_.get_meta(meta_key);
    if (!value) return 0;
    try {
      return std::stoll(*value);
    } catch (const std::exception&) {
      return 0;
    }
  };
  c.save_checkpoint = [this, meta_key](int64_t s) {
    if (auto ok = store_.put_meta(meta_key, std::to_string(s)); !ok) {
      spdlog::warn("gerrit {}: cannot save the checkpoint: {}", config_.host, ok.error().message);
    }
  };
  connection_ = std::make_unique<GerritConnection>(std::move(c), *ingestor_);
}

GerritService::~GerritService() { stop(); }

Expected<void, std::string> GerritService::start() {
  const uint64_t head = store_.head_position();
  binding_feed_ = std::make_unique<events::Subscription>(
      store_, 1, [this](const events::Envelope& e) {
        bindings_.apply(e);
        return true;
      });
  // Bindings must be complete before the first event is mapped.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (binding_feed_->last_delivered() < head) {
    if (!binding_feed_->error().empty()) return unexpected(binding_feed_->error());
    if (std::chrono::steady_clock::now() > deadline) {
      return unexpected(std::string("timed out folding project bindings from the log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  spdlog::info("gerrit {}: {} project(s) bound", config_.host, bindings_.size());
  if (!config_.host.empty() && !config_.user.empty() && !config_.key_file.empty()) {
    connection_->start();
  } else {
    spdlog::info("gerrit {}: no SSH user/key configured: webhooks only", config_.host);
  }
  return {};
}

void GerritService::stop() {
  if (connection_) connection_->stop();
  bus_.drain();  // async recordings call back into the ingestor
  if (binding_feed_) {
    binding_feed_->stop();
    binding_feed_.reset();
  }
}

Outcome GerritService::handle_webhook(std::string_view body) {
  Outcome o = ingestor_->ingest_line(body, "gerrit-webhook", wall_us());
  ingestor_->release_held(wall_us());
  return o;
}

IngestStats GerritService::stats() const { return probe_.snapshot(wall_us()); }

std::string GerritService::prometheus() const { return to_prometheus(stats()); }

}  // namespace wharf::gerrit
