// positive=True in lbfgs and gd: the coefficients of theta (never the
// intercept) held >= 0 by an active set that both loops share. A coefficient
// at 0 whose gradient pushes it below is held there (the binding set B) until
// the free coordinates are about optimal on that face; the search direction
// lives on the free coordinates, and a step stops where the first free
// coordinate reaches 0, which lands there exactly. Converged when the
// projected gradient meets the loops' tolerance (the KKT conditions).
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

  // Per-entry factors of the gradient in every measure below (the stopping
  // rule's, the binding slack's): 1 / (the column's scale) on the
  // coefficients, 1 on the intercept, so that a column's units do not decide
  // when it counts as converged (LeastSquaresObjective::gscale). Empty: 1.
  void set_scale(const std::vector<double>& scale) { scale_ = scale; }

  // max |g_j| in that measure (no projection): the gradient the tolerance is relative to.
  double scaled_max(const std::vector<double>& g) const {
    double m = 0.0;
    for (std::size_t j = 0; j < g.size(); ++j) m = std::max(m, std::fabs(g[j]) * sc(j));
    return m;
  }

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
      m = std::max(m, std::fabs(at_zero ? std::min(g[j], 0.0) : g[j]) * sc(j));
    }
    return m;
  }

  // Updates B; true if it changed. A coefficient at 0 whose gradient is
  // > -slack joins B (slack, well under the tolerance, holds it there near a
  // degenerate optimum too). One in B with g_j <= -slack leaves it only once
  // the free coordinates are about optimal on the face (their max |g| at most
  // the largest such violation): releasing on every sign change of g would
  // restart lbfgs' memory at each step on ill-conditioned data and zig-zag.
  bool bind(const std::vector<double>& theta, const std::vector<double>& g, double slack) {
    bool changed = false;
    for (index_t j = 0; j < d_; ++j) {
      if (!bound_[j] && !is_frozen(j) && theta[j] <= 0.0 && g[j] * sc(j) > -slack) {
        bound_[j] = 1;
        changed = true;
      }
    }
    double violation = 0.0, free_max = 0.0;
    for (std::size_t j = 0; j < g.size(); ++j) {
      if (static_cast<index_t>(j) < d_ && bound_[j]) {
        violation = std::max(violation, -g[j] * sc(j));
      } else {
        free_max = std::max(free_max, std::fabs(g[j]) * sc(j));
      }
    }
    if (violation >= slack && free_max <= violation) {
      for (index_t j = 0; j < d_; ++j) {
        if (bound_[j] && g[j] * sc(j) <= -slack) {
          bound_[j] = 0;
          changed = true;
        }
      }
    }
    return changed;
  }

  // v with its entries on B set to 0 (g restricted to the free coordinates).
  void restrict(std::vector<double>& v) const {
    for (index_t j = 0; j < d_; ++j) {
      if (bound_[j]) v[j] = 0.0;
    }
  }

  // dir_j = 0 where it would take a coefficient at 0 below it.
  void clip_at_zero(const std::vector<double>& theta, std::vector<double>& dir) const {
    for (index_t j = 0; j < d_; ++j) {
      if (theta[j] <= 0.0 && dir[j] < 0.0) dir[j] = 0.0;
    }
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
  double sc(std::size_t j) const { return scale_.empty() ? 1.0 : scale_[j]; }

  bool on_;
  index_t d_;
  std::vector<char> frozen_;
  std::vector<char> bound_;
  std::vector<double> scale_;
};

}  // namespace fastcost
