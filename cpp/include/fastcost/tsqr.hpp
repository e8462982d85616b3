// Tall-skinny QR (TSQR) for weighted least squares in one pass over X.
//
// For rows x_i, targets y_i (k of them; a 1-D y is k = 1) and weights s_i the
// pass computes the upper triangular R of the weighted, shifted, augmented design
//     Z = diag(sqrt(s)) [1, X - c, Y - c_Y]          (n x p, p = d + k + 1)
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
// y column comes last, so R[p-1][p-1]^2 is the residual sum of squares. With k
// targets, target t's (d + 2) factor is R[0..d, 0..d] and R[0..d, d + 1 + t],
// with the norm of R[d + 1..d + 1 + t, d + 1 + t] as its last diagonal entry.
// Normal equations square the condition number; this factor does not.
//
// Wide designs (p >= wide_qr_min_cols(), double precision) take the blocked
// kernel of tsqr_wide.hpp instead: row shards for tall data (n >= 32 p), else
// one factor with the columns split over the threads; again the same result
// for any thread count at a given shard count. The sign of each row of R is not
// fixed by either kernel (a fold flips the diagonal's sign), so the two can
// return factors that differ by row signs; R^T R and the solves agree.
//
// Precision: a backward-stable QR in double keeps about 16 - log10(k + k^2 tan t)
// digits normwise (k the condition number of the equilibrated factor, tan t the
// residual-to-fit ratio), fewer on parameters with a small effect. Where
// qr_digits_estimate says fewer than kExtendedMinDigits, the pass can be repeated in extended precision (`long double`: 64-bit mantissa
// on x86-64, IEEE quad on aarch64). X stays in its dtype; rows are widened as
// they are packed. The extended factor travels as two doubles per entry
// (r + r_lo == the long double value exactly for a 64-bit mantissa), so it
// survives the Python boundary and Dask merges without losing its digits.
//
// X may itself be long double (T = extended_t): data whose digits float64
// would round away (Filip's x^1..x^10) are read in place and widened to
// nothing; Auto then goes straight to the extended pass, since a double pass
// would discard exactly the digits the caller kept.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "fastcost/gram.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/simd.hpp"
#include "fastcost/tsqr_kernels.hpp"
#include "fastcost/tsqr_wide.hpp"

namespace fastcost {

// Working precision of the qr pass. Auto: double, then extended only where the
// double solve's qr_digits_estimate is below kExtendedMinDigits.
enum class QrPrecision { Auto, Double, Extended };

using extended_t = long double;

// Where long double is just double (MSVC) the extended path gains nothing; it
// still runs when asked for (same results as double, slower), but Auto skips it.
constexpr bool kExtendedIsWider = std::numeric_limits<extended_t>::digits > std::numeric_limits<double>::digits;

// Auto takes the extended pass when qr_digits_estimate of the double solve is
// below this: the estimate undershoots by 0-3.6 digits on the NIST sets, so 9.5
// keeps 9 correct digits there while well-conditioned data (estimate ~12-13 on
// the 2,000,000 x 100 benchmark) never pays for the much slower second pass.
constexpr double kExtendedMinDigits = 9.5;

// ... but only where the extended pass is affordable: its Householder work,
// 2 n p^2 flops for n rows and p augmented columns, runs in scalar x87
// arithmetic at about 0.7-1.3 GFLOP/s on two cores (some 50-250 times the
// double pass's time on wide data). Auto skips it above this many flops
// (about 10 s) and says so; qr_precision='extended' still takes it. The rule
// reads the shape only, so the choice never depends on timing or threads.
constexpr double kExtendedMaxFlops = 1e10;

inline double extended_pass_flops(index_t n_rows, index_t p) {
  return 2.0 * static_cast<double>(n_rows) * static_cast<double>(p) * static_cast<double>(p);
}

struct TsqrStats {
  index_t d = 0;               // features
  index_t n_targets = 1;       // k: target columns after the features
  std::vector<double> shift;   // d + k values: c then c_y
  std::vector<double> r;       // p x p, row-major, upper triangular, columns [1, x - c, y - c_y]
  std::vector<double> r_lo;    // empty, or the low parts of an extended-precision factor (r + r_lo)
  index_t n_rows = 0;          // rows summarized (weights may be zero)
  index_t n_nonzero = 0;       // rows with a positive weight (residual degrees of freedom)
  index_t n_shards = 0;

  index_t dim() const { return d + n_targets + 1; }
  bool extended() const { return !r_lo.empty(); }
  double at(index_t i, index_t j) const { return r[i * dim() + j]; }
  double sum_weights() const { return at(0, 0) * at(0, 0); }

  // The factor (row-major) in Real: hi + lo where a low part is held.
  template <class Real>
  std::vector<Real> values() const {
    std::vector<Real> out(r.begin(), r.end());
    if (extended())
      for (std::size_t i = 0; i < out.size(); ++i) out[i] += static_cast<Real>(r_lo[i]);
    return out;
  }

  // Stores a row-major factor; a wider Real keeps its low part in r_lo.
  template <class Real>
  void set_values(const std::vector<Real>& v) {
    r.resize(v.size());
    r_lo.clear();
    for (std::size_t i = 0; i < v.size(); ++i) r[i] = static_cast<double>(v[i]);
    if constexpr (!std::is_same_v<Real, double>) {
      r_lo.resize(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) r_lo[i] = static_cast<double>(v[i] - static_cast<Real>(r[i]));
    }
  }
};

namespace detail {

// The sharded pass in working precision Real; fills st.r (and st.r_lo).
template <class Real, class T>
void tsqr_pass(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sample_weight, index_t n_shards,
               int n_threads, TsqrStats& st) {
  const index_t n = X.rows, p = X.cols + Y.cols + 1;
  if constexpr (std::is_same_v<Real, double>) {
    if (use_wide_qr(p)) {
      // The blocked kernel (tsqr_wide.hpp): row shards for tall data, else one
      // factor with the columns split over the threads; the same result for
      // any thread count.
      const index_t shards = make_plan(0, n, wide_qr_shards(n, p, n_shards)).n_shards;
      std::vector<double> R(static_cast<std::size_t>(p * p), 0.0);
      st.n_nonzero = tsqr_wide_pass(X, Y, sample_weight, st.shift.data(), shards, n_threads, R);
      st.n_shards = shards;
      st.r.resize(R.size());
      st.r_lo.clear();
      wq_transpose(R.data(), p, st.r.data());
      return;
    }
  }
  const Isa isa = active_isa();
  if (n_shards <= 0) n_shards = default_shard_count(n, p, p * p);
  const ShardPlan plan = make_plan(0, n, n_shards);
  st.n_shards = plan.n_shards;
  const index_t tile = p * p;
  std::vector<Real> partials(static_cast<std::size_t>(plan.n_shards * tile), Real(0));
  std::vector<index_t> nonzero(static_cast<std::size_t>(plan.n_shards), 0);
  const index_t block = block_rows<Real>();
  // QR does about 2.2x the multiply-adds of the Gram pass (see gram.hpp for the rate).
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(p) * static_cast<double>(p) * 1.1 / 8e9, n_threads);

  for_each_shard(plan, threads, [&](index_t s) {
    const index_t r0 = plan.shard_begin(s), r1 = plan.shard_end(s);
    const index_t mb = round_up(std::min(block, r1 - r0), 8);
    Scratch<Real> B(static_cast<std::size_t>(mb * p));
    Scratch<Real> root(static_cast<std::size_t>(mb));
    Scratch<Real> work(static_cast<std::size_t>(kQrPanel * (kQrPanel + 1)));
    Real* R = partials.data() + s * tile;
    for (index_t i0 = r0; i0 < r1; i0 += block) {
      if (cancel_requested()) throw Cancelled();
      const index_t nb = std::min(block, r1 - i0);
      nonzero[s] += qr_pack<Real>(X, Y, sample_weight, st.shift.data(), i0, nb, B.data(), mb, root.data());
      stack_block(isa, R, p, B.data(), mb, work.data());
    }
  });

  // Fixed-order reduction: fold shard 1, 2, ... into shard 0's factor.
  std::vector<Real> R(partials.begin(), partials.begin() + tile), buf;
  std::vector<Real> work(static_cast<std::size_t>(kQrPanel * (kQrPanel + 1)));
  for (index_t s = 1; s < plan.n_shards; ++s) qr_fold(isa, R.data(), partials.data() + s * tile, p, buf, work.data());
  st.set_values(colmajor_to_upper(R.data(), p));
  st.n_nonzero = std::accumulate(nonzero.begin(), nonzero.end(), index_t(0));
}

}  // namespace detail

// R factor of rows [0, n) of (X, Y, sample_weight) in one sharded pass; Y is
// n x k targets in any layout (data null: zeros). `shift` (d + k values)
// defaults to the first row and its targets; pass zeros for a model without
// intercept. sample_weight may be null. Extended precision fills r_lo as well;
// Auto means Double here (the choice needs a solve).
template <class T>
TsqrStats compute_tsqr_stats(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sample_weight,
                             const double* shift, index_t n_shards, int n_threads,
                             QrPrecision precision = QrPrecision::Double) {
  X.validate();
  validate_targets(Y, X.rows);
  const index_t n = X.rows, d = X.cols, k = Y.cols, p = d + k + 1;
  TsqrStats st;
  st.d = d;
  st.n_targets = k;
  st.n_rows = n;
  st.shift = choose_shift(X, Y, shift);
  st.r.assign(static_cast<std::size_t>(p * p), 0.0);
  if (precision == QrPrecision::Extended) st.r_lo.assign(st.r.size(), 0.0);
  if (n == 0) return st;
  if (precision == QrPrecision::Extended) {
    detail::tsqr_pass<extended_t>(X, Y, sample_weight, n_shards, n_threads, st);
  } else {
    detail::tsqr_pass<double>(X, Y, sample_weight, n_shards, n_threads, st);
  }
  for (double v : st.r) {
    if (!std::isfinite(v)) throw NonFiniteError("non-finite statistics");
  }
  return st;
}

// One target y (or none: null).
template <class T>
TsqrStats compute_tsqr_stats(const MatrixView<T>& X, const T* y, const T* sample_weight, const double* shift,
                             index_t n_shards, int n_threads, QrPrecision precision = QrPrecision::Double) {
  return compute_tsqr_stats(X, target_column(y, X.rows), sample_weight, shift, n_shards, n_threads, precision);
}

namespace detail {

// Re-expresses a factor about another shift. Column j of Z gains
// (c_j - c'_j) times the ones column, so only row 0 of R changes: exact algebra,
// the same for feature and target columns.
template <class Real>
TsqrStats tsqr_reshift(const TsqrStats& st, const std::vector<double>& new_shift) {
  const index_t p = st.dim();
  TsqrStats out = st;
  out.shift = new_shift;
  std::vector<Real> r = st.values<Real>();
  for (index_t j = 1; j < p; ++j)
    r[j] += (static_cast<Real>(st.shift[j - 1]) - static_cast<Real>(new_shift[j - 1])) * r[0];
  out.set_values(r);
  return out;
}

template <class Real>
TsqrStats tsqr_merge(const TsqrStats& a, const TsqrStats& b) {
  const index_t p = a.dim();
  const TsqrStats bb = a.shift == b.shift ? b : tsqr_reshift<Real>(b, a.shift);
  if constexpr (std::is_same_v<Real, double>) {
    if (use_wide_qr(p)) {  // the blocked fold with a triangular B: 2/3 p^3 flops, threaded
      std::vector<double> R(static_cast<std::size_t>(p * p)), add(R.size());
      wq_transpose(a.r.data(), p, R.data());
      wq_transpose(bb.r.data(), p, add.data());
      wq_fold_factor(R.data(), add.data(), p, wq_upper_threads(p));
      TsqrStats out = a;
      wq_transpose(R.data(), p, out.r.data());
      out.n_rows += b.n_rows;
      out.n_nonzero += b.n_nonzero;
      out.n_shards += b.n_shards;
      return out;
    }
  }
  std::vector<Real> R = upper_to_colmajor(a.values<Real>(), p);
  const std::vector<Real> add = upper_to_colmajor(bb.values<Real>(), p);
  std::vector<Real> buf, work(static_cast<std::size_t>(kQrPanel * (kQrPanel + 1)));
  qr_fold(active_isa(), R.data(), add.data(), p, buf, work.data());
  TsqrStats out = a;
  out.set_values(colmajor_to_upper(R.data(), p));
  out.n_rows += b.n_rows;
  out.n_nonzero += b.n_nonzero;
  out.n_shards += b.n_shards;
  return out;
}

}  // namespace detail

inline TsqrStats tsqr_reshift(const TsqrStats& st, const std::vector<double>& new_shift) {
  if (static_cast<index_t>(new_shift.size()) != st.dim() - 1) throw std::invalid_argument("shift has the wrong length");
  return st.extended() ? detail::tsqr_reshift<extended_t>(st, new_shift) : detail::tsqr_reshift<double>(st, new_shift);
}

// Factor of the union of two row sets (e.g. two Dask chunks): b is moved to
// a's shift, then R of [R_a; R_b]. Extended if either factor is: merging in
// double would throw the low parts away.
inline TsqrStats tsqr_merge(const TsqrStats& a, const TsqrStats& b) {
  if (a.d != b.d) throw std::invalid_argument("cannot merge factors with different feature counts");
  if (a.n_targets != b.n_targets) throw std::invalid_argument("cannot merge factors with different target counts");
  const index_t p = a.dim();
  if (static_cast<index_t>(a.r.size()) != p * p || static_cast<index_t>(b.r.size()) != p * p)
    throw std::invalid_argument("factor has the wrong size");
  if (a.shift.size() != b.shift.size()) throw std::invalid_argument("shift has the wrong length");
  return a.extended() || b.extended() ? detail::tsqr_merge<extended_t>(a, b) : detail::tsqr_merge<double>(a, b);
}

}  // namespace fastcost
