#pragma once
// Small JSON files the local runners keep beside their work (build markers,
// environment state). Written to a temp file, fsynced and renamed, so a crash
// leaves the old or the new content, never half of one.
#include <boost/json.hpp>
#include <filesystem>
#include <optional>
#include <string>

namespace wharf::local {

std::optional<boost::json::object> read_json_file(const std::filesystem::path& path);
bool write_json_file(const std::filesystem::path& path, const boost::json::object& value);

// Helpers that tolerate missing or mistyped fields.
std::string json_string(const boost::json::object& o, const char* key);
int64_t json_int(const boost::json::object& o, const char* key);

// Appends one line to the side-effects log (O_APPEND, fsync): the observable
// count of real process starts.
void append_line(const std::filesystem::path& path, const std::string& line);

}  // namespace wharf::local
