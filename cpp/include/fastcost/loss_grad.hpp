// Fused weighted squared loss and gradient: ONE read of X, no residual vector
// of length n (residuals live in a block-sized buffer at most).
//
// For parameters (w, b) over rows [r0, r1) it returns the raw sums
//     sum s r^2,  sum s r,  sum s r x,  sum s       with r = x^T w + b - y,
// which the solvers turn into a loss and gradient (and Dask adds across chunks).
#pragma once

#include <algorithm>
#include <vector>

#include "fastcost/gram.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

struct LossGradSums {
  double sum_w = 0.0;     // sum s
  double sum_wr2 = 0.0;   // sum s r^2
  double sum_wr = 0.0;    // sum s r
  std::vector<double> sum_wrx;  // sum s r x (length d)
};

namespace detail {

constexpr index_t kLossGradBlock = 256;

// out: d values sum s r x, then sum s, sum s r^2, sum s r. buf: d + 2 * NB values of T.
template <class T, int W>
FASTCOST_INLINE void loss_grad_shard_body(MatrixView<T> X, const T* y, const T* sw, const T* w, T b,
                                          index_t r0, index_t r1, double* out, T* buf) {
  constexpr index_t NB = kLossGradBlock;
  const index_t d = X.cols;
  T* g = buf;            // block-local gradient accumulator
  T* r = buf + d;        // block residuals (column-major path)
  T* sr = r + NB;        // weighted residuals
  for (index_t i0 = r0; i0 < r1; i0 += NB) {
    const index_t nb = std::min(NB, r1 - i0);
    T lw = 0, l2 = 0, l1 = 0;
    if (X.layout == Layout::RowMajor) {
      std::fill(g, g + d, T(0));
      for (index_t i = i0; i < i0 + nb; ++i) {
        const T* xi = X.row(i);
        const T ri = simd::dot<T, W>(xi, w, d) + b - (y ? y[i] : T(0));
        const T s = sw ? sw[i] : T(1);
        const T si = s * ri;
        lw += s;
        l2 += si * ri;
        l1 += si;
        simd::axpy<T, W>(g, si, xi, d);
      }
      for (index_t j = 0; j < d; ++j) out[j] += static_cast<double>(g[j]);
    } else {
      for (index_t i = 0; i < nb; ++i) r[i] = b - (y ? y[i0 + i] : T(0));
      for (index_t j = 0; j < d; ++j) simd::axpy<T, W>(r, w[j], X.col(j) + i0, nb);
      for (index_t i = 0; i < nb; ++i) {
        const T s = sw ? sw[i0 + i] : T(1);
        sr[i] = s * r[i];
        lw += s;
        l2 += sr[i] * r[i];
        l1 += sr[i];
      }
      for (index_t j = 0; j < d; ++j) out[j] += static_cast<double>(simd::dot<T, W>(X.col(j) + i0, sr, nb));
    }
    out[d] += static_cast<double>(lw);
    out[d + 1] += static_cast<double>(l2);
    out[d + 2] += static_cast<double>(l1);
  }
}

FASTCOST_MULTIVERSION(loss_grad_shard, loss_grad_shard_body)

}  // namespace detail

template <class T>
LossGradSums loss_grad_sums(const MatrixView<T>& X, const T* y, const T* sample_weight, const double* w,
                            double b, index_t n_shards, int n_threads) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  LossGradSums res;
  res.sum_wrx.assign(static_cast<std::size_t>(d), 0.0);
  if (n == 0) return res;
  if (n_shards <= 0) n_shards = default_shard_count(n, d, d + 3, 4096);
  const ShardPlan plan = make_plan(0, n, n_shards);
  const index_t width = d + 3;
  std::vector<double> partials(static_cast<std::size_t>(plan.n_shards * width), 0.0);
  std::vector<T> wt(static_cast<std::size_t>(d));
  for (index_t j = 0; j < d; ++j) wt[j] = static_cast<T>(w[j]);
  const T bt = static_cast<T>(b);
  const Isa isa = active_isa();
  const int threads = n * d < 100000 ? 1 : n_threads;

  for_each_shard(plan, threads, [&](index_t s) {
    std::vector<T> buf(static_cast<std::size_t>(d + 2 * detail::kLossGradBlock));
    detail::loss_grad_shard<T>(isa, X, y, sample_weight, wt.data(), bt, plan.shard_begin(s), plan.shard_end(s),
                               partials.data() + s * width, buf.data());
  });
  for (index_t s = 0; s < plan.n_shards; ++s) {
    const double* p = partials.data() + s * width;
    for (index_t j = 0; j < d; ++j) res.sum_wrx[j] += p[j];
    res.sum_w += p[d];
    res.sum_wr2 += p[d + 1];
    res.sum_wr += p[d + 2];
  }
  return res;
}

}  // namespace fastcost
