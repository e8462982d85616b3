// The data pass of the iterative solvers: everything lbfgs and gd read from
// X, y and the weights goes through an object of this concept, so that each
// loop is written once (objective.hpp, lbfgs.hpp, gd.hpp) and runs on every
// backend. HostPass reads arrays in memory with the sharded OpenMP kernels;
// the CUDA backend (cpp/cuda/solvers_cuda.hpp) reads device memory; PyPass
// (cpp/src/bind_solvers.cpp) calls back into Python, where fastcost.dask runs
// each request as one map-reduce over the chunks of a cluster.
//
// A pass type provides
//   index_t rows() const, cols() const   the shape of X
//   double epsilon() const               machine epsilon of X's dtype
//   PassStartResult start(const PassStart&)
//                                        what the solver needs before its
//                                        first iteration, in one request
//   ProbeSums probes(const std::vector<Probe>&)
//                                        one read of X for up to kMaxProbes probes
//   index_t reads() const                reads of X so far (n_passes)
// and optionally
//   bool takes_row_sample() const        false: decline lbfgs' row sample (see
//                                        takes_row_sample below)
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "fastcost/block_tree.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/preprocess.hpp"

namespace fastcost {

// Row blocks, as [begin, end) pairs.
using RowBlocks = std::vector<std::pair<index_t, index_t>>;

// What a solver asks of the data before it iterates.
struct PassStart {
  bool moments = false;  // column moments (standardize): a read of X
  bool center = false;   // a centering point from kCenterRows rows (no read of X)
  RowBlocks sample;      // lbfgs' row sample: the Gram of these rows (no read of X)
};

struct PassStartResult {
  double sum_w = 0.0;      // sum s (s = 1 without weights)
  double sum_wy = 0.0;     // sum s y
  ColumnMoments moments;   // when asked
  std::vector<double> center;  // when asked: weighted mean of the centering rows
  GramStats sample;        // when asked: the sample's augmented Gram (any shift)
  // Columns from this one on are 0/1 indicators (a categorical's levels,
  // categorical_pass.hpp): standardize leaves them unscaled and noise_var adds
  // no term for them. -1: none (every column is a measured input).
  index_t indicators_from = -1;
};

// Whether lbfgs should ask `pass` for its row sample (the warm start and
// preconditioner of lbfgs.hpp). A pass declines by defining
// `bool takes_row_sample() const` that returns false, when the sample's
// (d + 2)^2 Gram would cost more to form and solve than it saves (a wide
// expanded categorical design) or is singular by construction (MixedPass);
// lbfgs then starts from zero or coef_init, unpreconditioned. Passes without
// the method take it.
template <class Pass>
auto takes_row_sample(const Pass& pass, int) -> decltype(static_cast<bool>(pass.takes_row_sample())) {
  return pass.takes_row_sample();
}
template <class Pass>
bool takes_row_sample(const Pass&, long) {
  return true;
}

// Rows of the centering point: the weighted mean of this many rows spread
// evenly over X is within about sigma / sqrt(kCenterRows) of the mean, as good
// for conditioning as the exact mean, and it costs no pass over X.
constexpr index_t kCenterRows = 4096;

// The rows of the centering point: k n / m for k < m = min(n, kCenterRows).
inline std::vector<index_t> center_rows(index_t n) {
  const index_t m = std::min(n, kCenterRows);
  std::vector<index_t> rows(static_cast<std::size_t>(m));
  for (index_t k = 0; k < m; ++k) rows[k] = k * n / m;
  return rows;
}

// sum s and sum s y (s = 1 without weights) of each block of rows in
// kTotalLanes interleaved running sums added in order at the end (independent
// chains the compiler vectorizes; one chain would wait on each add's latency),
// the blocks added in the pairwise tree of block_tree.hpp: the same bits for
// any split of the rows (the chunks of a Dask array included). y's first row
// starts block `block0`.
constexpr index_t kTotalLanes = 8;

template <class T>
BlockTree totals_tree(const T* y, const T* sw, index_t n, index_t block0) {
  BlockTree tree(2);
  double sums[2];
  for (index_t i0 = 0; i0 < n; i0 += kTreeBlockRows) {
    const index_t nb = std::min(kTreeBlockRows, n - i0);
    const T* yb = y + i0;
    const T* sb = sw ? sw + i0 : nullptr;
    double lw[kTotalLanes] = {}, ly[kTotalLanes] = {};
    const index_t full = nb - nb % kTotalLanes;
    if (sb) {
      for (index_t i = 0; i < full; i += kTotalLanes) {
        for (index_t l = 0; l < kTotalLanes; ++l) {
          lw[l] += static_cast<double>(sb[i + l]);
          ly[l] += static_cast<double>(sb[i + l]) * static_cast<double>(yb[i + l]);
        }
      }
    } else {
      for (index_t i = 0; i < full; i += kTotalLanes) {
        for (index_t l = 0; l < kTotalLanes; ++l) ly[l] += static_cast<double>(yb[i + l]);
      }
      for (index_t l = 0; l < kTotalLanes; ++l) lw[l] = static_cast<double>(full / kTotalLanes);
    }
    for (index_t i = full; i < nb; ++i) {
      const double s = sb ? static_cast<double>(sb[i]) : 1.0;
      lw[i - full] += s;
      ly[i - full] += s * static_cast<double>(yb[i]);
    }
    sums[0] = sums[1] = 0.0;
    for (index_t l = 0; l < kTotalLanes; ++l) {
      sums[0] += lw[l];
      sums[1] += ly[l];
    }
    tree.push_block(block0 + i0 / kTreeBlockRows, sums);
  }
  return tree;
}

template <class T>
void weighted_totals(const T* y, const T* sw, index_t n, double& sum_w, double& sum_wy) {
  const std::vector<double> t = totals_tree(y, sw, n, 0).total();
  sum_w = t[0];
  sum_wy = t[1];
}

// Weighted mean of the given rows (their plain mean when their weights sum to 0).
template <class RowAt>
std::vector<double> weighted_row_mean(index_t d, const std::vector<index_t>& rows, RowAt&& row_at) {
  std::vector<double> total(static_cast<std::size_t>(d), 0.0), plain(static_cast<std::size_t>(d), 0.0);
  double ws = 0.0;
  for (index_t i : rows) {
    double s = 1.0;
    const auto x = row_at(i, s);
    ws += s;
    for (index_t j = 0; j < d; ++j) {
      total[j] += s * x[j];
      plain[j] += x[j];
    }
  }
  std::vector<double> mu(static_cast<std::size_t>(d));
  for (index_t j = 0; j < d; ++j) {
    mu[j] = ws > 0.0 ? total[j] / ws : plain[j] / static_cast<double>(rows.size());
  }
  return mu;
}

// Groups of consecutive sample blocks: each sums its blocks' Grams in order,
// then the groups are summed in order (a fixed association for any thread
// count, and only kSampleGroups partial Grams in memory).
constexpr index_t kSampleGroups = 8;

// The statistics of row blocks of X (no copy) about `shift`: each block's Gram
// in one shard on one thread.
template <class T>
GramStats block_stats(const MatrixView<T>& X, const T* y, const T* sw, const RowBlocks& blocks,
                      const std::vector<double>& shift, int n_threads) {
  const index_t d = X.cols, da = d + 2;
  const auto n_blocks = static_cast<index_t>(blocks.size());
  index_t m = 0;
  for (const auto& b : blocks) m += b.second - b.first;
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

// The pass over arrays in host memory: the sharded OpenMP kernels.
template <class T>
class HostPass {
 public:
  HostPass(const MatrixView<T>& X, const T* y, const T* sw, index_t n_shards, int n_threads)
      : X_(X), y_(y), sw_(sw), n_shards_(n_shards), n_threads_(n_threads) {
    X_.validate();
  }

  index_t rows() const { return X_.rows; }
  index_t cols() const { return X_.cols; }
  double epsilon() const { return static_cast<double>(std::numeric_limits<T>::epsilon()); }
  index_t reads() const { return reads_; }

  PassStartResult start(const PassStart& req) {
    PassStartResult out;
    weighted_totals(y_, sw_, X_.rows, out.sum_w, out.sum_wy);
    if (req.moments) {
      out.moments = compute_column_moments(X_, sw_, n_shards_, n_threads_);
      ++reads_;
    }
    if (req.center) {
      const index_t d = X_.cols;
      std::vector<double> row(static_cast<std::size_t>(d));
      out.center = weighted_row_mean(d, center_rows(X_.rows), [&](index_t i, double& s) {
        s = sw_ ? static_cast<double>(sw_[i]) : 1.0;
        for (index_t j = 0; j < d; ++j) row[j] = static_cast<double>(X_(i, j));
        return row;
      });
    }
    if (!req.sample.empty()) {
      // One shift for every block, so that their sums add up: row 0.
      std::vector<double> shift(static_cast<std::size_t>(X_.cols + 1));
      for (index_t j = 0; j < X_.cols; ++j) shift[j] = static_cast<double>(X_(0, j));
      shift[X_.cols] = static_cast<double>(y_[0]);
      out.sample = block_stats(X_, y_, sw_, req.sample, shift, n_threads_);
    }
    return out;
  }

  ProbeSums probes(const std::vector<Probe>& probes) {
    ++reads_;
    return probe_sums(X_, y_, sw_, probes, n_shards_, n_threads_);
  }

 private:
  MatrixView<T> X_;
  const T* y_;
  const T* sw_;
  index_t n_shards_;
  int n_threads_;
  index_t reads_ = 0;
};

}  // namespace fastcost
