// compact_store DIR...: compact_uncompressed (tests/events/raw_rocksdb.h) on
// each RocksDB database named (their owner stopped), for scripts that search
// a data directory's files the way tests/targets/secret_canary_test.cc does
// (scripts/demo-dubbo's secret canary).
#include <cstdio>
#include <exception>

#include "tests/events/raw_rocksdb.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s STORE-DIRECTORY...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    try {
      wharf::events::testing::compact_uncompressed(argv[i]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "compact_store %s: %s\n", argv[i], e.what());
      return 1;
    }
  }
  return 0;
}
