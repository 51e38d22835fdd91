#pragma once
// A small Prometheus registry: counters, gauges, histograms with labels, and
// gauges computed at scrape time. The API registers its own series (HTTP
// requests, latency, SSE clients); the composition root (`wharf serve`)
// registers the rest — appends, append latency, projection lag, runs by
// state, relay lag — so lower layers need not depend on api/. Thread-safe.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace wharf::api {

// Label values in the order of the family's label names.
using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void inc(const LabelValues& labels = {}, double by = 1);
  double value(const LabelValues& labels = {}) const;

 private:
  friend class MetricsRegistry;
  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;
};

class Gauge {
 public:
  void set(double value, const LabelValues& labels = {});
  void add(double by, const LabelValues& labels = {});
  double value(const LabelValues& labels = {}) const;

 private:
  friend class MetricsRegistry;
  mutable std::mutex mu_;
  std::map<LabelValues, double> values_;
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {}
  void observe(double value, const LabelValues& labels = {});
  uint64_t count(const LabelValues& labels = {}) const;

 private:
  friend class MetricsRegistry;
  struct Series {
    std::vector<uint64_t> buckets;  // cumulative at render time; per-bucket here
    uint64_t count = 0;
    double sum = 0;
  };
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, Series> series_;
};

// Latency buckets in seconds, 0.5 ms .. 10 s.
std::vector<double> latency_buckets();

class MetricsRegistry {
 public:
  struct Sample {
    LabelValues labels;
    double value = 0;
  };
  using GaugeFunction = std::function<std::vector<Sample>()>;

  // Returns the family `name`, creating it on first use; a later call with the
  // same name returns the same object (label names must then agree).
  Counter& counter(const std::string& name, const std::string& help,
                   std::vector<std::string> label_names = {});
  Gauge& gauge(const std::string& name, const std::string& help,
               std::vector<std::string> label_names = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {},
                       std::vector<double> bounds = latency_buckets());
  // A gauge whose samples `fn` computes at each scrape (e.g. projection lag =
  // head position - checkpoint). `fn` must be cheap and thread-safe.
  void gauge_function(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names, GaugeFunction fn);

  // Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::vector<std::string> label_names;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    GaugeFunction function;
  };
  Family& family(const std::string& name, const std::string& help, const std::string& type,
                 std::vector<std::string> label_names);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

}  // namespace wharf::api
