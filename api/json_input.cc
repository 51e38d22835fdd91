#include "api/json_input.h"

#include <boost/json/parse.hpp>

#include "api/api_error.h"

namespace wharf::api {

namespace json = boost::json;

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

namespace {

json::array names(std::initializer_list<std::string_view> values) {
  json::array out;
  for (auto v : values) out.emplace_back(json::string_view(v.data(), v.size()));
  return out;
}

}  // namespace

JsonBody JsonBody::parse(std::string_view body, std::initializer_list<std::string_view> allowed) {
  if (!is_valid_utf8(body)) {
    throw bad_request("invalid_utf8", "request body is not valid UTF-8");
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return JsonBody(json::object(), "");
  }
  json::error_code ec;
  json::value value = json::parse(json::string_view(body.data(), body.size()), ec);
  if (ec) {
    throw bad_request("malformed_json", "request body is not valid JSON: " + ec.message());
  }
  if (!value.is_object()) {
    throw bad_request("wrong_type", "request body must be a JSON object",
                      json::object{{"field", ""}, {"expected", "object"}});
  }
  return checked(value.as_object(), "", allowed);
}

JsonBody JsonBody::checked(const json::object& object, std::string prefix,
                           std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : object) {
    bool known = false;
    for (auto a : allowed) known = known || kv.key() == json::string_view(a.data(), a.size());
    if (!known) {
      const std::string name = prefix + std::string(kv.key());
      throw bad_request("unknown_field", "unknown field \"" + name + "\"",
                        json::object{{"field", name}, {"allowed", names(allowed)}});
    }
  }
  return JsonBody(object, std::move(prefix));
}

std::string JsonBody::field(std::string_view name) const { return prefix_ + std::string(name); }

const json::value* JsonBody::find(std::string_view name) const {
  const auto* v = object_.if_contains(json::string_view(name.data(), name.size()));
  if (v != nullptr && v->is_null()) return nullptr;  // null means absent
  return v;
}

void JsonBody::wrong_type(std::string_view name, const char* expected) const {
  throw bad_request("wrong_type",
                    "field \"" + field(name) + "\" must be " + std::string(expected),
                    json::object{{"field", field(name)}, {"expected", expected}});
}

bool JsonBody::has(std::string_view name) const { return find(name) != nullptr; }

JsonBody JsonBody::object(std::string_view name, std::initializer_list<std::string_view> allowed,
                          bool required) const {
  const auto* v = find(name);
  if (v == nullptr) {
    if (required) {
      throw bad_request("missing_field", "field \"" + field(name) + "\" is required",
                        json::object{{"field", field(name)}});
    }
    return JsonBody(json::object(), field(name) + ".");
  }
  if (!v->is_object()) wrong_type(name, "an object");
  return checked(v->as_object(), field(name) + ".", allowed);
}

std::string JsonBody::required_string(std::string_view name) const {
  auto v = optional_string(name);
  if (!v || v->empty()) {
    throw bad_request("missing_field", "field \"" + field(name) + "\" is required",
                      json::object{{"field", field(name)}});
  }
  return *v;
}

std::optional<std::string> JsonBody::optional_string(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) wrong_type(name, "a string");
  return std::string(v->as_string());
}

std::optional<bool> JsonBody::optional_bool(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) wrong_type(name, "a boolean");
  return v->as_bool();
}

std::optional<uint64_t> JsonBody::optional_uint(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  wrong_type(name, "a non-negative integer");
}

std::optional<double> JsonBody::optional_number(std::string_view name) const {
  const auto* v = find(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  wrong_type(name, "a number");
}

std::vector<std::string> JsonBody::string_list(std::string_view name) const {
  std::vector<std::string> out;
  const auto* v = find(name);
  if (v == nullptr) return out;
  if (!v->is_array()) wrong_type(name, "an array of strings");
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) wrong_type(name, "an array of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<std::string> JsonBody::enum_value(std::string_view name,
                                                std::initializer_list<std::string_view> values,
                                                bool required) const {
  auto v = optional_string(name);
  if (!v) {
    if (required) {
      throw bad_request("missing_field", "field \"" + field(name) + "\" is required",
                        json::object{{"field", field(name)}, {"allowed", names(values)}});
    }
    return std::nullopt;
  }
  for (auto allowed : values) {
    if (*v == allowed) return v;
  }
  throw bad_request("invalid_enum",
                    "field \"" + field(name) + "\" has invalid value \"" + *v + "\"",
                    json::object{{"field", field(name)}, {"value", *v}, {"allowed", names(values)}});
}

std::vector<std::pair<std::string, std::string>> JsonBody::string_map(std::string_view name) const {
  std::vector<std::pair<std::string, std::string>> out;
  const auto* v = find(name);
  if (v == nullptr) return out;
  if (!v->is_object()) wrong_type(name, "an object of strings");
  for (const auto& kv : v->as_object()) {
    if (!kv.value().is_string()) wrong_type(name, "an object of strings");
    out.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
  }
  return out;
}

std::vector<JsonBody> JsonBody::object_list(std::string_view name,
                                            std::initializer_list<std::string_view> allowed) const {
  std::vector<JsonBody> out;
  const auto* v = find(name);
  if (v == nullptr) return out;
  if (!v->is_array()) wrong_type(name, "an array of objects");
  size_t i = 0;
  for (const auto& item : v->as_array()) {
    const std::string item_name = field(name) + "[" + std::to_string(i++) + "]";
    if (!item.is_object()) wrong_type(name, "an array of objects");
    out.push_back(checked(item.as_object(), item_name + ".", allowed));
  }
  return out;
}

}  // namespace wharf::api
