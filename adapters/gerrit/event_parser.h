#pragma once
// Turns one line of Gerrit event JSON into a GerritEvent. Tolerant by design
// (protocols.md §1.2-1.6): any field may be missing, numbers may be strings,
// `project` may be "p" or {"name":"p"}, `changeKey` {"id":…} or {"key":…},
// legacy refName may be short. Unknown event types parse fine (the caller
// decides to ignore them). Never throws.
#include <boost/json/fwd.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "adapters/gerrit/gerrit_event.h"
#include "events/expected.h"

namespace wharf::gerrit {

enum class ParseStatus {
  kEmpty,        // blank line: skip silently
  kTooLarge,     // over ParseLimits::max_line_bytes: dropped unparsed
  kBadJson,      // not JSON
  kNotAnObject,  // JSON, but not an object
  kNoType,       // an object without a string "type"
};

struct ParseError {
  ParseStatus status = ParseStatus::kBadJson;
  std::string message;  // for the log line, includes a truncated snippet
};

struct ParseLimits {
  // Real events are a few KB; a commit message of a huge change can reach
  // tens of KB. Anything past this is not an event we could act on.
  size_t max_line_bytes = 1 << 20;
};

const char* to_string(ParseStatus status);

// Parses one line (trailing "\r\n" allowed).
Expected<GerritEvent, ParseError> parse_event(std::string_view line,
                                              const ParseLimits& limits = {});

// Same, for JSON already parsed by the caller (a webhook body).
Expected<GerritEvent, ParseError> parse_event_json(const boost::json::value& json);

// At most `max` bytes of `text` for a log line, control characters escaped,
// "…(N bytes)" appended when cut.
std::string snippet(std::string_view text, size_t max = 160);

}  // namespace wharf::gerrit
