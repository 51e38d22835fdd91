#include "adapters/jenkins/jenkins_api.h"

#include <boost/json.hpp>
#include <cctype>
#include <charconv>

namespace wharf::jenkins {
namespace json = boost::json;

namespace {

Expected<json::object, std::string> parse_object(std::string_view body, const char* what) {
  std::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return unexpected(std::string("unreadable JSON in ") + what + ": " + ec.message());
  if (!v.is_object())
    return unexpected(std::string("unexpected JSON in ") + what + ": not an object");
  return std::move(v.as_object());
}

std::string str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

uint64_t num(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() > 0) return static_cast<uint64_t>(v->as_int64());
  return 0;
}

bool flag(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

std::string scalar(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  return {};
}

// The name=value parameters of a build or queue item (its ParametersAction).
std::map<std::string, std::string> parameters_of(const json::object& o) {
  std::map<std::string, std::string> out;
  auto* actions = o.if_contains("actions");
  if (!actions || !actions->is_array()) return out;
  for (const auto& action : actions->as_array()) {
    if (!action.is_object()) continue;
    auto* params = action.as_object().if_contains("parameters");
    if (!params || !params->is_array()) continue;
    for (const auto& p : params->as_array()) {
      if (!p.is_object()) continue;
      auto* value = p.as_object().if_contains("value");
      out[str(p.as_object(), "name")] = value ? scalar(*value) : std::string();
    }
  }
  return out;
}

bool has_key(const json::object& o, std::string_view key) {
  auto params = parameters_of(o);
  auto it = params.find(kRunIdParameter);
  return it != params.end() && it->second == key;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string job_path(std::string_view job) {
  std::string out;
  size_t start = 0;
  while (start <= job.size()) {
    size_t slash = job.find('/', start);
    if (slash == std::string_view::npos) slash = job.size();
    std::string_view part = job.substr(start, slash - start);
    if (!part.empty()) out += "/job/" + url_encode(part);
    start = slash + 1;
  }
  return out;
}

std::string join_url(std::string_view root, std::string_view path) {
  while (!root.empty() && root.back() == '/') root.remove_suffix(1);
  return std::string(root) + std::string(path);
}

std::string query_of(const std::map<std::string, std::string>& parameters) {
  std::string out;
  for (const auto& [name, value] : parameters) {
    if (!out.empty()) out += '&';
    out += url_encode(name) + "=" + url_encode(value);
  }
  return out;
}

Expected<std::string, std::string> expand(std::string_view text,
                                          const std::map<std::string, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 2;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out += text[i];
      continue;
    }
    size_t end = text.find('}', i + 2);
    if (end == std::string_view::npos) {
      return unexpected("unclosed ${ in \"" + std::string(text) + "\"");
    }
    std::string name(text.substr(i + 2, end - i - 2));
    auto it = values.find(name);
    if (it == values.end()) {
      std::string known;
      for (const auto& [k, v] : values) known += (known.empty() ? "" : " ") + ("${" + k + "}");
      return unexpected("unknown template ${" + name + "} (known: " + known + ")");
    }
    out += it->second;
    i = end;
  }
  return out;
}

Expected<Crumb, std::string> parse_crumb(std::string_view body) {
  auto o = parse_object(body, "the crumb issuer's answer");
  if (!o) return unexpected(o.error());
  Crumb c{str(*o, "crumbRequestField"), str(*o, "crumb")};
  if (c.field.empty() || c.value.empty()) {
    return unexpected(std::string("the crumb issuer's answer has no crumb/crumbRequestField"));
  }
  return c;
}

bool asks_for_crumb(int status, std::string_view body) {
  return status == 403 && body.find("crumb") != std::string_view::npos;
}

std::optional<uint64_t> queue_id_of(std::string_view location) {
  while (!location.empty() && location.back() == '/') location.remove_suffix(1);
  size_t at = location.rfind("/queue/item/");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view digits = location.substr(at + 12);
  uint64_t id = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || p != digits.data() + digits.size() || digits.empty())
    return std::nullopt;
  return id;
}

Expected<QueueItem, std::string> parse_queue_item(std::string_view body) {
  auto o = parse_object(body, "the queue item");
  if (!o) return unexpected(o.error());
  QueueItem item;
  item.why = str(*o, "why");
  if (flag(*o, "cancelled")) {
    item.state = QueueItem::State::kCancelled;
    return item;
  }
  auto* exe = o->if_contains("executable");
  if (exe && exe->is_object()) {
    item.build_number = num(exe->as_object(), "number");
    if (item.build_number > 0) item.state = QueueItem::State::kStarted;
  }
  return item;
}

Expected<BuildInfo, std::string> parse_build_info(std::string_view body) {
  auto o = parse_object(body, "the build info");
  if (!o) return unexpected(o.error());
  BuildInfo b;
  b.number = num(*o, "number");
  b.building = flag(*o, "building");
  b.result = str(*o, "result");
  b.duration_ms = num(*o, "duration");
  b.description = str(*o, "description");
  b.parameters = parameters_of(*o);
  if (auto* arts = o->if_contains("artifacts"); arts && arts->is_array()) {
    for (const auto& a : arts->as_array()) {
      if (a.is_object()) b.artifacts.push_back(str(a.as_object(), "relativePath"));
    }
  }
  if (b.number == 0) return unexpected(std::string("the build info has no build number"));
  return b;
}

std::string builds_page_tree(uint64_t first, uint64_t count) {
  return "allBuilds[number,queueId,actions[parameters[name,value]]]{" + std::to_string(first) +
         "," + std::to_string(first + count) + "}";
}

Expected<BuildSearch, std::string> find_build(std::string_view job_json, std::string_view key) {
  auto o = parse_object(job_json, "the job");
  if (!o) return unexpected(o.error());
  BuildSearch found;
  auto* builds = o->if_contains("allBuilds");
  if (builds == nullptr) builds = o->if_contains("builds");
  if (builds && builds->is_array()) {
    found.builds = builds->as_array().size();
    for (const auto& b : builds->as_array()) {
      if (b.is_object() && has_key(b.as_object(), key)) {
        found.number = num(b.as_object(), "number");
        break;
      }
    }
  }
  return found;
}

Expected<std::optional<uint64_t>, std::string> find_queued(std::string_view queue_json,
                                                           std::string_view job_url_path,
                                                           std::string_view key) {
  auto o = parse_object(queue_json, "the queue");
  if (!o) return unexpected(o.error());
  auto* items = o->if_contains("items");
  if (items && items->is_array()) {
    const std::string suffix = std::string(job_url_path) + "/";
    for (const auto& i : items->as_array()) {
      if (!i.is_object()) continue;
      const auto& item = i.as_object();
      std::string url;
      if (auto* task = item.if_contains("task"); task && task->is_object()) {
        url = str(task->as_object(), "url");
      }
      // The job's own path from its first "/job/" (a context path before it is fine).
      const size_t job_start = url.find("/job/");
      const bool same_job = job_start != std::string::npos && url.substr(job_start) == suffix;
      if (same_job && has_key(item, key)) return std::optional<uint64_t>(num(item, "id"));
    }
  }
  return std::optional<uint64_t>();
}

ProgressiveText parse_progressive(std::string_view x_text_size, std::string_view x_more_data,
                                  uint64_t start, size_t body_size) {
  ProgressiveText p;
  uint64_t size = 0;
  auto [ptr, ec] =
      std::from_chars(x_text_size.data(), x_text_size.data() + x_text_size.size(), size);
  if (x_text_size.empty() || ec != std::errc()) size = start + body_size;
  p.next_offset = size;
  p.restarted = size < start || (size == body_size && start > 0 && body_size > 0);
  p.more = x_more_data == "true";
  return p;
}

bool valid_digest(std::string_view digest) {
  return digest.size() == 71 && digest.substr(0, 7) == "sha256:" && is_hex(digest.substr(7));
}

std::string Artifact::reference() const {
  if (image.find('@') != std::string::npos) return image;
  return image + "@" + digest;
}

std::optional<Artifact> artifact_from_reference(std::string_view text) {
  size_t at = text.find("@sha256:");
  if (at == std::string_view::npos) return std::nullopt;
  size_t begin = at;
  while (begin > 0 && !std::isspace(static_cast<unsigned char>(text[begin - 1]))) --begin;
  if (begin == at || text.size() < at + 72) return std::nullopt;
  Artifact a{std::string(text.substr(begin, at - begin)), std::string(text.substr(at + 1, 71))};
  if (!valid_digest(a.digest)) return std::nullopt;
  return a;
}

Expected<Artifact, std::string> parse_artifact(std::string_view body) {
  auto o = parse_object(body, "the image artifact");
  if (!o) return unexpected(o.error());
  Artifact a{str(*o, "image"), str(*o, "digest")};
  if (a.image.empty()) a.image = str(*o, "ref");
  if (a.image.empty()) a.image = str(*o, "name");
  if (a.image.empty()) return unexpected(std::string("the image artifact names no image"));
  if (a.digest.empty()) {
    if (auto pinned = artifact_from_reference(a.image)) return *pinned;
    return unexpected("the image artifact has no digest for " + a.image);
  }
  if (!valid_digest(a.digest)) {
    return unexpected("the image artifact's digest is not sha256:<64 hex>: " + a.digest);
  }
  return a;
}

std::string error_text(std::string_view x_error, std::string_view body) {
  if (!x_error.empty()) return std::string(x_error);
  size_t t = body.find("<title>");
  if (t != std::string_view::npos) {
    size_t end = body.find("</title>", t);
    if (end != std::string_view::npos) return std::string(body.substr(t + 7, end - t - 7));
  }
  std::string out(body.substr(0, 200));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace wharf::jenkins
