#pragma once
// The content-based identity of a Gerrit event (protocols.md §1.5: Gerrit
// events carry no id). Computed from the normalised event, so the SSH,
// webhook, events-log and REST catch-up shapes of one event share one key:
//   patchset-created  patchset-created|<project>|<change>|<patchset>
//   change-merged     change-merged|<project>|<change>        (a change merges once)
//   ref-updated       ref-updated|<project>|<ref>|<oldRev>|<newRev>
//   comment-added     comment-added|<project>|<change>|<ps>|<eventCreatedOn>|<who>|<sha(comment)>
//   anything else     <type>|<sha256 of the canonical JSON>
// eventCreatedOn is left out of the first two on purpose: catch-up rebuilds
// those events from REST ChangeInfo, which has no eventCreatedOn.
#include <boost/json/fwd.hpp>
#include <string>

#include "adapters/gerrit/gerrit_event.h"

namespace wharf::gerrit {

// Key of `event` (needs the normalised fields); `json` is the event as
// received, used for the canonical-hash fallback.
std::string event_key(const GerritEvent& event, const boost::json::value& json);

// JSON with sorted keys and transport differences undone: {"name":p} -> p for
// "project", {"key":k} -> {"id":k} for "changeKey", digit strings -> numbers
// for "number".
std::string canonical_json(const boost::json::value& json);

// The key wharf uses for a Gerrit event of server `host` ("gerrit:<host>:<key>").
std::string dedup_key(const std::string& host, const GerritEvent& event);

}  // namespace wharf::gerrit
