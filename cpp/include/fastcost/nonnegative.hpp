// positive=True in lbfgs and gd: the coefficients of theta (never the
// intercept) held >= 0 by an active set that both loops share. A coefficient
// at 0 whose gradient pushes it below is held there (the binding set B); the
// search direction lives on the free coordinates, and a step stops where the
// first free coordinate reaches 0, which lands there exactly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "fastcost/matrix.hpp"

namespace fastcost {

// A coefficient at 0 is held there while its gradient would move it off by
// less than this fraction of the gradient tolerance (SignConstraint::bind).
constexpr double kBindingSlack = 0.1;

class SignConstraint {
 public:
  // `frozen` columns (pruned) stay at 0 with a zero gradient: never bound.
  SignConstraint(bool on, index_t d, const std::vector<char>& frozen) : on_(on), d_(d), frozen_(frozen) {
    bound_.assign(static_cast<std::size_t>(d), 0);
  }

  bool on() const { return on_; }

  // max(theta_j, 0) on the coefficients: the starting point.
  void project(std::vector<double>& theta) const {
    if (!on_) return;
    for (index_t j = 0; j < d_; ++j) theta[j] = std::max(theta[j], 0.0);
  }

  // max |projected gradient|: g_j where theta_j > 0, min(g_j, 0) at 0; the
  // KKT residual that the stopping rule measures (max|g| without the constraint).
  double residual(const std::vector<double>& theta, const std::vector<double>& g) const {
    double m = 0.0;
    for (std::size_t j = 0; j < g.size(); ++j) {
      const bool at_zero = on_ && static_cast<index_t>(j) < d_ && theta[j] <= 0.0;
      m = std::max(m, std::fabs(at_zero ? std::min(g[j], 0.0) : g[j]));
    }
    return m;
  }

  // B = {j : theta_j = 0 and g_j > -slack}: a coordinate whose gradient would
  // move it out of 0 by less than `slack` (well under the tolerance) is held
  // too, so that B settles near a degenerate optimum. True if B changed.
  bool bind(const std::vector<double>& theta, const std::vector<double>& g, double slack) {
    bool changed = false;
    for (index_t j = 0; j < d_; ++j) {
      const char b = !is_frozen(j) && theta[j] <= 0.0 && g[j] > -slack ? 1 : 0;
      changed = changed || b != bound_[j];
      bound_[j] = b;
    }
    return changed;
  }

  // v with its entries on B set to 0 (g restricted to the free coordinates).
  void restrict(std::vector<double>& v) const {
    for (index_t j = 0; j < d_; ++j) {
      if (bound_[j]) v[j] = 0.0;
    }
  }

  // Whether a direction (zero on B) leaves the free coordinates at 0 feasible.
  bool feasible(const std::vector<double>& theta, const std::vector<double>& dir) const {
    for (index_t j = 0; j < d_; ++j) {
      if (theta[j] <= 0.0 && dir[j] < 0.0) return false;
    }
    return true;
  }

  // The longest step along dir that keeps the coefficients >= 0 (infinite
  // when none decreases), and the coordinate that reaches 0 there.
  double max_step(const std::vector<double>& theta, const std::vector<double>& dir, index_t& blocking) const {
    double a = std::numeric_limits<double>::infinity();
    blocking = -1;
    for (index_t j = 0; j < d_; ++j) {
      if (dir[j] < 0.0 && theta[j] / -dir[j] < a) {
        a = theta[j] / -dir[j];
        blocking = j;
      }
    }
    return a;
  }

  // After theta += a dir: the blocking coordinate (-1: none) exactly at 0,
  // and no coefficient below 0 by rounding.
  void land(std::vector<double>& theta, index_t blocking) const {
    if (blocking >= 0) theta[blocking] = 0.0;
    project(theta);
  }

 private:
  bool is_frozen(index_t j) const { return !frozen_.empty() && frozen_[j]; }

  bool on_;
  index_t d_;
  std::vector<char> frozen_;
  std::vector<char> bound_;
};

}  // namespace fastcost
