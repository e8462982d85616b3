// Sparse X in CSR form (scipy.sparse's data, indices, indptr), never densified:
// the one-pass augmented Gram of newton (gram.hpp's layout), the data pass of
// lbfgs and gd (data_pass.hpp) and the sgd epoch (sgd.hpp) over the nonzeros.
// CSC input is converted to CSR once by the caller (fastcost._sparse).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/gd.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/lbfgs.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/sgd.hpp"

namespace fastcost {

// A read-only CSR matrix: row i holds data[p] at column indices[p] for
// p in [indptr[i], indptr[i + 1]). The kernels need each row's column indices
// strictly increasing (scipy's canonical format); validate() checks that.
template <class T, class I>
struct CsrView {
  const T* data = nullptr;
  const I* indices = nullptr;
  const I* indptr = nullptr;  // rows + 1 entries
  index_t rows = 0;
  index_t cols = 0;

  index_t begin(index_t i) const { return static_cast<index_t>(indptr[i]); }
  index_t end(index_t i) const { return static_cast<index_t>(indptr[i + 1]); }
  index_t nnz() const { return rows > 0 ? end(rows - 1) : 0; }

  // O(rows + nnz); `stored` is the length of data and indices.
  void validate(index_t stored) const {
    if (rows < 0 || cols < 0) throw std::invalid_argument("the sparse matrix's shape must be non-negative");
    if (!indptr || indptr[0] != 0) throw std::invalid_argument("indptr must start at 0");
    for (index_t i = 0; i < rows; ++i) {
      const index_t p0 = begin(i), p1 = end(i);
      if (p1 < p0) throw std::invalid_argument("indptr must be non-decreasing (row " + std::to_string(i) + ")");
      if (p1 > stored) throw std::invalid_argument("indptr points past the end of data and indices");
      for (index_t p = p0; p < p1; ++p) {
        const auto j = static_cast<index_t>(indices[p]);
        if (j < 0 || j >= cols) {
          throw std::invalid_argument("column index " + std::to_string(j) + " in row " + std::to_string(i) +
                                      " is outside [0, " + std::to_string(cols) + ")");
        }
        if (p > p0 && j <= static_cast<index_t>(indices[p - 1])) {
          throw std::invalid_argument("the column indices of row " + std::to_string(i) +
                                      " are not strictly increasing (sort them and sum duplicates first)");
        }
      }
    }
  }
};

// ---- newton: the augmented Gram -------------------------------------------------

namespace detail {

// Columns [j0, j1) of the upper triangle of the augmented Gram (the rows of
// `gram` owned by this call, with their y and ones borders), over all rows in
// order; with `last`, also the y / ones block. Each entry is summed in row
// order by exactly one call, so the result does not depend on the partition.
template <class T, class I>
void sparse_gram_columns(const CsrView<T, I>& X, const T* y, const T* sw, double cy, index_t j0, index_t j1,
                         bool last, double* gram) {
  const index_t n = X.rows, d = X.cols, da = d + 2;
  double* corner = gram + d * da + d;  // [y y, y 1; ., 1 1]
  for (index_t i = 0; i < n; ++i) {
    if ((i & 0xFFFF) == 0xFFFF && cancel_requested()) return;
    const index_t r0 = X.begin(i), r1 = X.end(i);
    const double s = sw ? static_cast<double>(sw[i]) : 1.0;
    const double yc = (y ? static_cast<double>(y[i]) : 0.0) - cy;
    if (last) {
      corner[0] += s * yc * yc;
      corner[1] += s * yc;
      corner[da + 1] += s;
    }
    const I* idx = X.indices;
    const index_t pa = j0 == 0 ? r0 : std::lower_bound(idx + r0, idx + r1, static_cast<I>(j0)) - idx;
    const index_t pb = j1 == d ? r1 : std::lower_bound(idx + pa, idx + r1, static_cast<I>(j1)) - idx;
    for (index_t p = pa; p < pb; ++p) {
      const double a = s * static_cast<double>(X.data[p]);
      double* FASTCOST_RESTRICT row = gram + static_cast<index_t>(idx[p]) * da;
      for (index_t q = p; q < r1; ++q) row[static_cast<index_t>(idx[q])] += a * static_cast<double>(X.data[q]);
      row[d] += a * yc;
      row[d + 1] += a;
    }
  }
}

// Column ranges of about equal work for `parts` threads: column j costs the
// entries at or after it in each row holding it (its share of the pairs).
template <class T, class I>
std::vector<index_t> gram_column_bounds(const CsrView<T, I>& X, index_t parts) {
  const index_t d = X.cols;
  std::vector<double> work(static_cast<std::size_t>(d), 0.0);
  for (index_t i = 0; i < X.rows; ++i) {
    const index_t r1 = X.end(i);
    for (index_t p = X.begin(i); p < r1; ++p) work[static_cast<index_t>(X.indices[p])] += static_cast<double>(r1 - p + 2);
  }
  double total = 0.0;
  for (double w : work) total += w;
  std::vector<index_t> bounds{0};
  double acc = 0.0;
  for (index_t j = 0; j < d && static_cast<index_t>(bounds.size()) < parts; ++j) {
    acc += work[j];
    if (acc >= total * static_cast<double>(bounds.size()) / static_cast<double>(parts)) bounds.push_back(j + 1);
  }
  bounds.push_back(d);
  return bounds;
}

// The lower triangle from the upper one, in tiles (a transpose reads one side
// across rows).
inline void mirror_upper(double* g, index_t da, int n_threads) {
  constexpr index_t kTile = 64;
  const index_t tiles = (da + kTile - 1) / kTile;
  const int threads = threads_for_work(static_cast<double>(da) * static_cast<double>(da) * 2e-9, n_threads);
  for_each_shard(make_plan(0, tiles, tiles), threads, [&](index_t tr) {
    const index_t i0 = tr * kTile, i1 = std::min(da, i0 + kTile);  // rows of the lower triangle
    for (index_t j0 = 0; j0 <= i0; j0 += kTile) {
      const index_t j1 = std::min(da, j0 + kTile);
      for (index_t i = i0; i < i1; ++i) {
        for (index_t j = j0; j < std::min(j1, i); ++j) g[i * da + j] = g[j * da + i];
      }
    }
  });
}

}  // namespace detail

// gram.hpp's GramStats of sparse X: the weighted Gram of z_i = [x_i - c,
// y_i - c_y, 1], (d + 2)^2 row-major and symmetric, solved unchanged by
// solve_from_stats. The shift is c = 0 (so each row adds only the products of
// its nonzeros) and c_y = y[0], or the caller's `shift` (d + 1 values; a
// nonzero c is applied afterwards by reshift). The output's rows are split
// among the threads by column (no per-thread copy of the Gram; memory: the
// Gram alone) and every entry is summed in row order: the same bits for any
// thread count.
template <class T, class I>
GramStats sparse_gram_stats(const CsrView<T, I>& X, const T* y, const T* sw, const double* shift, int n_threads) {
  const index_t n = X.rows, d = X.cols, da = d + 2;
  GramStats st;
  st.d = d;
  st.n_rows = n;
  st.n_shards = n > 0 ? 1 : 0;
  st.shift.assign(static_cast<std::size_t>(d + 1), 0.0);
  if (n > 0 && y) st.shift[d] = static_cast<double>(y[0]);
  bool reshift_x = false;
  if (shift) {
    st.shift[d] = shift[d];
    for (index_t j = 0; j < d; ++j) reshift_x = reshift_x || shift[j] != 0.0;
  }
  st.gram.assign(static_cast<std::size_t>(da * da), 0.0);
  if (n == 0) {
    if (shift) st.shift.assign(shift, shift + d + 1);
    return st;
  }
  // About two multiply-adds a nanosecond: the updates scatter over the Gram.
  double pairs = 0.0;
  for (index_t i = 0; i < n; ++i) {
    const auto len = static_cast<double>(X.end(i) - X.begin(i));
    pairs += len * (len + 5.0) * 0.5;
  }
  const int threads = threads_for_work(pairs * 5e-10, n_threads);
  const std::vector<index_t> bounds =
      threads > 1 ? detail::gram_column_bounds(X, threads) : std::vector<index_t>{0, d};
  const auto parts = static_cast<index_t>(bounds.size()) - 1;
  for_each_shard(make_plan(0, parts, parts), threads, [&](index_t c) {
    detail::sparse_gram_columns(X, y, sw, st.shift[d], bounds[c], bounds[c + 1], c == parts - 1, st.gram.data());
  });
  detail::mirror_upper(st.gram.data(), da, n_threads);
  if (reshift_x) return reshift(st, std::vector<double>(shift, shift + d + 1));
  return st;
}

// ---- lbfgs and gd: the probe pass ------------------------------------------------

namespace detail {

// K probes u_k = x^T w_k + b_k - (minus_y_k ? y : 0) over rows [r0, r1), adding
// to out: d groups of K values sum s u_k x_j (column-major by probe: the K
// values of a column share a cache line, as do the K weights of `wi`, w
// interleaved the same way), then sum s, K values sum s u_k, then sum s u_k u_l
// (k <= l, packed by rows). One random read and one random update a nonzero,
// not K of each. Sums in double, each in the order of the nonzeros; has_w[k]
// false: w_k is zero (its entries in wi are not read into u_k).
template <int K, class T, class I>
void sparse_probe_rows(const CsrView<T, I>& X, const T* y, const T* sw, const double* wi, const bool* has_w,
                       const double* b, const bool* minus_y, index_t r0, index_t r1, double* out) {
  constexpr int P = K * (K + 1) / 2;
  const index_t d = X.cols;
  const T* FASTCOST_RESTRICT data = X.data;
  const I* FASTCOST_RESTRICT idx = X.indices;
  double lw = 0.0, lu[K] = {}, luu[P] = {};
  for (index_t i = r0; i < r1; ++i) {
    const index_t p0 = X.begin(i), p1 = X.end(i);
    const double s = sw ? static_cast<double>(sw[i]) : 1.0;
    double r[K] = {};
    for (index_t p = p0; p < p1; ++p) {
      const auto v = static_cast<double>(data[p]);
      const double* FASTCOST_RESTRICT wj = wi + static_cast<index_t>(idx[p]) * K;
      for (int k = 0; k < K; ++k) r[k] += v * wj[k];
    }
    double u[K], su[K];
    for (int k = 0; k < K; ++k) {
      u[k] = (has_w[k] ? r[k] : 0.0) + (b[k] - (minus_y[k] && y ? static_cast<double>(y[i]) : 0.0));
      su[k] = s * u[k];
    }
    lw += s;
    for (int k = 0; k < K; ++k) {
      lu[k] += su[k];
      for (int l = k; l < K; ++l) luu[pair_index(k, l, K)] += su[k] * u[l];
    }
    for (index_t p = p0; p < p1; ++p) {
      const auto v = static_cast<double>(data[p]);
      double* FASTCOST_RESTRICT oj = out + static_cast<index_t>(idx[p]) * K;
      for (int k = 0; k < K; ++k) oj[k] += su[k] * v;
    }
  }
  double* tail = out + K * d;
  tail[0] += lw;
  for (int k = 0; k < K; ++k) tail[1 + k] += lu[k];
  for (int q = 0; q < P; ++q) tail[1 + K + q] += luu[q];
}

// The d columns of the shards' partials (`width` doubles apart, interleaved
// as sparse_probe_rows writes them) summed in shard order, a block of columns
// at a time (the block's sums stay in L1), de-interleaved into sum_ux's K
// blocks of d.
template <int K>
void sparse_reduce_columns(const double* partials, index_t width, index_t n_shards, index_t d, double* sum_ux) {
  constexpr index_t kBlock = 256;
  double acc[kBlock * K];
  for (index_t c0 = 0; c0 < d; c0 += kBlock) {
    const index_t m = std::min(kBlock, d - c0) * K;
    const double* first = partials + c0 * K;
    std::copy(first, first + m, acc);
    for (index_t s = 1; s < n_shards; ++s) {
      const double* FASTCOST_RESTRICT p = partials + s * width + c0 * K;
      for (index_t q = 0; q < m; ++q) acc[q] += p[q];
    }
    for (index_t q = 0; q < m; ++q) sum_ux[(q % K) * d + c0 + q / K] = acc[q];
  }
}

// Shards of at least 4096 rows and 65536 nonzeros, at most 64, and their
// partials (`width` doubles each) together at most about X's stored values:
// from the shape only.
inline index_t sparse_shard_count(index_t rows, index_t nnz, index_t width) {
  const index_t by_memory = std::max<index_t>(nnz, 4 * width) / std::max<index_t>(width, 1);
  return std::max<index_t>(1, std::min<index_t>({64, rows / 4096, nnz / 65536, by_memory}));
}

}  // namespace detail

// Buffers of sparse_probe_sums kept from one pass to the next (a fit's passes
// would otherwise allocate, and fault in, megabytes each).
struct SparseProbeWork {
  std::vector<double> partials;
  std::vector<double> w;
};

// probe_sums (loss_grad.hpp) over sparse X: one read of the nonzeros for up to
// kMaxProbes probes, sharded by rows, one partial per shard, each zeroed by the
// thread that fills it (in one parallel region: waking a team costs
// milliseconds on a loaded machine), then reduced in shard order on the calling
// thread: the same bits for any thread count. Reducing by column ranges in the
// same team saved ~0.5 ms a pass on an idle 2-core machine but cost a
// scheduler tick (4 ms) a pass at the barrier between the phases once another
// process held a core.
template <class T, class I>
ProbeSums sparse_probe_sums(const CsrView<T, I>& X, const T* y, const T* sw, const std::vector<Probe>& probes,
                            index_t n_shards, int n_threads, SparseProbeWork& work) {
  const int K = static_cast<int>(probes.size());
  if (K < 1 || K > kMaxProbes) throw std::invalid_argument("probe_sums takes one to three probes");
  const index_t n = X.rows, d = X.cols;
  ProbeSums res = detail::zero_probe_sums(K, d);
  if (n == 0) return res;
  const int P = K * (K + 1) / 2;
  const index_t width = K * d + 1 + K + P;
  const ShardPlan plan = make_plan(0, n, n_shards > 0 ? n_shards : detail::sparse_shard_count(n, X.nnz(), width));
  bool has_w[kMaxProbes] = {}, my[kMaxProbes] = {};
  double bt[kMaxProbes] = {};
  int order[kMaxProbes] = {};
  work.w.assign(static_cast<std::size_t>(K * d), 0.0);
  for (int k = 0; k < K; ++k) {
    has_w[k] = probes[k].w != nullptr;
    bt[k] = probes[k].b;
    my[k] = probes[k].with_y;
    order[k] = k;
    if (has_w[k]) {
      for (index_t j = 0; j < d; ++j) work.w[j * K + k] = probes[k].w[j];
    }
  }
  work.partials.resize(static_cast<std::size_t>(plan.n_shards * width));
  // Memory-bound: ~nnz (sizeof(T) + sizeof(I)) bytes and K gathers a nonzero.
  const double seconds = static_cast<double>(X.nnz()) * static_cast<double>(sizeof(T) + sizeof(I) + 4 * K) / 1e10;
  const int threads = static_cast<int>(std::min<index_t>(threads_for_work(seconds, n_threads), plan.n_shards));
  double* const partials = work.partials.data();
  const double* const wi = work.w.data();
  for_each_shard(plan, threads, [&](index_t s) {
    double* out = partials + s * width;
    std::fill(out, out + width, 0.0);
    const index_t r0 = plan.shard_begin(s), r1 = plan.shard_end(s);
    if (K == 1) detail::sparse_probe_rows<1>(X, y, sw, wi, has_w, bt, my, r0, r1, out);
    if (K == 2) detail::sparse_probe_rows<2>(X, y, sw, wi, has_w, bt, my, r0, r1, out);
    if (K == 3) detail::sparse_probe_rows<3>(X, y, sw, wi, has_w, bt, my, r0, r1, out);
  });
  double* ux = res.sum_ux.data();
  if (K == 1) detail::sparse_reduce_columns<1>(partials, width, plan.n_shards, d, ux);
  if (K == 2) detail::sparse_reduce_columns<2>(partials, width, plan.n_shards, d, ux);
  if (K == 3) detail::sparse_reduce_columns<3>(partials, width, plan.n_shards, d, ux);
  std::vector<double> tail(partials + K * d, partials + width);
  for (index_t s = 1; s < plan.n_shards; ++s) {
    const double* p = partials + s * width + K * d;
    for (std::size_t q = 0; q < tail.size(); ++q) tail[q] += p[q];
  }
  detail::unpack_probe_scalars(tail.data(), K, order, res);
  return res;
}

template <class T, class I>
ProbeSums sparse_probe_sums(const CsrView<T, I>& X, const T* y, const T* sw, const std::vector<Probe>& probes,
                            index_t n_shards, int n_threads) {
  SparseProbeWork work;
  return sparse_probe_sums(X, y, sw, probes, n_shards, n_threads, work);
}

// The data pass of lbfgs and gd (data_pass.hpp) over sparse X. It declines
// lbfgs' row sample: sparse designs are often collinear by construction (one-hot
// columns beside an intercept), where the sample's singular Hessian, which
// rounding can let through a Cholesky, would blow up the null space as a
// preconditioner (MixedPass declines it for the same reason), and the sample
// rarely pins down rare columns. Column moments (standardize) are not offered.
template <class T, class I>
class SparsePass {
 public:
  SparsePass(const CsrView<T, I>& X, const T* y, const T* sw, index_t n_shards, int n_threads)
      : X_(X), y_(y), sw_(sw), n_shards_(n_shards), n_threads_(n_threads) {}

  index_t rows() const { return X_.rows; }
  index_t cols() const { return X_.cols; }
  double epsilon() const { return static_cast<double>(std::numeric_limits<T>::epsilon()); }
  index_t reads() const { return reads_; }
  bool takes_row_sample() const { return false; }

  PassStartResult start(const PassStart& req) {
    if (req.moments) throw std::invalid_argument("standardize is not supported for sparse X");
    PassStartResult out;
    weighted_totals(y_, sw_, X_.rows, out.sum_w, out.sum_wy);
    if (req.center) {
      std::vector<double> row(static_cast<std::size_t>(X_.cols), 0.0);
      out.center = weighted_row_mean(X_.cols, center_rows(X_.rows), [&](index_t i, double& s) {
        s = sw_ ? static_cast<double>(sw_[i]) : 1.0;
        std::fill(row.begin(), row.end(), 0.0);
        for (index_t p = X_.begin(i); p < X_.end(i); ++p) {
          row[static_cast<index_t>(X_.indices[p])] = static_cast<double>(X_.data[p]);
        }
        return row;
      });
    }
    return out;
  }

  ProbeSums probes(const std::vector<Probe>& probes) {
    ++reads_;
    return sparse_probe_sums(X_, y_, sw_, probes, n_shards_, n_threads_, work_);
  }

 private:
  CsrView<T, I> X_;
  const T* y_;
  const T* sw_;
  index_t n_shards_;
  int n_threads_;
  index_t reads_ = 0;
  SparseProbeWork work_;
};

template <class T, class I>
FitResult fit_sparse_lbfgs(const CsrView<T, I>& X, const T* y, const T* sw, const FitOptions& opt) {
  SparsePass<T, I> data(X, y, sw, opt.n_shards, opt.n_threads);
  return fit_lbfgs(data, opt);
}

template <class T, class I>
FitResult fit_sparse_gd(const CsrView<T, I>& X, const T* y, const T* sw, const FitOptions& opt) {
  SparsePass<T, I> data(X, y, sw, opt.n_shards, opt.n_threads);
  return fit_gd(data, opt);
}

// ---- sgd ---------------------------------------------------------------------------

namespace detail {

// CSR rows as sgd_epoch_rows (sgd.hpp) reads them: x_i^T w and g += a x_i over
// the row's nonzeros, in X's precision like the dense epoch.
template <class T, class I>
struct SparseSgdRows {
  CsrView<T, I> X;
  T dot(index_t i, const T* w) const {
    T r = 0;
    for (index_t p = X.begin(i); p < X.end(i); ++p) r += X.data[p] * w[static_cast<index_t>(X.indices[p])];
    return r;
  }
  void axpy(T* g, T a, index_t i) const {
    for (index_t p = X.begin(i); p < X.end(i); ++p) g[static_cast<index_t>(X.indices[p])] += a * X.data[p];
  }
};

}  // namespace detail

// fit_sgd (sgd.hpp) over sparse X: the same shuffles, batches, start and update
// (sgd_epochs, sgd_epoch_rows), so it matches fit_sgd on the densified X up to
// the order of the additions in each row's dot product. The recipe's
// standardize, noise_var and frozen train on centered, dense rows: not offered.
template <class T, class I>
FitResult fit_sparse_sgd(const CsrView<T, I>& X, const T* y, const T* sw, const FitOptions& opt) {
  if (opt.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1");
  if (opt.standardize || opt.noise_var > 0.0 || !opt.frozen.empty()) {
    throw std::invalid_argument("sgd on sparse X does not support standardize, noise_var or frozen columns");
  }
  // sgd_start reads X only for standardize's moments: a shape is enough here.
  MatrixView<T> shape;
  shape.rows = X.rows;
  shape.cols = X.cols;
  shape.ld = X.cols;
  detail::SgdStart<T> st = detail::sgd_start(shape, sw, opt, X.cols);
  T b = st.b;
  std::vector<T> g(static_cast<std::size_t>(X.cols));
  FitResult res;
  const detail::SparseSgdRows<T, I> rows{X};
  detail::sgd_epochs(X.rows, opt, res, [&](const std::uint32_t* order, double* total) {
    detail::sgd_epoch_rows<T>(rows, X.rows, X.cols, y, sw, order, opt.batch_size, static_cast<T>(opt.learning_rate),
                              static_cast<T>(opt.alpha), st.w.data(), &b, opt.fit_intercept, g.data(), total);
  });
  detail::sgd_finish(st, st.w, b, res);
  return res;
}

}  // namespace fastcost
