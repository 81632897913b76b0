// Metrics render in the Prometheus text format: counters by label, cumulative histogram buckets,
// escaped label values, callbacks read at render time, and registration beside rendering.
#include "http/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace coffer::http {
namespace {

TEST(MetricsTest, CountersRenderByLabel) {
  MetricsRegistry registry;
  CounterFamily& requests =
      registry.AddCounterFamily("t_requests_total", "Requests.", {"route", "status"});
  requests.With({"/v1/x/{id}", "200"}).Inc();
  requests.With({"/v1/x/{id}", "200"}).Inc(2);
  requests.With({"/v1/x/{id}", "404"}).Inc();
  const std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("t_requests_total{route=\"/v1/x/{id}\",status=\"200\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("t_requests_total{route=\"/v1/x/{id}\",status=\"404\"} 1\n"),
            std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  Histogram& h =
      registry.AddHistogramFamily("t_seconds", "Latency.", {"op"}, {0.1, 1}).With({"get"});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(0.5);
  h.Observe(7);
  const std::string text = registry.Render();
  EXPECT_NE(text.find("t_seconds_bucket{op=\"get\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_bucket{op=\"get\",le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_sum{op=\"get\"} 8.05\n"), std::string::npos);
  EXPECT_NE(text.find("t_seconds_count{op=\"get\"} 4\n"), std::string::npos);
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(MetricsTest, CallbacksAreReadWhenRendering) {
  MetricsRegistry registry;
  int open = 3;
  registry.AddCallback("t_open", "Open things.", "gauge", [&open] { return open; });
  EXPECT_NE(registry.Render().find("t_open 3\n"), std::string::npos);
  open = 5;
  EXPECT_NE(registry.Render().find("t_open 5\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  MetricsRegistry registry;
  CounterFamily& c = registry.AddCounterFamily("t_total", "T.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 10000; ++i) {
        c.With({t % 2 == 0 ? "even" : "odd"}).Inc();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const std::string text = registry.Render();
  EXPECT_NE(text.find("t_total{k=\"even\"} 20000\n"), std::string::npos);
  EXPECT_NE(text.find("t_total{k=\"odd\"} 20000\n"), std::string::npos);
}

// A counter registered while another thread renders shows up whole or not at all: never its
// HELP and TYPE lines without its value.
TEST(MetricsTest, ACounterRegisteredDuringARenderIsRenderedWhole) {
  constexpr int kCounters = 300;
  MetricsRegistry registry;
  std::atomic<bool> done{false};
  std::thread registering([&] {
    for (int i = 0; i < kCounters; ++i) {
      registry.AddCounter("t_" + std::to_string(i) + "_total", "T.");
      std::this_thread::yield();  // lets renders fall between registrations
    }
    done = true;
  });
  std::string incomplete;  // a render that showed a counter without its value line
  do {
    const std::string text = registry.Render();
    for (size_t type = text.find("# TYPE "); type != std::string::npos;
         type = text.find("# TYPE ", type + 1)) {
      const size_t name_end = text.find(' ', type + 7);
      const std::string name = text.substr(type + 7, name_end - type - 7);
      const size_t next = text.find('\n', type) + 1;
      if (text.compare(next, name.size() + 3, name + " 0\n") != 0) {
        incomplete = text;
      }
    }
  } while (!done.load() && incomplete.empty());
  registering.join();
  EXPECT_EQ(incomplete, "");
  EXPECT_NE(registry.Render().find("t_" + std::to_string(kCounters - 1) + "_total 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace coffer::http
