// One-pass sufficient statistics for weighted least squares.
//
// For rows x_i, targets y_i (k of them; a 1-D y is k = 1) and weights s_i the
// pass forms the Gram matrix of the augmented row
// z_i = [x_i - c, y_i1 - c_y1, ..., y_ik - c_yk, 1], weighted by s_i:
//     G = sum_i s_i z_i z_i^T            ((d + k + 1) x (d + k + 1))
// which holds sum s, sum s x, sum s y, sum s y y^T, sum s x y^T and sum s x x^T
// all at once; target t's own (d + 2) block is rows/columns [0, d), d + t, d + k.
// The shift (c, c_y) is a row of the data: it keeps the later
// centering well conditioned for columns with a large mean and small spread,
// and the augmented row exists only in a small cache-resident packing buffer:
// X is never copied and no column of ones is appended to it.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "fastcost/buffers.hpp"
#include "fastcost/gram_narrow.hpp"
#include "fastcost/gram_wide.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

struct GramStats {
  index_t d = 0;                 // number of features
  index_t n_targets = 1;         // k: target columns between the features and the ones
  std::vector<double> shift;     // d + k values: c then c_y
  std::vector<double> gram;      // (d + k + 1) squared, row-major, symmetric
  index_t n_rows = 0;            // rows summarized (weights may be zero)
  index_t n_shards = 0;
  bool blas = false;             // formed by the BLAS's dsyrk (gram_wide.hpp), not the tile kernel

  index_t dim() const { return d + n_targets + 1; }
  double at(index_t i, index_t j) const { return gram[i * dim() + j]; }
  double sum_weights() const { return at(dim() - 1, dim() - 1); }
};

// The targets of a pass as a rows x k view. A 1-D y is one column; a null y
// (no targets) reads as zeros, so its view has data null and k columns.
template <class T>
MatrixView<T> target_column(const T* y, index_t rows) {
  MatrixView<T> v;
  v.data = y;
  v.rows = rows;
  v.cols = 1;
  v.ld = std::max<index_t>(rows, 1);
  v.layout = Layout::ColMajor;
  return v;
}

// Checks a targets view against X's rows (a null view only needs k >= 1).
template <class T>
void validate_targets(const MatrixView<T>& Y, index_t rows) {
  if (Y.cols < 1) throw std::invalid_argument("the targets need at least one column");
  if (Y.rows != rows) throw std::invalid_argument("the targets and X have different row counts");
  if (Y.data) Y.validate();
}

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

// Single-thread seconds of the Gram of n rows of augmented width da: n da^2 / 2
// multiply-adds at the rate the kernels reach on one core (measured 3e10 with
// AVX-512 at 400,000 x 100; AVX2 about half). An estimate that undershoots the
// rate hands short passes to two threads, and on a loaded machine a
// 4,096-row block then took 7.6 ms instead of 0.7 ms waiting for the second.
inline double gram_seconds(index_t n, index_t da) {
  const auto w = static_cast<double>(da);
  return static_cast<double>(n) * w * w * 0.5 / 2e10;
}

namespace detail {

// Register tile: MR rows (broadcast side) x NR = NV vectors of columns. MR
// divides NR, so the broadcast side reads the same packed panels as the vector
// side and only one packed copy of the block exists (two with weights: s z
// beside z). NV = 2 (MR = 8 on AVX-512's 32 registers, 4 on the 16 of the
// others) is the large-d tile; NV = 1 with square L x L tiles follows the
// diagonal closely, which halves the multiply-adds for narrow problems
// (d + 2 = 22: 6 tiles of 8 x 8 instead of 5 of 8 x 16) and needs the 32
// registers of AVX-512 for its L accumulators.
template <class T, int W, int NV>
constexpr int gram_nr() {
  return NV * simd::lanes<T, W>();
}
template <class T, int W, int NV>
constexpr int gram_mr() {
  return NV == 1 ? simd::lanes<T, W>() : W == 64 ? 8 : 4;
}

// Vectors per tile row of the wide (non-square) tile: three on AVX-512 (8 x 3
// vectors: 24 accumulators, 11 loads per 24 multiply-adds; on a 2-core Ice
// Lake, float64 1.2-1.6x faster than two vectors from d = 500 to 4,000,
// float32 1.1-1.4x from 1,000 to 4,000), two otherwise (16 registers of AVX2
// hold no more).
template <class T, int W>
constexpr int gram_wide_nv() {
  return W == 64 ? 3 : 2;
}

template <class T>
constexpr index_t gram_block_rows() {
  // One B panel (NB x NR) stays in L1 while the A rows stream past it; float
  // accumulates NB rows in float before adding to the double partials.
  return sizeof(T) == 8 ? 128 : 192;
}

// out[r][c] += sum_i a[i*NR + r] * b[i*NR + c] for an MR x NR tile over `rows` packed rows.
template <class T, int W, int NV>
FASTCOST_INLINE void gram_tile(const T* FASTCOST_RESTRICT a, const T* FASTCOST_RESTRICT b, index_t rows,
                               double* FASTCOST_RESTRICT out, index_t ld_out) {
  constexpr int L = simd::lanes<T, W>();
  constexpr int NR = gram_nr<T, W, NV>();
  constexpr int MR = gram_mr<T, W, NV>();
  using V = simd::vec_t<T, W>;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  }
  for (index_t i = 0; i < rows; ++i) {
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = simd::load<T, W>(b + i * NR + v * L);
    const T* ai = a + i * NR;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      for (int v = 0; v < NV; ++v) acc[r][v] += bv[v] * ai[r];
    }
  }
  // In vectors: left to the compiler, the 16 accumulators of the two-vector
  // tile went through the stack one lane at a time (a third of the kernel's time).
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    for (int v = 0; v < NV; ++v) simd::add_to_doubles<T, W>(out + r * ld_out + v * L, acc[r][v]);
  }
}

// The shift (c, c_y) in the data's type, as the pack step subtracts it.
template <class T>
std::vector<T> shift_as(const double* shift, index_t m) {
  return std::vector<T>(shift, shift + m);
}

// dst = s_i times src, row by row, over `panels` packed panels of nb rows
// (the rows at i0, or rows[i0 + i] with Gather); dst may be src.
template <class T, int W, int NV, bool Gather>
FASTCOST_INLINE void gram_weight_panels(const T* src, T* dst, index_t panels, const T* sw, const index_t* rows,
                                        index_t i0, index_t nb) {
  constexpr int L = simd::lanes<T, W>();
  constexpr int NR = gram_nr<T, W, NV>();
  constexpr index_t NB = gram_block_rows<T>();
  for (index_t h = 0; h < panels; ++h) {
    const T* from = src + h * NR * NB;
    T* to = dst + h * NR * NB;
    for (index_t i = 0; i < nb; ++i) {
      const T s = sw[Gather ? rows[i0 + i] : i0 + i];
      for (int v = 0; v < NV; ++v) simd::store<T, W>(to + i * NR + v * L, simd::load<T, W>(from + i * NR + v * L) * s);
    }
  }
}

// Packs augmented columns [c0, c1) (c0 a multiple of NR) of the nb rows at
// i0 (rows[i0 + i] with Gather) into `dst`: panels of NB x NR, panel
// (j - c0) / NR. z_i = [x_i - c, y_i - c_y, 1]; columns from da on are zero
// (written only with `clear`: a buffer that always packs the same range keeps
// its zero padding). With `sw`, each packed row is then multiplied by s_i.
template <class T, int W, int NV, bool Gather>
FASTCOST_INLINE void gram_pack(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const T* cp,
                               const index_t* rows, index_t i0, index_t nb, index_t c0, index_t c1, bool clear,
                               T* dst) {
  constexpr int L = simd::lanes<T, W>();
  constexpr int NR = gram_nr<T, W, NV>();
  constexpr index_t NB = gram_block_rows<T>();
  const index_t d = X.cols, k = Y.cols, da = d + k + 1;
  const T* cy = cp + d;
  // Element j (c0 <= j < c1) of packed row i.
  auto at = [&](index_t i, index_t j) -> T& { return dst[((j - c0) / NR) * NR * NB + i * NR + ((j - c0) % NR)]; };
  // Row of X (and Y, sw) that packed row i holds.
  auto row_of = [&](index_t i) -> index_t {
    if constexpr (Gather) {
      return rows[i0 + i];
    } else {
      (void)rows;
      return i0 + i;
    }
  };
  const index_t xe = std::min(c1, d);
  if (c0 < xe && X.layout == Layout::RowMajor) {
    for (index_t i = 0; i < nb; ++i) {
      const T* FASTCOST_RESTRICT xi = X.row(row_of(i));
      index_t j = c0;
      // Vector chunks of L never straddle a panel (NR = NV L, c0 % NR = 0).
      for (; j + L <= xe; j += L) {
        simd::store<T, W>(&at(i, j), simd::load<T, W>(xi + j) - simd::load<T, W>(cp + j));
      }
      if constexpr (W > 16) {  // a half vector: the tail of d = 20 in one step
        if (j + L / 2 <= xe) {
          simd::store<T, W / 2>(&at(i, j), simd::load<T, W / 2>(xi + j) - simd::load<T, W / 2>(cp + j));
          j += L / 2;
        }
      }
      for (; j < xe; ++j) at(i, j) = xi[j] - cp[j];
    }
  } else {
    index_t j = c0;
    if constexpr (!Gather) {
      // Register-transposed blocks, the next block's rows prefetched (one
      // element at a time, a column-major block took about 1.5x a row-major one).
      auto slot = [&](index_t c) { return &at(0, c); };
      if (c0 < xe) j = simd::columns_to_rows<T, W>(X, cp, i0, nb, c0, xe, NR, slot, NB);
    }
    for (; j < xe; ++j) {
      T* out = &at(0, j);
      const T cj = cp[j];
      if constexpr (Gather) {
        const T* FASTCOST_RESTRICT xj = X.col(j);
        for (index_t i = 0; i < nb; ++i) out[i * NR] = xj[row_of(i)] - cj;
      } else {
        const T* FASTCOST_RESTRICT xj = X.col(j) + i0;
        for (index_t i = 0; i < nb; ++i) out[i * NR] = xj[i] - cj;
      }
    }
  }
  // The k target columns, then the ones. Without targets the column is
  // T(0) - c, not -c: the two differ in the sign of a zero, and the 1-D
  // results stay bitwise what they were.
  const index_t t0 = std::max<index_t>(c0 - d, 0), t1 = std::min(c1 - d, k);
  if (t0 < t1 && Y.data && Y.layout == Layout::RowMajor) {
    for (index_t i = 0; i < nb; ++i) {
      const T* FASTCOST_RESTRICT yi = Y.row(row_of(i));
      for (index_t t = t0; t < t1; ++t) at(i, d + t) = yi[t] - cy[t];
    }
  } else {
    for (index_t t = t0; t < t1; ++t) {
      T* out = &at(0, d + t);
      const T ct = cy[t];
      if constexpr (Gather) {
        const T* FASTCOST_RESTRICT yt = Y.data ? Y.col(t) : nullptr;
        for (index_t i = 0; i < nb; ++i) out[i * NR] = (yt ? yt[row_of(i)] : T(0)) - ct;
      } else {
        const T* FASTCOST_RESTRICT yt = Y.data ? Y.col(t) + i0 : nullptr;
        for (index_t i = 0; i < nb; ++i) out[i * NR] = (yt ? yt[i] : T(0)) - ct;
      }
    }
  }
  if (c0 <= d + k && d + k < c1) {
    T* out = &at(0, d + k);
    for (index_t i = 0; i < nb; ++i) out[i * NR] = T(1);
  }
  if (clear) {
    for (index_t j = std::max(c0, da); j < c1; ++j) {
      T* out = &at(0, j);
      for (index_t i = 0; i < nb; ++i) out[i * NR] = T(0);
    }
  }
  if (sw) gram_weight_panels<T, W, NV, Gather>(dst, dst, (c1 - c0) / NR, sw, rows, i0, nb);
}

// The upper-triangle tiles (g, h) with broadcast rows g * MR in [a0, a1) and
// column panels h * NR in [b0, b1) over nb packed rows: `apack` holds columns
// [a0, a1), `bpack` [b0, b1) (NR multiples). Tile (g, h) is needed when some
// row <= column. The broadcast rows go in chunks of GC tiles whose panels stay
// in L2 while every column panel passes them once (one sweep of all rows per
// panel would stream them from L3 for each tile). Each tile is computed the
// same way in any order, so the sums do not depend on it.
template <class T, int W, int NV>
FASTCOST_INLINE void gram_tiles(const T* apack, index_t a0, index_t a1, const T* bpack, index_t b0, index_t b1,
                                index_t nb, double* partial, index_t p) {
  constexpr int MR = gram_mr<T, W, NV>();
  constexpr int NR = gram_nr<T, W, NV>();
  constexpr index_t NB = gram_block_rows<T>();
  // Broadcast-side tiles per chunk: their panels take 384 KiB (L2 is 1-2 MiB
  // per core on the machines measured; the column panel and the partials need the rest).
  constexpr index_t GC = std::max<index_t>(1, (index_t{384} << 10) / (MR * NB * static_cast<index_t>(sizeof(T))));
  const index_t ga0 = a0 / MR, ga1 = a1 / MR;
  for (index_t g0 = ga0; g0 < ga1; g0 += GC) {
    const index_t g1 = std::min(ga1, g0 + GC);
    for (index_t h = std::max(b0 / NR, g0 * MR / NR); h < b1 / NR; ++h) {
      const T* bp = bpack + (h - b0 / NR) * NR * NB;
      for (index_t g = g0; g < g1 && g * MR < (h + 1) * NR; ++g) {
        const index_t ga = g * MR - a0;
        const T* ap = apack + (ga / NR) * NR * NB + ga % NR;
        gram_tile<T, W, NV>(ap, bp, nb, partial + g * MR * p + h * NR, p);
      }
    }
  }
}

// Accumulates the augmented weighted Gram of rows [r0, r1) into `partial`
// (p x p doubles, p = d + k + 1 padded to NR; upper-triangle tiles only). `pack`
// holds 2 * p * NB values of T: z panels, then s z panels when weighted. Y is
// rows x k (data null: zeros); `shift` holds d + k values. With Gather, the
// rows are rows[r0], ..., rows[r1 - 1] of X, Y and sw instead (the pack step
// gathers them; the tiles never see the difference). Without it `rows` is
// unused and the code is the dense pass's.
template <class T, int W, int NV, bool Gather>
FASTCOST_INLINE void gram_rows_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                    const index_t* rows, index_t r0, index_t r1, double* partial, T* pack) {
  constexpr int NR = gram_nr<T, W, NV>();
  constexpr index_t NB = gram_block_rows<T>();
  const index_t d = X.cols, k = Y.cols;
  const index_t p = (d + k + 1 + NR - 1) / NR * NR;
  T* bpack = pack;                        // z panels
  T* apack = sw ? pack + p * NB : bpack;  // the same layout: s z
  const std::vector<T> c = shift_as<T>(shift, d + k);
  for (index_t i0 = r0; i0 < r1; i0 += NB) {
    const index_t nb = std::min(NB, r1 - i0);
    // Columns beyond da stay zero: the buffer starts zeroed and they are never written.
    gram_pack<T, W, NV, Gather>(X, Y, nullptr, c.data(), rows, i0, nb, 0, p, false, bpack);
    if (sw) gram_weight_panels<T, W, NV, Gather>(bpack, apack, p / NR, sw, rows, i0, nb);
    // gram_tile reads only the nb packed rows, so a short last block needs no clearing.
    gram_tiles<T, W, NV>(apack, 0, p, bpack, 0, p, nb, partial, p);
  }
}

// Wide problems: one region of the partial, rows [a0, a1) x columns [b0, b1)
// of the padded Gram (NR multiples, a0 <= b0), summed over all rows [r0, r1)
// before the next region. A region of RC x RC doubles stays in L3 across the
// row blocks, where a sweep of the whole triangle per block of rows streams
// p^2 / 2 doubles through memory each time (above a few thousand columns that
// traffic, not the arithmetic, set the pace). `pack` holds 2 * RC * NB values.
template <class T, int W>
FASTCOST_INLINE void gram_region_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                      index_t r0, index_t r1, index_t a0, index_t a1, index_t b0, index_t b1,
                                      double* partial, index_t p, T* pack) {
  constexpr index_t NB = gram_block_rows<T>();
  const index_t d = X.cols, k = Y.cols;
  const std::vector<T> c = shift_as<T>(shift, d + k);
  T* bpack = pack;
  T* apack = pack + (b1 - b0) * NB;
  for (index_t i0 = r0; i0 < r1; i0 += NB) {
    const index_t nb = std::min(NB, r1 - i0);
    constexpr int NV = gram_wide_nv<T, W>();
    gram_pack<T, W, NV, false>(X, Y, nullptr, c.data(), nullptr, i0, nb, b0, b1, true, bpack);
    const bool same = a0 == b0 && !sw;  // a diagonal region reads one packed copy
    if (!same) gram_pack<T, W, NV, false>(X, Y, sw, c.data(), nullptr, i0, nb, a0, a1, true, apack);
    gram_tiles<T, W, NV>(same ? bpack : apack, a0, a1, bpack, b0, b1, nb, partial, p);
  }
}

template <class T, int W>
FASTCOST_INLINE void gram_shard_wide_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                          index_t r0, index_t r1, double* partial, T* pack) {
  gram_rows_body<T, W, gram_wide_nv<T, W>(), false>(X, Y, sw, shift, nullptr, r0, r1, partial, pack);
}
template <class T, int W>
FASTCOST_INLINE void gram_shard_square_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                            index_t r0, index_t r1, double* partial, T* pack) {
  gram_rows_body<T, W, 1, false>(X, Y, sw, shift, nullptr, r0, r1, partial, pack);
}
template <class T, int W>
FASTCOST_INLINE void gram_gather_wide_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                           const index_t* rows, index_t r0, index_t r1, double* partial, T* pack) {
  gram_rows_body<T, W, gram_wide_nv<T, W>(), true>(X, Y, sw, shift, rows, r0, r1, partial, pack);
}
template <class T, int W>
FASTCOST_INLINE void gram_gather_square_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                             const index_t* rows, index_t r0, index_t r1, double* partial, T* pack) {
  gram_rows_body<T, W, 1, true>(X, Y, sw, shift, rows, r0, r1, partial, pack);
}

FASTCOST_MULTIVERSION(gram_shard_wide, gram_shard_wide_body)
FASTCOST_MULTIVERSION(gram_region, gram_region_body)
FASTCOST_MULTIVERSION(gram_shard_square, gram_shard_square_body)
FASTCOST_MULTIVERSION(gram_gather_wide, gram_gather_wide_body)
FASTCOST_MULTIVERSION(gram_gather_square, gram_gather_square_body)

// The tile the Gram pass uses: gram_wide_nv's tiles of the active ISA's width,
// except on AVX-512 for float32 (16 x 16 tiles: 1.0x numpy's X.T @ X on one
// thread at 2M x 100 where 8 x 32 tiles gave 1.2x, fewer wasted multiply-adds
// on the diagonal) and for narrow float64 problems (augmented width d + k + 1
// <= 32). A choice from the dtype and shape only, so as deterministic as the ISA.
struct GramKernel {
  Isa isa;
  int nv;
};

template <class T>
GramKernel gram_kernel(Isa active, index_t d, index_t k = 1) {
  constexpr index_t lanes512 = 64 / static_cast<index_t>(sizeof(T));
  const index_t da = d + k + 1;
  if (active == Isa::Avx512 && ((sizeof(T) == 4 && da <= 512) || da <= 4 * lanes512)) return {active, 1};
  return {active, active == Isa::Avx512 ? gram_wide_nv<T, 64>() : 2};
}

template <class T>
index_t padded_gram_dim(GramKernel kernel, index_t d, index_t k = 1) {
  const int w = kernel.isa == Isa::Avx512 ? 64 : kernel.isa == Isa::Avx2Fma ? 32 : 16;
  const index_t nr = kernel.nv * w / static_cast<index_t>(sizeof(T));
  return (d + k + 1 + nr - 1) / nr * nr;
}

// One thread's packing buffer for the Gram kernel, and the kernel call: adds
// the augmented Gram of rows [r0, r1) to a padded tile (padded_gram_dim
// squared, upper triangle). Sized for d features and k targets.
template <class T>
class GramPack {
 public:
  GramPack(GramKernel kernel, index_t d, bool weighted, index_t k = 1)
      : kernel_(kernel), pb_(padded_gram_dim<T>(kernel, d, k)), p_(d + k + 1), narrow_(use_narrow_gram(d, k)),
        buf_(narrow_ ? 0 : static_cast<std::size_t>((weighted ? 2 : 1) * pb_ * gram_block_rows<T>())),
        work_(narrow_ ? static_cast<std::size_t>(narrow_work_size(p_)) : 0) {}
  index_t padded_dim() const { return pb_; }
  // Y: X.rows x k targets (k as constructed); data null reads as zeros.
  void run(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, index_t r0,
           index_t r1, double* tile) {
    if (narrow_) {
      gram_narrow_dense<T>(kernel_.isa, X, Y, sw, shift, r0, r1, tile, pb_, work_.data());
    } else if (kernel_.nv == 1) {
      gram_shard_square<T>(kernel_.isa, X, Y, sw, shift, r0, r1, tile, buf_.data());
    } else {
      gram_shard_wide<T>(kernel_.isa, X, Y, sw, shift, r0, r1, tile, buf_.data());
    }
  }
  void run(const MatrixView<T>& X, const T* y, const T* sw, const double* shift, index_t r0, index_t r1,
           double* tile) {
    run(X, target_column(y, X.rows), sw, shift, r0, r1, tile);
  }
  // The rows rows[r0], ..., rows[r1 - 1] of X, Y and sw (gathered in the pack step).
  void run_rows(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift,
                const index_t* rows, index_t r0, index_t r1, double* tile) {
    if (narrow_) {
      gram_narrow_gather<T>(kernel_.isa, X, Y, sw, shift, rows, r0, r1, tile, pb_, work_.data());
    } else if (kernel_.nv == 1) {
      gram_gather_square<T>(kernel_.isa, X, Y, sw, shift, rows, r0, r1, tile, buf_.data());
    } else {
      gram_gather_wide<T>(kernel_.isa, X, Y, sw, shift, rows, r0, r1, tile, buf_.data());
    }
  }

 private:
  GramKernel kernel_;
  index_t pb_;
  index_t p_;      // augmented width d + k + 1
  bool narrow_;    // rows in lanes (gram_narrow.hpp) instead of register tiles
  Scratch<T> buf_;
  Scratch<double> work_;
};

// out (da x da, row-major) += the symmetric matrix whose upper triangle is
// the leading da x da block of `tile` (row stride pb).
inline void add_mirrored(const double* tile, index_t pb, index_t da, double* out) {
  for (index_t i = 0; i < da; ++i) {
    for (index_t j = i; j < da; ++j) {
      const double v = tile[i * pb + j];
      out[i * da + j] += v;
      if (j != i) out[j * da + i] += v;
    }
  }
}

// The symmetric da x da matrix (row-major, into out) whose upper triangle is
// the sum of `count` consecutive shard partials (pb x pb, stride pb * pb),
// each entry 0 + p_0 + p_1 + ... in shard order: what add_mirrored gives for
// the shards' running total added to zeros, bit for bit, for any `threads`.
// 64 x 64 tiles of the upper triangle: each tile's rows are summed along the
// rows (contiguous reads and writes, in vectors), kept in a tile buffer and
// written to the mirrored rows from it. Summing element by element down the
// columns (strided reads, scalar) took 7 % of a 5,000 x 2,000 float32 Gram.
inline void reduce_mirrored(const double* partials, index_t count, index_t pb, index_t da, double* out,
                            int threads) {
  constexpr index_t B = 64;
  const index_t blocks = (da + B - 1) / B, tile = pb * pb;
  (void)threads;
#if FASTCOST_HAS_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (index_t b = 0; b < blocks; ++b) {
    const index_t i0 = b * B, i1 = std::min(da, i0 + B);
    alignas(64) double t[B][B];
    for (index_t j0 = i0; j0 < da; j0 += B) {
      const index_t j1 = std::min(da, j0 + B);
      for (index_t i = i0; i < i1; ++i) {
        const index_t js = std::max(j0, i);  // the upper triangle: j >= i
        double* FASTCOST_RESTRICT row = out + i * da;
        for (index_t j = js; j < j1; ++j) row[j] = 0.0;
        for (index_t s = 0; s < count; ++s) {
          const double* FASTCOST_RESTRICT src = partials + s * tile + i * pb;
          for (index_t j = js; j < j1; ++j) row[j] += src[j];
        }
        for (index_t j = js; j < j1; ++j) t[i - i0][j - j0] = row[j];
      }
      for (index_t j = j0; j < j1; ++j) {  // the mirror: row j, columns i < j of this block
        double* FASTCOST_RESTRICT row = out + j * da;
        for (index_t i = i0; i < std::min(i1, j); ++i) row[i] = t[i - i0][j - j0];
      }
    }
  }
}

inline bool use_gram_regions(GramKernel kernel, index_t da) {
  return kernel.nv >= 2 && da >= gram_region_min_state().load(std::memory_order_relaxed);
}

// The wide Gram region by region (gram_region_body): one partial, whose
// regions the threads share out. Each region sums all rows in order whatever
// thread takes it, so the result does not depend on the thread count, and no
// per-shard copies of a Gram of tens of MB exist.
template <class T>
void gram_by_regions(GramKernel kernel, const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw,
                     const double* shift, index_t pb, int n_threads, double* gram) {
  const index_t region = gram_region_state().load(std::memory_order_relaxed);
  const index_t n = X.rows, da = X.cols + Y.cols + 1, nreg = (pb + region - 1) / region;
  std::vector<std::pair<index_t, index_t>> regions;
  for (index_t I = 0; I < nreg; ++I)
    for (index_t J = I; J < nreg; ++J) regions.emplace_back(I, J);
  ZeroedBuffer partial(pb * pb);
  const auto count = static_cast<index_t>(regions.size());
  const int threads = threads_for_work(gram_seconds(n, da), n_threads);
  for_each_shard(make_plan(0, count, count), threads, [&](index_t s) {
    Scratch<T> pack(static_cast<std::size_t>(2 * region * gram_block_rows<T>()));
    const auto [I, J] = regions[static_cast<std::size_t>(s)];
    const index_t a0 = I * region, a1 = std::min(pb, a0 + region);
    const index_t b0 = J * region, b1 = std::min(pb, b0 + region);
    gram_region<T>(kernel.isa, X, Y, sw, shift, index_t{0}, n, a0, a1, b0, b1, partial.data(), pb, pack.data());
  });
  reduce_mirrored(partial.data(), 1, pb, da, gram, threads);
}

}  // namespace detail

// Augmented Grams of many small row blocks, each computed from zero exactly as
// compute_gram_stats(block, ..., 1 shard, 1 thread) computes it and added to a
// running sum, with one workspace for all of them (lbfgs' row sample: its
// blocks are too small to pay for fresh buffers each).
template <class T>
class BlockGrams {
 public:
  BlockGrams(index_t d, bool weighted)
      : d_(d), pack_(detail::gram_kernel<T>(active_isa(), d), d, weighted),
        tile_(static_cast<std::size_t>(pack_.padded_dim() * pack_.padded_dim())) {}

  // out (d + 2 squared, row-major) += the Gram of `block` about `shift`.
  void add(const MatrixView<T>& block, const T* y, const T* sw, const double* shift, double* out) {
    block.validate();
    std::fill(tile_.begin(), tile_.end(), 0.0);
    if (block.rows > 0) pack_.run(block, y, sw, shift, 0, block.rows, tile_.data());
    detail::add_mirrored(tile_.data(), pack_.padded_dim(), d_ + 2, out);
  }

 private:
  index_t d_;
  detail::GramPack<T> pack_;
  std::vector<double> tile_;
};

// The shift (c, c_y) of the one-pass statistics: the caller's (d + k values,
// e.g. one shared by all Dask chunks), or else the first row and its targets.
template <class T>
std::vector<double> choose_shift(const MatrixView<T>& X, const MatrixView<T>& Y, const double* shift) {
  const index_t n = X.rows, d = X.cols, k = Y.cols;
  std::vector<double> out(static_cast<std::size_t>(d + k), 0.0);
  if (shift) {
    std::copy(shift, shift + d + k, out.begin());
  } else if (n > 0) {
    for (index_t j = 0; j < d; ++j) out[j] = static_cast<double>(X(0, j));
    if (Y.data)
      for (index_t t = 0; t < k; ++t) out[d + t] = static_cast<double>(Y(0, t));
  }
  return out;
}

template <class T>
std::vector<double> choose_shift(const MatrixView<T>& X, const T* y, const double* shift) {
  return choose_shift(X, target_column(y, X.rows), shift);
}

// Statistics of all rows of X (one Dask chunk, or the whole data) and its k
// targets Y (rows x k, any layout; data null: zeros). `shift` (d + k values)
// defaults to the first row and its targets. sample_weight may be null (ones).
template <class T>
GramStats compute_gram_stats(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sample_weight,
                             const double* shift, index_t n_shards, int n_threads) {
  X.validate();
  validate_targets(Y, X.rows);
  const index_t n = X.rows, d = X.cols, k = Y.cols;
  GramStats st;
  st.d = d;
  st.n_targets = k;
  st.n_rows = n;
  st.shift = choose_shift(X, Y, shift);
  const index_t da = d + k + 1;
  st.gram.reserve(static_cast<std::size_t>(da * da));
  advise_huge_pages(st.gram.data(), static_cast<std::size_t>(da * da) * sizeof(double));
  st.gram.assign(static_cast<std::size_t>(da * da), 0.0);
  if (n == 0) {
    st.n_shards = 0;
    return st;
  }
  if (use_wide_gram(X, k, sample_weight)) {
    st.n_shards = 1;
    st.blas = true;
    wide_gram(X, Y, sample_weight, st.shift.data(), n_threads, st.gram);
    return st;
  }
  const detail::GramKernel kernel = detail::gram_kernel<T>(active_isa(), d, k);
  const index_t pb = detail::padded_gram_dim<T>(kernel, d, k);
  if (detail::use_gram_regions(kernel, da)) {
    detail::gram_by_regions(kernel, X, Y, sample_weight, st.shift.data(), pb, n_threads, st.gram.data());
    st.n_shards = 1;
    return st;
  }
  // The partials are doubles whatever T is: count them in units of T so that
  // float32 data gets the same memory bound (0.5 % of X) as float64.
  const auto per_t = static_cast<index_t>(sizeof(double) / sizeof(T));
  if (n_shards <= 0) n_shards = default_shard_count(n, d, pb * pb * per_t);
  const ShardPlan plan = make_plan(0, n, n_shards);
  st.n_shards = plan.n_shards;
  const index_t tile = pb * pb;
  ZeroedBuffer partials(plan.n_shards * tile);
  const int threads = threads_for_work(gram_seconds(n, da), n_threads);

  for_each_shard(plan, threads, [&](index_t s) {
    detail::GramPack<T> pack(kernel, d, sample_weight != nullptr, k);
    pack.run(X, Y, sample_weight, st.shift.data(), plan.shard_begin(s), plan.shard_end(s),
             partials.data() + s * tile);
  });
  // Fixed-order reduction of the shard partials, mirrored.
  detail::reduce_mirrored(partials.data(), plan.n_shards, pb, da, st.gram.data(),
                          threads_for_work(static_cast<double>(da) * static_cast<double>(da) * 1e-9, n_threads));
  return st;
}

// One target y (or none: null), as gram_stats has always taken it.
template <class T>
GramStats compute_gram_stats(const MatrixView<T>& X, const T* y, const T* sample_weight, const double* shift,
                             index_t n_shards, int n_threads) {
  return compute_gram_stats(X, target_column(y, X.rows), sample_weight, shift, n_shards, n_threads);
}

// Re-expresses statistics about a new shift (exact algebra, no data needed).
// Features and targets shift alike, so this needs no k: every column but the
// last (the ones) has a shift value.
inline GramStats reshift(const GramStats& st, const std::vector<double>& new_shift) {
  const index_t da = st.dim(), one = da - 1;
  if (static_cast<index_t>(new_shift.size()) != one) throw std::invalid_argument("shift has the wrong length");
  // z' = z + delta with delta = [c - c', c_y - c'_y, 0]; G' = G + m delta^T + delta m^T + S delta delta^T,
  // where m = G[:, one] and S = G[one, one].
  std::vector<double> delta(static_cast<std::size_t>(da), 0.0);
  for (index_t j = 0; j < one; ++j) delta[j] = st.shift[j] - new_shift[j];
  GramStats out = st;
  out.shift = new_shift;
  const double S = st.at(one, one);
  for (index_t i = 0; i < da; ++i) {
    for (index_t j = 0; j < da; ++j) {
      out.gram[i * da + j] = st.at(i, j) + st.at(i, one) * delta[j] + delta[i] * st.at(one, j) + S * delta[i] * delta[j];
    }
  }
  return out;
}

}  // namespace fastcost
