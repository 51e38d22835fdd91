// The relay against a real Apache Kafka broker (tests/peers/kafka), started
// once for this binary. Label: integration.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "adapters/kafka/relay.h"
#include "adapters/kafka/topic_reader.h"
#include "tests/kafka/kafka_broker.h"
#include "tests/kafka/kafka_test_util.h"
#include "tests/test_paths.h"

namespace wharf::kafka {
namespace {

using namespace std::chrono_literals;
using testing::append_events;
using testing::KafkaBroker;
using testing::open_store;
using testing::TempDir;

std::chrono::steady_clock::time_point in(std::chrono::seconds s) {
  return std::chrono::steady_clock::now() + s;
}

std::string broker() {
  return KafkaBroker::shared().bootstrap();
}

std::vector<TopicRecord> read_all_records(const std::string& topic) {
  auto records = read_topic(broker(), topic, 60s);
  if (!records) throw std::runtime_error(records.error());
  return std::move(*records);
}

std::unique_ptr<Relay> make_relay(events::EventStore& store, const std::string& topic) {
  RelayOptions options;
  options.brokers = broker();
  options.topic = topic;
  auto relay = Relay::create(store, options);
  if (!relay) throw std::runtime_error(relay.error());
  return std::move(*relay);
}

// kcat, a separate consumer process, reads the topic: one line per record
// "partition offset key headers"; returns the records it saw.
std::vector<TopicRecord> read_with_kcat(const std::string& topic) {
  if (std::system("command -v kcat >/dev/null 2>&1") != 0) {
    throw std::runtime_error("kcat not found: scripts/install-deps installs Debian's kcat");
  }
  std::string out = testing::run_command("kcat -C -b " + broker() + " -t " + topic +
                                         " -o beginning -e -q -f '%p %o %k %h\\n'");
  std::vector<TopicRecord> records;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    TopicRecord r;
    std::string headers;
    fields >> r.partition >> r.offset >> r.key >> headers;
    // headers: name=value,name=value
    std::istringstream pairs(headers);
    std::string pair;
    while (std::getline(pairs, pair, ',')) {
      auto eq = pair.find('=');
      if (eq == std::string::npos) continue;
      std::string name = pair.substr(0, eq), value = pair.substr(eq + 1);
      if (name == kHeaderPosition) r.position = parse_position(value).value_or(0);
      if (name == kHeaderEventId) r.event_id = value;
      if (name == kHeaderType) r.type = value;
      if (name == kHeaderSchemaVersion) r.schema_version = value;
    }
    records.push_back(r);
  }
  return records;
}

TEST(KafkaRelay, KcatReadsEveryEventExactlyOnceInOrder) {
  TempDir dir;
  auto store = open_store(dir.path());
  const uint64_t head = append_events(*store, 3000, 6);
  auto relay = make_relay(*store, "it.kcat");
  EXPECT_FALSE(relay->embedded());
  relay->start();
  ASSERT_TRUE(relay->wait_delivered(head, in(120s))) << relay->stats().last_error;
  relay->stop();

  auto records = read_with_kcat("it.kcat");
  testing::expect_exactly_once_in_order(records, head);
  for (const auto& r : records) {
    ASSERT_EQ(r.type, "CommitObserved");
    ASSERT_EQ(r.schema_version, "1");
    ASSERT_EQ(r.key.rfind("proj-", 0), 0u) << r.key;
  }
  // The same through librdkafka, comparing values byte for byte with the log.
  auto full = read_all_records("it.kcat");
  testing::expect_exactly_once_in_order(full, head);
  testing::expect_well_formed(full, *store);
}

TEST(KafkaRelay, BrokerSigkillMidRelayLosesNothingAndDuplicatesNothing) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto relay = make_relay(*store, "it.broker-kill");
  relay->start();

  // The appender runs until told to stop: before, during and after the outage.
  std::atomic<bool> stop_appending{false}, failed{false};
  std::thread appender([&] {
    try {
      while (!stop_appending) {
        append_events(*store, 20, 5, 20);
        std::this_thread::sleep_for(2ms);
      }
    } catch (const std::exception& e) {
      failed = true;
      ADD_FAILURE() << "append failed during the broker outage: " << e.what();
    }
  });
  auto wait_for_head = [&](uint64_t position) {
    while (store->head_position() < position && !failed) std::this_thread::sleep_for(5ms);
  };

  ASSERT_TRUE(relay->wait_delivered(1000, in(120s))) << relay->stats().last_error;
  KafkaBroker::shared().kill();  // returns once the broker process is gone
  const uint64_t head_at_kill = store->head_position();
  wait_for_head(head_at_kill + 1500);  // appends go on while the broker is dead
  EXPECT_LT(relay->stats().delivered_position, store->head_position())
      << "events appended during the outage cannot have been delivered";
  KafkaBroker::shared().restart();
  wait_for_head(store->head_position() + 1000);
  stop_appending = true;
  appender.join();
  ASSERT_FALSE(failed);

  const uint64_t head = store->head_position();
  ASSERT_TRUE(relay->wait_delivered(head, in(180s))) << relay->stats().last_error;
  relay->stop();
  auto records = read_all_records("it.broker-kill");
  testing::expect_exactly_once_in_order(records, head);
  testing::expect_well_formed(records, *store);
}

// A child process we can read line by line and SIGKILL.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }
  // Next stdout line, or empty at end of output.
  std::string line() {
    char buffer[512];
    if (fgets(buffer, sizeof(buffer), out_) == nullptr) return {};
    return buffer;
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

uint64_t field(const std::string& line, const std::string& name) {
  auto at = line.find(name + "=");
  if (at == std::string::npos) return 0;
  return std::stoull(line.substr(at + name.size() + 1));
}

TEST(KafkaRelay, RelayProcessSigkillMidRelayResumesFromCursorDuplicatesOnlyPastIt) {
  TempDir dir;
  const std::string data = dir.sub("store");
  const std::string topic = "it.process-kill";
  {
    // Appends far more than it gets to before the kill: the kill is always mid-relay.
    Child child({WHARF_KAFKA_RELAY_PROCESS, "--data", data, "--brokers", broker(), "--topic", topic,
                 "--append", "1000000", "--batch", "10", "--append-pause-ms", "2"});
    uint64_t cursor_seen = 0;
    std::string line;
    while (cursor_seen < 1500 && !(line = child.line()).empty()) {
      cursor_seen = field(line, "cursor");
    }
    ASSERT_GE(cursor_seen, 1500u) << "relay process ended before relaying 1500 events";
    child.kill9();
  }
  uint64_t cursor = 0, head_at_kill = 0;
  {
    auto store = open_store(data);
    cursor = parse_position(store->get_meta("kafka.relay.cursor/" + topic).value()).value();
    head_at_kill = store->head_position();
    EXPECT_LT(cursor, head_at_kill) << "the kill was not mid-relay";
    append_events(*store, 1000, 5);  // the log grows while no relay runs
  }
  Child restarted({WHARF_KAFKA_RELAY_PROCESS, "--data", data, "--brokers", broker(), "--topic",
                   topic, "--exit-when-caught-up"});
  while (!restarted.line().empty()) {
  }
  ASSERT_EQ(restarted.wait(), 0);

  auto store = open_store(data);
  const uint64_t head = store->head_position();
  EXPECT_EQ(head, head_at_kill + 1000);
  auto records = read_all_records(topic);
  const size_t duplicates = testing::expect_complete_duplicates_only_after(records, head, cursor);
  testing::expect_well_formed(records, *store);
  std::printf("process kill: cursor %llu, head at kill %llu, %zu duplicate records past it\n",
              static_cast<unsigned long long>(cursor),
              static_cast<unsigned long long>(head_at_kill), duplicates);
}

}  // namespace
}  // namespace wharf::kafka
