#pragma once
// Random identifiers for the event layer (store ids, event ids made by tools).
#include <string>

namespace wharf::events {

// A random (version 4) UUID in canonical lowercase form.
std::string new_uuid();

}  // namespace wharf::events
