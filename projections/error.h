#pragma once
// Errors of the read side. Queries and the runner return Expected<T, Error>.
#include <string>

#include "events/expected.h"

namespace wharf::projections {

enum class ErrorCode {
  kIo,               // RocksDB failed
  kCorruption,       // a stored value does not decode; the directory is not ours
  kNotFound,         // no such entity at the asked position
  kInvalidArgument,  // bad `at`, unknown projection name, bad filter
  kTimeout,          // min_position not reached in time
  kLog,              // reading the event log failed
};

struct Error {
  ErrorCode code = ErrorCode::kIo;
  std::string message;
};

const char* to_string(ErrorCode code);

inline Unexpected<Error> fail(ErrorCode code, std::string message) {
  return wharf::unexpected(Error{code, std::move(message)});
}

}  // namespace wharf::projections
