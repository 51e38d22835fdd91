#include "adapters/gerrit/dedup_key.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <vector>

#include "events/hash_chain.h"

namespace wharf::gerrit {
namespace json = boost::json;

namespace {

std::string hex(std::string_view bytes, size_t max_bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  size_t n = std::min(bytes.size(), max_bytes);
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() < 19 && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

void write_canonical(const json::value& v, std::string_view key, std::string& out);

void write_object(const json::object& obj, std::string& out) {
  std::vector<const json::key_value_pair*> fields;
  fields.reserve(obj.size());
  for (const auto& kv : obj) fields.push_back(&kv);
  std::sort(fields.begin(), fields.end(),
            [](auto* a, auto* b) { return a->key() < b->key(); });
  out += '{';
  bool first = true;
  for (const auto* kv : fields) {
    if (!first) out += ',';
    first = false;
    out += json::serialize(json::string_view(kv->key()));
    out += ':';
    write_canonical(kv->value(), kv->key(), out);
  }
  out += '}';
}

// `key` is the name this value has in its parent object ("" in arrays).
void write_canonical(const json::value& v, std::string_view key, std::string& out) {
  if (key == "project" && v.is_object()) {
    if (const json::value* name = v.get_object().if_contains("name")) {
      write_canonical(*name, "", out);
      return;
    }
  }
  if (key == "changeKey" && v.is_object()) {
    const json::object& o = v.get_object();
    const json::value* id = o.if_contains("id");
    if (!id) id = o.if_contains("key");
    if (id) {
      out += "{\"id\":";
      write_canonical(*id, "", out);
      out += '}';
      return;
    }
  }
  if (key == "number" && v.is_string() && all_digits(v.get_string())) {
    uint64_t n = 0;
    std::string_view s = v.get_string();
    std::from_chars(s.data(), s.data() + s.size(), n);
    out += std::to_string(n);
    return;
  }
  if (v.is_object()) return write_object(v.get_object(), out);
  if (v.is_array()) {
    out += '[';
    bool first = true;
    for (const json::value& e : v.get_array()) {
      if (!first) out += ',';
      first = false;
      write_canonical(e, "", out);
    }
    out += ']';
    return;
  }
  out += json::serialize(v);
}

std::string who(const Account& a) {
  if (!a.username.empty()) return a.username;
  if (!a.email.empty()) return a.email;
  return a.name;
}

}  // namespace

std::string canonical_json(const json::value& value) {
  std::string out;
  write_canonical(value, "", out);
  return out;
}

std::string event_key(const GerritEvent& e, const json::value& json) {
  const std::string sep = "|";
  if (e.type == "patchset-created" && e.change_number && e.patchset) {
    return e.type + sep + e.project + sep + std::to_string(e.change_number) + sep +
           std::to_string(e.patchset);
  }
  if (e.type == "change-merged" && e.change_number) {
    return e.type + sep + e.project + sep + std::to_string(e.change_number);
  }
  if (e.type == "ref-updated" && !e.ref_update.ref_name.empty()) {
    return e.type + sep + e.project + sep + e.ref_update.ref_name + sep + e.ref_update.old_rev +
           sep + e.ref_update.new_rev;
  }
  if (e.type == "comment-added" && e.change_number) {
    return e.type + sep + e.project + sep + std::to_string(e.change_number) + sep +
           std::to_string(e.patchset) + sep + std::to_string(e.created_on) + sep +
           who(e.actor) + sep + hex(events::sha256(e.comment), 8);
  }
  return e.type + sep + hex(events::sha256(canonical_json(json)), 16);
}

std::string dedup_key(const std::string& host, const GerritEvent& event) {
  return "gerrit:" + host + ":" + event.event_key;
}

}  // namespace wharf::gerrit
