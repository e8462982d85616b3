// Tall-skinny QR (TSQR) for weighted least squares in one pass over X.
//
// For rows x_i, targets y_i and weights s_i the pass computes the upper
// triangular R of the weighted, shifted, augmented design
//     Z = diag(sqrt(s)) [1, X - c, y - c_y]          (n x p, p = d + 2)
// without forming Z: each shard streams its rows through a small packed block
// B and folds it into a running R by Householder reflections of [R; B]
// (compact WY form, so the bulk of the work is small matrix products on an
// L2-resident block). Shard factors are stacked in a fixed order, so the result
// is bitwise identical for any thread count at a given shard count.
//
// Why this layout of Z: the ones column comes first, so its reflection is the
// weighted centering and rows 1.. of R are the R of the centered problem; the
// intercept never needs a second pass or a copy of X. Re-expressing R about
// another shift only changes row 0 (exact), which is how Dask chunks merge. The
// y column comes last, so R[p-1][p-1]^2 is the residual sum of squares.
// Normal equations square the condition number; this factor does not.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "fastcost/gram.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"
#include "fastcost/solvers.hpp"

namespace fastcost {

struct TsqrStats {
  index_t d = 0;               // features
  std::vector<double> shift;   // d + 1 values: c then c_y
  std::vector<double> r;       // p x p, row-major, upper triangular, columns [1, x - c, y - c_y]
  index_t n_rows = 0;          // rows summarized (weights may be zero)
  index_t n_nonzero = 0;       // rows with a positive weight (residual degrees of freedom)
  index_t n_shards = 0;

  index_t dim() const { return d + 2; }
  double at(index_t i, index_t j) const { return r[i * dim() + j]; }
  double sum_weights() const { return at(0, 0) * at(0, 0); }
};

namespace detail {

constexpr index_t kQrPanel = 8;        // reflectors per compact-WY block (one zmm of doubles)
constexpr index_t kQrBlockRows = 256;  // rows per packed block: B of d = 100 is ~200 KiB, in L2
constexpr int kQrCols = 3;             // trailing columns updated together (register tile)

inline index_t round_up(index_t v, index_t m) { return (v + m - 1) / m * m; }

// Trailing update of KC columns k.. of [R; B] by the block reflector
// I - V T V^T of one panel (rows j0..j0+NB of R, Householder vectors Y in B):
//     w = T^T (R[j0:j0+NB, k] + Y^T B[:, k]);  R[j0:, k] -= w;  B[:, k] -= Y w.
// The column of B stays in L1 between the two halves.
template <int W, int KC>
FASTCOST_INLINE void qr_apply_cols(const double* FASTCOST_RESTRICT Y, index_t mb, const double* Tm, double* R,
                                   index_t p, index_t j0, double* FASTCOST_RESTRICT B, index_t k) {
  constexpr int L = simd::lanes<double, W>();
  constexpr int NB = static_cast<int>(kQrPanel);
  using V = simd::vec_t<double, W>;
  V acc[NB][KC];
  for (int r = 0; r < NB; ++r)
    for (int c = 0; c < KC; ++c) acc[r][c] = V{};
  for (index_t i = 0; i < mb; i += L) {
    V b[KC];
    for (int c = 0; c < KC; ++c) b[c] = simd::load<double, W>(B + (k + c) * mb + i);
#pragma GCC unroll 8
    for (int r = 0; r < NB; ++r) {
      const V y = simd::load<double, W>(Y + r * mb + i);
      for (int c = 0; c < KC; ++c) acc[r][c] += y * b[c];
    }
  }
  double w[NB][KC], tw[NB][KC];
  for (int r = 0; r < NB; ++r)
    for (int c = 0; c < KC; ++c) w[r][c] = simd::hsum<double, W>(acc[r][c]) + R[(k + c) * p + j0 + r];
  for (int r = 0; r < NB; ++r) {  // tw = T^T w, T upper triangular (column-major NB x NB)
    for (int c = 0; c < KC; ++c) {
      double s = 0.0;
      for (int q = 0; q <= r; ++q) s += Tm[r * NB + q] * w[q][c];
      tw[r][c] = s;
    }
  }
  for (int r = 0; r < NB; ++r)
    for (int c = 0; c < KC; ++c) R[(k + c) * p + j0 + r] -= tw[r][c];
  // Two row vectors at a time: the NB-long dependency chains of each output
  // would otherwise leave the FMA units waiting on latency.
  index_t i = 0;
  for (; i + 2 * L <= mb; i += 2 * L) {
    V b0[KC], b1[KC];
    for (int c = 0; c < KC; ++c) {
      b0[c] = simd::load<double, W>(B + (k + c) * mb + i);
      b1[c] = simd::load<double, W>(B + (k + c) * mb + i + L);
    }
#pragma GCC unroll 8
    for (int r = 0; r < NB; ++r) {
      const V y0 = simd::load<double, W>(Y + r * mb + i);
      const V y1 = simd::load<double, W>(Y + r * mb + i + L);
      for (int c = 0; c < KC; ++c) {
        b0[c] -= y0 * tw[r][c];
        b1[c] -= y1 * tw[r][c];
      }
    }
    for (int c = 0; c < KC; ++c) {
      simd::store<double, W>(B + (k + c) * mb + i, b0[c]);
      simd::store<double, W>(B + (k + c) * mb + i + L, b1[c]);
    }
  }
  for (; i < mb; i += L) {
    V b0[KC];
    for (int c = 0; c < KC; ++c) b0[c] = simd::load<double, W>(B + (k + c) * mb + i);
    for (int r = 0; r < NB; ++r) {
      const V y0 = simd::load<double, W>(Y + r * mb + i);
      for (int c = 0; c < KC; ++c) b0[c] -= y0 * tw[r][c];
    }
    for (int c = 0; c < KC; ++c) simd::store<double, W>(B + (k + c) * mb + i, b0[c]);
  }
}

// Householder QR of the stacked matrix [R; B] in place: R (p x p, column-major,
// upper triangular) becomes the new factor; B (mb x p, column-major, mb a
// multiple of the vector width, padding rows zero) is overwritten with the
// reflectors. Each reflector touches one row of R and all of B.
// `work` holds kQrPanel * (kQrPanel + 1) doubles.
template <class T, int W>
FASTCOST_INLINE void qr_stack_body(double* R, index_t p, double* B, index_t mb, double* work) {
  constexpr index_t NB = kQrPanel;
  double* tau = work;
  double* Tm = work + NB;  // column-major NB x NB
  for (index_t j0 = 0; j0 < p; j0 += NB) {
    const index_t nb = std::min(NB, p - j0);
    // Panel: unblocked Householder on columns j0 .. j0 + nb.
    for (index_t j = j0; j < j0 + nb; ++j) {
      double* bj = B + j * mb;
      double xnorm2 = simd::dot<double, W>(bj, bj, mb);
      const double alpha = R[j * p + j];
      double t = 0.0;
      if (xnorm2 > 0.0) {
        double scale = 1.0;
        if (!std::isfinite(xnorm2) || xnorm2 < std::numeric_limits<double>::min() / std::numeric_limits<double>::epsilon()) {
          // Squares over/underflowed: recompute the norm of a rescaled column.
          double amax = 0.0;
          for (index_t i = 0; i < mb; ++i) amax = std::max(amax, std::fabs(bj[i]));
          scale = amax;
          xnorm2 = 0.0;
          for (index_t i = 0; i < mb; ++i) xnorm2 += (bj[i] / amax) * (bj[i] / amax);
        }
        const double beta = -std::copysign(scale * std::hypot(alpha / scale, std::sqrt(xnorm2)), alpha);
        t = (beta - alpha) / beta;
        const double inv = 1.0 / (alpha - beta);  // |alpha - beta| >= |beta|: no cancellation
        for (index_t i = 0; i < mb; ++i) bj[i] *= inv;
        R[j * p + j] = beta;
      }
      tau[j - j0] = t;
      if (t == 0.0) continue;
      for (index_t k = j + 1; k < j0 + nb; ++k) {
        double* bk = B + k * mb;
        const double wk = t * (R[k * p + j] + simd::dot<double, W>(bj, bk, mb));
        R[k * p + j] -= wk;
        simd::axpy<double, W>(bk, -wk, bj, mb);
      }
    }
    if (j0 + nb >= p) break;  // last panel: nothing to its right
    // T of the compact WY form (LAPACK's dlarft, forward, columnwise). The
    // unit parts of the reflectors sit on distinct rows of R, so V^T V = I + Y^T Y.
    const double* Y = B + j0 * mb;
    std::fill(Tm, Tm + NB * NB, 0.0);
    for (index_t i = 0; i < NB; ++i) {
      Tm[i * NB + i] = tau[i];
      if (tau[i] == 0.0) continue;
      double z[NB];
      for (index_t q = 0; q < i; ++q) z[q] = simd::dot<double, W>(Y + q * mb, Y + i * mb, mb);
      for (index_t q = 0; q < i; ++q) {
        double s = 0.0;
        for (index_t u = q; u < i; ++u) s += Tm[u * NB + q] * z[u];
        Tm[i * NB + q] = -tau[i] * s;
      }
    }
    index_t k = j0 + NB;
    for (; k + kQrCols <= p; k += kQrCols) qr_apply_cols<W, kQrCols>(Y, mb, Tm, R, p, j0, B, k);
    for (; k < p; ++k) qr_apply_cols<W, 1>(Y, mb, Tm, R, p, j0, B, k);
  }
}

FASTCOST_MULTIVERSION(qr_stack, qr_stack_body)

// Packs rows [i0, i0 + nb) as sqrt(s_i) [1, x_i - c, y_i - c_y] into the
// column-major block B (ld mb); rows nb.. stay zero. Returns the rows with s_i > 0.
template <class T>
index_t qr_pack(const MatrixView<T>& X, const T* y, const T* sw, const double* shift, index_t i0, index_t nb,
                double* FASTCOST_RESTRICT B, index_t mb, double* FASTCOST_RESTRICT root) {
  const index_t d = X.cols;
  index_t nonzero = 0;
  for (index_t i = 0; i < nb; ++i) {
    const double s = sw ? static_cast<double>(sw[i0 + i]) : 1.0;
    nonzero += s > 0.0;
    root[i] = std::sqrt(s);
    B[i] = root[i];
    B[(d + 1) * mb + i] = root[i] * ((y ? static_cast<double>(y[i0 + i]) : 0.0) - shift[d]);
  }
  if (X.layout == Layout::RowMajor) {
    for (index_t i = 0; i < nb; ++i) {
      const T* xi = X.row(i0 + i);
      const double ri = root[i];
      for (index_t j = 0; j < d; ++j) B[(j + 1) * mb + i] = ri * (static_cast<double>(xi[j]) - shift[j]);
    }
  } else {
    for (index_t j = 0; j < d; ++j) {
      const T* xj = X.col(j) + i0;
      double* bj = B + (j + 1) * mb;
      const double cj = shift[j];
      for (index_t i = 0; i < nb; ++i) bj[i] = root[i] * (static_cast<double>(xj[i]) - cj);
    }
  }
  for (index_t j = 0; j < d + 2; ++j) std::fill(B + j * mb + nb, B + (j + 1) * mb, 0.0);
  return nonzero;
}

// Folds the upper-triangular `add` (p x p, column-major) into R: R <- R of [R; add].
inline void qr_fold(Isa isa, double* R, const double* add, index_t p, std::vector<double>& buf, double* work) {
  const index_t mb = round_up(p, 8);
  buf.assign(static_cast<std::size_t>(mb * p), 0.0);
  for (index_t k = 0; k < p; ++k)
    for (index_t i = 0; i <= k; ++i) buf[k * mb + i] = add[k * p + i];
  qr_stack<double>(isa, R, p, buf.data(), mb, work);
}

// Row-major <-> column-major copies of a p x p factor (strict lower part zero).
inline std::vector<double> upper_to_colmajor(const std::vector<double>& r, index_t p) {
  std::vector<double> out(static_cast<std::size_t>(p * p), 0.0);
  for (index_t i = 0; i < p; ++i)
    for (index_t j = i; j < p; ++j) out[j * p + i] = r[i * p + j];
  return out;
}

inline std::vector<double> colmajor_to_upper(const double* c, index_t p) {
  std::vector<double> out(static_cast<std::size_t>(p * p), 0.0);
  for (index_t i = 0; i < p; ++i)
    for (index_t j = i; j < p; ++j) out[i * p + j] = c[j * p + i];
  return out;
}

}  // namespace detail

// R factor of rows [0, n) of (X, y, sample_weight) in one sharded pass.
// `shift` (d + 1 values) defaults to the first row and its target; pass zeros
// for a model without intercept. y and sample_weight may be null.
template <class T>
TsqrStats compute_tsqr_stats(const MatrixView<T>& X, const T* y, const T* sample_weight, const double* shift,
                             index_t n_shards, int n_threads) {
  X.validate();
  const index_t n = X.rows, d = X.cols, p = d + 2;
  TsqrStats st;
  st.d = d;
  st.n_rows = n;
  st.shift.assign(static_cast<std::size_t>(d + 1), 0.0);
  if (shift) {
    std::copy(shift, shift + d + 1, st.shift.begin());
  } else if (n > 0) {
    for (index_t j = 0; j < d; ++j) st.shift[j] = static_cast<double>(X(0, j));
    st.shift[d] = y ? static_cast<double>(y[0]) : 0.0;
  }
  st.r.assign(static_cast<std::size_t>(p * p), 0.0);
  if (n == 0) return st;
  const Isa isa = active_isa();
  if (n_shards <= 0) n_shards = default_shard_count(n, p, p * p);
  const ShardPlan plan = make_plan(0, n, n_shards);
  st.n_shards = plan.n_shards;
  const index_t tile = p * p;
  std::vector<double> partials(static_cast<std::size_t>(plan.n_shards * tile), 0.0);
  std::vector<index_t> nonzero(static_cast<std::size_t>(plan.n_shards), 0);
  const index_t block = detail::kQrBlockRows;
  const int threads = n * d < 100000 ? 1 : n_threads;  // tiny work: threads cost more than they save

  for_each_shard(plan, threads, [&](index_t s) {
    const index_t r0 = plan.shard_begin(s), r1 = plan.shard_end(s);
    const index_t mb = detail::round_up(std::min(block, r1 - r0), 8);
    Scratch<double> B(static_cast<std::size_t>(mb * p));
    Scratch<double> root(static_cast<std::size_t>(mb));
    Scratch<double> work(static_cast<std::size_t>(detail::kQrPanel * (detail::kQrPanel + 1)));
    double* R = partials.data() + s * tile;
    for (index_t i0 = r0; i0 < r1; i0 += block) {
      if (cancel_requested()) throw Cancelled();
      const index_t nb = std::min(block, r1 - i0);
      nonzero[s] += detail::qr_pack(X, y, sample_weight, st.shift.data(), i0, nb, B.data(), mb, root.data());
      detail::qr_stack<double>(isa, R, p, B.data(), mb, work.data());
    }
  });

  // Fixed-order reduction: fold shard 1, 2, ... into shard 0's factor.
  std::vector<double> R(partials.begin(), partials.begin() + tile), buf;
  std::vector<double> work(static_cast<std::size_t>(detail::kQrPanel * (detail::kQrPanel + 1)));
  for (index_t s = 1; s < plan.n_shards; ++s) detail::qr_fold(isa, R.data(), partials.data() + s * tile, p, buf, work.data());
  st.r = detail::colmajor_to_upper(R.data(), p);
  st.n_nonzero = std::accumulate(nonzero.begin(), nonzero.end(), index_t(0));
  for (double v : st.r) {
    if (!std::isfinite(v)) throw std::domain_error("non-finite statistics");
  }
  return st;
}

// Re-expresses a factor about another shift. Column j of Z gains
// (c_j - c'_j) times the ones column, so only row 0 of R changes: exact algebra.
inline TsqrStats tsqr_reshift(const TsqrStats& st, const std::vector<double>& new_shift) {
  const index_t d = st.d, p = st.dim();
  if (static_cast<index_t>(new_shift.size()) != d + 1) throw std::invalid_argument("shift has the wrong length");
  TsqrStats out = st;
  out.shift = new_shift;
  for (index_t j = 1; j < p; ++j) out.r[j] += (st.shift[j - 1] - new_shift[j - 1]) * st.r[0];
  return out;
}

// Factor of the union of two row sets (e.g. two Dask chunks): b is moved to
// a's shift, then R of [R_a; R_b].
inline TsqrStats tsqr_merge(const TsqrStats& a, const TsqrStats& b) {
  if (a.d != b.d) throw std::invalid_argument("cannot merge factors with different feature counts");
  const index_t p = a.dim();
  if (static_cast<index_t>(a.r.size()) != p * p || static_cast<index_t>(b.r.size()) != p * p)
    throw std::invalid_argument("factor has the wrong size");
  const TsqrStats bb = a.shift == b.shift ? b : tsqr_reshift(b, a.shift);
  std::vector<double> R = detail::upper_to_colmajor(a.r, p);
  const std::vector<double> add = detail::upper_to_colmajor(bb.r, p);
  std::vector<double> buf, work(static_cast<std::size_t>(detail::kQrPanel * (detail::kQrPanel + 1)));
  detail::qr_fold(active_isa(), R.data(), add.data(), p, buf, work.data());
  TsqrStats out = a;
  out.r = detail::colmajor_to_upper(R.data(), p);
  out.n_rows += b.n_rows;
  out.n_nonzero += b.n_nonzero;
  out.n_shards += b.n_shards;
  return out;
}

// ---- small dense tools for the solve (d x d, cost nothing next to the pass) ----

namespace linalg {

// R of the m x n row-major matrix a (m >= n is not required), by Householder;
// returns the n x n upper triangle, row-major. Used for the ridge rows and for
// re-triangularizing a few extra rows.
inline std::vector<double> small_qr_r(std::vector<double> a, index_t m, index_t n) {
  for (index_t j = 0; j < n && j < m; ++j) {
    double xnorm2 = 0.0;
    for (index_t i = j + 1; i < m; ++i) xnorm2 += a[i * n + j] * a[i * n + j];
    if (xnorm2 == 0.0) continue;
    const double alpha = a[j * n + j];
    const double beta = -std::copysign(std::hypot(alpha, std::sqrt(xnorm2)), alpha);
    const double tau = (beta - alpha) / beta, inv = 1.0 / (alpha - beta);
    for (index_t i = j + 1; i < m; ++i) a[i * n + j] *= inv;
    a[j * n + j] = beta;
    for (index_t k = j + 1; k < n; ++k) {
      double w = a[j * n + k];
      for (index_t i = j + 1; i < m; ++i) w += a[i * n + j] * a[i * n + k];
      w *= tau;
      a[j * n + k] -= w;
      for (index_t i = j + 1; i < m; ++i) a[i * n + k] -= w * a[i * n + j];
    }
  }
  std::vector<double> r(static_cast<std::size_t>(n * n), 0.0);
  for (index_t i = 0; i < std::min(m, n); ++i)
    for (index_t j = i; j < n; ++j) r[i * n + j] = a[i * n + j];
  return r;
}

// Solves R x = b (trans = false) or R^T x = b for the n x n upper-triangular
// row-major R with leading dimension ld.
inline void tri_solve(const double* r, index_t n, index_t ld, std::vector<double>& b, bool trans) {
  if (!trans) {
    for (index_t i = n - 1; i >= 0; --i) {
      double v = b[i];
      for (index_t k = i + 1; k < n; ++k) v -= r[i * ld + k] * b[k];
      b[i] = v / r[i * ld + i];
    }
  } else {
    for (index_t i = 0; i < n; ++i) {
      double v = b[i];
      for (index_t k = 0; k < i; ++k) v -= r[k * ld + i] * b[k];
      b[i] = v / r[i * ld + i];
    }
  }
}

// One-sided Jacobi SVD (Hestenes) of the m x n column-major matrix g: on
// return its columns are U * Sigma (norms = singular values), and v (n x n,
// column-major) holds the right singular vectors. Accurate to high relative
// precision, which is what a rank decision needs.
inline void jacobi_svd(std::vector<double>& g, index_t m, index_t n, std::vector<double>& v) {
  v.assign(static_cast<std::size_t>(n * n), 0.0);
  for (index_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  const double eps = std::numeric_limits<double>::epsilon();
  for (int sweep = 0; sweep < 60; ++sweep) {
    bool rotated = false;
    for (index_t a = 0; a < n - 1; ++a) {
      for (index_t b = a + 1; b < n; ++b) {
        double* ga = g.data() + a * m;
        double* gb = g.data() + b * m;
        double alpha = 0.0, beta = 0.0, gamma = 0.0;
        for (index_t i = 0; i < m; ++i) {
          alpha += ga[i] * ga[i];
          beta += gb[i] * gb[i];
          gamma += ga[i] * gb[i];
        }
        if (gamma == 0.0 || std::fabs(gamma) <= eps * std::sqrt(alpha * beta)) continue;
        rotated = true;
        const double zeta = (beta - alpha) / (2.0 * gamma);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
        for (index_t i = 0; i < m; ++i) {
          const double x = ga[i], y = gb[i];
          ga[i] = c * x - s * y;
          gb[i] = s * x + c * y;
        }
        double* va = v.data() + a * n;
        double* vb = v.data() + b * n;
        for (index_t i = 0; i < n; ++i) {
          const double x = va[i], y = vb[i];
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

// The (d + 1) x (d + 1) factor of the weighted design [x, y] for the model:
// the centered block with an intercept, else the unshifted design without
// the ones column (row 0 unshifted, then the Hessenberg rest re-triangularized).
inline std::vector<double> model_factor(const TsqrStats& st, bool fit_intercept) {
  const index_t d = st.d, p = st.dim(), q = d + 1;
  std::vector<double> out(static_cast<std::size_t>(q * q), 0.0);
  if (fit_intercept) {
    for (index_t i = 0; i < q; ++i)
      for (index_t j = i; j < q; ++j) out[i * q + j] = st.at(i + 1, j + 1);
    return out;
  }
  std::vector<double> h(static_cast<std::size_t>(p * q), 0.0);
  for (index_t i = 0; i < p; ++i)
    for (index_t j = 0; j < q; ++j) h[i * q + j] = st.at(i, j + 1);
  for (index_t j = 0; j < q; ++j) h[j] += st.shift[j] * st.at(0, 0);
  return linalg::small_qr_r(std::move(h), p, q);
}

// Solves the least-squares problem held in the factor (which may come from one
// pass here or from many Dask chunks merged). Ridge: sqrt(alpha * S) I rows
// are appended to the small factor. Rank-deficient (or numerically singular)
// systems get the minimum-norm solution, like newton.
inline FitResult solve_from_r(const TsqrStats& st, double alpha, bool fit_intercept) {
  const index_t d = st.d, q = d + 1;
  const double S = st.sum_weights();
  if (!(S > 0.0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
  FitResult res;
  std::vector<double> f = model_factor(st, fit_intercept);
  const std::vector<double> f0 = f;  // without the penalty, for the loss
  if (alpha > 0.0 && d > 0) {
    std::vector<double> a(static_cast<std::size_t>((q + d) * q), 0.0);
    std::copy(f.begin(), f.end(), a.begin());
    const double root = std::sqrt(alpha * S);
    for (index_t j = 0; j < d; ++j) a[(q + j) * q + j] = root;
    f = linalg::small_qr_r(std::move(a), q + d, q);
  }
  // Equilibrate: unit column norms. Zero columns (constant, or all zero
  // without intercept) cannot be determined and get coefficient 0.
  std::vector<double> scale(static_cast<std::size_t>(d), 0.0), rhs(static_cast<std::size_t>(d));
  std::vector<index_t> active;
  for (index_t j = 0; j < d; ++j) {
    double s2 = 0.0;
    for (index_t i = 0; i <= j; ++i) s2 += f[i * q + j] * f[i * q + j];
    if (s2 > 0.0 && std::isfinite(s2)) {
      scale[j] = 1.0 / std::sqrt(s2);
      active.push_back(j);
    }
    rhs[j] = f[j * q + d];
  }
  const index_t m = static_cast<index_t>(active.size());
  const double eps = std::numeric_limits<double>::epsilon();
  const double rank_tol = 10.0 * static_cast<double>(std::max<index_t>(d, 1)) * eps;
  res.coef.assign(static_cast<std::size_t>(d), 0.0);
  bool full = m == d && d > 0;
  if (full) {
    // Condition of the column-scaled triangle, from its 1-norm and Hager's estimate.
    std::vector<double> rs(static_cast<std::size_t>(d * d), 0.0);
    double norm1 = 0.0;
    for (index_t j = 0; j < d; ++j) {
      double col = 0.0;
      for (index_t i = 0; i <= j; ++i) {
        rs[i * d + j] = f[i * q + j] * scale[j];
        col += std::fabs(rs[i * d + j]);
      }
      norm1 = std::max(norm1, col);
    }
    const double inv1 = linalg::inverse_norm1_estimate(
        d, [&](std::vector<double>& b) { linalg::tri_solve(rs.data(), d, d, b, false); },
        [&](std::vector<double>& b) { linalg::tri_solve(rs.data(), d, d, b, true); });
    const double cond = norm1 * inv1;
    full = std::isfinite(cond) && cond * rank_tol < 1.0;
    if (full) {
      res.coef = rhs;
      linalg::tri_solve(f.data(), d, q, res.coef, false);
      res.rank = d;
      res.condition_estimate = cond * cond;  // of the equivalent normal equations, like newton's
    }
  }
  if (!full && m > 0) {
    // Minimum-norm solution from the SVD of the scaled active columns, then the
    // null-space component (measured in the original coordinates) removed.
    std::vector<double> g(static_cast<std::size_t>(d * m), 0.0), v;
    for (index_t p = 0; p < m; ++p)
      for (index_t i = 0; i < d; ++i) g[p * d + i] = f[i * q + active[p]] * scale[active[p]];
    linalg::jacobi_svd(g, d, m, v);
    std::vector<double> sv(static_cast<std::size_t>(m));
    double smax = 0.0;
    for (index_t k = 0; k < m; ++k) {
      double s2 = 0.0;
      for (index_t i = 0; i < d; ++i) s2 += g[k * d + i] * g[k * d + i];
      sv[k] = std::sqrt(s2);
      smax = std::max(smax, sv[k]);
    }
    std::vector<double> xs(static_cast<std::size_t>(m), 0.0);
    std::vector<std::vector<double>> null_space;
    double smin_kept = std::numeric_limits<double>::infinity();
    index_t rank = 0;
    for (index_t k = 0; k < m; ++k) {
      if (smax > 0.0 && sv[k] > rank_tol * smax) {
        ++rank;
        smin_kept = std::min(smin_kept, sv[k]);
        double proj = 0.0;  // u_k . rhs / sigma_k, with g_k = sigma_k u_k
        for (index_t i = 0; i < d; ++i) proj += g[k * d + i] * rhs[i];
        proj /= sv[k] * sv[k];
        for (index_t p = 0; p < m; ++p) xs[p] += proj * v[k * m + p];
      } else {
        std::vector<double> nv(static_cast<std::size_t>(d), 0.0);
        for (index_t p = 0; p < m; ++p) nv[active[p]] = v[k * m + p] * scale[active[p]];
        null_space.push_back(std::move(nv));
      }
    }
    for (index_t p = 0; p < m; ++p) res.coef[active[p]] = xs[p] * scale[active[p]];
    std::vector<std::vector<double>> basis;  // modified Gram-Schmidt, then project out
    for (auto& nv : null_space) {
      for (const auto& u : basis) {
        const double dd = std::inner_product(u.begin(), u.end(), nv.begin(), 0.0);
        for (index_t i = 0; i < d; ++i) nv[i] -= dd * u[i];
      }
      const double nrm = std::sqrt(std::inner_product(nv.begin(), nv.end(), nv.begin(), 0.0));
      if (nrm > 1e-10) {
        for (double& e : nv) e /= nrm;
        basis.push_back(nv);
      }
    }
    for (const auto& u : basis) {
      const double dd = std::inner_product(u.begin(), u.end(), res.coef.begin(), 0.0);
      for (index_t i = 0; i < d; ++i) res.coef[i] -= dd * u[i];
    }
    res.rank = rank;
    const double c = rank > 0 ? smax / smin_kept : std::numeric_limits<double>::infinity();
    res.condition_estimate = c * c;
  }
  if (res.rank < d) {
    res.singular = true;
    res.message = "the design is rank deficient (constant or collinear columns, or fewer samples than "
                  "features); returned the minimum-norm solution";
  }
  if (fit_intercept) {
    // Row 0 of R: R00 b' + sum_j R0j w_j = R0y with b' the intercept about the shift.
    double b = st.at(0, d + 1);
    for (index_t j = 0; j < d; ++j) b -= st.at(0, j + 1) * res.coef[j];
    b /= st.at(0, 0);
    double cw = 0.0;
    for (index_t j = 0; j < d; ++j) cw += st.shift[j] * res.coef[j];
    res.intercept = st.shift[d] + b - cw;
  }
  // Loss from the factor: ||F0 [w; -1]||^2 / S + alpha |w|^2.
  double rss = 0.0, nrm2 = 0.0;
  for (index_t i = 0; i < q; ++i) {
    double r = -f0[i * q + d];
    for (index_t j = i; j < d; ++j) r += f0[i * q + j] * res.coef[j];
    rss += r * r;
  }
  for (double w : res.coef) nrm2 += w * w;
  res.loss_history.push_back(rss / S + alpha * nrm2);
  res.n_iter = 1;
  return res;
}

template <class T>
FitResult fit_qr(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& opt, TsqrStats* stats_out = nullptr) {
  std::vector<double> zero;
  const double* shift = nullptr;
  if (!opt.fit_intercept) {  // no centering to protect; a shift would only have to be undone
    zero.assign(static_cast<std::size_t>(X.cols + 1), 0.0);
    shift = zero.data();
  }
  TsqrStats st = compute_tsqr_stats(X, y, sw, shift, opt.n_shards, opt.n_threads);
  FitResult res = solve_from_r(st, opt.alpha, opt.fit_intercept);
  res.n_passes = 1;
  if (stats_out) *stats_out = std::move(st);
  return res;
}

}  // namespace fastcost
