// Solver loops for weighted least squares with optional L2 penalty:
//     f(w, b) = (1 / sum s) * sum_i s_i (x_i^T w + b - y_i)^2 + alpha * ||w||^2
// newton (one statistics pass + Cholesky), lbfgs, gd and sgd (the Keras recipe).
// Every loop runs entirely here; callers release the GIL around them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "fastcost/gram.hpp"
#include "fastcost/linalg.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/preprocess.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

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
};

namespace linalg {

// Hager's estimate (Higham's refinement, as in LAPACK's xLACON) of ||A^{-1}||_1
// from solves with A and A^T: a lower bound, in practice within a small factor.
template <class Solve, class SolveT>
double inverse_norm1_estimate(index_t n, Solve solve, SolveT solve_t) {
  if (n == 0) return 0.0;
  std::vector<double> x(static_cast<std::size_t>(n), 1.0 / static_cast<double>(n)), z;
  solve(x);
  double est = 0.0;
  for (double v : x) est += std::fabs(v);
  index_t last = -1;
  for (int iter = 0; iter < 5; ++iter) {
    z.resize(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) z[i] = x[i] >= 0.0 ? 1.0 : -1.0;
    solve_t(z);
    index_t jmax = 0;
    for (index_t i = 1; i < n; ++i)
      if (std::fabs(z[i]) > std::fabs(z[jmax])) jmax = i;
    if (iter > 0 && jmax == last) break;
    last = jmax;
    std::fill(x.begin(), x.end(), 0.0);
    x[jmax] = 1.0;
    solve(x);
    double e = 0.0;
    for (double v : x) e += std::fabs(v);
    if (!(e > est)) break;
    est = e;
  }
  // Higham's alternating-sign test vector catches matrices that fool the iteration.
  std::vector<double> alt(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i)
    alt[i] = (i % 2 ? -1.0 : 1.0) * (1.0 + static_cast<double>(i) / static_cast<double>(std::max<index_t>(n - 1, 1)));
  solve(alt);
  double e = 0.0;
  for (double v : alt) e += std::fabs(v);
  return std::max(est, 2.0 * e / (3.0 * static_cast<double>(n)));
}

}  // namespace linalg

// ---- newton: solve from statistics -------------------------------------------

// The d x d normal matrix X^T S X, right-hand side X^T S y and y^T S y of the
// statistics: about the weighted means with an intercept, about zero without.
inline void normal_equations(const GramStats& st, bool fit_intercept, std::vector<double>& a, std::vector<double>& rhs,
                             double& syy) {
  const index_t d = st.d, yi = d, one = d + 1;
  const double S = st.sum_weights();
  a.assign(static_cast<std::size_t>(d * d), 0.0);
  rhs.assign(static_cast<std::size_t>(d), 0.0);
  const std::vector<double>& c = st.shift;
  if (fit_intercept) {
    for (index_t j = 0; j < d; ++j) {
      for (index_t k = 0; k < d; ++k) a[j * d + k] = st.at(j, k) - st.at(j, one) * st.at(k, one) / S;
      rhs[j] = st.at(j, yi) - st.at(j, one) * st.at(yi, one) / S;
    }
    syy = st.at(yi, yi) - st.at(yi, one) * st.at(yi, one) / S;
  } else {  // undo the shift: sums of x x^T, x y, y^2 about zero
    const double cy = c[d], my = st.at(yi, one);
    for (index_t j = 0; j < d; ++j) {
      const double mj = st.at(j, one);
      for (index_t k = 0; k < d; ++k) {
        a[j * d + k] = st.at(j, k) + c[j] * st.at(k, one) + mj * c[k] + S * c[j] * c[k];
      }
      rhs[j] = st.at(j, yi) + c[j] * my + mj * cy + S * c[j] * cy;
    }
    syy = st.at(yi, yi) + 2.0 * cy * my + S * cy * cy;
  }
}

// Solves the penalized normal equations held in `st` (which may come from one
// pass here or from many Dask chunks merged). Rank-deficient systems get the
// minimum-norm solution of the (centered) least-squares problem.
inline FitResult solve_from_stats(const GramStats& st, double alpha, bool fit_intercept) {
  const index_t d = st.d, yi = d, one = d + 1;
  const double S = st.sum_weights();
  if (!(S > 0.0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
  FitResult res;
  std::vector<double> a, rhs;
  double syy;
  normal_equations(st, fit_intercept, a, rhs, syy);
  const std::vector<double>& c = st.shift;
  const std::vector<double> a0 = a;  // without the penalty, for the loss
  for (index_t j = 0; j < d; ++j) a[j * d + j] += alpha * S;

  // Equilibrate: unit diagonal. Columns with zero diagonal (constant, or all
  // zero without intercept) cannot be determined and get coefficient 0.
  std::vector<double> scale(static_cast<std::size_t>(d), 0.0);
  std::vector<index_t> active;
  double max_diag = 0.0;
  for (index_t j = 0; j < d; ++j) max_diag = std::max(max_diag, a[j * d + j]);
  for (index_t j = 0; j < d; ++j) {
    if (a[j * d + j] > 0.0 && std::isfinite(a[j * d + j])) {
      scale[j] = 1.0 / std::sqrt(a[j * d + j]);
      active.push_back(j);
    }
  }
  const index_t m = static_cast<index_t>(active.size());
  std::vector<double> as(static_cast<std::size_t>(m * m)), bs(static_cast<std::size_t>(m));
  for (index_t p = 0; p < m; ++p) {
    const index_t j = active[p];
    for (index_t q = 0; q < m; ++q) as[p * m + q] = a[j * d + active[q]] * scale[j] * scale[active[q]];
    bs[p] = rhs[j] * scale[j];
  }
  const double eps = std::numeric_limits<double>::epsilon();
  const double rank_tol = 10.0 * static_cast<double>(std::max<index_t>(d, 1)) * eps;
  std::vector<double> xs(static_cast<std::size_t>(m), 0.0);
  std::vector<double> l = as;
  bool ok = m > 0 && linalg::cholesky(l, m);
  double lmin = std::numeric_limits<double>::infinity(), lmax = 0.0;
  if (ok) {
    for (index_t p = 0; p < m; ++p) {
      lmin = std::min(lmin, l[p * m + p]);
      lmax = std::max(lmax, l[p * m + p]);
    }
    ok = lmin * lmin > rank_tol * lmax * lmax;
  }
  res.coef.assign(static_cast<std::size_t>(d), 0.0);
  if (ok) {
    xs = bs;
    linalg::cholesky_solve(l, m, xs);
    // kappa_1 of the equilibrated Gram: its 1-norm times Hager's estimate of
    // ||A^-1||_1 (a few Cholesky solves). The ratio of Cholesky pivots alone can
    // miss ill-conditioning by orders of magnitude, so it only serves as a floor.
    double norm1 = 0.0;
    for (index_t q = 0; q < m; ++q) {
      double col = 0.0;
      for (index_t p = 0; p < m; ++p) col += std::fabs(as[p * m + q]);
      norm1 = std::max(norm1, col);
    }
    auto chol_solve = [&](std::vector<double>& v) { linalg::cholesky_solve(l, m, v); };
    const double hager = norm1 * linalg::inverse_norm1_estimate(m, chol_solve, chol_solve);
    res.condition_estimate = std::max(hager, (lmax / lmin) * (lmax / lmin));
    res.rank = m;
    for (index_t p = 0; p < m; ++p) res.coef[active[p]] = xs[p] * scale[active[p]];
  } else if (m > 0) {
    // Rank-deficient: particular solution from the equilibrated pseudo-inverse,
    // then remove its component along the null space measured in the original
    // coordinates, which leaves the minimum-norm solution lstsq would give.
    std::vector<double> values, vectors;
    linalg::symmetric_eigen(as, m, values, vectors);
    double vmax = 0.0, vmin_kept = std::numeric_limits<double>::infinity();
    for (double v : values) vmax = std::max(vmax, v);
    std::vector<std::vector<double>> null_space;
    index_t rank = 0;
    for (index_t k = 0; k < m; ++k) {
      if (values[k] > rank_tol * vmax && vmax > 0.0) {
        ++rank;
        vmin_kept = std::min(vmin_kept, values[k]);
        double proj = 0.0;
        for (index_t p = 0; p < m; ++p) proj += vectors[p * m + k] * bs[p];
        proj /= values[k];
        for (index_t p = 0; p < m; ++p) xs[p] += proj * vectors[p * m + k];
      } else {
        std::vector<double> v(static_cast<std::size_t>(d), 0.0);
        for (index_t p = 0; p < m; ++p) v[active[p]] = vectors[p * m + k] * scale[active[p]];
        null_space.push_back(std::move(v));
      }
    }
    for (index_t p = 0; p < m; ++p) res.coef[active[p]] = xs[p] * scale[active[p]];
    // Modified Gram-Schmidt on the null vectors, then project them out.
    std::vector<std::vector<double>> q;
    for (auto& v : null_space) {
      for (const auto& u : q) {
        const double dd = std::inner_product(u.begin(), u.end(), v.begin(), 0.0);
        for (index_t i = 0; i < d; ++i) v[i] -= dd * u[i];
      }
      const double nrm = std::sqrt(std::inner_product(v.begin(), v.end(), v.begin(), 0.0));
      if (nrm > 1e-10) {
        for (double& e : v) e /= nrm;
        q.push_back(v);
      }
    }
    for (const auto& u : q) {
      const double dd = std::inner_product(u.begin(), u.end(), res.coef.begin(), 0.0);
      for (index_t i = 0; i < d; ++i) res.coef[i] -= dd * u[i];
    }
    res.rank = rank;
    res.condition_estimate = vmin_kept > 0 && std::isfinite(vmin_kept) ? vmax / vmin_kept : std::numeric_limits<double>::infinity();
  }
  if (m < d || res.rank < d) {
    res.singular = true;
    res.message = "the Gram matrix is singular (constant or collinear columns, or fewer samples than "
                  "features); returned the minimum-norm solution";
  }
  if (fit_intercept) {
    double b = c[d] + st.at(yi, one) / S;
    for (index_t j = 0; j < d; ++j) b -= (c[j] + st.at(j, one) / S) * res.coef[j];
    res.intercept = b;
  }
  // Loss at the solution from the statistics: (syy - 2 w.rhs + w A0 w) / S + alpha |w|^2.
  double quad = 0.0, lin = 0.0, nrm2 = 0.0;
  for (index_t j = 0; j < d; ++j) {
    double aw = 0.0;
    for (index_t k = 0; k < d; ++k) aw += a0[j * d + k] * res.coef[k];
    quad += res.coef[j] * aw;
    lin += res.coef[j] * rhs[j];
    nrm2 += res.coef[j] * res.coef[j];
  }
  res.loss_history.push_back(std::max(0.0, (syy - 2.0 * lin + quad) / S) + alpha * nrm2);
  res.n_iter = 1;
  return res;
}

template <class T>
FitResult fit_newton(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& opt) {
  const GramStats st = compute_gram_stats(X, y, sw, nullptr, opt.n_shards, opt.n_threads);
  for (double v : st.gram) {
    if (!std::isfinite(v)) throw std::domain_error("non-finite statistics");
  }
  FitResult res = solve_from_stats(st, opt.alpha, opt.fit_intercept);
  res.n_passes = 1;
  return res;
}

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

// ---- objective for the iterative solvers ---------------------------------------

// The intercept on X's scale of a model fitted to centered columns: the
// centered model's bias theta[d] minus mu^T w (0 without an intercept).
inline double intercept_on_x_scale(const std::vector<double>& theta, const std::vector<double>& w,
                                   const std::vector<double>& mu, bool fit_intercept) {
  if (!fit_intercept) return 0.0;
  const std::size_t d = w.size();
  double b = theta[d];
  for (std::size_t j = 0; j < d; ++j) b -= mu[j] * w[j];
  return b;
}

// Least squares in centered, optionally scaled coordinates: theta = [v, beta]
// with the model v^T (x - mu) / sigma + beta, i.e. w = v / sigma and
// b = beta - mu^T w. Centering and scaling cost nothing in the kernel (they
// only change w and b) and make the problem far better conditioned. The penalty
// is sum_j lam_j v_j^2: lam = alpha (+ noise terms), sigma = 1 unless standardizing.
template <class T>
struct LeastSquaresObjective {
  MatrixView<T> X;
  const T* y = nullptr;
  const T* sw = nullptr;
  double alpha = 0.0;
  bool fit_intercept = true;
  std::vector<double> mu;  // zeros without intercept
  std::vector<double> sigma;  // ones unless standardizing
  std::vector<double> lam;    // per-column penalty on v
  std::vector<char> frozen;   // empty, or 1 for columns held at zero
  bool uniform = true;        // lam == alpha: the plain solver's arithmetic, bit for bit
  double sum_w = 0.0;
  index_t n_shards = 0;
  int n_threads = 1;
  index_t n_evals = 0;
  bool moments_pass = false;  // standardize: one pass for the means and scales

  index_t dim() const { return X.cols + 1; }

  void to_model(const std::vector<double>& theta, std::vector<double>& w, double& b) const {
    const index_t d = X.cols;
    w.assign(theta.begin(), theta.begin() + d);
    for (index_t j = 0; j < d; ++j) w[j] /= sigma[j];
    b = intercept_on_x_scale(theta, w, mu, fit_intercept);
  }

  // theta-space gradient of the quadratic from probe k of a pass: the gradient
  // at t when probe k was the model of t (with y), or the Hessian times t when
  // it was the model of the direction t (without y).
  void theta_grad(const ProbeSums& ps, int k, const std::vector<double>& t, std::vector<double>& grad) const {
    const index_t d = X.cols;
    const double* ux = ps.ux(k);
    const double su = ps.sum_u[static_cast<std::size_t>(k)];
    grad.assign(static_cast<std::size_t>(d + 1), 0.0);
    for (index_t j = 0; j < d; ++j) {
      grad[j] = 2.0 * (ux[j] - mu[j] * su) / sum_w / sigma[j] + 2.0 * lam[j] * t[j];
      if (!frozen.empty() && frozen[j]) grad[j] = 0.0;
    }
    grad[d] = fit_intercept ? 2.0 * su / sum_w : 0.0;
  }

  // sum_j lam_j a_j b_j over the coefficients (not the intercept).
  double penalty_dot(const std::vector<double>& a, const std::vector<double>& b) const {
    double pen = 0.0;
    for (index_t j = 0; j < X.cols; ++j) pen += (uniform ? a[j] : lam[j] * a[j]) * b[j];
    return uniform ? alpha * pen : pen;
  }

  // One pass with the given probes (cancellation checked, counted).
  ProbeSums pass(const std::vector<Probe>& probes) {
    if (cancel_requested()) throw Cancelled();
    ProbeSums ps = probe_sums(X, y, sw, probes, n_shards, n_threads);
    ++n_evals;
    return ps;
  }

  double operator()(const std::vector<double>& theta, std::vector<double>& grad) {
    if (cancel_requested()) throw Cancelled();
    const index_t d = X.cols;
    std::vector<double> w;
    double b;
    to_model(theta, w, b);
    const LossGradSums s = loss_grad_sums(X, y, sw, w.data(), b, n_shards, n_threads);
    ++n_evals;
    double pen = 0.0;
    grad.assign(static_cast<std::size_t>(d + 1), 0.0);
    for (index_t j = 0; j < d; ++j) {
      grad[j] = 2.0 * (s.sum_wrx[j] - mu[j] * s.sum_wr) / sum_w / sigma[j] + 2.0 * lam[j] * theta[j];
      pen += (uniform ? theta[j] : lam[j] * theta[j]) * theta[j];
      if (!frozen.empty() && frozen[j]) grad[j] = 0.0;
    }
    grad[d] = fit_intercept ? 2.0 * s.sum_wr / sum_w : 0.0;
    const double f = s.sum_wr2 / sum_w + (uniform ? alpha * pen : pen);
    if (!std::isfinite(f) || !std::isfinite(max_abs_of(grad))) throw std::domain_error("non-finite loss or gradient");
    return f;
  }
};

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// sum s and sum s y (s = 1 without weights) in kTotalLanes interleaved running
// sums added in order at the end: a fixed association (the same on every
// machine and thread count) whose independent chains the compiler vectorizes;
// one chain would wait on each add's latency (milliseconds for 10^6 rows).
constexpr index_t kTotalLanes = 8;

template <class T>
void weighted_totals(const T* y, const T* sw, index_t n, double& sum_w, double& sum_wy) {
  double lw[kTotalLanes] = {}, ly[kTotalLanes] = {};
  const index_t full = n - n % kTotalLanes;
  if (sw) {
    for (index_t i = 0; i < full; i += kTotalLanes) {
      for (index_t l = 0; l < kTotalLanes; ++l) {
        lw[l] += static_cast<double>(sw[i + l]);
        ly[l] += static_cast<double>(sw[i + l]) * static_cast<double>(y[i + l]);
      }
    }
  } else {
    for (index_t i = 0; i < full; i += kTotalLanes) {
      for (index_t l = 0; l < kTotalLanes; ++l) ly[l] += static_cast<double>(y[i + l]);
    }
    for (index_t l = 0; l < kTotalLanes; ++l) lw[l] = static_cast<double>(full / kTotalLanes);
  }
  for (index_t i = full; i < n; ++i) {
    const double s = sw ? static_cast<double>(sw[i]) : 1.0;
    lw[i - full] += s;
    ly[i - full] += s * static_cast<double>(y[i]);
  }
  sum_w = 0.0;
  sum_wy = 0.0;
  for (index_t l = 0; l < kTotalLanes; ++l) {
    sum_w += lw[l];
    sum_wy += ly[l];
  }
}

// Totals from y and the weights alone (no pass over X), and a centering point
// for the iterative solvers' parametrization. Every point gives the same
// minimizer; one near the column means keeps the problem well conditioned. The
// weighted mean of kCenterRows rows spread evenly over X is within about
// sigma / sqrt(kCenterRows) of the mean, which is as good for conditioning as
// the exact mean, and it saves a whole pass over X.
constexpr index_t kCenterRows = 4096;

template <class T>
void center_and_totals(const MatrixView<T>& X, const T* y, const T* sw, std::vector<double>& mu, double& mean_y,
                       double& sum_w, bool sample_center = true) {
  const index_t n = X.rows, d = X.cols;
  double sy = 0.0;
  weighted_totals(y, sw, n, sum_w, sy);
  if (!(sum_w > 0.0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
  mean_y = sy / sum_w;
  if (!sample_center) {  // the caller centers at exact means of its own
    mu.assign(static_cast<std::size_t>(d), 0.0);
    return;
  }
  const index_t m = std::min(n, kCenterRows);
  std::vector<double> total(static_cast<std::size_t>(d), 0.0), plain(static_cast<std::size_t>(d), 0.0);
  double ws = 0.0;
  for (index_t k = 0; k < m; ++k) {
    const index_t i = k * n / m;
    const double s = sw ? static_cast<double>(sw[i]) : 1.0;
    ws += s;
    for (index_t j = 0; j < d; ++j) {
      const double x = static_cast<double>(X(i, j));
      total[j] += s * x;
      plain[j] += x;
    }
  }
  mu.resize(static_cast<std::size_t>(d));
  for (index_t j = 0; j < d; ++j) {
    mu[j] = ws > 0.0 ? total[j] / ws : plain[j] / static_cast<double>(m);
    if (!std::isfinite(mu[j])) throw std::domain_error("non-finite column means");
  }
}

template <class T>
LeastSquaresObjective<T> make_objective(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& opt,
                                        std::vector<double>& theta0, bool sample_center = true) {
  LeastSquaresObjective<T> obj;
  obj.X = X;
  obj.y = y;
  obj.sw = sw;
  obj.alpha = opt.alpha;
  obj.fit_intercept = opt.fit_intercept;
  obj.n_shards = opt.n_shards;
  obj.n_threads = opt.n_threads;
  const index_t d = X.cols;
  double mean_y = 0.0;
  obj.sigma.assign(static_cast<std::size_t>(d), 1.0);
  if (opt.standardize) {
    // One pass gives the means and the scales (the same kernel as StandardScaler).
    const ColumnMoments m = compute_column_moments(X, sw, opt.n_shards, opt.n_threads);
    obj.moments_pass = true;
    if (!m.finite) throw std::domain_error("non-finite column means");
    obj.sum_w = m.sum_w;
    if (!(obj.sum_w > 0.0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
    obj.mu = m.mean;
    obj.sigma = scale_from_moments(m);
    double sw_total = 0.0, sy = 0.0;
    weighted_totals(y, sw, X.rows, sw_total, sy);
    mean_y = sy / obj.sum_w;
  } else {
    center_and_totals(X, y, sw, obj.mu, mean_y, obj.sum_w, sample_center);
  }
  if (!opt.fit_intercept) std::fill(obj.mu.begin(), obj.mu.end(), 0.0);
  obj.lam.resize(static_cast<std::size_t>(d));
  for (index_t j = 0; j < d; ++j) obj.lam[j] = opt.alpha + opt.noise_var / (obj.sigma[j] * obj.sigma[j]);
  obj.uniform = opt.noise_var == 0.0;
  obj.frozen = opt.frozen;
  theta0.assign(static_cast<std::size_t>(d + 1), 0.0);
  if (opt.has_init) {
    // coef_init is w on X's scale unless it was drawn for the standardized model.
    std::vector<double> w0(opt.coef_init.begin(), opt.coef_init.begin() + d);
    for (index_t j = 0; j < d; ++j) {
      if (opt.init_standardized) {
        theta0[j] = w0[j];
        w0[j] /= obj.sigma[j];
      } else {
        theta0[j] = w0[j] * obj.sigma[j];
      }
    }
    if (opt.fit_intercept) {
      // beta is the intercept of the centered model: b + mu^T w, or the
      // standardized model's own bias when the draw was made for it.
      double beta = opt.intercept_init;
      if (!opt.init_standardized) {
        for (index_t j = 0; j < d; ++j) beta += obj.mu[j] * w0[j];
      }
      theta0[d] = beta;
    }
  } else if (opt.fit_intercept) {
    theta0[d] = mean_y;
  }
  for (index_t j = 0; j < d; ++j) {
    if (!obj.frozen.empty() && obj.frozen[j]) theta0[j] = 0.0;
  }
  return obj;
}

template <class T>
void finish_iterative(const LeastSquaresObjective<T>& obj, const std::vector<double>& theta, FitResult& res) {
  obj.to_model(theta, res.coef, res.intercept);
  res.n_passes = obj.n_evals + (obj.moments_pass ? 1 : 0);
  res.rank = obj.X.cols;
}

// ---- L-BFGS with a strong Wolfe line search ------------------------------------

namespace detail {

// Minimizer of the cubic interpolating (a, fa, ga) and (b, fb, gb), kept
// safely inside the interval; bisection when the cubic is not usable.
inline double cubic_step(double a, double fa, double ga, double b, double fb, double gb) {
  const double d1 = ga + gb - 3.0 * (fa - fb) / (a - b);
  const double disc = d1 * d1 - ga * gb;
  const double lo = std::min(a, b), hi = std::max(a, b), width = hi - lo;
  double t = 0.5 * (a + b);
  if (disc >= 0.0) {
    const double d2 = (b > a ? 1.0 : -1.0) * std::sqrt(disc);
    const double denom = gb - ga + 2.0 * d2;
    if (denom != 0.0) t = b - (b - a) * (gb + d2 - d1) / denom;
  }
  if (!std::isfinite(t) || t < lo + 0.1 * width || t > hi - 0.1 * width) t = 0.5 * (a + b);
  return t;
}

// The L-BFGS memory: the last m pairs s = x_new - x, y = g_new - g.
class LbfgsHistory {
 public:
  explicit LbfgsHistory(int m) : m_(std::max(1, m)) {}

  std::size_t size() const { return s_.size(); }

  void push(std::vector<double> s, std::vector<double> y) {
    const double sy = dot(s, y);
    if (!(sy > 1e-16 * dot(y, y))) return;  // no usable curvature
    if (static_cast<int>(s_.size()) == m_) {
      s_.erase(s_.begin());
      y_.erase(y_.begin());
      rho_.erase(rho_.begin());
    }
    s_.push_back(std::move(s));
    y_.push_back(std::move(y));
    rho_.push_back(1.0 / sy);
  }

  // Two-loop recursion: dir = -H g with H0 = (s^T y / y^T y) I; steepest
  // descent (and a cleared memory) when that is not a descent direction.
  void direction(const std::vector<double>& g, std::vector<double>& dir) {
    direction(g, dir, [this](std::vector<double>& q) {
      const std::size_t k = s_.size();
      const double gamma = k > 0 ? dot(s_[k - 1], y_[k - 1]) / dot(y_[k - 1], y_[k - 1]) : 1.0;
      for (double& e : q) e *= gamma;
    });
  }

  // The same with H0 applied by `h0(q)` in place (a preconditioner's inverse);
  // without a descent direction, dir = -H0 g and a cleared memory.
  template <class H0>
  void direction(const std::vector<double>& g, std::vector<double>& dir, H0&& h0) {
    const std::size_t n = g.size(), k = s_.size();
    dir = g;
    std::vector<double> a(k);
    for (std::size_t i = k; i-- > 0;) {
      a[i] = rho_[i] * dot(s_[i], dir);
      for (std::size_t j = 0; j < n; ++j) dir[j] -= a[i] * y_[i][j];
    }
    h0(dir);
    for (std::size_t i = 0; i < k; ++i) {
      const double beta = rho_[i] * dot(y_[i], dir);
      for (std::size_t j = 0; j < n; ++j) dir[j] += (a[i] - beta) * s_[i][j];
    }
    for (double& e : dir) e = -e;
    if (!(dot(g, dir) < 0.0)) {
      s_.clear();
      y_.clear();
      rho_.clear();
      dir = g;
      h0(dir);
      for (double& e : dir) e = -e;
      if (!(dot(g, dir) < 0.0)) {
        for (std::size_t j = 0; j < n; ++j) dir[j] = -g[j];
      }
    }
  }

 private:
  int m_;
  std::vector<std::vector<double>> s_, y_;
  std::vector<double> rho_;
};

}  // namespace detail

// The common end of lbfgs_minimize and gd_minimize: iterations, final
// gradient size, a loss history of at least the starting loss, and why it stopped.
inline void finish_minimize(FitResult& res, int iter, const std::vector<double>& g, double fx) {
  res.n_iter = iter;
  res.grad_norm = max_abs(g);
  if (res.loss_history.empty()) res.loss_history.push_back(fx);
  if (!res.converged && res.message.empty()) res.message = "reached max_iter before the gradient tolerance";
}

// Minimizes a smooth function with L-BFGS. `f(theta, grad)` returns the value
// and writes the gradient. Stops when max|grad| <= tol * max|grad(theta0)|.
template <class F>
void lbfgs_minimize(F& f, std::vector<double>& theta, const FitOptions& opt, FitResult& res) {
  const std::size_t n = theta.size();
  std::vector<double> g, g_new, x_new, dir(n);
  double fx = f(theta, g);
  const double g0 = max_abs(g);
  const double gtol = opt.tol * g0;
  detail::LbfgsHistory hist(opt.history);
  res.converged = g0 == 0.0;
  int iter = 0;
  const double c1 = 1e-4, c2 = 0.9;
  while (!res.converged && iter < opt.max_iter) {
    const std::size_t k = hist.size();
    hist.direction(g, dir);
    const double dphi0 = dot(g, dir);
    double step = k > 0 ? 1.0 : std::min(1.0, 1.0 / std::sqrt(dot(g, g)));

    // Strong Wolfe line search (bracketing, then zoom with cubic interpolation).
    // The sufficient-decrease test tolerates rounding noise in f near the optimum.
    // Rounding in f grows with the size of the terms summed, not with f itself;
    // like Hager and Zhang's approximate Wolfe test, allow a small relative slack
    // and let the exact derivative condition decide.
    const double f_noise = 1e-8 * std::fabs(fx);
    auto eval = [&](double a, double& fa, double& da) {
      x_new.resize(n);
      for (std::size_t j = 0; j < n; ++j) x_new[j] = theta[j] + a * dir[j];
      fa = f(x_new, g_new);
      da = dot(g_new, dir);
    };
    auto decrease_ok = [&](double a, double fa, double da) {
      // Armijo, or the approximate-Wolfe form (Hager-Zhang) once f is at rounding level.
      return fa <= fx + c1 * a * dphi0 || (fa <= fx + f_noise && da <= (1.0 - 2.0 * c1) * std::fabs(dphi0));
    };
    bool found = false;
    double a_prev = 0.0, f_prev = fx, d_prev = dphi0;
    double a_lo = 0, f_lo = 0, d_lo = 0, a_hi = 0, f_hi = 0, d_hi = 0;
    bool zoom = false;
    std::vector<double> best_x, best_g;
    double best_f = fx;
    double first_step = step, first_d = dphi0;
    for (int ls = 0; ls < 25 && !found && !zoom; ++ls) {
      double fa, da;
      eval(step, fa, da);
      if (ls == 0) first_d = da;
      if (!decrease_ok(step, fa, da) || (ls > 0 && fa >= f_prev)) {
        a_lo = a_prev; f_lo = f_prev; d_lo = d_prev; a_hi = step; f_hi = fa; d_hi = da;
        zoom = true;
      } else if (std::fabs(da) <= -c2 * dphi0) {
        found = true;
        best_f = fa; best_x = x_new; best_g = g_new;
      } else if (da >= 0.0) {
        a_lo = step; f_lo = fa; d_lo = da; a_hi = a_prev; f_hi = f_prev; d_hi = d_prev;
        best_f = fa; best_x = x_new; best_g = g_new;
        zoom = true;
      } else {
        best_f = fa; best_x = x_new; best_g = g_new;
        a_prev = step; f_prev = fa; d_prev = da;
        step *= 2.0;
      }
    }
    if (zoom) {
      for (int z = 0; z < 30 && !found; ++z) {
        const double a = detail::cubic_step(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi);
        double fa, da;
        eval(a, fa, da);
        if (!decrease_ok(a, fa, da) || fa >= f_lo) {
          a_hi = a; f_hi = fa; d_hi = da;
        } else {
          best_f = fa; best_x = x_new; best_g = g_new;
          if (std::fabs(da) <= -c2 * dphi0) {
            found = true;
            break;
          }
          if (da * (a_hi - a_lo) >= 0.0) {
            a_hi = a_lo; f_hi = f_lo; d_hi = d_lo;
          }
          a_lo = a; f_lo = fa; d_lo = da;
        }
        if (std::fabs(a_hi - a_lo) <= 1e-16 * std::max(1.0, std::fabs(a_lo))) break;
      }
    }
    if (!found && first_d > dphi0) {
      // Near the optimum f changes below its rounding and comparisons of f
      // mislead the search. The objective is quadratic, so its directional
      // derivative is linear in the step: the secant through (0, dphi0) and the
      // first trial gives the exact line minimizer from derivatives alone.
      const double a = first_step * (-dphi0) / (first_d - dphi0);
      double fa, da;
      eval(a, fa, da);
      if (std::fabs(da) <= -c2 * dphi0 && fa <= fx + f_noise) {
        found = true;
        best_f = fa; best_x = x_new; best_g = g_new;
      }
    }
    if (best_x.empty() || !(best_f <= fx + f_noise)) {
      // No decrease possible: the iterate is as good as rounding allows.
      res.converged = max_abs(g) <= gtol;
      if (!res.converged) res.message = "line search could not decrease the loss further (rounding limit)";
      break;
    }
    // Update the history with s = x_new - x, y = g_new - g.
    std::vector<double> s(n), yv(n);
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = best_x[j] - theta[j];
      yv[j] = best_g[j] - g[j];
    }
    hist.push(std::move(s), std::move(yv));
    theta = best_x;
    g = best_g;
    fx = best_f;
    ++iter;
    res.loss_history.push_back(fx);
    res.converged = max_abs(g) <= gtol;
  }
  finish_minimize(res, iter, g, fx);
}

// Gradients evaluated in X's precision cannot be resolved below a few thousand
// ulps of their starting size, so the relative tolerance is floored there.
template <class T>
FitOptions with_tolerance_floor(FitOptions opt) {
  opt.tol = std::max(opt.tol, 1000.0 * static_cast<double>(std::numeric_limits<T>::epsilon()));
  return opt;
}

// ---- gradient descent ------------------------------------------------------------

// Full-batch gradient descent; the step comes from backtracking (Armijo,
// halving) and grows by 1.25 after every accepted step. `obj(theta, grad)` as
// for lbfgs_minimize (the CUDA backend passes its own objective).
template <class F>
void gd_minimize(F& obj, std::vector<double>& theta, const FitOptions& opt, FitResult& res) {
  std::vector<double> g, g_new, x_new;
  double fx = obj(theta, g);
  const double g0 = max_abs(g);
  const double gtol = opt.tol * g0;
  double step = 1.0;
  res.converged = g0 == 0.0;
  int iter = 0;
  while (!res.converged && iter < opt.max_iter) {
    const double gg = dot(g, g);
    bool accepted = false;
    double fnew = fx;
    for (int bt = 0; bt < 60; ++bt) {
      x_new = theta;
      for (std::size_t j = 0; j < theta.size(); ++j) x_new[j] -= step * g[j];
      fnew = obj(x_new, g_new);
      // Armijo with c = 1/2. For this quadratic objective it is equivalent to
      // g_new . g >= 0, which stays decidable once f changes below its rounding.
      if (fnew <= fx - 0.5 * step * gg || (fnew <= fx + 1e-8 * std::fabs(fx) && dot(g_new, g) >= 0.0)) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      res.converged = max_abs(g) <= gtol;
      if (!res.converged) res.message = "backtracking could not decrease the loss further (rounding limit)";
      break;
    }
    theta = x_new;
    g = g_new;
    fx = fnew;
    step *= 1.25;
    ++iter;
    res.loss_history.push_back(fx);
    res.converged = max_abs(g) <= gtol;
  }
  finish_minimize(res, iter, g, fx);
}

enum class Minimizer { Lbfgs, Gd };

// An iterative fit: `make(opt, theta)` builds the objective and writes the
// starting point; the CPU solvers and the CUDA backend differ only there (and
// in the finish_iterative overload that the objective selects).
template <class T, class MakeObjective>
FitResult fit_iterative(Minimizer minimizer, const FitOptions& options, MakeObjective&& make) {
  const FitOptions opt = with_tolerance_floor<T>(options);
  std::vector<double> theta;
  auto obj = make(opt, theta);
  FitResult res;
  if (minimizer == Minimizer::Lbfgs) {
    lbfgs_minimize(obj, theta, opt, res);
  } else {
    gd_minimize(obj, theta, opt, res);
  }
  finish_iterative(obj, theta, res);
  return res;
}

// ---- lbfgs on the data: one pass per iteration ------------------------------------

// Rows of lbfgs' sample: evenly spread blocks of kSampleBlock rows.
constexpr index_t kSampleBlock = 256;

// The rows of lbfgs' sample, about 2 n / d of them (the sample's Gram costs
// about m d^2 / 2 multiply-adds, near a tenth of one pass over X), in blocks;
// 0 when that leaves fewer than 8 (d + 2) rows.
inline index_t sample_rows(index_t n, index_t d) {
  const index_t m = std::min(n / 4, 2 * n / std::max<index_t>(d, 1));
  return m < 8 * (d + 2) ? 0 : m;
}

// The sample's rows as [begin, end) blocks of kSampleBlock rows spread evenly
// over n (the last may overlap its neighbour); none when sample_rows is 0.
// Dask's lbfgs reads the same blocks (_core.sample_blocks).
inline std::vector<std::pair<index_t, index_t>> sample_blocks(index_t n, index_t d) {
  std::vector<std::pair<index_t, index_t>> out;
  const index_t m = sample_rows(n, d);
  if (m == 0) return out;
  const index_t blocks = std::max<index_t>(1, m / kSampleBlock);
  for (index_t k = 0; k < blocks; ++k) {
    const index_t i0 = std::min(k * n / blocks, n - std::min(n, kSampleBlock));
    out.emplace_back(i0, i0 + std::min(kSampleBlock, n - i0));
  }
  return out;
}

// The preconditioner lbfgs builds from its sample: M = the sample's Hessian of
// the loss in the solver's coordinates (v = sigma w; the intercept's entry is
// 2 and decoupled by the centering), used as L-BFGS's initial inverse Hessian
// when the problem is ill-conditioned. Row sampling alone makes M's condition
// about kappa_s = ((1 + r) / (1 - r))^2 with r = sqrt(d / m); the plain
// method converges at a rate set by the full problem's condition, about
// kappa / kappa_s, so M is used when kappa > kappa_s^2 (and r < 1/2).
struct SamplePreconditioner {
  bool use = false;
  std::vector<double> chol;     // lower Cholesky factor of M (d x d, row-major)
  double kappa = 1.0;           // condition of M (power iterations)
  double kappa_sampling = 1.0;  // kappa_s
};

// lambda_max / lambda_min of the SPD matrix with factor l, from power
// iterations on M and on M^-1 (about 10 % accuracy is all the rule needs).
inline double spd_condition(const std::vector<double>& m, const std::vector<double>& l, index_t d) {
  auto iterate = [&](bool inverse) {
    std::vector<double> v(static_cast<std::size_t>(d)), w(static_cast<std::size_t>(d));
    for (index_t j = 0; j < d; ++j) v[j] = 1.0 + 0.5 * static_cast<double>(j % 3);
    double lam = 0.0;
    for (int it = 0; it < 40; ++it) {
      double nv = std::sqrt(dot(v, v));
      for (double& e : v) e /= nv;
      if (inverse) {
        w = v;
        linalg::cholesky_solve(l, d, w);
      } else {
        for (index_t j = 0; j < d; ++j) {
          double t = 0.0;
          for (index_t k = 0; k < d; ++k) t += m[j * d + k] * v[k];
          w[j] = t;
        }
      }
      lam = std::sqrt(dot(w, w));
      v.swap(w);
    }
    return lam;
  };
  const double lmax = iterate(false), inv_lmin = iterate(true);
  return lmax * inv_lmin;
}

inline SamplePreconditioner sample_preconditioner(const GramStats& st, index_t rows, bool fit_intercept,
                                                  const std::vector<double>& sigma, const std::vector<double>& lam,
                                                  const std::vector<char>& frozen) {
  SamplePreconditioner pc;
  const index_t d = st.d;
  const double S = st.sum_weights();
  if (!(S > 0.0) || d == 0) return pc;
  std::vector<double> a, rhs;
  double syy = 0.0;
  normal_equations(st, fit_intercept, a, rhs, syy);
  std::vector<double> m(static_cast<std::size_t>(d * d));
  index_t active = 0;
  double diag_sum = 0.0;
  for (index_t j = 0; j < d; ++j) {
    const bool fj = !frozen.empty() && frozen[j];
    for (index_t k = 0; k < d; ++k) {
      const bool fk = !frozen.empty() && frozen[k];
      m[j * d + k] = fj || fk ? 0.0 : 2.0 * a[j * d + k] / S / (sigma[j] * sigma[k]);
    }
    if (!fj) {
      m[j * d + j] += 2.0 * lam[j];
      diag_sum += m[j * d + j];
      ++active;
    }
  }
  if (active == 0) return pc;
  for (index_t j = 0; j < d; ++j) {  // frozen columns: a neutral diagonal entry
    if (!frozen.empty() && frozen[j]) m[j * d + j] = diag_sum / static_cast<double>(active);
  }
  for (double v : m) {
    if (!std::isfinite(v)) return pc;
  }
  std::vector<double> l = m;
  if (!linalg::cholesky(l, d)) return pc;
  const double r = std::sqrt(static_cast<double>(active) / static_cast<double>(rows));
  if (!(r < 0.5)) return pc;
  pc.kappa_sampling = ((1.0 + r) / (1.0 - r)) * ((1.0 + r) / (1.0 - r));
  pc.kappa = spd_condition(m, l, d);
  pc.use = std::isfinite(pc.kappa) && pc.kappa > pc.kappa_sampling * pc.kappa_sampling;
  if (pc.use) pc.chol = std::move(l);
  return pc;
}

// Groups of consecutive sample blocks: each sums its blocks' Grams in order,
// then the groups are summed in order (a fixed association for any thread
// count, and only kSampleGroups partial Grams in memory).
constexpr index_t kSampleGroups = 8;

// The statistics of lbfgs' row sample (evenly spread blocks, no copy) about
// `shift`: each block's Gram in one shard on one thread.
template <class T>
GramStats sample_stats(const MatrixView<T>& X, const T* y, const T* sw,
                       const std::vector<std::pair<index_t, index_t>>& blocks, const std::vector<double>& shift,
                       int n_threads) {
  const index_t d = X.cols, da = d + 2;
  const auto n_blocks = static_cast<index_t>(blocks.size());
  const index_t m = n_blocks * kSampleBlock;
  const ShardPlan groups = make_plan(0, n_blocks, kSampleGroups);
  std::vector<double> partials(static_cast<std::size_t>(groups.n_shards * da * da), 0.0);
  std::vector<index_t> counts(static_cast<std::size_t>(groups.n_shards), 0);
  const double work = static_cast<double>(m) * static_cast<double>(da * da) * 0.5 / 8e9;
  for_each_shard(groups, threads_for_work(work, n_threads), [&](index_t g) {
    double* out = partials.data() + g * da * da;
    BlockGrams<T> grams(d, sw != nullptr);
    for (index_t k = groups.shard_begin(g); k < groups.shard_end(g); ++k) {
      const index_t i0 = blocks[k].first;
      MatrixView<T> part = X;
      part.rows = blocks[k].second - i0;
      part.data = X.layout == Layout::RowMajor ? X.row(i0) : X.data + i0;
      grams.add(part, y + i0, sw ? sw + i0 : nullptr, shift.data(), out);
      counts[g] += part.rows;
    }
  });
  GramStats total;
  total.d = d;
  total.shift = shift;
  total.gram.assign(static_cast<std::size_t>(da * da), 0.0);
  for (index_t g = 0; g < groups.n_shards; ++g) {
    for (index_t e = 0; e < da * da; ++e) total.gram[e] += partials[g * da * da + e];
    total.n_rows += counts[g];
  }
  return total;
}

// What lbfgs takes from its sample: a warm start (the sample's exact
// least-squares solution: its gradient on the full data is only the sampling
// error, a few thousandths of the gradient at zero for typical data) and the
// preconditioner. The warm start needs a closed form (a uniform penalty, no
// frozen columns, no start given by the caller); the preconditioner does not.
struct SampleStart {
  bool warm = false;
  std::vector<double> w;
  double b = 0.0;
  index_t rows = 0;
  SamplePreconditioner pc;
};

// The warm start from the sample's statistics; false if none.
inline bool sample_solution(const GramStats& total, double alpha, bool fit_intercept, std::vector<double>& w,
                            double& b) {
  for (double v : total.gram) {
    if (!std::isfinite(v)) return false;
  }
  try {
    const FitResult r = solve_from_stats(total, alpha, fit_intercept);
    if (r.rank < total.d) return false;  // the sample cannot pin every coefficient down
    for (double v : r.coef) {
      if (!std::isfinite(v)) return false;
    }
    if (!std::isfinite(r.intercept)) return false;
    w = r.coef;
    b = r.intercept;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

template <class T>
SampleStart lbfgs_sample(const LeastSquaresObjective<T>& obj, const FitOptions& opt) {
  SampleStart out;
  const MatrixView<T>& X = obj.X;
  const index_t n = X.rows, d = X.cols;
  const auto blocks = sample_blocks(n, d);
  if (blocks.empty()) return out;
  std::vector<double> shift(static_cast<std::size_t>(d + 1));  // one shift for every block: sums add up
  for (index_t j = 0; j < d; ++j) shift[j] = static_cast<double>(X(0, j));
  shift[d] = static_cast<double>(obj.y[0]);
  const GramStats total = sample_stats(X, obj.y, obj.sw, blocks, shift, opt.n_threads);
  out.rows = total.n_rows;
  const bool closed_form =
      !opt.has_init && obj.uniform && opt.frozen.empty() && !(opt.standardize && opt.alpha != 0.0);
  if (closed_form) out.warm = sample_solution(total, opt.alpha, opt.fit_intercept, out.w, out.b);
  out.pc = sample_preconditioner(total, out.rows, opt.fit_intercept, obj.sigma, obj.lam, opt.frozen);
  return out;
}

// M^-1 q in place for the preconditioner: Cholesky solves on the coefficients,
// the intercept's entry (2) halved.
inline void apply_preconditioner(const SamplePreconditioner& pc, index_t d, std::vector<double>& q) {
  std::vector<double> v(q.begin(), q.begin() + d);
  linalg::cholesky_solve(pc.chol, d, v);
  std::copy(v.begin(), v.end(), q.begin());
  q[d] *= 0.5;
}

// lbfgs recomputes the gradient from the data at least every this many steps.
constexpr int kGradientRefresh = 8;

// L-BFGS with exact line searches. The loss is quadratic, so one pass gives
// H p for the search direction p, and with it the exact step a = -g.p / p.Hp,
// the next gradient g + a Hp and the next loss: every iteration reads X once,
// with no line-search trials. The gradient is carried that way and recomputed
// from the data (a second probe of the same pass) every kGradientRefresh
// steps, so rounding cannot accumulate. The first pass gives the gradient at
// the start, the exact column means (a probe with u = 1), which become the
// centering point, and, after the sample warm start, the gradient at the
// default start that the tolerance is relative to.
// Stops when max|g| <= tol * max|g at the default start|.
template <class T>
void lbfgs_least_squares(LeastSquaresObjective<T>& obj, std::vector<double>& theta, const FitOptions& opt,
                         FitResult& res) {
  const index_t d = obj.X.cols;
  const std::size_t n = theta.size();
  // The default start (zero or the caller's coefficients) on X's scale; the
  // tolerance is relative to the gradient there.
  std::vector<double> w_ref, w_start;
  double b_ref = 0.0, b_start = 0.0;
  obj.to_model(theta, w_ref, b_ref);
  const SampleStart smp = lbfgs_sample(obj, opt);
  const bool warm = smp.warm;
  if (warm) {
    w_start = smp.w;
    b_start = smp.b;
  } else {
    w_start = w_ref;
    b_start = b_ref;
  }
  bool ref_is_zero = true;
  for (double v : w_ref) ref_is_zero = ref_is_zero && v == 0.0;
  std::vector<Probe> probes{Probe{w_start.data(), b_start, true}};
  const bool means = opt.fit_intercept && !opt.standardize;
  if (means) probes.push_back(Probe{nullptr, 1.0, false});  // u = 1: sum s x and sum s
  if (warm) probes.push_back(Probe{ref_is_zero ? nullptr : w_ref.data(), b_ref, true});
  const ProbeSums first = obj.pass(probes);
  if (means) {
    // Exact column means: centering there makes the intercept direction
    // orthogonal to the others, the best-conditioned parametrization.
    const double* sx = first.ux(1);
    for (index_t j = 0; j < d; ++j) obj.mu[j] = sx[j] / first.sum_u[1];
    for (double v : obj.mu) {
      if (!std::isfinite(v)) throw std::domain_error("non-finite column means");
    }
  }
  // theta of a model (w, b) in the objective's coordinates.
  auto to_theta = [&](const std::vector<double>& w, double b, std::vector<double>& t) {
    t.assign(n, 0.0);
    for (index_t j = 0; j < d; ++j) t[j] = w[j] * obj.sigma[j];
    if (opt.fit_intercept) {
      t[d] = b;
      for (index_t j = 0; j < d; ++j) t[d] += obj.mu[j] * w[j];
    }
  };
  std::vector<double> g, hp, theta_ref;
  to_theta(w_start, b_start, theta);
  obj.theta_grad(first, 0, theta, g);
  double fx = first.uu(0, 0) / obj.sum_w + obj.penalty_dot(theta, theta);
  double g0 = max_abs_of(g);
  if (warm) {
    std::vector<double> g_ref;
    to_theta(w_ref, b_ref, theta_ref);
    obj.theta_grad(first, means ? 2 : 1, theta_ref, g_ref);
    g0 = max_abs_of(g_ref);
  }
  if (!std::isfinite(fx) || !std::isfinite(g0) || !std::isfinite(max_abs_of(g))) {
    throw std::domain_error("non-finite loss or gradient");
  }
  const double gtol = opt.tol * g0;
  detail::LbfgsHistory hist(opt.history);
  std::vector<double> dir, pw;
  res.converged = max_abs(g) <= gtol;
  int iter = 0;
  // Steps since g last came from the data (the first pass gave it). In
  // between, g + a Hp carries it: exact for the quadratic, with rounding of
  // order eps max|g| per step in double. Every kGradientRefresh steps (and
  // every step for float32 data, whose kernels round at 1e-7) the pass also
  // recomputes it, two probes instead of one.
  int since_fresh = 0;
  auto fresh_gradient = [](int steps) {
    return !std::is_same<T, double>::value || steps >= kGradientRefresh;
  };
  if (warm) res.notes = "started from the exact solution of " + std::to_string(smp.rows) + " sampled rows";
  if (smp.pc.use) {
    if (!res.notes.empty()) res.notes += "; ";
    char buf[160];
    std::snprintf(buf, sizeof buf, "preconditioned by the sample's Hessian (its condition %.3g > %.3g)", smp.pc.kappa,
                  smp.pc.kappa_sampling * smp.pc.kappa_sampling);
    res.notes += buf;
  }
  while (!res.converged && iter < opt.max_iter) {
    if (smp.pc.use) {
      hist.direction(g, dir, [&](std::vector<double>& q) { apply_preconditioner(smp.pc, d, q); });
    } else {
      hist.direction(g, dir);
    }
    // Unit length: the exact step absorbs the scale, and the probe's sums
    // (x^T p)^2 stay in range in float32 when g is huge (the first direction is -g).
    const double dir_norm = std::sqrt(dot(dir, dir));
    if (!(dir_norm > 0.0) || !std::isfinite(dir_norm)) throw std::domain_error("non-finite loss or gradient");
    for (double& e : dir) e /= dir_norm;
    double pb = 0.0;
    obj.to_model(dir, pw, pb);
    double gp = 0.0, php = 0.0;
    if (fresh_gradient(since_fresh)) {
      std::vector<double> wt;
      double bt = 0.0;
      obj.to_model(theta, wt, bt);
      const ProbeSums ps = obj.pass({Probe{wt.data(), bt, true}, Probe{pw.data(), pb, false}});
      // The gradient and loss at theta from the data (they equal the values
      // carried over from the last steps up to rounding), and H p.
      obj.theta_grad(ps, 0, theta, g);
      obj.theta_grad(ps, 1, dir, hp);
      fx = ps.uu(0, 0) / obj.sum_w + obj.penalty_dot(theta, theta);
      since_fresh = 0;
      if (!std::isfinite(fx) || !std::isfinite(max_abs_of(g)) || !std::isfinite(max_abs_of(hp))) {
        throw std::domain_error("non-finite loss or gradient");
      }
      if (max_abs(g) <= gtol) {
        res.converged = true;
        break;
      }
      gp = 2.0 * ps.uu(0, 1) / obj.sum_w + 2.0 * obj.penalty_dot(theta, dir);
      php = 2.0 * ps.uu(1, 1) / obj.sum_w + 2.0 * obj.penalty_dot(dir, dir);
    } else {  // H p alone: a one-probe pass
      const ProbeSums ps = obj.pass({Probe{pw.data(), pb, false}});
      obj.theta_grad(ps, 0, dir, hp);
      if (!std::isfinite(max_abs_of(hp))) throw std::domain_error("non-finite loss or gradient");
      gp = dot(g, dir);
      php = 2.0 * ps.uu(0, 0) / obj.sum_w + 2.0 * obj.penalty_dot(dir, dir);
    }
    if (!std::isfinite(gp) || !std::isfinite(php)) throw std::domain_error("non-finite loss or gradient");
    if (!(php > 0.0) || !(gp < 0.0)) {
      // No curvature or no descent along p: theta is as good as rounding allows.
      res.message = "no further decrease along the search direction (rounding limit)";
      break;
    }
    const double a = -gp / php;
    std::vector<double> s(n), yv(n);
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = a * dir[j];
      yv[j] = a * hp[j];
      theta[j] += s[j];
      g[j] += yv[j];
    }
    // f(theta + a p) = f + a g.p + a^2 p.Hp / 2 with a = -g.p / p.Hp; a sum of
    // squares, so not below 0 (the update can round there when f drops to ~0).
    fx = std::max(0.0, fx + 0.5 * a * gp);
    hist.push(std::move(s), std::move(yv));
    ++iter;
    ++since_fresh;
    res.loss_history.push_back(fx);
    res.converged = max_abs(g) <= gtol;
  }
  finish_minimize(res, iter, g, fx);
}

template <class T>
FitResult fit_lbfgs(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& options) {
  const FitOptions opt = with_tolerance_floor<T>(options);
  std::vector<double> theta;
  // lbfgs' first pass gives the exact means: no sampled centering point.
  LeastSquaresObjective<T> obj = make_objective(X, y, sw, opt, theta, /*sample_center=*/false);
  FitResult res;
  lbfgs_least_squares(obj, theta, opt, res);
  finish_iterative(obj, theta, res);
  return res;
}

template <class T>
FitResult fit_gd(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& options) {
  return fit_iterative<T>(Minimizer::Gd, options, [&](const FitOptions& opt, std::vector<double>& theta) {
    return make_objective(X, y, sw, opt, theta);
  });
}

// ---- SGD: the Keras recipe --------------------------------------------------------

// A small, fully specified generator (splitmix64) so that shuffles are the
// same on every platform for a given seed.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, bound) without modulo bias.
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t limit = (~bound + 1) % bound;  // 2^64 mod bound
    for (;;) {
      const std::uint64_t r = next();
      const unsigned __int128 m = static_cast<unsigned __int128>(r) * bound;
      if (static_cast<std::uint64_t>(m) >= limit) return static_cast<std::uint64_t>(m >> 64);
    }
  }
};

namespace detail {

// One epoch of mini-batch SGD over rows in `order`. Per batch: gradient of
// mean_batch(s r^2) + alpha |w|^2, then w -= lr * grad (Keras' SGD without
// momentum). Returns sum over batches of (batch size * batch loss).
template <class T, int W>
FASTCOST_INLINE void sgd_epoch_body(MatrixView<T> X, const T* y, const T* sw, const std::uint32_t* order, index_t batch,
                                    T lr, T alpha, T* w, T* b, bool fit_intercept, T* g, double* epoch_loss) {
  const index_t n = X.rows, d = X.cols;
  double total = 0.0;
  for (index_t k0 = 0; k0 < n; k0 += batch) {
    // An epoch over a large X takes a while: honour Ctrl-C between batches.
    if ((k0 / batch) % 256 == 255 && cancel_requested()) return;
    const index_t nb = std::min(batch, n - k0);
    std::fill(g, g + d, T(0));
    T gb = 0, loss = 0;
    for (index_t k = k0; k < k0 + nb; ++k) {
      const auto i = static_cast<index_t>(order[k]);
      T r;
      if (X.layout == Layout::RowMajor) {
        r = simd::dot<T, W>(X.row(i), w, d);
      } else {
        r = 0;
        for (index_t j = 0; j < d; ++j) r += X(i, j) * w[j];
      }
      r += *b - y[i];
      const T s = sw ? sw[i] : T(1);
      const T sr = s * r;
      loss += sr * r;
      gb += sr;
      if (X.layout == Layout::RowMajor) {
        simd::axpy<T, W>(g, sr, X.row(i), d);
      } else {
        for (index_t j = 0; j < d; ++j) g[j] += sr * X(i, j);
      }
    }
    const T inv = T(1) / static_cast<T>(nb);
    T pen = 0;
    for (index_t j = 0; j < d; ++j) pen += w[j] * w[j];
    total += static_cast<double>(nb) * static_cast<double>(loss * inv + alpha * pen);
    for (index_t j = 0; j < d; ++j) w[j] -= lr * (T(2) * g[j] * inv + T(2) * alpha * w[j]);
    if (fit_intercept) *b -= lr * T(2) * gb * inv;
  }
  *epoch_loss = total;
}

FASTCOST_MULTIVERSION(sgd_epoch, sgd_epoch_body)

// What the standardized / penalized / pruned epoch needs besides the plain one.
template <class T>
struct SgdPrep {
  const double* mu;     // column offsets (zeros unless standardizing with an intercept)
  const double* sigma;  // column scales (ones unless standardizing)
  const T* lam;         // per-column penalty on v
  const char* frozen;   // null, or 1 for columns held at zero
  T* xt;                // d values: the current row, standardized on the fly
};

// The same epoch on x~ = (x - mu) / sigma, formed one row at a time in a
// d-sized buffer (never a copy of X), with the arithmetic of
// StandardScaler.transform so that it trains exactly the Keras recipe on
// standardized inputs. v and b are the standardized model's parameters.
template <class T, int W>
FASTCOST_INLINE void sgd_epoch_prep_body(MatrixView<T> X, const T* y, const T* sw, const std::uint32_t* order,
                                         index_t batch, T lr, const SgdPrep<T>* prep, T* v, T* b,
                                         bool fit_intercept, T* g, double* epoch_loss) {
  const index_t n = X.rows, d = X.cols;
  T* xt = prep->xt;
  double total = 0.0;
  for (index_t k0 = 0; k0 < n; k0 += batch) {
    const index_t nb = std::min(batch, n - k0);
    std::fill(g, g + d, T(0));
    T gb = 0, loss = 0;
    for (index_t k = k0; k < k0 + nb; ++k) {
      const auto i = static_cast<index_t>(order[k]);
      for (index_t j = 0; j < d; ++j) {
        const T c = static_cast<T>(static_cast<double>(X(i, j)) - prep->mu[j]);
        xt[j] = static_cast<T>(static_cast<double>(c) / prep->sigma[j]);
      }
      const T r = simd::dot<T, W>(xt, v, d) + *b - y[i];
      const T s = sw ? sw[i] : T(1);
      const T sr = s * r;
      loss += sr * r;
      gb += sr;
      simd::axpy<T, W>(g, sr, xt, d);
    }
    const T inv = T(1) / static_cast<T>(nb);
    T pen = 0;
    for (index_t j = 0; j < d; ++j) pen += prep->lam[j] * v[j] * v[j];
    total += static_cast<double>(nb) * static_cast<double>(loss * inv + pen);
    for (index_t j = 0; j < d; ++j) {
      if (prep->frozen && prep->frozen[j]) continue;
      v[j] -= lr * (T(2) * g[j] * inv + T(2) * prep->lam[j] * v[j]);
    }
    if (fit_intercept) *b -= lr * T(2) * gb * inv;
  }
  *epoch_loss = total;
}

FASTCOST_MULTIVERSION(sgd_epoch_prep, sgd_epoch_prep_body)

}  // namespace detail

// The Keras recipe with the same math: mini-batches of batch_size rows in an
// order reshuffled every epoch, constant learning rate, max_iter epochs. The
// parameters live in X's precision, like a Keras model's. Initial weights come
// from the caller (Keras' Glorot-uniform draw is done in Python).
template <class T>
FitResult fit_sgd(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& opt) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  if (opt.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1");
  std::vector<T> w(static_cast<std::size_t>(d), T(0)), g(static_cast<std::size_t>(d));
  T b = 0;
  if (opt.has_init) {
    for (index_t j = 0; j < d; ++j) w[j] = static_cast<T>(opt.coef_init[j]);
    b = opt.fit_intercept ? static_cast<T>(opt.intercept_init) : T(0);
  }
  // Standardizing, noise or pruning: train v = sigma * w on x~ = (x - mu) / sigma.
  const bool prepped = opt.standardize || opt.noise_var > 0.0 || !opt.frozen.empty();
  std::vector<double> mu(static_cast<std::size_t>(d), 0.0), sigma(static_cast<std::size_t>(d), 1.0);
  std::vector<T> lam(static_cast<std::size_t>(d)), xt(static_cast<std::size_t>(d));
  FitResult res;
  if (prepped) {
    if (!opt.frozen.empty() && static_cast<index_t>(opt.frozen.size()) != d) {
      throw std::invalid_argument("frozen has the wrong length");
    }
    if (opt.standardize) {
      const ColumnMoments m = compute_column_moments(X, sw, opt.n_shards, opt.n_threads);
      if (!m.finite) throw std::domain_error("non-finite column means");
      if (opt.fit_intercept) mu = m.mean;
      sigma = scale_from_moments(m);
      res.n_passes = 1;
    }
    double beta = static_cast<double>(b);
    for (index_t j = 0; j < d; ++j) {
      lam[j] = static_cast<T>(opt.alpha + opt.noise_var / (sigma[j] * sigma[j]));
      if (opt.has_init && !opt.init_standardized) {  // (w, b) on X's scale -> (v, b~)
        beta += mu[j] * static_cast<double>(w[j]);
        w[j] = static_cast<T>(static_cast<double>(w[j]) * sigma[j]);
      }
      if (!opt.frozen.empty() && opt.frozen[j]) w[j] = T(0);
    }
    if (opt.fit_intercept) b = static_cast<T>(beta);
  }
  // The epoch's row order is the one array of length n the recipe needs (Keras
  // keeps one too); 32-bit indices keep it at 4 bytes a row.
  if (static_cast<std::uint64_t>(n) > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("sgd shuffles at most 2^32 - 1 rows; use lbfgs or newton for more");
  }
  std::vector<std::uint32_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::uint32_t(0));
  SplitMix64 rng{opt.seed};
  const detail::SgdPrep<T> prep{mu.data(), sigma.data(), lam.data(),
                                opt.frozen.empty() ? nullptr : opt.frozen.data(), xt.data()};
  const Isa isa = active_isa();
  for (int epoch = 0; epoch < opt.max_iter; ++epoch) {
    if (cancel_requested()) throw Cancelled();
    for (index_t i = n - 1; i > 0; --i) {  // Fisher-Yates
      const auto j = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
      std::swap(order[i], order[j]);
    }
    double total = 0.0;
    if (prepped) {
      detail::sgd_epoch_prep<T>(isa, X, y, sw, order.data(), opt.batch_size, static_cast<T>(opt.learning_rate),
                                &prep, w.data(), &b, opt.fit_intercept, g.data(), &total);
    } else {
      detail::sgd_epoch<T>(isa, X, y, sw, order.data(), opt.batch_size, static_cast<T>(opt.learning_rate),
                           static_cast<T>(opt.alpha), w.data(), &b, opt.fit_intercept, g.data(), &total);
    }
    if (cancel_requested()) throw Cancelled();
    res.loss_history.push_back(total / static_cast<double>(n));
    if (!std::isfinite(res.loss_history.back())) {
      throw std::overflow_error("sgd diverged (the loss is no longer finite): lower learning_rate");
    }
  }
  res.n_iter = opt.max_iter;
  res.n_passes += opt.max_iter;
  res.coef.assign(w.begin(), w.end());
  res.intercept = static_cast<double>(b);
  if (prepped) {  // back to X's scale: w = v / sigma, b = b~ - mu^T w
    for (index_t j = 0; j < d; ++j) {
      res.coef[j] /= sigma[j];
      res.intercept -= mu[j] * res.coef[j];
    }
  }
  res.rank = d;
  res.converged = true;  // a fixed number of epochs is the recipe, not a tolerance
  return res;
}

}  // namespace fastcost
