#pragma once
// Reading the output the local runners capture, by run and step, from a byte
// offset: the API tails a running step by asking again from next_offset.
// Steps of a run: "build-<attempt>", "tests-<env>-<attempt>" (DATA/logs/<run>/);
// deploys: DATA/logs/deploy/<deploy_id>-<attempt>.log.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "events/expected.h"

namespace wharf::runtime {

struct LogChunk {
  std::string data;
  uint64_t offset = 0;       // where `data` starts
  uint64_t next_offset = 0;  // ask again from here for more
  uint64_t size = 0;         // file size when read
};

struct StepLog {
  std::string step;  // "build-1", "tests-staging-1"
  std::filesystem::path path;
  uint64_t size = 0;
};

// The logs of a run, sorted by step name.
std::vector<StepLog> list_run_logs(const std::filesystem::path& data_dir, const std::string& run_id);

// Up to `max_bytes` of a run step's log from `offset`. kNotFound-like errors
// come back as a message; a step name with '/' or ".." is refused.
Expected<LogChunk, std::string> read_run_log(const std::filesystem::path& data_dir,
                                             const std::string& run_id, const std::string& step,
                                             uint64_t offset, size_t max_bytes = 64 * 1024);

Expected<LogChunk, std::string> read_deploy_log(const std::filesystem::path& data_dir,
                                                const std::string& deploy_id, uint32_t attempt,
                                                uint64_t offset, size_t max_bytes = 64 * 1024);

// Up to `max_bytes` of any file from `offset`.
Expected<LogChunk, std::string> read_log_file(const std::filesystem::path& path, uint64_t offset,
                                              size_t max_bytes);

}  // namespace wharf::runtime
