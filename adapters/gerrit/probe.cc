#include "adapters/gerrit/probe.h"

#include <boost/json.hpp>

namespace wharf::gerrit {
namespace json = boost::json;

IngestProbe::IngestProbe(std::string host) : host_(std::move(host)) {}

bool IngestProbe::unknown_type(const std::string& type) {
  unknown_types_++;
  std::lock_guard lock(mutex_);
  return unknown_seen_.emplace(type, true).second;
}

void IngestProbe::event(const std::string& type, int64_t created_on_s, int64_t received_us) {
  int64_t prev = last_event_created_s_.load();
  while (created_on_s > prev && !last_event_created_s_.compare_exchange_weak(prev, created_on_s)) {
  }
  last_event_received_us_ = received_us;
  std::lock_guard lock(mutex_);
  by_type_[type]++;
}

void IngestProbe::sink_error(const std::string& message) {
  sink_errors_++;
  error(message);
}

void IngestProbe::error(const std::string& message) {
  std::lock_guard lock(mutex_);
  last_error_ = message;
}

void IngestProbe::set_state(const std::string& state, bool connected, int64_t now_us) {
  std::lock_guard lock(mutex_);
  if (connected && !connected_) connected_since_us_ = now_us;
  if (!connected) connected_since_us_ = 0;
  state_ = state;
  connected_ = connected;
}

IngestStats IngestProbe::snapshot(int64_t now_us) const {
  IngestStats s;
  s.host = host_;
  s.last_event_created_s = last_event_created_s_;
  s.last_event_received_us = last_event_received_us_;
  s.reconnects = reconnects_;
  s.lines = lines_;
  s.bad_lines = bad_lines_;
  s.too_large = too_large_;
  s.unknown_types = unknown_types_;
  s.dropped_output = dropped_output_;
  s.deduplicated = deduplicated_;
  s.not_bound = not_bound_;
  s.observed = observed_;
  s.sink_errors = sink_errors_;
  s.catchups = catchups_;
  s.catchup_events = catchup_events_;
  s.updated_us = now_us;
  std::lock_guard lock(mutex_);
  s.state = state_;
  s.connected = connected_;
  s.connected_since_us = connected_since_us_;
  s.events_by_type = by_type_;
  s.last_error = last_error_;
  return s;
}

namespace {

#define WHARF_GERRIT_STATS_FIELDS(X)                                                         \
  X(last_event_created_s) X(last_event_received_us) X(connected_since_us) X(reconnects)     \
  X(lines) X(bad_lines) X(too_large) X(unknown_types) X(dropped_output) X(deduplicated)     \
  X(not_bound) X(observed) X(sink_errors) X(catchups) X(catchup_events) X(updated_us)

template <typename T>
void read_number(const json::object& o, const char* key, T& out) {
  if (const json::value* v = o.if_contains(key)) {
    if (v->is_int64()) out = static_cast<T>(v->get_int64());
    if (v->is_uint64()) out = static_cast<T>(v->get_uint64());
  }
}

}  // namespace

std::string to_json(const IngestStats& s) {
  json::object o;
  o["host"] = s.host;
  o["state"] = s.state;
  o["connected"] = s.connected;
#define WHARF_PUT(name) o[#name] = s.name;
  WHARF_GERRIT_STATS_FIELDS(WHARF_PUT)
#undef WHARF_PUT
  json::object types;
  for (const auto& [type, n] : s.events_by_type) types[type] = n;
  o["events_by_type"] = std::move(types);
  o["last_error"] = s.last_error;
  return json::serialize(o);
}

Expected<IngestStats, std::string> stats_from_json(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return unexpected(std::string("not a gerrit status object"));
  const json::object& o = v.get_object();
  IngestStats s;
  if (auto* h = o.if_contains("host"); h && h->is_string()) s.host = std::string(h->get_string());
  if (auto* st = o.if_contains("state"); st && st->is_string()) {
    s.state = std::string(st->get_string());
  }
  if (auto* c = o.if_contains("connected"); c && c->is_bool()) s.connected = c->get_bool();
#define WHARF_GET(name) read_number(o, #name, s.name);
  WHARF_GERRIT_STATS_FIELDS(WHARF_GET)
#undef WHARF_GET
  if (auto* t = o.if_contains("events_by_type"); t && t->is_object()) {
    for (const auto& kv : t->get_object()) {
      if (kv.value().is_int64()) s.events_by_type[kv.key()] = kv.value().get_int64();
      if (kv.value().is_uint64()) s.events_by_type[kv.key()] = kv.value().get_uint64();
    }
  }
  if (auto* e = o.if_contains("last_error"); e && e->is_string()) {
    s.last_error = std::string(e->get_string());
  }
  return s;
}

std::string to_prometheus(const IngestStats& s) {
  std::string label = "{host=\"" + s.host + "\"}";
  std::string out;
  auto line = [&](const std::string& name, const std::string& labels, auto value) {
    out += "wharf_gerrit_" + name + labels + " " + std::to_string(value) + "\n";
  };
  line("connected", label, s.connected ? 1 : 0);
  line("last_event_created_seconds", label, s.last_event_created_s);
  line("reconnects_total", label, s.reconnects);
  line("lines_total", label, s.lines);
  line("bad_lines_total", label, s.bad_lines);
  line("too_large_total", label, s.too_large);
  line("unknown_types_total", label, s.unknown_types);
  line("dropped_output_total", label, s.dropped_output);
  line("deduplicated_total", label, s.deduplicated);
  line("not_bound_total", label, s.not_bound);
  line("observed_total", label, s.observed);
  line("sink_errors_total", label, s.sink_errors);
  line("catchups_total", label, s.catchups);
  line("catchup_events_total", label, s.catchup_events);
  for (const auto& [type, n] : s.events_by_type) {
    line("events_total", "{host=\"" + s.host + "\",type=\"" + type + "\"}", n);
  }
  return out;
}

}  // namespace wharf::gerrit
