// What every solver takes and returns (FitOptions, FitResult) and the errors
// the bindings translate into fastcost's Python exceptions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastcost/matrix.hpp"

namespace fastcost {

// A NaN or infinite sum, loss or gradient: a NaN/inf cell of the data or an
// overflow. Python sees fastcost.exceptions.NonFiniteError (a ValueError).
struct NonFiniteError : std::domain_error {
  using std::domain_error::domain_error;
};

// sgd's loss stopped being finite. Python sees fastcost.exceptions.DivergenceError.
struct DivergenceError : std::overflow_error {
  using std::overflow_error::overflow_error;
};

struct FitOptions {
  double alpha = 0.0;
  bool fit_intercept = true;
  double tol = 1e-6;          // lbfgs/gd: stop when max|grad| <= tol * max|grad at start|
  int max_iter = 1000;        // iterations (lbfgs, gd) or epochs (sgd)
  int history = 10;           // lbfgs memory m
  index_t batch_size = 100;   // sgd
  double learning_rate = 0.01;  // sgd
  std::uint64_t seed = 0;     // sgd shuffling
  int n_threads = 1;
  index_t n_shards = 0;       // 0: default_shard_count
  bool has_init = false;      // start from coef_init / intercept_init
  std::vector<double> coef_init;
  double intercept_init = 0.0;
  // Preprocessing folded into the iterative solvers (fastcost.preprocessing):
  // standardize: fit in coordinates v = sigma * w as if X were standardized,
  // alpha penalizing v (as StandardScaler + fit would); noise_var: the L2 term
  // that Gaussian input noise of this variance on X adds in expectation,
  // noise_var * |w|^2; frozen: columns held at coefficient 0 (pruned).
  bool standardize = false;
  bool init_standardized = false;  // coef_init is already v (sgd's Glorot draw)
  double noise_var = 0.0;
  std::vector<char> frozen;
  // lbfgs/gd: coefficients held >= 0 (v >= 0 when standardizing: the same
  // signs), the intercept free (nonnegative.hpp).
  bool positive = false;
  // newton on a singular Gram: the minimum-norm solution (an eigendecomposition
  // of the d x d system); false returns singular, zero coefficients and an
  // infinite condition estimate at once (solver='auto' then refits with qr).
  bool minimum_norm = true;
  // lbfgs: stop, not converged, as soon as the rate so far projects past
  // max_iter (solver='auto''s guard: a pick that will not finish in its
  // budget turns to newton or qr without spending the rest of it).
  bool guard_projection = false;
};

struct FitResult {
  std::vector<double> coef;
  double intercept = 0.0;
  int n_iter = 0;
  std::vector<double> loss_history;
  index_t n_passes = 0;        // full passes over X
  bool converged = true;
  bool singular = false;       // newton: rank-deficient system, minimum-norm solution returned
  index_t rank = 0;
  double condition_estimate = 1.0;  // newton: of the equilibrated system
  double grad_norm = 0.0;      // final max|grad|
  std::string message;
  std::string notes;           // how the solver ran (lbfgs: warm start, preconditioner)
  std::string precision;       // qr: "double" or "extended" (empty for the other solvers)
  std::string precision_reason;  // qr: why that precision
  double digits_estimate = std::numeric_limits<double>::quiet_NaN();  // qr: digits kept
  bool extended_skipped = false;  // qr: Auto wanted the extended pass, past its flop budget
};

inline double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double e : v) m = std::max(m, std::fabs(e));
  return m;
}

// Like max_abs but NaN-propagating, to detect non-finite gradients.
inline double max_abs_of(const std::vector<double>& v) {
  double m = 0.0;
  for (double e : v) m = std::isnan(e) ? e : std::max(m, std::fabs(e));
  return m;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace fastcost
