#pragma once
// Every default port wharf listens on, in one place (api/config.h, `wharf
// serve`, the canary router). Constants only, so any layer may include it.
#include <cstdint>

namespace wharf {

inline constexpr uint16_t kDefaultApiPort = 8080;
// The local canary router gives environment n (in the order canaries first
// reach them) the port kDefaultRouterBasePort + n unless its settings name a
// "router_port" (docs/canary.md).
inline constexpr uint16_t kDefaultRouterBasePort = 18080;

}  // namespace wharf
