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

// Rows to prefetch ahead of the row-major loop: about 12 KB of X (into L1),
// measured best on the 2M x 100 (16 rows) and 1M x 20 cases. Rows over 2 KB
// get none: the hardware prefetcher follows long rows by itself and software
// prefetch of four long rows evicts the group the second sweep re-reads (d = 1000:
// 1.16x numpy X @ v without, 1.3x with).
inline index_t prefetch_rows(index_t row_bytes) {
  if (row_bytes > 2048) return 0;
  return std::min<index_t>(64, std::max<index_t>(16, 12288 / std::max<index_t>(row_bytes, 1)));
}

// Four rows at once (row-major X): four independent dot products with w, then
// one update g += s0 r0 x0 + ... + s3 r3 x3, so g and w are loaded once per four
// rows and the four rows are read from memory once (the second sweep hits L1).
// Returns the four residuals r_k = x_k^T w + b - y_k in r.
template <class T, int W>
FASTCOST_INLINE void loss_grad_rows4(const T* FASTCOST_RESTRICT x0, const T* FASTCOST_RESTRICT x1,
                                     const T* FASTCOST_RESTRICT x2, const T* FASTCOST_RESTRICT x3,
                                     const T* FASTCOST_RESTRICT w, index_t d, T* r) {
  constexpr int L = simd::lanes<T, W>();
  using V = simd::vec_t<T, W>;
  V a0 = {}, a1 = {}, a2 = {}, a3 = {};
  index_t j = 0;
  for (; j + L <= d; j += L) {
    const V wv = simd::load<T, W>(w + j);
    a0 += simd::load<T, W>(x0 + j) * wv;
    a1 += simd::load<T, W>(x1 + j) * wv;
    a2 += simd::load<T, W>(x2 + j) * wv;
    a3 += simd::load<T, W>(x3 + j) * wv;
  }
  T s0, s1, s2, s3;
  if constexpr (W > 16) {
    using H = simd::vec_t<T, W / 2>;
    H h0 = simd::low_half<T, W>(a0) + simd::high_half<T, W>(a0);
    H h1 = simd::low_half<T, W>(a1) + simd::high_half<T, W>(a1);
    H h2 = simd::low_half<T, W>(a2) + simd::high_half<T, W>(a2);
    H h3 = simd::low_half<T, W>(a3) + simd::high_half<T, W>(a3);
    if (j + L / 2 <= d) {
      const H wv = simd::load<T, W / 2>(w + j);
      h0 += simd::load<T, W / 2>(x0 + j) * wv;
      h1 += simd::load<T, W / 2>(x1 + j) * wv;
      h2 += simd::load<T, W / 2>(x2 + j) * wv;
      h3 += simd::load<T, W / 2>(x3 + j) * wv;
      j += L / 2;
    }
    s0 = simd::hsum<T, W / 2>(h0);
    s1 = simd::hsum<T, W / 2>(h1);
    s2 = simd::hsum<T, W / 2>(h2);
    s3 = simd::hsum<T, W / 2>(h3);
  } else {
    s0 = simd::hsum<T, W>(a0);
    s1 = simd::hsum<T, W>(a1);
    s2 = simd::hsum<T, W>(a2);
    s3 = simd::hsum<T, W>(a3);
  }
  for (; j < d; ++j) {
    s0 += x0[j] * w[j];
    s1 += x1[j] * w[j];
    s2 += x2[j] * w[j];
    s3 += x3[j] * w[j];
  }
  r[0] = s0;
  r[1] = s1;
  r[2] = s2;
  r[3] = s3;
}

template <class T, int W>
FASTCOST_INLINE void grad_update4(T* FASTCOST_RESTRICT g, const T* FASTCOST_RESTRICT x0, const T* FASTCOST_RESTRICT x1,
                                  const T* FASTCOST_RESTRICT x2, const T* FASTCOST_RESTRICT x3, const T* c,
                                  index_t d) {
  constexpr int L = simd::lanes<T, W>();
  using V = simd::vec_t<T, W>;
  const T c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
  index_t j = 0;
  for (; j + L <= d; j += L) {
    const V u = simd::load<T, W>(x0 + j) * c0 + simd::load<T, W>(x1 + j) * c1;
    const V v = simd::load<T, W>(x2 + j) * c2 + simd::load<T, W>(x3 + j) * c3;
    simd::store<T, W>(g + j, simd::load<T, W>(g + j) + (u + v));
  }
  if constexpr (W > 16) {
    if (j + L / 2 <= d) {
      using H = simd::vec_t<T, W / 2>;
      const H u = simd::load<T, W / 2>(x0 + j) * c0 + simd::load<T, W / 2>(x1 + j) * c1;
      const H v = simd::load<T, W / 2>(x2 + j) * c2 + simd::load<T, W / 2>(x3 + j) * c3;
      simd::store<T, W / 2>(g + j, simd::load<T, W / 2>(g + j) + (u + v));
      j += L / 2;
    }
  }
  for (; j < d; ++j) g[j] += (x0[j] * c0 + x1[j] * c1) + (x2[j] * c2 + x3[j] * c3);
}

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
      index_t i = i0;
      const auto row_bytes = static_cast<index_t>(static_cast<std::size_t>(d) * sizeof(T));
      const index_t pf = prefetch_rows(row_bytes);
      for (; i + 4 <= i0 + nb; i += 4) {
        // Software prefetch (prefetcht0): the hardware prefetcher alone leaves
        // the stream ~1.3x short of numpy's X @ v between the two sweeps.
        if (pf > 0 && i + pf + 4 <= r1) {
          for (int k = 0; k < 4; ++k) {
            const char* p = reinterpret_cast<const char*>(X.row(i + pf + k));
            for (index_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
          }
        }
        T rr[4], c[4];
        loss_grad_rows4<T, W>(X.row(i), X.row(i + 1), X.row(i + 2), X.row(i + 3), w, d, rr);
        for (int k = 0; k < 4; ++k) {
          const T ri = rr[k] + b - (y ? y[i + k] : T(0));
          const T s = sw ? sw[i + k] : T(1);
          c[k] = s * ri;
          lw += s;
          l2 += c[k] * ri;
          l1 += c[k];
        }
        grad_update4<T, W>(g, X.row(i), X.row(i + 1), X.row(i + 2), X.row(i + 3), c, d);
      }
      for (; i < i0 + nb; ++i) {
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
  // Memory-bound: ~n d sizeof(T) bytes at ~10 GB/s on one core.
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(d) * sizeof(T) / 1e10, n_threads);

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
