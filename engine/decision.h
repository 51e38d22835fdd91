#pragma once
// What a decider returns: the events to append (payload plus the little
// metadata only the decider knows) or a Rejection. engine.h turns NewEvents
// into ready-to-append Envelopes.
#include <string>
#include <vector>

#include "engine/commands.h"
#include "events/expected.h"
#include "wharf/v1/envelope.pb.h"

namespace wharf::engine {

struct NewEvent {
  wharf::v1::Payload payload;
  std::string event_id;        // empty: derived from (command_id, index)
  std::string correlation_id;  // empty: Context::correlation_id, else command_id
  int caused_by = -1;          // index of an earlier event of this decision that caused it
};

using Decision = Expected<std::vector<NewEvent>, Rejection>;

inline Decision reject(Rejection::Code code, std::string reason) {
  return unexpected(Rejection{code, std::move(reason)});
}

}  // namespace wharf::engine
