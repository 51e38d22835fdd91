#pragma once
// The serve process writes each Gerrit connection's IngestStats to
// <data dir>/gerrit-status-<host>.json (atomically, about once a second);
// `wharf gerrit status` reads them without touching the store, which the
// serve process holds locked.
#include <string>
#include <vector>

#include "adapters/gerrit/probe.h"
#include "events/expected.h"

namespace wharf::gerrit {

std::string status_file_path(const std::string& data_dir, const std::string& host);
Expected<void, std::string> write_status_file(const std::string& path, const IngestStats& stats);
// Every status file in `data_dir`, sorted by host.
std::vector<IngestStats> read_status_files(const std::string& data_dir);

}  // namespace wharf::gerrit
