#include "api/static_files.h"

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "api/api_error.h"

namespace wharf::api {

namespace fs = std::filesystem;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidate = "no-cache";

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "/a/b%20c" -> {"a", "b c"}; nullopt on a bad escape, NUL, backslash, "." or "..".
std::optional<std::vector<std::string>> safe_segments(std::string_view path) {
  std::vector<std::string> out;
  std::string current;
  auto flush = [&]() -> bool {
    if (current == "." || current == "..") return false;
    if (!current.empty()) out.push_back(std::move(current));
    current.clear();
    return true;
  };
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      const int hi = hex(path[i + 1]);
      const int lo = hex(path[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
      if (c == '/') return std::nullopt;  // an encoded slash never splits segments
    } else if (c == '/') {
      if (!flush()) return std::nullopt;
      continue;
    }
    if (c == '\0' || c == '\\') return std::nullopt;
    current.push_back(c);
  }
  if (!flush()) return std::nullopt;
  return out;
}

bool read_file(const fs::path& file, std::string& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return false;
  out = std::move(buffer).str();
  return true;
}

StaticFiles::Response base_response(const StaticFiles::Request& request, http::status status) {
  StaticFiles::Response res(status, request.version());
  res.keep_alive(request.keep_alive());
  res.set("X-Content-Type-Options", "nosniff");
  return res;
}

StaticFiles::Response not_found(const StaticFiles::Request& request, std::string_view path) {
  auto res = base_response(request, http::status::not_found);
  res.set(http::field::content_type, "application/json");
  res.body() = error_body("not_found", "no file " + std::string(path) + " in the web UI",
                          boost::json::object{{"path", std::string(path)}});
  res.prepare_payload();
  return res;
}

StaticFiles::Response not_built(const StaticFiles::Request& request, const std::string& root) {
  auto res = base_response(request, http::status::not_found);
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, kRevalidate);
  std::string escaped;
  for (char c : root) {
    if (c == '<')
      escaped += "&lt;";
    else if (c == '>')
      escaped += "&gt;";
    else if (c == '&')
      escaped += "&amp;";
    else
      escaped.push_back(c);
  }
  res.body() =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>wharf: UI not built</title>"
      "</head><body><h1>The wharf web UI is not built</h1><p>No <code>index.html</code> in <code>" +
      escaped +
      "</code>. Build it with <code>scripts/build-ui</code> (npm ci &amp;&amp; npm run build in "
      "ui/), or point <code>wharf serve --ui-dir</code> at a built copy. The API is at "
      "<a href=\"/api/v1/projects\">/api/v1</a>.</p></body></html>\n";
  res.prepare_payload();
  return res;
}

}  // namespace

StaticFiles::StaticFiles(std::string root) : root_(std::move(root)) {}

bool StaticFiles::built() const {
  std::error_code ec;
  return !root_.empty() && fs::is_regular_file(fs::path(root_) / "index.html", ec);
}

std::string StaticFiles::content_type(std::string_view filename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  }};
  const auto dot = filename.rfind('.');
  if (dot != std::string_view::npos && filename.find('/', dot) == std::string_view::npos) {
    std::string ext(filename.substr(dot));
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& [suffix, type] : kTypes) {
      if (ext == suffix) return std::string(type);
    }
  }
  return "application/octet-stream";
}

bool StaticFiles::hashed_asset(std::string_view relative_path) {
  constexpr std::string_view kAssets = "assets/";
  if (relative_path.substr(0, kAssets.size()) != kAssets) return false;
  const auto name = relative_path.substr(kAssets.size());
  if (name.find('/') != std::string_view::npos) return false;
  const auto stem = name.substr(0, name.rfind('.'));  // "index-Bx9_a1Zq" of "index-Bx9_a1Zq.js"
  const auto dash = stem.rfind('-');
  if (dash == std::string_view::npos || stem.size() - dash - 1 < 8) return false;
  for (char c : stem.substr(dash + 1)) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<StaticFiles::Response> StaticFiles::serve(const Request& request,
                                                        std::string_view path) const {
  if (root_.empty() || request.method() != http::verb::get) return std::nullopt;
  if (path == "/api" || path.substr(0, 5) == "/api/") return std::nullopt;
  if (!built()) return not_built(request, root_);

  auto segments = safe_segments(path);
  if (!segments) return not_found(request, path);
  std::string relative;
  for (const auto& s : *segments) relative += (relative.empty() ? "" : "/") + s;

  std::error_code ec;
  const fs::path root = fs::canonical(root_, ec);
  if (ec) return not_built(request, root_);
  fs::path file = root / "index.html";
  bool fallback = true;
  if (!relative.empty()) {
    const fs::path candidate = fs::weakly_canonical(root / relative, ec);
    const auto inside = candidate.lexically_relative(root);
    const bool escapes = ec || inside.empty() || *inside.begin() == "..";
    if (!escapes && fs::is_regular_file(candidate, ec)) {
      file = candidate;
      fallback = false;
    } else if (escapes || segments->back().find('.') != std::string::npos) {
      // A file name that is not there (or leaves the root): never index.html.
      return not_found(request, path);
    }
  }

  const auto size = fs::file_size(file, ec);
  const auto mtime = fs::last_write_time(file, ec);
  if (ec) return not_found(request, path);
  const std::string etag =
      "\"" + std::to_string(size) + "-" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count()) +
      "\"";
  const bool immutable = !fallback && hashed_asset(relative);
  const auto cache = immutable ? kImmutable : kRevalidate;

  auto if_none_match = request[http::field::if_none_match];
  if (!if_none_match.empty() && if_none_match == etag) {
    auto res = base_response(request, http::status::not_modified);
    res.set(http::field::etag, etag);
    res.set(http::field::cache_control, cache);
    return res;
  }
  auto res = base_response(request, http::status::ok);
  if (!read_file(file, res.body())) return not_found(request, path);
  res.set(http::field::content_type, content_type(file.filename().string()));
  res.set(http::field::cache_control, cache);
  res.set(http::field::etag, etag);
  res.prepare_payload();
  return res;
}

}  // namespace wharf::api
