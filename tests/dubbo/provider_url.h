#pragma once
// The registry node name of a Dubbo provider of demo interface `iface` at
// `address` with URL parameters `extra` ("&env=canary..."), URL-encoded as
// Dubbo writes it under /dubbo/<iface>/providers.
#include <string>

namespace wharf::dubbo::testing {

inline std::string provider(const std::string& address, const std::string& extra,
                            const std::string& iface = "demo.Greeter") {
  std::string url = "tri://" + address + "/" + iface + "?application=greeter" + extra;
  std::string out;
  for (char c : url) {
    if (c == ':' || c == '/' || c == '?' || c == '=' || c == '&') {
      static const char* hex = "0123456789ABCDEF";
      out += '%';
      out += hex[static_cast<unsigned char>(c) >> 4];
      out += hex[c & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace wharf::dubbo::testing
