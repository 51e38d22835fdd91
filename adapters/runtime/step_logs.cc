#include "adapters/runtime/step_logs.h"

#include <algorithm>
#include <fstream>

#include "adapters/local/layout.h"

namespace wharf::runtime {
namespace fs = std::filesystem;

std::vector<StepLog> list_run_logs(const fs::path& data_dir, const std::string& run_id) {
  std::vector<StepLog> logs;
  fs::path dir = local::DataLayout(data_dir).run_log_dir(run_id);
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (it->path().extension() != ".log") continue;
    logs.push_back({it->path().stem().string(), it->path(), it->file_size(ec)});
  }
  std::sort(logs.begin(), logs.end(),
            [](const StepLog& a, const StepLog& b) { return a.step < b.step; });
  return logs;
}

Expected<LogChunk, std::string> read_log_file(const fs::path& path, uint64_t offset,
                                              size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected("no log at " + path.string());
  in.seekg(0, std::ios::end);
  LogChunk chunk;
  chunk.size = static_cast<uint64_t>(in.tellg());
  chunk.offset = std::min(offset, chunk.size);
  size_t count = static_cast<size_t>(std::min<uint64_t>(chunk.size - chunk.offset, max_bytes));
  chunk.data.resize(count);
  in.seekg(static_cast<std::streamoff>(chunk.offset));
  in.read(chunk.data.data(), static_cast<std::streamsize>(count));
  chunk.data.resize(static_cast<size_t>(in.gcount()));
  chunk.next_offset = chunk.offset + chunk.data.size();
  return chunk;
}

Expected<LogChunk, std::string> read_run_log(const fs::path& data_dir, const std::string& run_id,
                                             const std::string& step, uint64_t offset,
                                             size_t max_bytes) {
  if (step.empty() || step.find('/') != std::string::npos ||
      step.find("..") != std::string::npos) {
    return unexpected("invalid step name: " + step);
  }
  return read_log_file(local::DataLayout(data_dir).run_log_dir(run_id) / (step + ".log"), offset,
                       max_bytes);
}

Expected<LogChunk, std::string> read_deploy_log(const fs::path& data_dir,
                                                const std::string& deploy_id, uint32_t attempt,
                                                uint64_t offset, size_t max_bytes) {
  return read_log_file(local::DataLayout(data_dir).deploy_log(deploy_id, attempt), offset,
                       max_bytes);
}

}  // namespace wharf::runtime
