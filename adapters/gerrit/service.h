#pragma once
// Everything `wharf serve` needs for one Gerrit server, wired: project
// bindings kept current from the log, the ingestor over the command bus, the
// SSH connection with catch-up, the webhook entry point, the status file and
// the checkpoint in the store's meta ("gerrit/<host>/last_event_s").
//
//   gerrit::GerritService gerrit(store, runtime.commands(), config, data_dir);
//   gerrit.start();
//   api route POST /hooks/gerrit -> gerrit.handle_webhook(body)  (after auth)
//   /metrics += gerrit.prometheus();
#include <memory>
#include <string>
#include <string_view>

#include "adapters/gerrit/bindings.h"
#include "adapters/gerrit/bus_sink.h"
#include "adapters/gerrit/connection.h"
#include "adapters/gerrit/ingestor.h"
#include "events/event_store.h"

namespace wharf::gerrit {

struct GerritConfig {
  std::string host;  // SSH host; also the server's name in bindings and dedup keys
  int port = 29418;
  std::string user;
  std::string key_file;
  std::string known_hosts_file;  // empty: host key not checked
  std::string http_url;          // REST base for catch-up, e.g. "https://review.example.org"
  std::string http_user;         // with http_password: authenticated /a/ queries
  std::string http_password;
  int64_t catchup_margin_s = 120;
  int64_t ref_update_hold_ms = 5000;
  size_t max_line_bytes = 1 << 20;
  int keepalive_interval_s = 15;
  int silence_probe_s = 30;
  int probe_timeout_s = 10;
  int backoff_max_ms = 60'000;
};

class GerritService {
 public:
  GerritService(events::EventStore& store, runtime::CommandBus& bus, GerritConfig config,
                std::string status_dir);
  ~GerritService();  // stop()

  // Folds the bindings from the log, then connects (in the background).
  Expected<void, std::string> start();
  void stop();

  // A webhooks-plugin POST body (one event). The caller has authenticated it.
  Outcome handle_webhook(std::string_view body);

  IngestStats stats() const;
  std::string prometheus() const;
  const BindingSet& bindings() const { return bindings_; }
  GerritConnection& connection() { return *connection_; }

 private:
  events::EventStore& store_;
  runtime::CommandBus& bus_;
  GerritConfig config_;
  std::string status_dir_;
  BindingSet bindings_;
  std::unique_ptr<events::Subscription> binding_feed_;
  BusCommitSink sink_;
  IngestProbe probe_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<GerritConnection> connection_;
};

}  // namespace wharf::gerrit
