#include "adapters/gerrit/status_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace wharf::gerrit {
namespace fs = std::filesystem;

namespace {
constexpr std::string_view kPrefix = "gerrit-status-";
}

std::string status_file_path(const std::string& data_dir, const std::string& host) {
  std::string safe = host;
  for (char& c : safe) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
  }
  return (fs::path(data_dir) / (std::string(kPrefix) + safe + ".json")).string();
}

Expected<void, std::string> write_status_file(const std::string& path, const IngestStats& stats) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << to_json(stats) << "\n";
    if (!out) return unexpected("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return unexpected("cannot rename " + tmp + ": " + ec.message());
  return {};
}

std::vector<IngestStats> read_status_files(const std::string& data_dir) {
  std::vector<IngestStats> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(data_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(kPrefix) || !name.ends_with(".json")) continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    if (auto stats = stats_from_json(text.str())) out.push_back(std::move(*stats));
  }
  std::sort(out.begin(), out.end(),
            [](const IngestStats& a, const IngestStats& b) { return a.host < b.host; });
  return out;
}

}  // namespace wharf::gerrit
