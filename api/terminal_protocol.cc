#include "api/terminal_protocol.h"

#include <boost/json.hpp>
#include <string>

#include "api/api_error.h"
#include "api/json_input.h"

namespace wharf::api {

namespace {

uint16_t dimension(const JsonBody& resize, std::string_view name) {
  const std::string field = "resize." + std::string(name);
  auto value = resize.optional_uint(name);
  if (!value) {
    throw bad_request("missing_field", "field \"" + field + "\" is required",
                      boost::json::object{{"field", field}});
  }
  if (*value < 1 || *value > 65535) {
    throw bad_request("invalid_value", "field \"" + field + "\" must be from 1 to 65535",
                      boost::json::object{{"field", field}, {"min", 1}, {"max", 65535}});
  }
  return static_cast<uint16_t>(*value);
}

}  // namespace

TerminalResize parse_terminal_message(std::string_view text) {
  boost::json::error_code ec;
  boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  if (ec) {  // most likely a client that sends its input as text
    throw bad_request("malformed_json",
                      "a text frame is a control message, JSON such as "
                      "{\"resize\":{\"cols\":80,\"rows\":24}}; the shell's input goes in "
                      "binary frames (" +
                          ec.message() + ")",
                      boost::json::object{{"field", ""}});
  }
  const JsonBody message = JsonBody::parse(text, {"resize"});
  const JsonBody resize = message.object("resize", {"cols", "rows"}, true);
  return TerminalResize{dimension(resize, "cols"), dimension(resize, "rows")};
}

}  // namespace wharf::api
