// Preprocessing kernels that read X in place: column moments (for standardizing),
// the affine column map (standardize / undo it, optionally in place), and the
// NaN/inf scan and imputation behind fastcost.preprocessing.clean.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fastcost/block_tree.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"

namespace fastcost {

// A writable matrix with the same layout conventions as MatrixView.
template <class T>
struct MutableMatrixView {
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t ld = 0;
  Layout layout = Layout::RowMajor;

  MatrixView<T> view() const { return MatrixView<T>{data, rows, cols, ld, layout}; }
  T& at(index_t i, index_t j) const { return layout == Layout::RowMajor ? data[i * ld + j] : data[j * ld + i]; }
};

// Weighted column moments: sum of weights, means and M2 = sum s (x - mean)^2.
struct ColumnMoments {
  double sum_w = 0.0;
  std::vector<double> mean;
  std::vector<double> m2;
  index_t n_shards = 0;
  bool finite = true;  // false when a sum is NaN/inf (a NaN/inf cell, or overflow)
};

namespace detail {

// Rows per block: read twice, the second time from cache; the blocks of the
// rows' tree (block_tree.hpp), so that moments merge the same for any split.
constexpr index_t kMomentBlock = kTreeBlockRows;

// Moments of each block of kMomentBlock rows of [r0, r1) (r0 a block's first
// row) of x - c (c: a row of the data), with the corrected two-pass algorithm:
// a provisional mean m from the block sum, then sum s (x - c - m) (the
// correction) and sum s (x - c - m)^2. For a column with a large mean and small
// spread x - c is exact, and the means and their differences merged later keep
// full precision; stored about the large mean they would lose it (1e9 +
// N(0, 1e-3): about 1e-7 of the variance). sink(i0, v) gets each block's
// [w, mean (d), M2 (d)] (zeros for a block of no weight).
template <class T, class Sink>
void moments_blocks(const MatrixView<T>& X, const T* sw, const double* c, index_t r0, index_t r1, Sink&& sink) {
  const index_t d = X.cols;
  std::vector<double> v(static_cast<std::size_t>(2 * d + 1)), corr(static_cast<std::size_t>(d));
  double* const m = v.data() + 1;
  double* const q = m + d;
  for (index_t i0 = r0; i0 < r1; i0 += kMomentBlock) {
    const index_t i1 = std::min(r1, i0 + kMomentBlock);
    std::fill(v.begin(), v.end(), 0.0);
    double wb = 0.0;
    for (index_t i = i0; i < i1; ++i) wb += sw ? static_cast<double>(sw[i]) : 1.0;
    if (!(wb > 0.0)) {  // zero-weight rows carry no information
      sink(i0, v.data());
      continue;
    }
    std::fill(corr.begin(), corr.end(), 0.0);
    if (X.layout == Layout::RowMajor) {
      for (index_t i = i0; i < i1; ++i) {
        const T* xi = X.row(i);
        const double s = sw ? static_cast<double>(sw[i]) : 1.0;
        for (index_t j = 0; j < d; ++j) m[j] += s * (static_cast<double>(xi[j]) - c[j]);
      }
      for (index_t j = 0; j < d; ++j) m[j] /= wb;
      for (index_t i = i0; i < i1; ++i) {
        const T* xi = X.row(i);
        const double s = sw ? static_cast<double>(sw[i]) : 1.0;
        for (index_t j = 0; j < d; ++j) {
          const double e = (static_cast<double>(xi[j]) - c[j]) - m[j];
          corr[j] += s * e;
          q[j] += s * e * e;
        }
      }
    } else {
      for (index_t j = 0; j < d; ++j) {
        const T* xj = X.col(j);
        double a = 0.0;
        for (index_t i = i0; i < i1; ++i) a += (sw ? static_cast<double>(sw[i]) : 1.0) * (static_cast<double>(xj[i]) - c[j]);
        const double mj = a / wb;
        double cc = 0.0, qq = 0.0;
        for (index_t i = i0; i < i1; ++i) {
          const double s = sw ? static_cast<double>(sw[i]) : 1.0;
          const double e = (static_cast<double>(xj[i]) - c[j]) - mj;
          cc += s * e;
          qq += s * e * e;
        }
        m[j] = mj;
        corr[j] = cc;
        q[j] = qq;
      }
    }
    for (index_t j = 0; j < d; ++j) {
      q[j] -= corr[j] * corr[j] / wb;  // exact identity: removes the provisional mean's error
      m[j] += corr[j] / wb;
    }
    v[0] = wb;
    sink(i0, v.data());
  }
}

}  // namespace detail

// Two blocks' moments, each [w, mean (d), M2 (d)] about the same shift, as
// those of their rows together (Chan, Golub & LeVeque; a block of no weight
// carries nothing): the merge of moments_tree's nodes.
inline void merge_moments(double* left, const double* right, index_t width) {
  const index_t d = (width - 1) / 2;
  const double wa = left[0], wb = right[0];
  if (!(wb > 0.0)) return;
  if (!(wa > 0.0)) {
    std::copy(right, right + width, left);
    return;
  }
  const double tot = wa + wb, fb = wb / tot, cross = wa * wb / tot;
  double* mean = left + 1;
  double* m2 = left + 1 + d;
  for (index_t j = 0; j < d; ++j) {
    const double delta = right[1 + j] - mean[j];
    mean[j] += delta * fb;
    m2[j] += right[1 + d + j] + delta * delta * cross;
  }
  left[0] = tot;
}

// The moments of every block of kMomentBlock rows of x - shift, X's first
// row starting block `block0`, in the rows' tree with merge_moments: the same
// bits for any shard count, thread count or split of the rows.
template <class T>
BlockTree moments_tree(const MatrixView<T>& X, const T* sw, const double* shift, index_t block0, index_t n_shards,
                       int n_threads, index_t* shards_used = nullptr) {
  X.validate();
  const index_t n = X.rows, d = X.cols, width = 2 * d + 1;
  if (n_shards <= 0) n_shards = default_shard_count(n, d, width);
  const BlockShards shards(n, n_shards);
  if (shards_used) *shards_used = shards.count();
  std::vector<BlockTree> trees(static_cast<std::size_t>(shards.count()), BlockTree(width, merge_moments));
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(d) * sizeof(T) / 1e10, n_threads);
  for_each_shard(shards.blocks, threads, [&](index_t s) {
    detail::moments_blocks<T>(X, sw, shift, shards.row_begin(s), shards.row_end(s), [&](index_t i0, const double* v) {
      trees[s].push(0, block0 + i0 / detail::kMomentBlock, v);
    });
  });
  return join_trees(trees, width, merge_moments);
}

// ColumnMoments from a moments_tree of all rows about `shift`.
inline ColumnMoments moments_from_tree(const BlockTree& tree, const std::vector<double>& shift) {
  const index_t d = (tree.width() - 1) / 2;
  const std::vector<double> t = tree.total();
  ColumnMoments out;
  out.sum_w = t[0];
  out.mean.assign(static_cast<std::size_t>(d), 0.0);
  out.m2.assign(static_cast<std::size_t>(d), 0.0);
  if (out.sum_w > 0.0) {
    for (index_t j = 0; j < d; ++j) {
      out.mean[j] = shift[j] + t[1 + j];
      out.m2[j] = t[1 + d + j];
    }
  }
  for (index_t j = 0; j < d; ++j) {
    if (!std::isfinite(out.mean[j]) || !std::isfinite(out.m2[j])) out.finite = false;
  }
  return out;
}

// Weighted means and M2 of X's columns in one sharded pass, about X's first row.
template <class T>
ColumnMoments compute_column_moments(const MatrixView<T>& X, const T* sw, index_t n_shards, int n_threads) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  std::vector<double> shift(static_cast<std::size_t>(d), 0.0);
  if (n == 0) {
    ColumnMoments out;
    out.mean = shift;
    out.m2 = shift;
    return out;
  }
  for (index_t j = 0; j < d; ++j) shift[j] = static_cast<double>(X(0, j));
  index_t used = 0;
  ColumnMoments out = moments_from_tree(moments_tree(X, sw, shift.data(), 0, n_shards, n_threads, &used), shift);
  out.n_shards = used;
  return out;
}

// Standard deviations with scikit-learn's rule for (near-)constant columns: a
// variance within the error bound of the two-pass algorithm,
// var <= n eps var + (n mean eps)^2, counts as zero and gets scale 1.
inline std::vector<double> scale_from_moments(const ColumnMoments& m) {
  const double eps = std::numeric_limits<double>::epsilon(), n = m.sum_w;
  std::vector<double> scale(m.mean.size(), 1.0);
  for (std::size_t j = 0; j < scale.size(); ++j) {
    const double var = n > 0.0 ? m.m2[j] / n : 0.0;
    const double bound = n * eps * var + (n * m.mean[j] * eps) * (n * m.mean[j] * eps);
    if (var > bound) scale[j] = std::sqrt(var);
  }
  return scale;
}

// out = (x - offset) / scale, or x * scale + offset when `inverse`. `out` may be
// X itself (in place) or an array of the same shape and layout. The arithmetic
// is scikit-learn's (subtract, then divide, each rounded to T) so the results
// agree bit for bit with StandardScaler.transform. Returns how many results are
// NaN/inf, so callers can reject bad input without another pass.
template <class T>
std::int64_t affine_columns(const MatrixView<T>& X, const MutableMatrixView<T>& out, const double* offset,
                    const double* scale, bool inverse, index_t n_shards, int n_threads) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  if (out.rows != n || out.cols != d || out.layout != X.layout) throw std::invalid_argument("output shape or layout differs");
  if (n == 0 || d == 0) return 0;
  if (n_shards <= 0) n_shards = default_shard_count(n, d, 1);
  const ShardPlan plan = make_plan(0, n, n_shards);
  std::vector<std::int64_t> bad(static_cast<std::size_t>(plan.n_shards), 0);
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(d) * sizeof(T) / 1e10, n_threads);
  auto map = [&](T x, index_t j) -> T {
    const double o = offset ? offset[j] : 0.0;
    if (inverse) {
      const T t = scale ? static_cast<T>(static_cast<double>(x) * scale[j]) : x;
      return static_cast<T>(static_cast<double>(t) + o);
    }
    const T t = static_cast<T>(static_cast<double>(x) - o);
    return scale ? static_cast<T>(static_cast<double>(t) / scale[j]) : t;
  };
  for_each_shard(plan, threads, [&](index_t s) {
    const index_t r0 = plan.shard_begin(s), r1 = plan.shard_end(s);
    std::int64_t b = 0;
    if (X.layout == Layout::RowMajor) {
      for (index_t i = r0; i < r1; ++i) {
        const T* xi = X.row(i);
        T* oi = out.data + i * out.ld;
        for (index_t j = 0; j < d; ++j) {
          oi[j] = map(xi[j], j);
          b += std::isfinite(oi[j]) ? 0 : 1;
        }
      }
    } else {
      for (index_t j = 0; j < d; ++j) {
        const T* xj = X.col(j);
        T* oj = out.data + j * out.ld;
        for (index_t i = r0; i < r1; ++i) {
          oj[i] = map(xj[i], j);
          b += std::isfinite(oj[i]) ? 0 : 1;
        }
      }
    }
    bad[s] = b;
  });
  std::int64_t total = 0;
  for (std::int64_t b : bad) total += b;
  return total;
}

// Where the NaN/inf cells are: counts per column, bad rows (X or y), the first
// bad cell in row order, and the sums of the finite values (for imputation).
struct NonfiniteScan {
  std::vector<std::int64_t> col_bad;     // d counts
  std::vector<double> col_finite_sum;    // d sums of finite values
  std::int64_t y_bad = 0;
  std::int64_t rows_bad = 0;
  index_t first_row = -1, first_col = -1;  // first_col == d: y
};

template <class T>
NonfiniteScan scan_nonfinite(const MatrixView<T>& X, const T* y, std::uint8_t* row_bad, index_t n_shards,
                             int n_threads) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  NonfiniteScan out;
  out.col_bad.assign(static_cast<std::size_t>(d), 0);
  out.col_finite_sum.assign(static_cast<std::size_t>(d), 0.0);
  if (n == 0) return out;
  if (n_shards <= 0) n_shards = default_shard_count(n, d, 2 * d + 4);
  const ShardPlan plan = make_plan(0, n, n_shards);
  struct Part {
    std::vector<std::int64_t> bad;
    std::vector<double> sum;
    std::int64_t y_bad = 0, rows_bad = 0;
    index_t first_row = -1, first_col = -1;
  };
  std::vector<Part> parts(static_cast<std::size_t>(plan.n_shards));
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(d) * sizeof(T) / 1e10, n_threads);
  for_each_shard(plan, threads, [&](index_t s) {
    const index_t r0 = plan.shard_begin(s), r1 = plan.shard_end(s);
    Part& p = parts[s];
    p.bad.assign(static_cast<std::size_t>(d), 0);
    p.sum.assign(static_cast<std::size_t>(d), 0.0);
    // Row flags of this shard's rows only: shards never share a row.
    std::vector<std::uint8_t> flags(static_cast<std::size_t>(r1 - r0), 0);
    auto note = [&](index_t i, index_t j) {
      if (p.first_row < 0 || i < p.first_row || (i == p.first_row && j < p.first_col)) {
        p.first_row = i;
        p.first_col = j;
      }
      flags[i - r0] = 1;
    };
    if (X.layout == Layout::RowMajor) {
      for (index_t i = r0; i < r1; ++i) {
        const T* xi = X.row(i);
        for (index_t j = 0; j < d; ++j) {
          if (std::isfinite(xi[j])) {
            p.sum[j] += static_cast<double>(xi[j]);
          } else {
            ++p.bad[j];
            note(i, j);
          }
        }
      }
    } else {
      for (index_t j = 0; j < d; ++j) {
        const T* xj = X.col(j);
        for (index_t i = r0; i < r1; ++i) {
          if (std::isfinite(xj[i])) {
            p.sum[j] += static_cast<double>(xj[i]);
          } else {
            ++p.bad[j];
            note(i, j);
          }
        }
      }
    }
    if (y) {
      for (index_t i = r0; i < r1; ++i) {
        if (!std::isfinite(y[i])) {
          ++p.y_bad;
          note(i, d);
        }
      }
    }
    for (index_t i = r0; i < r1; ++i) {
      p.rows_bad += flags[i - r0];
      if (row_bad) row_bad[i] = flags[i - r0];
    }
  });
  for (const Part& p : parts) {  // fixed shard order
    for (index_t j = 0; j < d; ++j) {
      out.col_bad[j] += p.bad[j];
      out.col_finite_sum[j] += p.sum[j];
    }
    out.y_bad += p.y_bad;
    out.rows_bad += p.rows_bad;
    if (out.first_row < 0 && p.first_row >= 0) {  // shards are in row order
      out.first_row = p.first_row;
      out.first_col = p.first_col;
    }
  }
  return out;
}

// Replaces every NaN/inf cell of column j with values[j], in place; returns
// the number of cells replaced.
template <class T>
std::int64_t fill_nonfinite(const MutableMatrixView<T>& X, const double* values, index_t n_shards, int n_threads) {
  const index_t n = X.rows, d = X.cols;
  if (n == 0 || d == 0) return 0;
  if (n_shards <= 0) n_shards = default_shard_count(n, d, 1);
  const ShardPlan plan = make_plan(0, n, n_shards);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(plan.n_shards), 0);
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(d) * sizeof(T) / 1e10, n_threads);
  for_each_shard(plan, threads, [&](index_t s) {
    std::int64_t c = 0;
    for (index_t i = plan.shard_begin(s); i < plan.shard_end(s); ++i) {
      for (index_t j = 0; j < d; ++j) {
        T& x = X.at(i, j);
        if (!std::isfinite(x)) {
          x = static_cast<T>(values[j]);
          ++c;
        }
      }
    }
    counts[s] = c;
  });
  std::int64_t total = 0;
  for (std::int64_t c : counts) total += c;
  return total;
}

}  // namespace fastcost
