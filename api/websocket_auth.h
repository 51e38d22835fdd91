#pragma once
// Browsers cannot set an Authorization header on a WebSocket, so a browser
// client offers its bearer token as a subprotocol beside the protocol it
// speaks (docs/operations.md#terminal-protocol):
//   Sec-WebSocket-Protocol: wharf.terminal.v1, wharf.bearer.<base64url(token)>
// The server selects wharf.terminal.v1 and never echoes the token.
#include <optional>
#include <string>
#include <string_view>

namespace wharf::api {

inline constexpr std::string_view kTerminalSubprotocol = "wharf.terminal.v1";
inline constexpr std::string_view kBearerSubprotocolPrefix = "wharf.bearer.";

// Whether the comma-separated Sec-WebSocket-Protocol value offers `name`.
bool offers_subprotocol(std::string_view header, std::string_view name);

// The token in an offered wharf.bearer.<base64url> item (RFC 4648 section 5,
// padding optional); nullopt when none is offered. Throws ApiError 401
// invalid_token when the item is there but is not base64url.
std::optional<std::string> bearer_from_subprotocols(std::string_view header);

}  // namespace wharf::api
