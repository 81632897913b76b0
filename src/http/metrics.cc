// Counters, histograms and their rendering in the Prometheus text exposition format.
#include "http/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace coffer::http {

namespace {

bool IsValidName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

// Metric names come from code; a bad one must stop the server at start-up.
void CheckName(std::string_view name) {
  if (!IsValidName(name)) {
    std::fprintf(stderr, "coffer: bad metric name \"%.*s\"\n", static_cast<int>(name.size()),
                 name.data());
    std::abort();
  }
}

std::string FormatNumber(double v) {
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (std::isnan(v)) {
    return "NaN";
  }
  return fmt::format("{}", v);
}

// `{a="x",b="y"}` (with `extra` appended as a last label), or "" when there are no labels.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name;
    out += "=\"";
    out += EscapeLabelValue(extra_value);
    out += '"';
  }
  if (!out.empty()) {
    out += '}';
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double value) {
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};
  return kBuckets;
}

template <typename Metric>
Metric& Family<Metric>::With(std::initializer_list<std::string_view> values) {
  std::vector<std::string> key(values.begin(), values.end());
  key.resize(label_names_.size());
  {
    ReaderMutexLock lock(mu_);
    auto it = children_.find(key);
    if (it != children_.end()) {
      return *it->second;
    }
  }
  WriterMutexLock lock(mu_);
  auto& slot = children_[std::move(key)];
  if (!slot) {
    slot = make_();
  }
  return *slot;
}

template <typename Metric>
void Family<Metric>::ForEach(
    const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const {
  ReaderMutexLock lock(mu_);
  for (const auto& [labels, metric] : children_) {
    visit(labels, *metric);
  }
}

template class Family<Counter>;
template class Family<Histogram>;

MetricsRegistry::Entry MetricsRegistry::NewEntry(std::string name, std::string help,
                                                 std::string type) {
  CheckName(name);
  Entry entry;
  entry.name = std::move(name);
  entry.help = std::move(help);
  entry.type = std::move(type);
  return entry;
}

MetricsRegistry::Entry& MetricsRegistry::Add(Entry entry) {
  auto owned = std::make_unique<Entry>(std::move(entry));
  MutexLock lock(mu_);
  entries_.push_back(std::move(owned));
  return *entries_.back();
}

Counter& MetricsRegistry::AddCounter(std::string name, std::string help) {
  Entry e = NewEntry(std::move(name), std::move(help), "counter");
  e.counter = std::make_unique<Counter>();
  return *Add(std::move(e)).counter;
}

CounterFamily& MetricsRegistry::AddCounterFamily(std::string name, std::string help,
                                                 std::vector<std::string> label_names) {
  for (const std::string& label : label_names) {
    CheckName(label);
  }
  Entry e = NewEntry(std::move(name), std::move(help), "counter");
  e.counters = std::make_unique<CounterFamily>(std::move(label_names),
                                               [] { return std::make_unique<Counter>(); });
  return *Add(std::move(e)).counters;
}

HistogramFamily& MetricsRegistry::AddHistogramFamily(std::string name, std::string help,
                                                     std::vector<std::string> label_names,
                                                     std::vector<double> bounds) {
  for (const std::string& label : label_names) {
    CheckName(label);
  }
  Entry e = NewEntry(std::move(name), std::move(help), "histogram");
  e.histograms = std::make_unique<HistogramFamily>(
      std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
  return *Add(std::move(e)).histograms;
}

void MetricsRegistry::AddCallback(std::string name, std::string help, std::string type,
                                  std::function<double()> read) {
  Entry e = NewEntry(std::move(name), std::move(help), std::move(type));
  e.read = std::move(read);
  Add(std::move(e));
}

std::string MetricsRegistry::Render() const {
  std::string out;
  MutexLock lock(mu_);
  for (const auto& entry : entries_) {
    const Entry& e = *entry;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", e.name, EscapeHelp(e.help), e.name, e.type);
    if (e.counter) {
      out += fmt::format("{} {}\n", e.name, e.counter->Value());
    } else if (e.counters) {
      e.counters->ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
        out += fmt::format("{}{} {}\n", e.name, LabelText(e.counters->label_names(), labels),
                           c.Value());
      });
    } else if (e.histograms) {
      const auto& names = e.histograms->label_names();
      e.histograms->ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
        const Histogram::Snapshot s = h.Read();
        for (size_t i = 0; i < s.cumulative.size(); ++i) {
          const std::string le = i < h.bounds().size() ? FormatNumber(h.bounds()[i]) : "+Inf";
          out += fmt::format("{}_bucket{} {}\n", e.name, LabelText(names, labels, "le", le),
                             s.cumulative[i]);
        }
        out += fmt::format("{}_sum{} {}\n", e.name, LabelText(names, labels), FormatNumber(s.sum));
        out += fmt::format("{}_count{} {}\n", e.name, LabelText(names, labels), s.count);
      });
    } else if (e.read) {
      double v = 0;
      try {
        v = e.read();
      } catch (...) {
        v = std::nan("");
      }
      out += fmt::format("{} {}\n", e.name, FormatNumber(v));
    }
  }
  return out;
}

}  // namespace coffer::http
