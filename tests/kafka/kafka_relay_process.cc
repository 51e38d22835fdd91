// The relaying wharf process of the SIGKILL test: opens a store, runs the
// relay, optionally appends events while relaying, and reports progress on
// stdout ("progress head=H delivered=D cursor=C") so the test can kill it
// mid-relay. With --exit-when-caught-up it stops (persisting the cursor) once
// every appended event is delivered, and exits 0.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "adapters/kafka/relay.h"
#include "tests/kafka/kafka_test_util.h"

int main(int argc, char** argv) {
  using namespace wharf::kafka;
  CLI::App app{"relay events of a store to Kafka (test helper)"};
  std::string data, brokers, topic = kDefaultEventsTopic;
  size_t append = 0, batch = 10;
  int append_pause_ms = 1;
  bool exit_when_caught_up = false;
  app.add_option("--data", data)->required();
  app.add_option("--brokers", brokers);
  app.add_option("--topic", topic);
  app.add_option("--append", append, "events to append while relaying");
  app.add_option("--batch", batch, "events per append");
  app.add_option("--append-pause-ms", append_pause_ms);
  app.add_flag("--exit-when-caught-up", exit_when_caught_up);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  auto store = wharf::kafka::testing::open_store(data, /*sync=*/true);
  RelayOptions options;
  options.brokers = brokers;
  options.topic = topic;
  options.persist_interval = std::chrono::milliseconds(50);
  auto relay = Relay::create(*store, options);
  if (!relay) {
    std::fprintf(stderr, "relay: %s\n", relay.error().c_str());
    return 2;
  }
  (*relay)->start();
  std::atomic<bool> appended{false};
  std::thread appender([&] {
    for (size_t done = 0; done < append; done += batch) {
      wharf::kafka::testing::append_events(*store, std::min(batch, append - done), 5, batch);
      std::this_thread::sleep_for(std::chrono::milliseconds(append_pause_ms));
    }
    appended = true;
  });
  while (true) {
    RelayStats s = (*relay)->stats();
    std::printf("progress head=%llu delivered=%llu cursor=%llu\n",
                static_cast<unsigned long long>(s.head_position),
                static_cast<unsigned long long>(s.delivered_position),
                static_cast<unsigned long long>(s.persisted_cursor));
    std::fflush(stdout);
    if (appended && exit_when_caught_up && s.delivered_position == store->head_position()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  appender.join();
  (*relay)->stop();
  std::printf("done cursor=%llu\n",
              static_cast<unsigned long long>((*relay)->stats().persisted_cursor));
  return 0;
}
