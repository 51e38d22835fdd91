#pragma once
// Strict request bodies: valid UTF-8, valid JSON, an object, only known
// fields, each of the right type, enums among their allowed values. Every
// violation throws ApiError 400 with a code of its own (invalid_utf8,
// malformed_json, unknown_field, wrong_type, invalid_enum, missing_field) and
// the offending field in `details`.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::api {

bool is_valid_utf8(std::string_view text);

class JsonBody {
 public:
  // An empty body is an empty object. `allowed` lists every accepted field.
  static JsonBody parse(std::string_view body, std::initializer_list<std::string_view> allowed);
  // A nested object given as field `name` of a parent (same checks, field
  // names reported as "parent.child").
  JsonBody object(std::string_view name, std::initializer_list<std::string_view> allowed,
                  bool required = false) const;
  bool has(std::string_view name) const;

  std::string required_string(std::string_view name) const;
  std::optional<std::string> optional_string(std::string_view name) const;
  std::optional<bool> optional_bool(std::string_view name) const;
  std::optional<uint64_t> optional_uint(std::string_view name) const;
  std::optional<double> optional_number(std::string_view name) const;  // any JSON number
  std::vector<std::string> string_list(std::string_view name) const;  // absent = empty
  // A string that must be one of `values`; absent -> nullopt (or error if required).
  std::optional<std::string> enum_value(std::string_view name,
                                        std::initializer_list<std::string_view> values,
                                        bool required) const;
  // An object of string -> string (absent = empty).
  std::vector<std::pair<std::string, std::string>> string_map(std::string_view name) const;
  // Array of objects, each checked against `allowed`.
  std::vector<JsonBody> object_list(std::string_view name,
                                    std::initializer_list<std::string_view> allowed) const;

  const boost::json::object& raw() const { return object_; }

 private:
  JsonBody(boost::json::object object, std::string prefix)
      : object_(std::move(object)), prefix_(std::move(prefix)) {}
  static JsonBody checked(const boost::json::object& object, std::string prefix,
                          std::initializer_list<std::string_view> allowed);
  std::string field(std::string_view name) const;
  const boost::json::value* find(std::string_view name) const;
  [[noreturn]] void wrong_type(std::string_view name, const char* expected) const;

  boost::json::object object_;
  std::string prefix_;
};

}  // namespace wharf::api
