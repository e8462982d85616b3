// newton: the penalized normal equations solved from one pass of sufficient
// statistics (gram.hpp), with equilibration, a condition estimate and the
// minimum-norm solution of rank-deficient systems.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "fastcost/fit_types.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/linalg.hpp"
#include "fastcost/matrix.hpp"

namespace fastcost {

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
  if (st.n_targets != 1) throw std::invalid_argument("the Gram solve takes one target's statistics (its (d + 2) block)");
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

// ||A^{-1}||_1 for A = L L^T from its Cholesky factor (cholesky()): LAPACK's
// estimate (dpocon) where the library path applies, else Hager's with our solves.
inline double cholesky_inverse_norm1(const std::vector<double>& l, index_t d) {
  if (const lapack::Table* t = lapack::get(d)) {
    char uplo = 'U';
    int n = lapack::as_int(d), info = 0;
    double one = 1.0, rcond = 0.0;
    std::vector<double> work(static_cast<std::size_t>(3 * d));
    std::vector<int> iwork(static_cast<std::size_t>(d));
    t->dpocon(&uplo, &n, const_cast<double*>(l.data()), &n, &one, &rcond, work.data(), iwork.data(), &info);
    return rcond > 0.0 ? 1.0 / rcond : std::numeric_limits<double>::infinity();
  }
  auto solve = [&](std::vector<double>& v) { linalg::cholesky_solve(l, d, v); };
  return linalg::inverse_norm1_estimate(d, solve, solve);
}

namespace detail {

// Equilibrates the penalized matrix a in place into the system of the active
// columns (those with a positive finite diagonal): a[:m*m] = D A D with
// D = diag(scale) over them, row-major with leading dimension m; b = D rhs.
// Compacting in place is safe: each entry is written at or before the position
// it was read from, and reads only move forward. Returns the 1-norm of D A D
// (a symmetric matrix's largest absolute row sum).
inline double equilibrate_in_place(std::vector<double>& a, const std::vector<double>& rhs, index_t d,
                                   const std::vector<index_t>& active, const std::vector<double>& scale,
                                   std::vector<double>& bs) {
  const index_t m = static_cast<index_t>(active.size());
  bs.resize(static_cast<std::size_t>(m));
  double norm1 = 0.0;
  for (index_t p = 0; p < m; ++p) {
    const index_t j = active[p];
    const double sj = scale[j];
    double row = 0.0;
    if (m == d) {
      double* aj = a.data() + j * d;
      for (index_t q = 0; q < d; ++q) {
        aj[q] *= sj * scale[q];
        row += std::fabs(aj[q]);
      }
    } else {
      for (index_t q = 0; q < m; ++q) {
        const double v = a[j * d + active[q]] * sj * scale[active[q]];
        a[p * m + q] = v;
        row += std::fabs(v);
      }
    }
    norm1 = std::max(norm1, row);
    bs[p] = rhs[j] * sj;
  }
  a.resize(static_cast<std::size_t>(m * m));
  return norm1;
}

// Rank-deficient systems: the minimum-norm least-squares solution. A
// particular solution from the equilibrated pseudo-inverse, then its
// component along the null space, measured in the original coordinates,
// removed. Sets res.coef, res.rank and res.condition_estimate.
inline void minimum_norm_solve(const std::vector<double>& as, const std::vector<double>& bs, index_t d,
                               const std::vector<index_t>& active, const std::vector<double>& scale, double rank_tol,
                               FitResult& res) {
  const index_t m = static_cast<index_t>(active.size());
  std::vector<double> values, vectors, xs(static_cast<std::size_t>(m), 0.0);
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
  res.condition_estimate =
      vmin_kept > 0 && std::isfinite(vmin_kept) ? vmax / vmin_kept : std::numeric_limits<double>::infinity();
}

}  // namespace detail

// Solves the penalized normal equations held in `st` (which may come from one
// pass here or from many Dask chunks merged). Rank-deficient systems get the
// minimum-norm solution of the (centered) least-squares problem. Besides the
// factorization the d x d work is two sweeps over one matrix: building the
// normal equations and equilibrating them in place. The factor overwrites the
// lower triangle only, so the upper one and the saved diagonal still give the
// equilibrated system to the rank-deficient path and to the loss.
inline FitResult solve_from_stats(const GramStats& st, double alpha, bool fit_intercept, bool minimum_norm = true) {
  const index_t d = st.d, yi = d, one = d + 1;
  const double S = st.sum_weights();
  if (!(S > 0.0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
  FitResult res;
  std::vector<double> as, rhs;
  double syy;
  normal_equations(st, fit_intercept, as, rhs, syy);
  const std::vector<double>& c = st.shift;
  for (index_t j = 0; j < d; ++j) as[j * d + j] += alpha * S;

  // Equilibrate: unit diagonal. Columns with zero diagonal (constant, or all
  // zero without intercept) cannot be determined and get coefficient 0.
  std::vector<double> scale(static_cast<std::size_t>(d), 0.0);
  std::vector<index_t> active;
  for (index_t j = 0; j < d; ++j) {
    if (as[j * d + j] > 0.0 && std::isfinite(as[j * d + j])) {
      scale[j] = 1.0 / std::sqrt(as[j * d + j]);
      active.push_back(j);
    }
  }
  const index_t m = static_cast<index_t>(active.size());
  std::vector<double> bs;
  const double norm1 = detail::equilibrate_in_place(as, rhs, d, active, scale, bs);
  std::vector<double> diag(static_cast<std::size_t>(m));
  for (index_t p = 0; p < m; ++p) diag[p] = as[p * m + p];
  const double eps = std::numeric_limits<double>::epsilon();
  const double rank_tol = 10.0 * static_cast<double>(std::max<index_t>(d, 1)) * eps;
  bool ok = m > 0 && linalg::cholesky(as, m);  // as now holds L below its diagonal
  double lmin = std::numeric_limits<double>::infinity(), lmax = 0.0;
  if (ok) {
    for (index_t p = 0; p < m; ++p) {
      lmin = std::min(lmin, as[p * m + p]);
      lmax = std::max(lmax, as[p * m + p]);
    }
    ok = lmin * lmin > rank_tol * lmax * lmax;
  }
  res.coef.assign(static_cast<std::size_t>(d), 0.0);
  if (ok) {
    std::vector<double> xs = bs;
    linalg::cholesky_solve(as, m, xs);
    // kappa_1 of the equilibrated Gram: its 1-norm times an estimate of
    // ||A^-1||_1 (a few Cholesky solves). The ratio of Cholesky pivots alone can
    // miss ill-conditioning by orders of magnitude, so it only serves as a floor.
    const double estimate = norm1 * cholesky_inverse_norm1(as, m);
    res.condition_estimate = std::max(estimate, (lmax / lmin) * (lmax / lmin));
    res.rank = m;
    for (index_t p = 0; p < m; ++p) res.coef[active[p]] = xs[p] * scale[active[p]];
  }
  for (index_t p = 0; p < m; ++p) {  // the equilibrated matrix again, from its upper triangle
    as[p * m + p] = diag[p];
    if (!ok)
      for (index_t q = p + 1; q < m; ++q) as[q * m + p] = as[p * m + q];
  }
  if (!ok && m > 0 && minimum_norm) detail::minimum_norm_solve(as, bs, d, active, scale, rank_tol, res);
  if (!ok && m > 0 && !minimum_norm) res.condition_estimate = std::numeric_limits<double>::infinity();
  if (m < d || res.rank < d) {
    res.singular = true;
    res.message = "the Gram matrix is singular (constant or collinear columns, fewer samples than "
                  "features, or a design too ill-conditioned for the normal equations, which square its "
                  "condition number: solver='qr' tells these apart); returned the minimum-norm solution";
  }
  if (fit_intercept) {
    double b = c[d] + st.at(yi, one) / S;
    for (index_t j = 0; j < d; ++j) b -= (c[j] + st.at(j, one) / S) * res.coef[j];
    res.intercept = b;
  }
  // Loss at the solution from the statistics: (syy - 2 w.rhs + w A0 w) / S +
  // alpha |w|^2, where w A0 w = u (D A D) u - alpha S |w|^2 with u = D^-1 w on
  // the active columns (the others have w = 0), from the upper triangle.
  double quad = 0.0, lin = 0.0, nrm2 = 0.0;
  std::vector<double> u(static_cast<std::size_t>(m));
  for (index_t p = 0; p < m; ++p) u[p] = res.coef[active[p]] / scale[active[p]];
  for (index_t p = 0; p < m; ++p) {
    const double* ap = as.data() + p * m;
    double off = 0.0;
    for (index_t q = p + 1; q < m; ++q) off += ap[q] * u[q];
    quad += u[p] * (ap[p] * u[p] + 2.0 * off);
  }
  for (index_t j = 0; j < d; ++j) {
    lin += res.coef[j] * rhs[j];
    nrm2 += res.coef[j] * res.coef[j];
  }
  quad -= alpha * S * nrm2;
  res.loss_history.push_back(std::max(0.0, (syy - 2.0 * lin + quad) / S) + alpha * nrm2);
  res.n_iter = 1;
  return res;
}

template <class T>
FitResult fit_newton(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& opt) {
  const GramStats st = compute_gram_stats(X, y, sw, nullptr, opt.n_shards, opt.n_threads);
  for (double v : st.gram) {
    if (!std::isfinite(v)) throw NonFiniteError("non-finite statistics");
  }
  FitResult res = solve_from_stats(st, opt.alpha, opt.fit_intercept, opt.minimum_norm);
  res.n_passes = 1;
  return res;
}

}  // namespace fastcost
