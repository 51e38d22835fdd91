#pragma once
// RFC 3339 times <-> microseconds since the epoch, for `at`, --from/--to and
// printed reports.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::projections {

// "2026-03-03T14:00:00Z", "2026-03-03T14:00:00.123456+01:00", "2026-03-03 14:00:00Z".
// nullopt when `text` is not such a time.
std::optional<int64_t> parse_rfc3339(std::string_view text);
// UTC with microseconds: "2026-03-03T14:00:00.000000Z".
std::string format_rfc3339(int64_t time_us);

}  // namespace wharf::projections
