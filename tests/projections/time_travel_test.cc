// Property: for random histories, every query answered "as of position P" by
// a runner that has applied the whole log equals the same query answered now
// by a runner that has replayed only positions 1..P.
#include <gtest/gtest.h>

#include <cstdlib>

#include "projections/queries.h"
#include "projections/runner.h"
#include "tests/projections/random_history.h"
#include "tests/projections/snapshot.h"

namespace wharf::projections {
namespace {

using namespace testing;

int rounds() {
  if (const char* n = std::getenv("WHARF_PROJECTIONS_ROUNDS")) return std::atoi(n);
  return std::getenv("CI") != nullptr ? 12 : 25;
}

TEST(TimeTravel, AsOfEveryPositionEqualsReplayUpToIt) {
  for (int round = 0; round < rounds(); ++round) {
    SCOPED_TRACE("seed " + std::to_string(round));
    TempDir dir;
    auto store = open_store(dir.path("log"));
    ASSERT_TRUE(store);
    const uint64_t head = append_random_history(*store, static_cast<uint32_t>(round), 60);

    auto full = ProjectionRunner::open(dir.path("full"), store.get());
    ASSERT_TRUE(full);
    ASSERT_EQ(*(*full)->catch_up(), head);
    Queries as_of(**full);

    auto replay = ProjectionRunner::open(dir.path("replay"), nullptr);
    ASSERT_TRUE(replay);
    Queries now(**replay);
    auto events = store->read_all(1, head);
    ASSERT_TRUE(events);
    QueryOptions at_zero;
    at_zero.at_position = 0;
    ASSERT_EQ(snapshot(as_of, at_zero), snapshot(now, {}));
    ASSERT_EQ(insights_snapshot(as_of, at_zero), insights_snapshot(now, {}));
    for (const auto& event : *events) {
      ASSERT_TRUE((*replay)->apply({event}));
      QueryOptions at;
      at.at_position = event.position();
      ASSERT_EQ(snapshot(as_of, at), snapshot(now, {})) << "position " << event.position();
      ASSERT_EQ(insights_snapshot(as_of, at), insights_snapshot(now, {}))
          << "position " << event.position();
    }
    // Time travel by time lands on the last position recorded at that time.
    for (const auto& event : *events) {
      uint64_t expected = 0;
      for (const auto& e : *events) {
        if (e.recorded_at_us() <= event.recorded_at_us()) expected = e.position();
      }
      ASSERT_EQ((*full)->position_at_time(event.recorded_at_us()), expected);
      QueryOptions by_time, by_position;
      by_time.at_time_us = event.recorded_at_us();
      by_position.at_position = expected;
      ASSERT_EQ(snapshot(as_of, by_time), snapshot(as_of, by_position));
    }
  }
}

}  // namespace
}  // namespace wharf::projections
