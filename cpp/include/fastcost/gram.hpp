// One-pass sufficient statistics for weighted least squares.
//
// For rows x_i, targets y_i and weights s_i the pass forms the Gram matrix of
// the augmented row z_i = [x_i - c, y_i - c_y, 1], weighted by s_i:
//     G = sum_i s_i z_i z_i^T            ((d + 2) x (d + 2))
// which holds sum s, sum s x, sum s y, sum s y^2, sum s x y and sum s x x^T all
// at once. The shift (c, c_y) is a row of the data: it keeps the later
// centering well conditioned for columns with a large mean and small spread,
// and the augmented row exists only in a small cache-resident packing buffer:
// X is never copied and no column of ones is appended to it.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

struct GramStats {
  index_t d = 0;                 // number of features
  std::vector<double> shift;     // d + 1 values: c then c_y
  std::vector<double> gram;      // (d + 2) x (d + 2), row-major, symmetric
  index_t n_rows = 0;            // rows summarized (weights may be zero)
  index_t n_shards = 0;

  index_t dim() const { return d + 2; }
  double at(index_t i, index_t j) const { return gram[i * dim() + j]; }
  double sum_weights() const { return at(d + 1, d + 1); }
};

// Scoped aligned scratch buffer (RAII, no raw new).
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t n) : n_(n), p_(static_cast<T*>(::operator new[](n * sizeof(T) + 64, std::align_val_t(64)))) {
    std::memset(static_cast<void*>(p_.get()), 0, n * sizeof(T));
  }
  T* data() { return p_.get(); }
  std::size_t size() const { return n_; }

 private:
  struct Free {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::size_t n_;
  std::unique_ptr<T, Free> p_;
};

namespace detail {

constexpr int kGramMR = 6;  // rows of a register tile (broadcast side)

template <class T, int W>
constexpr int gram_nr() {
  return 2 * simd::lanes<T, W>();  // columns of a register tile: two vectors
}

template <class T>
constexpr index_t gram_block_rows() {
  return sizeof(T) == 8 ? 128 : 256;  // keeps one A and one B panel in L1
}

// out[r][c] += sum_i a[i][r] * b[i][c] for an MR x NR tile over `rows` packed rows.
template <class T, int W>
FASTCOST_INLINE void gram_tile(const T* FASTCOST_RESTRICT a, const T* FASTCOST_RESTRICT b, index_t rows,
                               double* FASTCOST_RESTRICT out, index_t ld_out) {
  constexpr int L = simd::lanes<T, W>();
  constexpr int MR = kGramMR;
  using V = simd::vec_t<T, W>;
  V acc[MR][2];
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = V{};
  for (index_t i = 0; i < rows; ++i) {
    const V b0 = simd::load<T, W>(b + i * 2 * L);
    const V b1 = simd::load<T, W>(b + i * 2 * L + L);
    const T* ai = a + i * MR;
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      acc[r][0] += b0 * ai[r];
      acc[r][1] += b1 * ai[r];
    }
  }
  for (int r = 0; r < MR; ++r) {
    double* o = out + r * ld_out;
    for (int l = 0; l < L; ++l) {
      o[l] += static_cast<double>(acc[r][0][l]);
      o[L + l] += static_cast<double>(acc[r][1][l]);
    }
  }
}

// Accumulates the augmented weighted Gram of rows [r0, r1) into `partial`
// (pa x pb doubles, padded). `pack` holds (pa + pb) * block rows of T.
template <class T, int W>
FASTCOST_INLINE void gram_shard_body(MatrixView<T> X, const T* y, const T* sw, const double* shift,
                                     index_t r0, index_t r1, double* partial, T* pack) {
  constexpr int MR = kGramMR;
  constexpr int NR = gram_nr<T, W>();
  constexpr index_t NB = gram_block_rows<T>();
  const index_t d = X.cols;
  const index_t da = d + 2;
  const index_t ga = (da + MR - 1) / MR, gb = (da + NR - 1) / NR;
  const index_t pa = ga * MR, pb = gb * NR;
  T* apack = pack;            // ga panels of NB x MR, weighted
  T* bpack = pack + pa * NB;  // gb panels of NB x NR
  const T cy = static_cast<T>(shift[d]);
  std::vector<T> c(static_cast<std::size_t>(d));
  for (index_t j = 0; j < d; ++j) c[j] = static_cast<T>(shift[j]);

  for (index_t i0 = r0; i0 < r1; i0 += NB) {
    const index_t nb = std::min(NB, r1 - i0);
    // Pack z_i (B side) and s_i z_i (A side) panel by panel; padding stays zero.
    auto put = [&](index_t i, index_t j, T v, T s) {
      bpack[(j / NR) * NR * NB + i * NR + (j % NR)] = v;
      apack[(j / MR) * MR * NB + i * MR + (j % MR)] = s * v;
    };
    if (X.layout == Layout::RowMajor) {
      for (index_t i = 0; i < nb; ++i) {
        const T* xi = X.row(i0 + i);
        const T s = sw ? sw[i0 + i] : T(1);
        for (index_t j = 0; j < d; ++j) put(i, j, xi[j] - c[j], s);
        put(i, d, (y ? y[i0 + i] : T(0)) - cy, s);
        put(i, d + 1, T(1), s);
      }
    } else {
      for (index_t j = 0; j < d; ++j) {
        const T* xj = X.col(j) + i0;
        for (index_t i = 0; i < nb; ++i) put(i, j, xj[i] - c[j], sw ? sw[i0 + i] : T(1));
      }
      for (index_t i = 0; i < nb; ++i) {
        const T s = sw ? sw[i0 + i] : T(1);
        put(i, d, (y ? y[i0 + i] : T(0)) - cy, s);
        put(i, d + 1, T(1), s);
      }
    }
    // gram_tile reads only the nb packed rows, so a short last block needs no clearing.
    // Upper-triangle tiles only: tile (g, h) is needed when some row <= column.
    for (index_t h = 0; h < gb; ++h) {
      for (index_t g = 0; g < ga && g * MR < (h + 1) * NR; ++g) {
        gram_tile<T, W>(apack + g * MR * NB, bpack + h * NR * NB, nb, partial + g * MR * pb + h * NR, pb);
      }
    }
  }
}

FASTCOST_MULTIVERSION(gram_shard, gram_shard_body)

template <class T>
void padded_gram_dims(Isa isa, index_t d, index_t& pa, index_t& pb) {
  const int w = isa == Isa::Avx512 ? 64 : isa == Isa::Avx2Fma ? 32 : 16;
  const index_t nr = 2 * w / static_cast<index_t>(sizeof(T));
  const index_t da = d + 2;
  pa = (da + kGramMR - 1) / kGramMR * kGramMR;
  pb = (da + nr - 1) / nr * nr;
}

}  // namespace detail

// Statistics of rows [row_begin, row_end) of X (one Dask chunk, or all rows).
// `shift` (d + 1 values) defaults to the first row of the range and its target.
// y and sample_weight may be null (zeros / ones).
template <class T>
GramStats compute_gram_stats(const MatrixView<T>& X, const T* y, const T* sample_weight,
                             const double* shift, index_t n_shards, int n_threads) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  GramStats st;
  st.d = d;
  st.n_rows = n;
  st.shift.assign(static_cast<std::size_t>(d + 1), 0.0);
  if (shift) {
    std::copy(shift, shift + d + 1, st.shift.begin());
  } else if (n > 0) {
    for (index_t j = 0; j < d; ++j) st.shift[j] = static_cast<double>(X(0, j));
    st.shift[d] = y ? static_cast<double>(y[0]) : 0.0;
  }
  const index_t da = d + 2;
  st.gram.assign(static_cast<std::size_t>(da * da), 0.0);
  if (n == 0) {
    st.n_shards = 0;
    return st;
  }
  const Isa isa = active_isa();
  index_t pa = 0, pb = 0;
  detail::padded_gram_dims<T>(isa, d, pa, pb);
  if (n_shards <= 0) n_shards = default_shard_count(n, d, pa * pb);
  const ShardPlan plan = make_plan(0, n, n_shards);
  st.n_shards = plan.n_shards;
  const index_t tile = pa * pb;
  std::vector<double> partials(static_cast<std::size_t>(plan.n_shards * tile), 0.0);
  const index_t nb = detail::gram_block_rows<T>();
  const int threads = n * d < 100000 ? 1 : n_threads;  // tiny work: threads cost more than they save

  for_each_shard(plan, threads, [&](index_t s) {
    Scratch<T> pack(static_cast<std::size_t>((pa + pb) * nb));
    detail::gram_shard<T>(isa, X, y, sample_weight, st.shift.data(), plan.shard_begin(s),
                          plan.shard_end(s), partials.data() + s * tile, pack.data());
  });

  // Fixed-order reduction of the shard partials, then mirror the upper triangle.
  std::vector<double> total(static_cast<std::size_t>(tile), 0.0);
  for (index_t s = 0; s < plan.n_shards; ++s) {
    const double* p = partials.data() + s * tile;
    for (index_t k = 0; k < tile; ++k) total[k] += p[k];
  }
  for (index_t i = 0; i < da; ++i) {
    for (index_t j = i; j < da; ++j) {
      const double v = total[i * pb + j];
      st.gram[i * da + j] = v;
      st.gram[j * da + i] = v;
    }
  }
  return st;
}

// Re-expresses statistics about a new shift (exact algebra, no data needed).
inline GramStats reshift(const GramStats& st, const std::vector<double>& new_shift) {
  const index_t d = st.d, da = d + 2;
  if (static_cast<index_t>(new_shift.size()) != d + 1) throw std::invalid_argument("shift has the wrong length");
  // z' = z + delta with delta = [c - c', c_y - c'_y, 0]; G' = G + m delta^T + delta m^T + S delta delta^T,
  // where m = G[:, one] and S = G[one, one].
  std::vector<double> delta(static_cast<std::size_t>(da), 0.0);
  for (index_t j = 0; j <= d; ++j) delta[j] = st.shift[j] - new_shift[j];
  GramStats out = st;
  out.shift = new_shift;
  const index_t one = d + 1;
  const double S = st.at(one, one);
  for (index_t i = 0; i < da; ++i) {
    for (index_t j = 0; j < da; ++j) {
      out.gram[i * da + j] = st.at(i, j) + st.at(i, one) * delta[j] + delta[i] * st.at(one, j) + S * delta[i] * delta[j];
    }
  }
  return out;
}

// Sum of two sets of statistics (e.g. two Dask chunks); b is moved to a's shift.
inline GramStats merge(const GramStats& a, const GramStats& b) {
  if (a.d != b.d) throw std::invalid_argument("cannot merge statistics with different feature counts");
  const GramStats bb = a.shift == b.shift ? b : reshift(b, a.shift);
  GramStats out = a;
  for (std::size_t k = 0; k < out.gram.size(); ++k) out.gram[k] += bb.gram[k];
  out.n_rows += b.n_rows;
  out.n_shards += b.n_shards;
  return out;
}

}  // namespace fastcost
