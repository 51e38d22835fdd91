#pragma once
// Maps (method, path) to a route. Patterns are slash-separated segments, each a
// literal or a `{param}`; a literal beats a param at the same place, so
// /events/stream wins over /events/{id}. Segments are percent-decoded before
// they reach handlers. Unknown paths are kNotFound; a known path with another
// method is kMethodNotAllowed with the methods it allows.
#include <boost/beast/http/verb.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::api {

namespace http = boost::beast::http;

using PathParams = std::map<std::string, std::string>;

template <typename Payload>
class Router {
 public:
  struct Route {
    http::verb method;
    std::string pattern;
    std::vector<std::string> segments;
    Payload payload;
  };

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed, kBadPath };
    Kind kind = Kind::kNotFound;
    const Route* route = nullptr;
    PathParams params;
    std::vector<http::verb> allowed;  // for kMethodNotAllowed
  };

  void add(http::verb method, std::string pattern, Payload payload) {
    Route route{method, pattern, split(pattern), std::move(payload)};
    routes_.push_back(std::move(route));
  }

  // `path` is the request target without its query string.
  Match match(http::verb method, std::string_view path) const {
    Match result;
    std::vector<std::string> segments;
    if (!decode_segments(path, segments)) {
      result.kind = Match::Kind::kBadPath;
      return result;
    }
    int best_score = -1;
    for (const auto& route : routes_) {
      PathParams params;
      int score = 0;
      if (!matches(route.segments, segments, params, score)) continue;
      if (route.method != method) {
        result.allowed.push_back(route.method);
        continue;
      }
      if (score > best_score) {
        best_score = score;
        result.route = &route;
        result.params = std::move(params);
      }
    }
    if (result.route != nullptr) {
      result.kind = Match::Kind::kFound;
    } else if (!result.allowed.empty()) {
      result.kind = Match::Kind::kMethodNotAllowed;
    }
    return result;
  }

  const std::vector<Route>& routes() const { return routes_; }

 private:
  static std::vector<std::string> split(std::string_view path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
      if (path[i] == '/') {
        ++i;
        continue;
      }
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      out.emplace_back(path.substr(i, j - i));
      i = j;
    }
    return out;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Splits on '/' and percent-decodes each segment; false on a bad escape or
  // an encoded '/' or NUL (which would let one segment pose as two).
  static bool decode_segments(std::string_view path, std::vector<std::string>& out) {
    if (path.empty() || path.front() != '/') return false;
    for (auto& raw : split(path)) {
      std::string decoded;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '%') {
          decoded.push_back(raw[i]);
          continue;
        }
        if (i + 2 >= raw.size()) return false;
        const int hi = hex(raw[i + 1]);
        const int lo = hex(raw[i + 2]);
        if (hi < 0 || lo < 0) return false;
        const char c = static_cast<char>(hi * 16 + lo);
        if (c == '/' || c == '\0') return false;
        decoded.push_back(c);
        i += 2;
      }
      out.push_back(std::move(decoded));
    }
    return true;
  }

  static bool matches(const std::vector<std::string>& pattern,
                      const std::vector<std::string>& segments, PathParams& params, int& score) {
    if (pattern.size() != segments.size()) return false;
    for (size_t i = 0; i < pattern.size(); ++i) {
      const auto& p = pattern[i];
      if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
        if (segments[i].empty()) return false;
        params[p.substr(1, p.size() - 2)] = segments[i];
      } else if (p == segments[i]) {
        ++score;
      } else {
        return false;
      }
    }
    return true;
  }

  std::vector<Route> routes_;
};

}  // namespace wharf::api
