// The qr solve from a TSQR factor (tsqr.hpp): the penalized triangular solve
// in double or extended precision, its digits estimate, and fit_qr, which
// picks the working precision of the pass from that estimate.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "fastcost/fit_types.hpp"
#include "fastcost/lapack.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/newton.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/triangular.hpp"
#include "fastcost/tsqr.hpp"

namespace fastcost {

// ---- small dense tools for the solve (d x d, cost nothing next to the pass) ----

namespace linalg {

// R of the m x n row-major matrix a (m >= n is not required), by Householder;
// returns the n x n upper triangle, row-major. Used for the ridge rows and for
// re-triangularizing a few extra rows. Real: double or extended_t.
// Each reflector only visits the rows where its column is nonzero: adding a
// product with an exact zero changes no sum, so the result is that of the
// full loops, and the no-intercept factor (upper Hessenberg: one such row per
// column) costs O(n^2) instead of O(n^3).
template <class Real>
std::vector<Real> small_qr_r(std::vector<Real> a, index_t m, index_t n) {
  std::vector<index_t> rows;
  for (index_t j = 0; j < n && j < m; ++j) {
    rows.clear();
    for (index_t i = j + 1; i < m; ++i)
      if (a[i * n + j] != Real(0)) rows.push_back(i);
    Real xnorm2 = 0;
    for (index_t i : rows) xnorm2 += a[i * n + j] * a[i * n + j];
    if (xnorm2 == 0) continue;
    const Real alpha = a[j * n + j];
    const Real beta = -std::copysign(detail::hypot2(alpha, std::sqrt(xnorm2)), alpha);
    const Real tau = (beta - alpha) / beta, inv = 1 / (alpha - beta);
    for (index_t i : rows) a[i * n + j] *= inv;
    a[j * n + j] = beta;
    for (index_t k = j + 1; k < n; ++k) {
      Real w = a[j * n + k];
      for (index_t i : rows) w += a[i * n + j] * a[i * n + k];
      w *= tau;
      a[j * n + k] -= w;
      for (index_t i : rows) a[i * n + k] -= w * a[i * n + j];
    }
  }
  std::vector<Real> r(static_cast<std::size_t>(n * n), Real(0));
  for (index_t i = 0; i < std::min(m, n); ++i)
    for (index_t j = i; j < n; ++j) r[i * n + j] = a[i * n + j];
  return r;
}

// Solves R x = b (trans = false) or R^T x = b for the n x n upper-triangular
// row-major R with leading dimension ld.
template <class Real>
void tri_solve(const Real* r, index_t n, index_t ld, std::vector<Real>& b, bool trans) {
  if (!trans) {
    for (index_t i = n - 1; i >= 0; --i) {
      Real v = b[i];
      for (index_t k = i + 1; k < n; ++k) v -= r[i * ld + k] * b[k];
      b[i] = v / r[i * ld + i];
    }
  } else {
    for (index_t i = 0; i < n; ++i) {
      Real v = b[i];
      for (index_t k = 0; k < i; ++k) v -= r[k * ld + i] * b[k];
      b[i] = v / r[i * ld + i];
    }
  }
}

// tri_solve, in vector form (triangular.hpp) from order kTriangularMinOrder in double.
template <class Real>
void factor_solve(const Real* r, index_t n, index_t ld, std::vector<Real>& b, bool trans) {
  if constexpr (std::is_same_v<Real, double>) {
    if (n >= kTriangularMinOrder) {
      upper_solve(r, n, ld, b.data(), trans);
      return;
    }
  }
  tri_solve(r, n, ld, b, trans);
}

// Active columns from which a rank-deficient solve takes LAPACK's SVD. Below
// it Jacobi's is as quick (0.2 s at 200 columns) and keeps its advantages:
// small singular values to high relative accuracy, and the same digits with
// any number of BLAS threads (OpenBLAS's dgesdd moves the last digit or two).
constexpr index_t kLapackSvdMinOrder = 256;

// jacobi_svd's outputs from LAPACK's dgesdd for the m x n column-major g
// (m >= n): g's columns U * Sigma, v the right singular vectors by columns.
// False (g untouched) below kLapackSvdMinOrder, without LAPACK or when it
// fails. Jacobi's sweeps cost O(m n^2) each: minutes at n = 2,000, where
// dgesdd takes a second.
inline bool lapack_svd(std::vector<double>& g, index_t m, index_t n, std::vector<double>& v) {
  const lapack::Table* t = n >= kLapackSvdMinOrder ? lapack::get(n) : nullptr;
  if (!t || m < n) return false;
  char jobz = 'S';
  int mi = lapack::as_int(m), ni = lapack::as_int(n), lwork = -1, info = 0;
  std::vector<double> a(g), s(static_cast<std::size_t>(n)), u(static_cast<std::size_t>(m * n)),
      vt(static_cast<std::size_t>(n * n));
  std::vector<int> iwork(static_cast<std::size_t>(8 * n));
  double work_size = 0.0;
  t->dgesdd(&jobz, &mi, &ni, a.data(), &mi, s.data(), u.data(), &mi, vt.data(), &ni, &work_size, &lwork,
            iwork.data(), &info);
  if (info != 0) return false;
  lwork = static_cast<int>(work_size) + 1;
  std::vector<double> work(static_cast<std::size_t>(lwork));
  t->dgesdd(&jobz, &mi, &ni, a.data(), &mi, s.data(), u.data(), &mi, vt.data(), &ni, work.data(), &lwork,
            iwork.data(), &info);
  if (info != 0) return false;
  v.assign(static_cast<std::size_t>(n * n), 0.0);
  for (index_t k = 0; k < n; ++k) {
    for (index_t i = 0; i < m; ++i) g[k * m + i] = u[k * m + i] * s[k];
    for (index_t c = 0; c < n; ++c) v[k * n + c] = vt[c * n + k];  // row k of V^T
  }
  return true;
}

// One-sided Jacobi SVD (Hestenes) of the m x n column-major matrix g: on
// return its columns are U * Sigma (norms = singular values), and v (n x n,
// column-major) holds the right singular vectors. Accurate to high relative
// precision, which is what a rank decision needs.
template <class Real>
void jacobi_svd(std::vector<Real>& g, index_t m, index_t n, std::vector<Real>& v) {
  v.assign(static_cast<std::size_t>(n * n), Real(0));
  for (index_t i = 0; i < n; ++i) v[i * n + i] = 1;
  const Real eps = std::numeric_limits<Real>::epsilon();
  for (int sweep = 0; sweep < 60; ++sweep) {
    bool rotated = false;
    for (index_t a = 0; a < n - 1; ++a) {
      for (index_t b = a + 1; b < n; ++b) {
        Real* ga = g.data() + a * m;
        Real* gb = g.data() + b * m;
        Real alpha = 0, beta = 0, gamma = 0;
        for (index_t i = 0; i < m; ++i) {
          alpha += ga[i] * ga[i];
          beta += gb[i] * gb[i];
          gamma += ga[i] * gb[i];
        }
        if (gamma == 0.0 || std::fabs(gamma) <= eps * std::sqrt(alpha * beta)) continue;
        rotated = true;
        const Real zeta = (beta - alpha) / (2 * gamma);
        const Real t = (zeta >= 0 ? Real(1) : Real(-1)) / (std::fabs(zeta) + std::sqrt(1 + zeta * zeta));
        const Real c = 1 / std::sqrt(1 + t * t), s = c * t;
        for (index_t i = 0; i < m; ++i) {
          const Real x = ga[i], y = gb[i];
          ga[i] = c * x - s * y;
          gb[i] = s * x + c * y;
        }
        Real* va = v.data() + a * n;
        Real* vb = v.data() + b * n;
        for (index_t i = 0; i < n; ++i) {
          const Real x = va[i], y = vb[i];
          va[i] = c * x - s * y;
          vb[i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
}

}  // namespace linalg

// ---- the qr solve ---------------------------------------------------------------

namespace detail {

// Entry i of the factor in Real, as TsqrStats::values gives it, without
// copying the whole factor (p^2 doubles: 128 MB at p = 4,000).
template <class Real>
Real factor_value(const TsqrStats& st, index_t i) {
  Real v = static_cast<Real>(st.r[i]);
  if (st.extended()) v += static_cast<Real>(st.r_lo[i]);
  return v;
}

// The (d + 1) x (d + 1) factor of the weighted design [x, y] for the model:
// the centered block with an intercept, else the unshifted design without
// the ones column (row 0 unshifted, then the Hessenberg rest re-triangularized).
template <class Real>
std::vector<Real> model_factor(const TsqrStats& st, bool fit_intercept) {
  const index_t d = st.d, p = st.dim(), q = d + 1;
  auto r = [&](index_t i, index_t j) { return factor_value<Real>(st, i * p + j); };
  std::vector<Real> out(static_cast<std::size_t>(q * q), Real(0));
  if (fit_intercept) {
    for (index_t i = 0; i < q; ++i)
      for (index_t j = i; j < q; ++j) out[i * q + j] = r(i + 1, j + 1);
    return out;
  }
  std::vector<Real> h(static_cast<std::size_t>(p * q), Real(0));
  for (index_t i = 0; i < p; ++i)
    for (index_t j = i > 0 ? i - 1 : 0; j < q; ++j) h[i * q + j] = r(i, j + 1);  // zero left of R's diagonal
  for (index_t j = 0; j < q; ++j) h[j] += static_cast<Real>(st.shift[j]) * r(0, 0);
  return linalg::small_qr_r(std::move(h), p, q);
}

// f (q x q, row-major, upper triangular) <- R of [f; root [I_d, 0]] by the
// blocked fold of tsqr_wide.hpp (the ridge rows are upper trapezoidal): at
// q = 2,000 a tenth of a second, where small_qr_r's column sweeps take a minute.
inline void append_ridge_rows(std::vector<double>& f, index_t q, index_t d, double root, int n_threads) {
  const index_t rows = round_up(d, 8);
  std::vector<double> R(static_cast<std::size_t>(q * q)), B(static_cast<std::size_t>(rows * q), 0.0);
  wq_transpose(f.data(), q, R.data());
  for (index_t j = 0; j < d; ++j) B[j * rows + j] = root;
  wq_fold_upper(R.data(), q, B.data(), rows, wq_upper_threads(q, n_threads));
  wq_transpose(R.data(), q, f.data());
}

// solve_from_r in working precision Real (the factor's). The rank decision
// and the condition estimate stay in double: for float64 or float32 data,
// directions below double's rounding level are noise whatever the precision
// of the arithmetic, and an estimate needs no extra digits. (Long double data
// could resolve a little more; treating it like double only errs towards
// calling a design rank deficient once the equilibrated factor's condition
// passes ~4e14 / d, far past any NIST set: Filip's is 5e9.)
template <class Real>
FitResult solve_from_r(const TsqrStats& st, double alpha, bool fit_intercept, int n_threads) {
  const index_t d = st.d, q = d + 1;
  std::vector<Real> r(static_cast<std::size_t>(st.dim()));  // row 0 of the factor
  for (index_t j = 0; j < st.dim(); ++j) r[j] = factor_value<Real>(st, j);
  const Real S = r[0] * r[0];
  if (!(S > 0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
  FitResult res;
  std::vector<Real> f = model_factor<Real>(st, fit_intercept);
  std::vector<Real> f0;  // without the penalty, for the loss (f itself when there is none)
  if (alpha > 0.0 && d > 0) {
    f0 = f;
    const Real root = std::sqrt(static_cast<Real>(alpha) * S);
    bool appended = false;
    if constexpr (std::is_same_v<Real, double>) {
      if (use_wide_qr(q)) {
        append_ridge_rows(f, q, d, root, n_threads);
        appended = true;
      }
    }
    if (!appended) {
      std::vector<Real> a(static_cast<std::size_t>((q + d) * q), Real(0));
      std::copy(f.begin(), f.end(), a.begin());
      for (index_t j = 0; j < d; ++j) a[(q + j) * q + j] = root;
      f = linalg::small_qr_r(std::move(a), q + d, q);
    }
  }
  // Equilibrate: unit column norms. Zero columns (constant, or all zero
  // without intercept) cannot be determined and get coefficient 0. The sums
  // run down each column in row order, accumulated row by row (contiguous).
  std::vector<Real> scale(static_cast<std::size_t>(d), Real(0)), rhs(static_cast<std::size_t>(d));
  std::vector<Real> col2(static_cast<std::size_t>(d), Real(0));
  for (index_t i = 0; i < d; ++i)
    for (index_t j = i; j < d; ++j) col2[j] += f[i * q + j] * f[i * q + j];
  std::vector<index_t> active;
  for (index_t j = 0; j < d; ++j) {
    const Real s2 = col2[j];
    if (s2 > 0 && std::isfinite(s2)) {
      scale[j] = 1 / std::sqrt(s2);
      active.push_back(j);
    }
    rhs[j] = f[j * q + d];
  }
  const index_t m = static_cast<index_t>(active.size());
  const double eps = std::numeric_limits<double>::epsilon();
  const double rank_tol = 10.0 * static_cast<double>(std::max<index_t>(d, 1)) * eps;
  std::vector<Real> coef(static_cast<std::size_t>(d), Real(0));
  bool full = m == d && d > 0;
  if (full) {
    // Condition of the column-scaled triangle F D, from its 1-norm and
    // Hager's estimate. In double from order kTriangularMinOrder the solves
    // take F and D apart ((F D)^-1 = D^-1 F^-1) instead of a scaled copy.
    std::vector<double> rs, col(static_cast<std::size_t>(d), 0.0);
    bool apart = false;
    if constexpr (std::is_same_v<Real, double>) apart = d >= linalg::kTriangularMinOrder;
    if (!apart) rs.assign(static_cast<std::size_t>(d * d), 0.0);
    for (index_t i = 0; i < d; ++i) {
      for (index_t j = i; j < d; ++j) {
        const double v = static_cast<double>(f[i * q + j] * scale[j]);
        if (!apart) rs[i * d + j] = v;
        col[j] += std::fabs(v);
      }
    }
    const double norm1 = *std::max_element(col.begin(), col.end());
    auto solve = [&](std::vector<double>& b, bool trans) {
      if constexpr (std::is_same_v<Real, double>) {
        if (apart) {
          if (trans)
            for (index_t j = 0; j < d; ++j) b[j] /= scale[j];
          linalg::factor_solve(f.data(), d, q, b, trans);
          if (!trans)
            for (index_t j = 0; j < d; ++j) b[j] /= scale[j];
          return;
        }
      }
      linalg::factor_solve(rs.data(), d, d, b, trans);
    };
    const double inv1 = linalg::inverse_norm1_estimate(
        d, [&](std::vector<double>& b) { solve(b, false); }, [&](std::vector<double>& b) { solve(b, true); });
    const double cond = norm1 * inv1;
    full = std::isfinite(cond) && cond * rank_tol < 1.0;
    if (full) {
      coef = rhs;
      linalg::factor_solve(f.data(), d, q, coef, false);
      res.rank = d;
      res.condition_estimate = cond * cond;  // of the equivalent normal equations, like newton's
    }
  }
  if (!full && m > 0) {
    // Minimum-norm solution from the SVD of the scaled active columns, then the
    // null-space component (measured in the original coordinates) removed.
    std::vector<Real> g(static_cast<std::size_t>(d * m), Real(0)), v;
    for (index_t k = 0; k < m; ++k)
      for (index_t i = 0; i < d; ++i) g[k * d + i] = f[i * q + active[k]] * scale[active[k]];
    bool svd_done = false;
    if constexpr (std::is_same_v<Real, double>) svd_done = linalg::lapack_svd(g, d, m, v);
    if (!svd_done) linalg::jacobi_svd(g, d, m, v);
    std::vector<Real> sv(static_cast<std::size_t>(m));
    Real smax = 0;
    for (index_t k = 0; k < m; ++k) {
      Real s2 = 0;
      for (index_t i = 0; i < d; ++i) s2 += g[k * d + i] * g[k * d + i];
      sv[k] = std::sqrt(s2);
      smax = std::max(smax, sv[k]);
    }
    std::vector<Real> xs(static_cast<std::size_t>(m), Real(0));
    std::vector<std::vector<Real>> null_space;
    Real smin_kept = std::numeric_limits<Real>::infinity();
    index_t rank = 0;
    for (index_t k = 0; k < m; ++k) {
      if (smax > 0 && sv[k] > static_cast<Real>(rank_tol) * smax) {
        ++rank;
        smin_kept = std::min(smin_kept, sv[k]);
        Real proj = 0;  // u_k . rhs / sigma_k, with g_k = sigma_k u_k
        for (index_t i = 0; i < d; ++i) proj += g[k * d + i] * rhs[i];
        proj /= sv[k] * sv[k];
        for (index_t c = 0; c < m; ++c) xs[c] += proj * v[k * m + c];
      } else {
        std::vector<Real> nv(static_cast<std::size_t>(d), Real(0));
        for (index_t c = 0; c < m; ++c) nv[active[c]] = v[k * m + c] * scale[active[c]];
        null_space.push_back(std::move(nv));
      }
    }
    for (index_t c = 0; c < m; ++c) coef[active[c]] = xs[c] * scale[active[c]];
    std::vector<std::vector<Real>> basis;  // modified Gram-Schmidt, then project out
    for (auto& nv : null_space) {
      for (const auto& u : basis) {
        const Real dd = std::inner_product(u.begin(), u.end(), nv.begin(), Real(0));
        for (index_t i = 0; i < d; ++i) nv[i] -= dd * u[i];
      }
      const Real nrm = std::sqrt(std::inner_product(nv.begin(), nv.end(), nv.begin(), Real(0)));
      if (nrm > Real(1e-10)) {
        for (Real& e : nv) e /= nrm;
        basis.push_back(nv);
      }
    }
    for (const auto& u : basis) {
      const Real dd = std::inner_product(u.begin(), u.end(), coef.begin(), Real(0));
      for (index_t i = 0; i < d; ++i) coef[i] -= dd * u[i];
    }
    res.rank = rank;
    const double c = rank > 0 ? static_cast<double>(smax / smin_kept) : std::numeric_limits<double>::infinity();
    res.condition_estimate = c * c;
  }
  if (res.rank < d) {
    res.singular = true;
    res.message = "the design is rank deficient (constant or collinear columns, or fewer samples than "
                  "features); returned the minimum-norm solution";
  }
  res.coef.resize(static_cast<std::size_t>(d));
  for (index_t j = 0; j < d; ++j) res.coef[j] = static_cast<double>(coef[j]);
  if (fit_intercept) {
    // Row 0 of R: R00 b' + sum_j R0j w_j = R0y with b' the intercept about the shift.
    Real b = r[d + 1];
    for (index_t j = 0; j < d; ++j) b -= r[j + 1] * coef[j];
    b /= r[0];
    Real cw = 0;
    for (index_t j = 0; j < d; ++j) cw += static_cast<Real>(st.shift[j]) * coef[j];
    res.intercept = static_cast<double>(static_cast<Real>(st.shift[d]) + b - cw);
  }
  // Loss from the factor: ||F0 [w; -1]||^2 / S + alpha |w|^2.
  const std::vector<Real>& fl = f0.empty() ? f : f0;
  Real rss = 0, nrm2 = 0;
  for (index_t i = 0; i < q; ++i) {
    Real e = -fl[i * q + d];
    for (index_t j = i; j < d; ++j) e += fl[i * q + j] * coef[j];
    rss += e * e;
  }
  for (Real w : coef) nrm2 += w * w;
  res.loss_history.push_back(static_cast<double>(rss / S + static_cast<Real>(alpha) * nrm2));
  res.n_iter = 1;
  return res;
}

}  // namespace detail

// Solves the least-squares problem held in the factor (which may come from one
// pass here or from many Dask chunks merged), in the factor's precision.
// Ridge: sqrt(alpha * S) I rows are appended to the small factor.
// Rank-deficient (or numerically singular) systems get the minimum-norm
// solution, like newton. n_threads bounds the threads of the large-order
// algebra (0: OpenMP's default); the result does not depend on it.
inline FitResult solve_from_r(const TsqrStats& st, double alpha, bool fit_intercept, int n_threads = 0) {
  if (st.n_targets != 1) throw std::invalid_argument("the qr solve takes one target's factor ((d + 2) square)");
  return st.extended() ? detail::solve_from_r<extended_t>(st, alpha, fit_intercept, n_threads)
                       : detail::solve_from_r<double>(st, alpha, fit_intercept, n_threads);
}

// Digits of the least accurate parameter (intercept included) that a
// backward-stable double QR keeps on this problem, estimated from the factor
// by first-order perturbation theory of least squares. In the equilibrated
// parameters z of the unshifted design (F z ~ c, residual norm rho):
//     |dz_j| <~ u ||row j of F^-1|| (||z|| + ||F^-1||_F rho)
// (the rho term is the k^2 tan t part of Wedin's bound, which decides Wampler5).
// Measured against max(|z_j|, 1e-6 ||z||): a parameter that small in
// equilibrated units (e.g. the intercept of centered data) has no relative
// digits worth a second pass. On the NIST sets it undershoots the digits
// double actually keeps by 0-3.6; it costs one d x d triangular inverse.
// NaN for a rank-deficient solve.
inline double qr_digits_estimate(const TsqrStats& st, const FitResult& res, bool fit_intercept,
                                 int n_threads = 0) {
  if (st.n_targets != 1) throw std::invalid_argument("the digits estimate takes one target's factor");
  if (res.singular) return std::numeric_limits<double>::quiet_NaN();
  const index_t d = st.d, p = st.dim();
  // The factor of [design, y], design = [1, x] or x, unshifted, by rows: with
  // an intercept st.r itself with row 0 moved to shift zero (row0).
  std::vector<double> f, row0;
  index_t k;
  if (fit_intercept) {
    k = d + 1;
    row0.assign(st.r.begin(), st.r.begin() + p);
    for (index_t j = 1; j < p; ++j) row0[j] += st.shift[j - 1] * row0[0];
  } else {
    k = d;
    f = detail::model_factor<double>(st, false);
  }
  const index_t ld = k + 1;
  auto frow = [&](index_t i) -> const double* {
    if (!fit_intercept) return f.data() + i * ld;
    return i == 0 ? row0.data() : st.r.data() + i * ld;
  };
  if (k == 0) return 16.0;
  std::vector<double> scale(static_cast<std::size_t>(k)), col2(static_cast<std::size_t>(k), 0.0);
  for (index_t i = 0; i < k; ++i)  // column sums in row order, accumulated row by row
    for (index_t j = i; j < k; ++j) col2[j] += frow(i)[j] * frow(i)[j];
  for (index_t j = 0; j < k; ++j) {
    if (!(col2[j] > 0.0)) return std::numeric_limits<double>::quiet_NaN();
    scale[j] = 1.0 / std::sqrt(col2[j]);
  }
  // Inverse of the equilibrated triangle (upper triangular, leading dimension
  // ldi): column by column, or blocked and threaded from kTriangularMinOrder.
  std::vector<double> inv, fs(static_cast<std::size_t>(k * k), 0.0);
  for (index_t i = 0; i < k; ++i)
    for (index_t j = i; j < k; ++j) fs[i * k + j] = frow(i)[j] * scale[j];
  index_t ldi = k;
  if (k >= linalg::kTriangularMinOrder) {
    const double kd = static_cast<double>(k);
    const int threads = threads_for_work(kd * kd * kd / 3 / 4e9, resolve_threads(n_threads));
    ldi = linalg::upper_inverse(fs.data(), k, k, inv, threads);
  } else {
    inv.assign(static_cast<std::size_t>(k * k), 0.0);
    std::vector<double> col(static_cast<std::size_t>(k));
    for (index_t j = 0; j < k; ++j) {
      std::fill(col.begin(), col.end(), 0.0);
      col[j] = 1.0;
      linalg::tri_solve(fs.data(), j + 1, k, col, false);
      for (index_t i = 0; i <= j; ++i) inv[i * k + j] = col[i];
    }
  }
  std::vector<double> z(static_cast<std::size_t>(k)), rown(static_cast<std::size_t>(k), 0.0);
  for (index_t i = 0; i < k; ++i) z[i] = frow(i)[k];
  linalg::factor_solve(fs.data(), k, k, z, false);
  double frob2 = 0.0, z2 = 0.0;
  for (index_t i = 0; i < k; ++i) {
    for (index_t j = i; j < k; ++j) rown[i] += inv[i * ldi + j] * inv[i * ldi + j];
    frob2 += rown[i];
    z2 += z[i] * z[i];
  }
  const double rho = std::fabs(frow(k)[k]), znorm = std::sqrt(z2);
  const double amp = znorm + std::sqrt(frob2) * rho;
  const double u = std::numeric_limits<double>::epsilon() / 2;
  double digits = 16.0;
  for (index_t i = 0; i < k; ++i) {
    const double err = u * std::sqrt(rown[i]) * amp / std::max(std::fabs(z[i]), 1e-6 * znorm);
    if (err > 0.0) digits = std::min(digits, -std::log10(err));
  }
  return std::isfinite(digits) ? digits : 0.0;
}

// How fit_qr chose its working precision.
struct QrPrecisionChoice {
  bool extended = false;
  bool extended_skipped = false;  // Auto wanted the extended pass but it was past kExtendedMaxFlops
  double digits_estimate = 0.0;  // qr_digits_estimate of the first solve (NaN: rank deficient)
  std::string reason;
};

// The qr fit: a double pass and solve; with Auto, a second pass in extended
// precision when the double solve's digits estimate is below
// kExtendedMinDigits (the double result is then discarded). Extended skips the
// double pass, and so does Auto for long double X (T wider than double).
template <class T>
FitResult fit_qr(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& opt, TsqrStats* stats_out = nullptr,
                 QrPrecision precision = QrPrecision::Auto, QrPrecisionChoice* choice_out = nullptr) {
  constexpr bool wide_input = std::numeric_limits<T>::digits > std::numeric_limits<double>::digits;
  std::vector<double> zero;
  const double* shift = nullptr;
  if (!opt.fit_intercept) {  // no centering to protect; a shift would only have to be undone
    zero.assign(static_cast<std::size_t>(X.cols + 1), 0.0);
    shift = zero.data();
  }
  QrPrecisionChoice choice;
  const bool forced = precision == QrPrecision::Extended || (wide_input && precision == QrPrecision::Auto);
  TsqrStats st = compute_tsqr_stats(X, y, sw, shift, opt.n_shards, opt.n_threads,
                                    forced ? QrPrecision::Extended : QrPrecision::Double);
  FitResult res = solve_from_r(st, opt.alpha, opt.fit_intercept, opt.n_threads);
  res.n_passes = 1;
  choice.digits_estimate = qr_digits_estimate(st, res, opt.fit_intercept, opt.n_threads);
  char buf[320];
  if (forced && precision == QrPrecision::Auto) {
    choice.extended = true;
    choice.reason = "extended: X is long double, whose digits a double pass would round away";
  } else if (forced) {
    choice.extended = true;
    choice.reason = kExtendedIsWider ? "qr_precision='extended'"
                                     : "qr_precision='extended', but long double is double on this platform";
  } else if (precision == QrPrecision::Double) {
    choice.reason = wide_input ? "qr_precision='double': long double X rounded to double as it is read"
                               : "qr_precision='double'";
  } else if (res.singular) {
    choice.reason = "double: the design is rank deficient at double's rounding level, which more working "
                    "precision would not change";
  } else if (!(choice.digits_estimate < kExtendedMinDigits)) {
    std::snprintf(buf, sizeof buf, "double: estimated %.1f correct digits >= %.1f", choice.digits_estimate,
                  kExtendedMinDigits);
    choice.reason = buf;
  } else if (!kExtendedIsWider) {
    std::snprintf(buf, sizeof buf, "double: estimated %.1f correct digits < %.1f, but long double is double on "
                  "this platform", choice.digits_estimate, kExtendedMinDigits);
    choice.reason = buf;
  } else if (extended_pass_flops(X.rows, st.dim()) > kExtendedMaxFlops) {
    choice.extended_skipped = true;
    std::snprintf(buf, sizeof buf, "double: estimated %.1f correct digits < %.1f, but a long double pass "
                  "(%.2g flops, ~%.0f s) is past auto's budget of %.0e flops; qr_precision='extended' takes it",
                  choice.digits_estimate, kExtendedMinDigits, extended_pass_flops(X.rows, st.dim()),
                  extended_pass_flops(X.rows, st.dim()) / 1e9, kExtendedMaxFlops);
    choice.reason = buf;
  } else {
    std::snprintf(buf, sizeof buf, "extended: double would keep an estimated %.1f correct digits < %.1f, so the "
                  "pass was redone in long double", choice.digits_estimate, kExtendedMinDigits);
    choice.reason = buf;
    choice.extended = true;
    st = compute_tsqr_stats(X, y, sw, shift, opt.n_shards, opt.n_threads, QrPrecision::Extended);
    res = solve_from_r(st, opt.alpha, opt.fit_intercept, opt.n_threads);
    res.n_passes = 2;
  }
  if (stats_out) *stats_out = std::move(st);
  if (choice_out) *choice_out = std::move(choice);
  return res;
}

}  // namespace fastcost
