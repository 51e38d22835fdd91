#pragma once
// Catch-up over Gerrit's REST API after a reconnect or a dropped-output
// (protocols.md §1.1, §5.1): stream-events loses everything while the
// session is down, so wharf asks which changes were updated since the last
// event it saw (minus a safety margin) and rebuilds the events that would
// have started runs:
//   a MERGED change submitted since then     -> change-merged
//   a NEW change whose current patch set was created since then -> patchset-created
// They go through the same ingestor, so what the stream did deliver is
// deduplicated. Query: GET [/a]/changes/?q=-age:<N>s (relative age, so the
// time zones of wharf and Gerrit never matter).
#include <cstdint>
#include <string>
#include <vector>

#include "adapters/gerrit/gerrit_event.h"
#include "adapters/http/http_client.h"
#include "events/expected.h"

namespace wharf::gerrit {

struct RestOptions {
  std::string base_url;       // "http://127.0.0.1:8080" or "https://review.example.org"
  std::string user;           // empty: anonymous /changes/ (only public changes)
  std::string http_password;  // Gerrit HTTP password (Settings > HTTP Credentials)
  int timeout_s = 20;
  size_t page_size = 200;
  size_t max_changes = 5000;
};

// One HTTP call of `method` on `path` (starting with "/") under base_url,
// authenticated when a user is set; a JSON `body` is sent as application/json.
// Any status is a Response; an error only when no answer came or the URL is bad.
Expected<http_client::Response, std::string> rest_send(const RestOptions& options,
                                                       const std::string& method,
                                                       const std::string& path,
                                                       const std::string& body = {});

// One HTTP GET of `path` (starting with "/") under base_url; the body on 200.
Expected<std::string, std::string> rest_get(const RestOptions& options, const std::string& path);

// A REST body without Gerrit's XSSI guard: the ")]}'" line every JSON answer starts with.
std::string_view strip_xssi(std::string_view body);

// Events for changes updated in the last `age_s` seconds, whose merge or
// current patch set happened at or after `since_s` (epoch seconds, Gerrit's
// clock). Oldest first.
Expected<std::vector<GerritEvent>, std::string> fetch_missed_events(const RestOptions& options,
                                                                    int64_t since_s,
                                                                    int64_t age_s);

// Parses a ChangeInfo list (the body after Gerrit's ")]}'" prefix); exposed for tests.
Expected<std::vector<GerritEvent>, std::string> events_from_changes(const std::string& body,
                                                                    int64_t since_s,
                                                                    bool* more_changes);

// "2026-11-26 05:44:00.000000000" (UTC) -> epoch seconds; 0 if malformed.
int64_t parse_gerrit_timestamp(const std::string& text);

}  // namespace wharf::gerrit
