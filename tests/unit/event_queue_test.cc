#include "sim/core/event_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace hvsim {

TEST(EventQueue, OrdersByTimeThenPriorityThenFifo) {
  EventQueue q;
  std::string order;
  auto t = VirtualTime::from_ns;
  q.schedule(t(20), EventPriority::kHost, [&] { order += "c"; });
  q.schedule(t(10), EventPriority::kScenario, [&] { order += "b1"; });
  q.schedule(t(10), EventPriority::kHost, [&] { order += "a"; });
  q.schedule(t(10), EventPriority::kScenario, [&] { order += "b2"; });
  q.schedule(t(10), EventPriority::kWatchdog, [&] { order += "w"; });
  EXPECT_EQ(q.run_until(t(15)), 4u);
  EXPECT_EQ(order, "ab1b2w");
  EXPECT_EQ(q.now(), t(15));
  EXPECT_EQ(q.next_time(), t(20));
  q.run_until(t(20));
  EXPECT_EQ(order, "ab1b2wc");
  EXPECT_FALSE(q.next_time().has_value());
}

TEST(EventQueue, CancelAndEventsScheduledByEvents) {
  EventQueue q;
  int ran = 0;
  auto h = q.schedule(VirtualTime::from_ns(5), EventPriority::kHost, [&] { ran += 100; });
  q.schedule(VirtualTime::from_ns(1), EventPriority::kHost, [&] {
    ++ran;
    q.schedule(VirtualTime::from_ns(2), EventPriority::kHost, [&] { ran += 10; });
  });
  EXPECT_TRUE(q.cancel(h));
  EXPECT_FALSE(q.cancel(h));
  q.run_until(VirtualTime::from_ns(10));
  EXPECT_EQ(ran, 11);
  EXPECT_EQ(q.size(), 0u);
}

TEST(EventQueueDeathTest, SchedulingInThePastIsABug) {
  EventQueue q;
  q.run_until(VirtualTime::from_ns(10));
  EXPECT_DEATH(q.schedule(VirtualTime::from_ns(5), EventPriority::kHost, [] {}), "past");
}

}  // namespace hvsim
