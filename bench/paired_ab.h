// Paired A/B timing for the programs that flip ExperimentSwitch (core/experiment_switch.h):
// each pair times side A (switch off) and side B (on) back to back, B first in every
// other pair, and the summary is over the pairs' B/A time ratios, so a shared machine's
// slow minutes weigh on both sides alike.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/experiment_switch.h"

namespace dsv4::bench {

class PairedAb {
 public:
  // Runs one pair: timed() once with the switch off and once on (order alternating by
  // pair); timed() runs the code under test once and returns its time (any one unit).
  // Leaves the switch off.
  template <typename Timed>
  void RunPair(Timed&& timed) {
    const bool b_first = pairs() % 2 == 1;
    double t[2];
    for (int i = 0; i < 2; ++i) {
      const bool b = (i == 0) == b_first;
      ExperimentSwitch().store(b);
      t[b] = timed();
    }
    ExperimentSwitch().store(false);
    a_.push_back(t[0]);
    b_.push_back(t[1]);
  }
  int64_t pairs() const { return int64_t(a_.size()); }
  // The q-quantile (0..1, nearest rank) of the B/A time ratios, of A's and of B's times.
  double Ratio(double q) const { return Quantile(Ratios(), q); }
  double A(double q) const { return Quantile(a_, q); }
  double B(double q) const { return Quantile(b_, q); }
  // "B/A time ratio median 0.915 (q25 0.890, q75 0.951) over 30 pairs; A median 2.41 ms, B 2.20 ms"
  std::string Summary(double unit_scale, const char* unit) const {
    char line[256];
    std::snprintf(line, sizeof line,
                  "B/A time ratio median %.3f (q25 %.3f, q75 %.3f) over %lld pairs; A median %.3f %s, B %.3f %s",
                  Ratio(0.5), Ratio(0.25), Ratio(0.75), static_cast<long long>(pairs()), A(0.5) * unit_scale, unit,
                  B(0.5) * unit_scale, unit);
    return line;
  }

 private:
  std::vector<double> Ratios() const {
    std::vector<double> r(a_.size());
    for (size_t i = 0; i < a_.size(); ++i) r[i] = b_[i] / a_[i];
    return r;
  }
  static double Quantile(std::vector<double> v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5))];
  }
  std::vector<double> a_, b_;
};

}  // namespace dsv4::bench
