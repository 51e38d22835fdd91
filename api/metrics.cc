#include "api/metrics.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace wharf::api {

void Counter::inc(const LabelValues& labels, double by) {
  std::lock_guard lock(mu_);
  values_[labels] += by;
}

double Counter::value(const LabelValues& labels) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Gauge::set(double value, const LabelValues& labels) {
  std::lock_guard lock(mu_);
  values_[labels] = value;
}

void Gauge::add(double by, const LabelValues& labels) {
  std::lock_guard lock(mu_);
  values_[labels] += by;
}

double Gauge::value(const LabelValues& labels) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void Histogram::observe(double value, const LabelValues& labels) {
  std::lock_guard lock(mu_);
  auto& s = series_[labels];
  if (s.buckets.empty()) s.buckets.assign(bounds_.size(), 0);
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++s.buckets[i];
      break;
    }
  }
  ++s.count;
  s.sum += value;
}

uint64_t Histogram::count(const LabelValues& labels) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  return it == series_.end() ? 0 : it->second.count;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help,
                                                 const std::string& type,
                                                 std::vector<std::string> label_names) {
  auto [it, inserted] = families_.try_emplace(name);
  Family& f = it->second;
  if (inserted) {
    f.help = help;
    f.type = type;
    f.label_names = std::move(label_names);
  } else if (f.type != type || f.label_names != label_names) {
    throw std::logic_error("metric " + name + " registered twice with different shape");
  }
  return f;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "counter", std::move(label_names));
  if (!f.counter) f.counter = std::make_unique<Counter>();
  return *f.counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "gauge", std::move(label_names));
  if (!f.gauge) f.gauge = std::make_unique<Gauge>();
  return *f.gauge;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "histogram", std::move(label_names));
  if (!f.histogram) f.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *f.histogram;
}

void MetricsRegistry::gauge_function(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names, GaugeFunction fn) {
  std::lock_guard lock(mu_);
  auto& f = family(name, help, "gauge", std::move(label_names));
  f.function = std::move(fn);
}

namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string labels_text(const std::vector<std::string>& names, const LabelValues& values,
                        const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!out.empty()) out += ',';
    out += names[i] + "=\"" + escape_label(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!out.empty()) out += ',';
    out += extra;
  }
  return out.empty() ? out : "{" + out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    if (f.counter) {
      std::lock_guard l(f.counter->mu_);
      for (const auto& [labels, v] : f.counter->values_) {
        out += name + labels_text(f.label_names, labels) + " " + number(v) + "\n";
      }
    }
    if (f.gauge) {
      std::lock_guard l(f.gauge->mu_);
      for (const auto& [labels, v] : f.gauge->values_) {
        out += name + labels_text(f.label_names, labels) + " " + number(v) + "\n";
      }
    }
    if (f.function) {
      for (const auto& sample : f.function()) {
        out += name + labels_text(f.label_names, sample.labels) + " " + number(sample.value) + "\n";
      }
    }
    if (f.histogram) {
      const auto& h = *f.histogram;
      std::lock_guard l(h.mu_);
      for (const auto& [labels, s] : h.series_) {
        uint64_t cumulative = 0;
        for (size_t i = 0; i < h.bounds_.size(); ++i) {
          cumulative += s.buckets[i];
          out += name + "_bucket" +
                 labels_text(f.label_names, labels, "le=\"" + number(h.bounds_[i]) + "\"") + " " +
                 std::to_string(cumulative) + "\n";
        }
        out += name + "_bucket" + labels_text(f.label_names, labels, "le=\"+Inf\"") + " " +
               std::to_string(s.count) + "\n";
        out += name + "_sum" + labels_text(f.label_names, labels) + " " + number(s.sum) + "\n";
        out += name + "_count" + labels_text(f.label_names, labels) + " " +
               std::to_string(s.count) + "\n";
      }
    }
  }
  return out;
}

}  // namespace wharf::api
