#pragma once
// Serves the built web UI (ui/dist) for GET/HEAD requests outside /api:
//
//   /                      -> index.html            (Cache-Control: no-cache)
//   /assets/app-3f9a1c.js  -> that file             (hashed name: immutable, 1 year)
//   /favicon.svg           -> that file             (no-cache)
//   /projects/shop/runs    -> index.html            (SPA fallback: no extension)
//   /assets/missing.js     -> 404                   (never HTML posing as a script)
//
// Paths are percent-decoded; a ".." or "." segment, a NUL or a backslash is a
// 404, and the resolved file must lie under the root (symlinks included).
// Files are read on every request (a rebuilt UI is served without a restart);
// ETag (size + mtime) with If-None-Match answers 304. When the root has no
// index.html every page is a small HTML 404 saying how to build the UI.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::api {

class StaticFiles {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  explicit StaticFiles(std::string root);

  // True when the root holds an index.html (the UI was built).
  bool built() const;
  const std::string& root() const { return root_; }

  // The answer for `path` (decoded or not: the query string already removed),
  // or nullopt when the path is not the UI's (under /api, not GET/HEAD).
  std::optional<Response> serve(const Request& request, std::string_view path) const;

  // "text/javascript; charset=utf-8" for "x.js", ...; application/octet-stream if unknown.
  static std::string content_type(std::string_view filename);
  // Vite's output names: "<name>-<8+ chars of [A-Za-z0-9_-]>.<ext>" under assets/.
  static bool hashed_asset(std::string_view relative_path);

 private:
  std::string root_;
};

}  // namespace wharf::api
