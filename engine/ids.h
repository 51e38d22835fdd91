#pragma once
// Deterministic ids. The engine never draws random numbers: every id it mints
// is a name-based UUID (RFC 4122 version 5, SHA-1) of something the caller
// gave it, so deciding the same command twice yields the same ids and the
// event store's idempotency drops the repeat.
#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::engine {

// SHA-1 of `data` as 20 raw bytes.
std::string sha1(std::string_view data);

// UUIDv5 ("xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx") of `name` in wharf's namespace.
std::string name_uuid(std::string_view name);

// Event id of the `index`-th event a command produced.
std::string derived_event_id(std::string_view command_id, uint32_t index);

// A short readable id "<prefix>-<12 hex>" derived from `seed`, e.g. run ids.
std::string short_id(std::string_view prefix, std::string_view seed);

// [A-Za-z0-9._-]{1,64}
bool valid_project_id(std::string_view id);
// [A-Za-z0-9._]{1,64}: no '-' so environment stream names never collide.
bool valid_environment_name(std::string_view name);

}  // namespace wharf::engine
