// The "meat" of robust (sandwich) covariances in ONE read of X.
//
// For a fitted model theta = [b, w] about a shift c (z = [1, x - c], or x - c
// without an intercept), residuals e = y - z^T theta and a matrix K with
// K K^T = H^-1 (H the bread: the weighted Gram, plus the ridge penalty), each
// row's whitened design v = K^T z gives its leverage h = s ||v||^2, and
//     HC0/HC1: meat = sum s^2 e^2 v v^T
//     HC2:     meat = sum s^2 e^2 / (1 - h) v v^T
//     HC3:     meat = sum s^2 e^2 / (1 - h)^2 v v^T
//     cluster: scores[g] = sum_{i in g} s e v   (the meat is sum_g scores scores^T)
// all in the coordinates of v, so the covariance is K meat K^T. Working in v
// rather than z keeps the meat well scaled: the cancellation that makes z^T H^-1 z
// lose digits on an ill-conditioned design happens once, in K, not in a sum.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"

namespace fastcost {

enum class MeatKind { HC0, HC2, HC3, Cluster };

// The fitted model and the bread the pass needs. Pointers are caller-owned.
struct SandwichModel {
  const double* w = nullptr;      // d coefficients
  double b = 0.0;                 // intercept about the shift (ignored without one)
  const double* shift = nullptr;  // d values subtracted from x; null: none
  bool intercept = true;          // z = [1, x - c] (p = d + 1) or x - c (p = d)
  const double* K = nullptr;      // p x p, row-major; v = K^T z
  bool K_upper = false;           // K is upper triangular: v_k needs z_0..z_k only
  MeatKind kind = MeatKind::HC0;
  const std::int32_t* codes = nullptr;  // cluster of each row, in [0, n_groups)
  index_t n_groups = 0;
};

struct SandwichSums {
  index_t p = 0;
  std::vector<double> meat;    // p x p, row-major (HC kinds; zeros for cluster)
  std::vector<double> scores;  // n_groups x p, row-major (cluster only)
  index_t n_shards = 0;
};

namespace detail {

constexpr index_t kSandwichBlock = 128;

// Rows [i0, i0 + m) of X as z (m x p, row-major) in double: row-major X is
// read row by row, column-major X column by column (contiguous either way).
template <class T>
void gather_z(const MatrixView<T>& X, const SandwichModel& mdl, index_t i0, index_t m, index_t p,
              double* __restrict z) {
  const index_t d = X.cols;
  const index_t off = mdl.intercept ? 1 : 0;
  if (X.layout == Layout::RowMajor) {
    for (index_t r = 0; r < m; ++r) {
      const T* x = X.row(i0 + r);
      double* zr = z + r * p;
      if (off) zr[0] = 1.0;
      for (index_t j = 0; j < d; ++j) {
        zr[off + j] = static_cast<double>(x[j]) - (mdl.shift ? mdl.shift[j] : 0.0);
      }
    }
    return;
  }
  if (off) {
    for (index_t r = 0; r < m; ++r) z[r * p] = 1.0;
  }
  for (index_t j = 0; j < d; ++j) {
    const T* col = X.col(j) + i0;
    const double c = mdl.shift ? mdl.shift[j] : 0.0;
    for (index_t r = 0; r < m; ++r) z[r * p + off + j] = static_cast<double>(col[r]) - c;
  }
}

// The weight of a row's outer product in the HC meat: s^2 e^2 f(h).
inline double hc_weight(MeatKind kind, double s, double e, double h) {
  const double base = s * s * e * e;
  switch (kind) {
    case MeatKind::HC2:
      return base / (1.0 - h);
    case MeatKind::HC3:
      return base / ((1.0 - h) * (1.0 - h));
    default:
      return base;
  }
}

// One shard's contribution: meat (p x p, upper triangle) or cluster scores.
template <class T>
void sandwich_shard(const MatrixView<T>& X, const T* y, const T* sw, const SandwichModel& mdl, index_t r0,
                    index_t r1, index_t p, double* __restrict meat, double* __restrict scores) {
  const index_t d = X.cols;
  const index_t off = mdl.intercept ? 1 : 0;
  std::vector<double> zbuf(static_cast<std::size_t>(kSandwichBlock * p));
  std::vector<double> v(static_cast<std::size_t>(p));
  for (index_t i0 = r0; i0 < r1; i0 += kSandwichBlock) {
    const index_t m = std::min(kSandwichBlock, r1 - i0);
    gather_z(X, mdl, i0, m, p, zbuf.data());
    for (index_t r = 0; r < m; ++r) {
      const index_t i = i0 + r;
      const double s = sw ? static_cast<double>(sw[i]) : 1.0;
      if (s == 0.0) continue;  // a zero-weight row is not an observation
      const double* z = zbuf.data() + r * p;
      double fit = off ? mdl.b : 0.0;
      for (index_t j = 0; j < d; ++j) fit += mdl.w[j] * z[off + j];
      const double e = static_cast<double>(y[i]) - fit;
      std::fill(v.begin(), v.end(), 0.0);
      for (index_t a = 0; a < p; ++a) {
        const double za = z[a];
        const double* Ka = mdl.K + a * p;
        for (index_t k = mdl.K_upper ? a : 0; k < p; ++k) v[k] += Ka[k] * za;
      }
      if (mdl.kind == MeatKind::Cluster) {
        const std::int32_t g = mdl.codes[i];
        if (g < 0 || g >= mdl.n_groups) throw std::invalid_argument("cluster code out of range");
        double* sg = scores + static_cast<index_t>(g) * p;
        const double se = s * e;
        for (index_t k = 0; k < p; ++k) sg[k] += se * v[k];
        continue;
      }
      double vv = 0.0;
      for (index_t k = 0; k < p; ++k) vv += v[k] * v[k];
      const double c = hc_weight(mdl.kind, s, e, s * vv);
      for (index_t a = 0; a < p; ++a) {
        const double ca = c * v[a];
        double* Ma = meat + a * p;
        for (index_t k = a; k < p; ++k) Ma[k] += ca * v[k];
      }
    }
  }
}

}  // namespace detail

// The meat (or the cluster scores) of a robust covariance in one sharded pass.
// y is required; sw may be null (unit weights). Deterministic for a given
// shard count: per-shard partial sums are added in shard order.
template <class T>
SandwichSums sandwich_sums(const MatrixView<T>& X, const T* y, const T* sw, const SandwichModel& mdl,
                           index_t n_shards, int n_threads) {
  X.validate();
  if (y == nullptr) throw std::invalid_argument("sandwich_sums needs y");
  if (mdl.K == nullptr || (X.cols > 0 && mdl.w == nullptr)) throw std::invalid_argument("sandwich_sums needs w and K");
  const bool cluster = mdl.kind == MeatKind::Cluster;
  if (cluster && (mdl.codes == nullptr || mdl.n_groups < 1)) {
    throw std::invalid_argument("a cluster meat needs codes and n_groups >= 1");
  }
  const index_t p = X.cols + (mdl.intercept ? 1 : 0);
  const index_t meat_size = cluster ? 0 : p * p;
  const index_t score_size = cluster ? mdl.n_groups * p : 0;
  const index_t partial = meat_size + score_size;
  if (n_shards <= 0) n_shards = default_shard_count(X.rows, X.cols, std::max<index_t>(partial, 1));
  const ShardPlan plan = make_plan(0, X.rows, n_shards);
  std::vector<double> parts(static_cast<std::size_t>(plan.n_shards * partial), 0.0);
  // About 2 p^2 flops per row (v, then the outer product) at ~1 Gflop/s scalar.
  const double seconds = 2e-9 * static_cast<double>(X.rows) * static_cast<double>(p * p + X.cols);
  for_each_shard(plan, threads_for_work(seconds, n_threads), [&](index_t s) {
    double* base = parts.data() + s * partial;
    detail::sandwich_shard<T>(X, y, sw, mdl, plan.shard_begin(s), plan.shard_end(s), p, base, base + meat_size);
  });
  SandwichSums out;
  out.p = p;
  out.n_shards = plan.n_shards;
  out.meat.assign(static_cast<std::size_t>(p * p), 0.0);
  out.scores.assign(static_cast<std::size_t>(score_size), 0.0);
  for (index_t s = 0; s < plan.n_shards; ++s) {
    const double* base = parts.data() + s * partial;
    for (index_t k = 0; k < meat_size; ++k) out.meat[k] += base[k];
    for (index_t k = 0; k < score_size; ++k) out.scores[k] += base[meat_size + k];
  }
  for (index_t a = 0; a < p; ++a) {
    for (index_t k = 0; k < a; ++k) out.meat[a * p + k] = out.meat[k * p + a];
  }
  return out;
}

}  // namespace fastcost
