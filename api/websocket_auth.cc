#include "api/websocket_auth.h"

#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>

#include "api/api_error.h"

namespace wharf::api {

namespace {

// Calls `visit` with each comma-separated item, spaces trimmed, until it
// returns true.
template <typename Visit>
bool any_item(std::string_view header, Visit visit) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header.remove_prefix(comma == std::string_view::npos ? header.size() : comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty() && visit(item)) return true;
  }
  return false;
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::optional<std::string> decode_base64url(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t bits = 0;
  int held = 0;
  for (char c : text) {
    const int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out.push_back(static_cast<char>((bits >> held) & 0xff));
    }
  }
  // Leftover bits must be zero, or two encodings would name one token.
  if ((bits & ((1u << held) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

bool offers_subprotocol(std::string_view header, std::string_view name) {
  return any_item(header, [&](std::string_view item) { return item == name; });
}

std::optional<std::string> bearer_from_subprotocols(std::string_view header) {
  std::optional<std::string_view> offered;
  any_item(header, [&](std::string_view item) {
    if (item.substr(0, kBearerSubprotocolPrefix.size()) != kBearerSubprotocolPrefix) return false;
    offered = item.substr(kBearerSubprotocolPrefix.size());
    return true;
  });
  if (!offered) return std::nullopt;
  auto token = decode_base64url(*offered);
  if (!token || token->empty()) {
    throw ApiError(boost::beast::http::status::unauthorized, "invalid_token",
                   "the wharf.bearer subprotocol does not hold a base64url token",
                   boost::json::object{{"header", "Sec-WebSocket-Protocol"}});
  }
  return token;
}

}  // namespace wharf::api
