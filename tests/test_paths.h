#pragma once
// Where the tests and benchmarks find the source tree, the test peers and the
// binaries of this build. The values live in one generated translation unit
// (tests/CMakeLists.txt: wharf_test_paths), not in -D flags: a -D flag holding
// an absolute path is part of every compile of its target, so a clone in
// another folder (CI's) could never reuse the compiler cache for it.

namespace wharf::test_paths {
extern const char kSourceDir[];
extern const char kWharfBin[];
extern const char kOpenapiYaml[];
extern const char kGerritTestData[];
extern const char kGerritSamples[];
extern const char kKafkaPeerDir[];
extern const char kDubboPeerDir[];
extern const char kPortainerPeer[];
extern const char kPrometheusPeer[];
extern const char kJenkinsPeer[];
extern const char kRuntimeHarness[];
extern const char kRebuildChild[];
extern const char kCrashChild[];
extern const char kKafkaRelayProcess[];
}  // namespace wharf::test_paths

#define WHARF_SOURCE_DIR ::wharf::test_paths::kSourceDir
#define WHARF_DEFAULT_BIN ::wharf::test_paths::kWharfBin
#define WHARF_BIN ::wharf::test_paths::kWharfBin
#define WHARF_OPENAPI_YAML ::wharf::test_paths::kOpenapiYaml
#define WHARF_GERRIT_TEST_DATA ::wharf::test_paths::kGerritTestData
#define WHARF_GERRIT_SAMPLES ::wharf::test_paths::kGerritSamples
#define WHARF_KAFKA_PEER_DIR ::wharf::test_paths::kKafkaPeerDir
#define WHARF_DUBBO_PEER_DIR ::wharf::test_paths::kDubboPeerDir
#define WHARF_PORTAINER_PEER ::wharf::test_paths::kPortainerPeer
#define WHARF_PROMETHEUS_PEER ::wharf::test_paths::kPrometheusPeer
#define WHARF_JENKINS_PEER ::wharf::test_paths::kJenkinsPeer
#define WHARF_RUNTIME_HARNESS ::wharf::test_paths::kRuntimeHarness
#define WHARF_REBUILD_CHILD ::wharf::test_paths::kRebuildChild
#define WHARF_CRASH_CHILD ::wharf::test_paths::kCrashChild
#define WHARF_KAFKA_RELAY_PROCESS ::wharf::test_paths::kKafkaRelayProcess
