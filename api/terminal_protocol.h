#pragma once
// The client's side of the WebSocket terminal (docs/operations.md#terminal):
// binary frames are the shell's input, text frames are control messages,
// JSON. The one control message is a window resize:
//   {"resize":{"cols":N,"rows":M}}   1 <= N, M <= 65535
// A text frame that is not one is refused with the API's error shape
// ({"error":{"code","message","details"}}, sent back as a text frame) and
// never reaches the shell.
#include <cstdint>
#include <string_view>

namespace wharf::api {

struct TerminalResize {
  uint16_t cols = 0;
  uint16_t rows = 0;
};

// Parses a text frame; throws ApiError (malformed_json, also for invalid
// UTF-8 or an empty frame; unknown_field, missing_field, wrong_type,
// invalid_value) naming the field in details.field.
TerminalResize parse_terminal_message(std::string_view text);

}  // namespace wharf::api
