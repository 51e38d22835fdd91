#pragma once
// The projections' own RocksDB instance (DATA/projections): one column family
// per projection, never shared with the event log's DB. Opening a directory
// that holds something else fails; nothing is deleted to make it open.
#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <vector>

#include "projections/error.h"
#include "projections/state_batch.h"

namespace wharf::projections {

class ProjectionDb {
 public:
  // Opens or creates the DB in `dir` with a column family for each name.
  static Expected<std::unique_ptr<ProjectionDb>, Error> open(const std::string& dir,
                                                             const std::vector<std::string>& names);
  ~ProjectionDb();

  rocksdb::DB* db() const { return db_.get(); }
  // Handle of the named projection's column family; nullptr for unknown names.
  rocksdb::ColumnFamilyHandle* cf(const std::string& name) const;

  // Drops and recreates the named column family: the projection is then empty
  // with checkpoint 0. A crash in between leaves it missing, and open()
  // recreates it empty: either way the projection restarts from 0.
  Expected<void, Error> reset(const std::string& name);

  // SHA-256 (hex) over every key and value of the column family, in key order,
  // each length-prefixed. Includes the checkpoint.
  Expected<std::string, Error> digest(const std::string& name) const;

  // Writes every column family's memtable to SST files and waits: state
  // written without the WAL survives a crash only once flushed.
  Expected<void, Error> flush();

  // Last applied position stored in the column family (0 when none).
  uint64_t checkpoint(const std::string& name) const;

  // Writes `sink` (sorted; the last write of a key wins) as SST files under
  // DIR/bulk and ingests them into the named column family in one atomic
  // step (they are durable once this returns). Empties the sink.
  Expected<void, Error> ingest(const std::string& name, BulkSink& sink);
  // Removes what an interrupted ingest() left under DIR/bulk.
  void clear_bulk_files() const;

 private:
  ProjectionDb() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::string dir_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // parallel to names_
  rocksdb::ColumnFamilyOptions cf_options_;
};

// The projections' directory under a data directory.
std::string projections_dir(const std::string& data_dir);

}  // namespace wharf::projections
