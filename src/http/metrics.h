// Prometheus metrics: counters and histograms on atomics, gauges read through callbacks, and a
// registry that renders them in the text exposition format (version 0.0.4). Label values are
// chosen by the code (route templates, status codes, operation names), never taken from a request.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"

namespace coffer::http {

// A monotonically increasing count. Thread-safe, lock-free.
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Observations counted into fixed upper bounds (cumulative when rendered), with their sum.
// Thread-safe, lock-free.
class Histogram {
 public:
  // REQUIRES: `bounds` sorted ascending.
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the last is +Inf)
  std::atomic<double> sum_{0};
};

// Buckets for request and store latencies, in seconds: 100 µs to 10 s.
const std::vector<double>& LatencyBuckets();

// A family of counters or histograms told apart by label values. Children are created on first
// use and live as long as the family; With() is thread-safe (a shared lock on the lookup).
template <typename Metric>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<Metric>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  // The child for these label values, one per label name, in order.
  Metric& With(std::initializer_list<std::string_view> values);

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls `visit` for each child in label order. Thread-safe.
  void ForEach(
      const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const;

 private:
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable SharedMutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, std::less<>> children_
      COFFER_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using HistogramFamily = Family<Histogram>;

// Metric families and their rendering. Registration is thread-safe but meant for start-up; the
// returned references stay valid for the registry's lifetime. Names must be valid Prometheus
// names (a programming error otherwise: they come from code).
class MetricsRegistry {
 public:
  Counter& AddCounter(std::string name, std::string help);
  CounterFamily& AddCounterFamily(std::string name, std::string help,
                                  std::vector<std::string> label_names);
  HistogramFamily& AddHistogramFamily(std::string name, std::string help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds);
  // A value read when rendering; `type` is "gauge" or "counter". `read` must be thread-safe.
  void AddCallback(std::string name, std::string help, std::string type,
                   std::function<double()> read);

  // Every family in registration order, in the Prometheus text format.
  std::string Render() const;

  // The Content-Type of Render()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Entry {
    std::string name;
    std::string help;
    std::string type;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<CounterFamily> counters;
    std::unique_ptr<HistogramFamily> histograms;
    std::function<double()> read;
  };
  // An entry of this name, not registered yet.
  static Entry NewEntry(std::string name, std::string help, std::string type);
  // Registers `entry`, complete: Render may read it from the moment it is in entries_.
  Entry& Add(Entry entry);

  mutable Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ COFFER_GUARDED_BY(mu_);
};

// Escapes a label value for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view value);

}  // namespace coffer::http
