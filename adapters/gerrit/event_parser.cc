#include "adapters/gerrit/event_parser.h"

#include <boost/json.hpp>
#include <charconv>
#include <cstdio>

#include "adapters/gerrit/dedup_key.h"

namespace wharf::gerrit {
namespace json = boost::json;

namespace {

const json::value* field(const json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &it->value();
}

const json::object* object_field(const json::object& obj, std::string_view key) {
  const json::value* v = field(obj, key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

// Strings as they are; numbers printed (old servers mix both).
std::string text(const json::value* v) {
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  if (v->is_bool()) return v->get_bool() ? "true" : "false";
  return {};
}

std::string text(const json::object& obj, std::string_view key) { return text(field(obj, key)); }

// Numbers, or digit strings (Gerrit 2.x sends "number":"236085"). Anything
// else, negative or out of range is 0.
uint64_t number(const json::value* v) {
  if (!v) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64()) return v->get_int64() > 0 ? static_cast<uint64_t>(v->get_int64()) : 0;
  if (v->is_double()) {
    double d = v->get_double();
    return d > 0 && d < 1.8e19 ? static_cast<uint64_t>(d) : 0;
  }
  if (v->is_string()) {
    std::string_view s = v->get_string();
    uint64_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() ? out : 0;
  }
  return 0;
}

int64_t signed_number(const json::value* v) {
  if (v && v->is_int64()) return v->get_int64();
  uint64_t n = number(v);
  return n > static_cast<uint64_t>(INT64_MAX) ? 0 : static_cast<int64_t>(n);
}

Account account(const json::object* obj) {
  Account a;
  if (!obj) return a;
  a.name = text(*obj, "name");
  a.email = text(*obj, "email");
  a.username = text(*obj, "username");
  return a;
}

// "p" (stream-events) or {"name":"p"} (webhooks plugin, events-log).
std::string project_name(const json::value* v) {
  if (!v) return {};
  if (v->is_object()) return text(v->get_object(), "name");
  return text(v);
}

// Legacy servers sent a short branch ("master") as refName.
std::string full_ref(std::string ref) {
  if (ref.empty() || ref.starts_with("refs/")) return ref;
  return "refs/heads/" + ref;
}

std::string short_branch(const std::string& ref) {
  constexpr std::string_view kHeads = "refs/heads/";
  if (ref.starts_with(kHeads)) return ref.substr(kHeads.size());
  return {};
}

// The account that acted, by event type.
const json::object* actor_of(const json::object& obj) {
  for (std::string_view key : {"uploader", "submitter", "author", "abandoner", "restorer",
                               "deleter", "remover", "changer", "editor", "reviewer", "deferrer"}) {
    if (const json::object* a = object_field(obj, key)) return a;
  }
  return nullptr;
}

void fill(GerritEvent& e, const json::object& obj) {
  e.created_on = signed_number(field(obj, "eventCreatedOn"));
  e.project = project_name(field(obj, "project"));
  if (e.project.empty()) e.project = text(obj, "projectName");  // project-created & co
  e.ref_name = full_ref(text(obj, "refName"));

  if (const json::object* key = object_field(obj, "changeKey")) {
    e.change_id = text(*key, "id");
    if (e.change_id.empty()) e.change_id = text(*key, "key");
  }
  if (const json::object* change = object_field(obj, "change")) {
    if (e.project.empty()) e.project = project_name(field(*change, "project"));
    e.branch = text(*change, "branch");
    if (e.change_id.empty()) e.change_id = text(*change, "id");
    e.change_number = number(field(*change, "number"));
    e.subject = text(*change, "subject");
    e.change_status = text(*change, "status");
  }
  if (e.branch.empty()) e.branch = short_branch(e.ref_name);
  if (e.ref_name.empty() && !e.branch.empty()) e.ref_name = "refs/heads/" + e.branch;

  if (const json::object* ps = object_field(obj, "patchSet")) {
    uint64_t n = number(field(*ps, "number"));
    e.patchset = n > UINT32_MAX ? 0 : static_cast<uint32_t>(n);
    e.revision = text(*ps, "revision");
    e.patchset_ref = text(*ps, "ref");
    e.patchset_kind = text(*ps, "kind");
    e.commit_author = account(object_field(*ps, "author"));
  }
  e.new_rev = text(obj, "newRev");
  e.actor = account(actor_of(obj));
  e.comment = text(obj, "comment");
  if (const json::value* approvals = field(obj, "approvals"); approvals && approvals->is_array()) {
    for (const json::value& a : approvals->get_array()) {
      if (!a.is_object()) continue;
      const json::object& ao = a.get_object();
      e.approvals.push_back({text(ao, "type"), text(ao, "value"), text(ao, "oldValue")});
    }
  }
  if (const json::object* ru = object_field(obj, "refUpdate")) {
    e.ref_update.old_rev = text(*ru, "oldRev");
    e.ref_update.new_rev = text(*ru, "newRev");
    e.ref_update.ref_name = full_ref(text(*ru, "refName"));
    e.ref_update.project = project_name(field(*ru, "project"));
    if (e.project.empty()) e.project = e.ref_update.project;
  }
}

ParseError error(ParseStatus status, std::string_view what, std::string_view line) {
  return {status, std::string(what) + ": " + snippet(line)};
}

}  // namespace

bool is_null_sha(const std::string& sha) {
  return !sha.empty() && sha.find_first_not_of('0') == std::string::npos;
}

const char* to_string(ParseStatus status) {
  switch (status) {
    case ParseStatus::kEmpty: return "empty";
    case ParseStatus::kTooLarge: return "too_large";
    case ParseStatus::kBadJson: return "bad_json";
    case ParseStatus::kNotAnObject: return "not_an_object";
    case ParseStatus::kNoType: return "no_type";
  }
  return "unknown";
}

std::string snippet(std::string_view text, size_t max) {
  std::string out;
  size_t n = std::min(text.size(), max);
  out.reserve(n + 24);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max) out += "…(" + std::to_string(text.size()) + " bytes)";
  return out;
}

Expected<GerritEvent, ParseError> parse_event_json(const json::value& value) {
  if (!value.is_object()) return unexpected(ParseError{ParseStatus::kNotAnObject, "not an object"});
  const json::object& obj = value.get_object();
  const json::value* type = field(obj, "type");
  if (!type || !type->is_string() || type->get_string().empty()) {
    return unexpected(ParseError{ParseStatus::kNoType, "event without a type"});
  }
  GerritEvent e;
  e.type = std::string(type->get_string());
  fill(e, obj);
  e.event_key = event_key(e, value);
  return e;
}

Expected<GerritEvent, ParseError> parse_event(std::string_view line, const ParseLimits& limits) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > limits.max_line_bytes) {
    return unexpected(error(ParseStatus::kTooLarge,
                            "line over " + std::to_string(limits.max_line_bytes) + " bytes", line));
  }
  if (line.find_first_not_of(" \t") == std::string_view::npos) {
    return unexpected(ParseError{ParseStatus::kEmpty, "empty line"});
  }
  unsigned char buffer[16384];
  json::monotonic_resource resource(buffer, sizeof buffer);
  boost::system::error_code ec;
  json::value value = json::parse(line, ec, &resource);
  if (ec) return unexpected(error(ParseStatus::kBadJson, "bad JSON (" + ec.message() + ")", line));
  auto parsed = parse_event_json(value);
  if (!parsed) return unexpected(error(parsed.error().status, parsed.error().message, line));
  return parsed;
}

}  // namespace wharf::gerrit
