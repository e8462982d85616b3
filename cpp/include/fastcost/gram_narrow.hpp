// The augmented Gram of narrow data (d + 2 <= kNarrowMaxDim columns) with
// rows in the vector lanes. The register-tile kernel of gram.hpp pads the
// augmented row to a full tile (8 x 8 on AVX-512 for d = 1, where 6 products
// are wanted), so at a few columns it spent ten times the multiply-adds it
// needed and ran at a third of numpy's X.T @ X. Here a block of rows is
// transposed into columns and each pair (a, b) of the upper triangle takes one
// multiply-add per L rows, with lane-wise partial sums reduced in a fixed order.
// With at most kDirectMaxCols data columns (gram_narrow_direct) the columns
// are read in place where they are contiguous, shifted on the fly, and the
// constant columns (the ones, and absent targets) cost nothing: at d = 1 the
// packing and the pairs of constant columns were ten times numpy's ddot.
#pragma once

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/simd.hpp"

namespace fastcost::detail {

constexpr index_t kNarrowMaxDim = 12;  // d + 2 handled here
constexpr index_t kNarrowRows = 64;    // rows per transposed block (a multiple of 4 x every lane count)

// Whether d features and k targets take this kernel. The choice follows d + 2
// (one target's width), not d + k + 1, so that target t's block of a k-target
// Gram is bitwise the Gram of that target alone; a few targets at most, as
// the lane accumulators grow with the square of the width.
constexpr bool use_narrow_gram(index_t d, index_t k) { return d + 2 <= kNarrowMaxDim && d + k + 1 <= 20; }

// Doubles of work space gram_narrow needs for augmented width p.
constexpr index_t narrow_work_size(index_t p) { return 2 * p * kNarrowRows + p * p * 8; }

// Column j of a view as (first element, distance between rows).
template <class T>
FASTCOST_INLINE std::pair<const T*, index_t> column(const MatrixView<T>& m, index_t j) {
  return m.layout == Layout::ColMajor ? std::pair<const T*, index_t>{m.col(j), 1}
                                      : std::pair<const T*, index_t>{m.data + j, m.ld};
}

// dst[i] = col[row_of(i0 + i)] - c for i < nb (consecutive rows at unit stride: a vector copy).
template <bool Gather, class T, class RowOf>
FASTCOST_INLINE void pack_column(std::pair<const T*, index_t> col, index_t i0, index_t nb, double c, double* dst,
                                 const RowOf& row_of) {
  const T* base = col.first;
  const index_t stride = col.second;
  if (!Gather && stride == 1) {
    const T* src = base + i0;
    for (index_t i = 0; i < nb; ++i) dst[i] = static_cast<double>(src[i]) - c;
  } else {
    for (index_t i = 0; i < nb; ++i) dst[i] = static_cast<double>(base[row_of(i0 + i) * stride]) - c;
  }
}

// ---------------------------------------------------------------------------
// Few data columns: x (and y) read in place, constant columns never formed.
//
// Bitwise the same sums as gram_narrow_body: each pair (a, b) takes, per block
// of kNarrowRows rows, four chains of lane-wise multiply-adds (vector g of the
// block in chain g mod 4), combined as ((s0 + s1) + (s2 + s3)) and added to the
// lane accumulator; rows past the end of the last block are zeros. A pair
// with the ones column is then a plain sum (fma(z, 1, s) is z + s exactly), the
// ones with themselves the exact row count, and an absent target shifted by
// zero a column of +0 whose pairs stay +0 (a non-finite sum still makes them
// NaN, as the products with zero did).

constexpr int kDirectMaxCols = 4;  // data columns (features and present targets)

// Vectors each lane accumulator of the direct kernel keeps: the data pairs,
// one sum per data column (its pair with the ones), and with weights sum s.
template <int M, bool Weighted>
constexpr int direct_pairs() {
  return M * (M + 1) / 2 + M + (Weighted ? 1 : 0);
}

template <class S, int W>
FASTCOST_INLINE simd::vec_t<double, W> narrow_load(const S* p) {
  if constexpr (std::is_same_v<S, double>) {
    return simd::load<double, W>(p);
  } else {
    return __builtin_convertvector((simd::load<S, W / 2>(p)), simd::vec_t<double, W>);
  }
}

// acc += one block of kNarrowRows rows: column a at col[a] (shifted by c[a]),
// weights at sw when Weighted.
template <class S, int W, int M, bool Weighted>
FASTCOST_INLINE void direct_block(const S* const* col, const double* c, const S* sw,
                                  simd::vec_t<double, W>* acc) {
  using V = simd::vec_t<double, W>;
  constexpr int L = simd::lanes<double, W>();
  constexpr int NP = direct_pairs<M, Weighted>();
  V part[4][NP];
  // One chain at a time keeps NP accumulators live, not 4 NP.
#pragma GCC unroll 4
  for (int h = 0; h < 4; ++h) {
    V s[NP];
    for (int q = 0; q < NP; ++q) s[q] = V{};
    for (index_t g = h * L; g < kNarrowRows; g += 4 * L) {
      V z[M], wz[M];
      for (int a = 0; a < M; ++a) z[a] = narrow_load<S, W>(col[a] + g) - c[a];
      V w = V{};
      if constexpr (Weighted) {
        w = narrow_load<S, W>(sw + g);
        for (int a = 0; a < M; ++a) wz[a] = z[a] * w;
      } else {
        for (int a = 0; a < M; ++a) wz[a] = z[a];
      }
      int q = 0;
      for (int a = 0; a < M; ++a)
        for (int b = a; b < M; ++b) s[q++] += wz[a] * z[b];
      for (int a = 0; a < M; ++a) s[q++] += wz[a];
      if constexpr (Weighted) s[q] += w;
    }
    for (int q = 0; q < NP; ++q) part[h][q] = s[q];
  }
  for (int q = 0; q < NP; ++q) acc[q] += (part[0][q] + part[1][q]) + (part[2][q] + part[3][q]);
}

// The sum of the lanes of v, first to last (gram_narrow_body's order).
template <int W>
FASTCOST_INLINE double lane_total(simd::vec_t<double, W> v) {
  double total = 0.0;
  for (int l = 0; l < simd::lanes<double, W>(); ++l) total += v[l];
  return total;
}

template <class T, int W, int M, bool Weighted>
FASTCOST_INLINE void gram_direct_rows(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                      index_t r0, index_t r1, double* tile, index_t pb, double* work) {
  using V = simd::vec_t<double, W>;
  constexpr index_t RB = kNarrowRows;
  constexpr int NP = direct_pairs<M, Weighted>();
  const index_t d = X.cols, k = Y.cols, one = d + k;
  // Data column a: x_a for a < d, then the targets when present.
  std::pair<const T*, index_t> src[M];
  double c[M];
  bool in_place = true;
  for (int a = 0; a < M; ++a) {
    src[a] = a < d ? column(X, a) : column(Y, a - d);
    c[a] = shift[a];
    in_place = in_place && src[a].second == 1;
  }
  V acc[NP];
  for (int q = 0; q < NP; ++q) acc[q] = V{};
  const index_t full_end = in_place ? r0 + (r1 - r0) / RB * RB : r0;
  for (index_t i0 = r0; i0 < full_end; i0 += RB) {
    const T* cols[M];
    for (int a = 0; a < M; ++a) cols[a] = src[a].first + i0;
    direct_block<T, W, M, Weighted>(cols, c, sw ? sw + i0 : nullptr, acc);
  }
  // Strided columns, and the last short block: packed shifted into doubles,
  // zero past the last row, and summed about a zero shift (exact).
  const double zero[M] = {};
  double* wbuf = work + M * RB;
  const double* packed[M];
  for (int a = 0; a < M; ++a) packed[a] = work + a * RB;
  for (index_t i0 = full_end; i0 < r1; i0 += RB) {
    const index_t nb = std::min(RB, r1 - i0);
    std::fill(work, work + (M + 1) * RB, 0.0);
    if (X.layout == Layout::RowMajor && d > 1) {
      for (index_t i = 0; i < nb; ++i) {
        const T* xr = X.row(i0 + i);
        for (index_t j = 0; j < d; ++j) work[j * RB + i] = static_cast<double>(xr[j]) - c[j];
      }
    } else {
      for (index_t j = 0; j < d; ++j) pack_column<false>(src[j], i0, nb, c[j], work + j * RB, [](index_t i) { return i; });
    }
    for (int a = static_cast<int>(d); a < M; ++a)
      for (index_t i = 0; i < nb; ++i) work[a * RB + i] = static_cast<double>(Y(i0 + i, a - d)) - c[a];
    if (sw)
      for (index_t i = 0; i < nb; ++i) wbuf[i] = static_cast<double>(sw[i0 + i]);
    direct_block<double, W, M, Weighted>(packed, zero, wbuf, acc);
  }
  int q = 0;
  for (int a = 0; a < M; ++a)
    for (int b = a; b < M; ++b) tile[a * pb + b] += lane_total<W>(acc[q++]);
  const int sums = q;
  for (int a = 0; a < M; ++a) tile[a * pb + one] += lane_total<W>(acc[q++]);
  tile[one * pb + one] += Weighted ? lane_total<W>(acc[q]) : static_cast<double>(r1 - r0);
  if (Y.data) return;
  // Absent targets about a zero shift: +0, or NaN where a sum is not finite.
  for (index_t t = 0; t < k; ++t) {
    for (int a = 0; a < M; ++a) tile[a * pb + d + t] += lane_total<W>(acc[sums + a] * 0.0);
    if constexpr (Weighted) {
      const double zs = lane_total<W>(acc[q] * 0.0);
      for (index_t u = t; u < k; ++u) tile[(d + t) * pb + d + u] += zs;
      tile[(d + t) * pb + one] += zs;
    }
  }
}

template <class T, int W, int M>
FASTCOST_INLINE void gram_direct_weighting(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                           index_t r0, index_t r1, double* tile, index_t pb, double* work) {
  if (sw) {
    gram_direct_rows<T, W, M, true>(X, Y, sw, shift, r0, r1, tile, pb, work);
  } else {
    gram_direct_rows<T, W, M, false>(X, Y, sw, shift, r0, r1, tile, pb, work);
  }
}

// Runs the direct kernel when it applies: no more than kDirectMaxCols data
// columns, and absent targets shifted by zero (any other shift makes them
// constant columns, which gram_narrow_body forms).
template <class T, int W>
FASTCOST_INLINE bool gram_narrow_direct(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                        index_t r0, index_t r1, double* tile, index_t pb, double* work) {
  const index_t d = X.cols, k = Y.cols;
  const index_t m = d + (Y.data ? k : 0);
  if (m < 1 || m > kDirectMaxCols) return false;
  if (!Y.data) {
    for (index_t t = 0; t < k; ++t)
      if (shift[d + t] != 0.0) return false;
  }
  // Plain calls, not a lambda: a lambda's body would not inherit the caller's target ISA.
  switch (m) {
    case 1: gram_direct_weighting<T, W, 1>(X, Y, sw, shift, r0, r1, tile, pb, work); break;
    case 2: gram_direct_weighting<T, W, 2>(X, Y, sw, shift, r0, r1, tile, pb, work); break;
    case 3: gram_direct_weighting<T, W, 3>(X, Y, sw, shift, r0, r1, tile, pb, work); break;
    default: gram_direct_weighting<T, W, 4>(X, Y, sw, shift, r0, r1, tile, pb, work); break;
  }
  return true;
}

// The first rows of [i0, i0 + nb) of a row-major X into the block's columns
// (column j at z + j * kNarrowRows, values double(x) - shift[j], as the
// element-wise loop computes them): groups of L rows loaded as whole vectors,
// transposed in registers, widened and stored down the columns. A group is
// taken while its loads stay inside X; returns the first row left. One
// element at a time, the packing was about half of a 10-column float32 Gram.
template <class T, int W>
FASTCOST_INLINE index_t narrow_pack_rows(const MatrixView<T>& X, const double* shift, index_t i0, index_t nb,
                                         double* z) {
  constexpr int L = simd::lanes<T, W>();
  constexpr int H = simd::lanes<double, W>();  // doubles per vector: L, or L / 2 for float
  using V = simd::vec_t<T, W>;
  using D = simd::vec_t<double, W>;
  const index_t d = X.cols, extent = (X.rows - 1) * X.ld + d;  // elements from X.data
  const index_t j_last = (d - 1) / L * L;                       // the last column group
  index_t i = 0;
  for (; i + L <= nb && (i0 + i + L - 1) * X.ld + j_last + L <= extent; i += L) {
    for (index_t j0 = 0; j0 < d; j0 += L) {
      V v[L];
      for (int q = 0; q < L; ++q) v[q] = simd::load<T, W>(X.row(i0 + i + q) + j0);
      simd::transpose<T, W>(v);
      for (index_t c = 0; c < std::min<index_t>(L, d - j0); ++c) {
        double* out = z + (j0 + c) * kNarrowRows + i;
        const double s = shift[j0 + c];
        if constexpr (H == L) {
          simd::store<double, W>(out, v[c] - s);
        } else {
          simd::store<double, W>(out, __builtin_convertvector(simd::low_half<T, W>(v[c]), D) - s);
          simd::store<double, W>(out + H, __builtin_convertvector(simd::high_half<T, W>(v[c]), D) - s);
        }
      }
    }
  }
  return i;
}

// tile (row stride pb, upper triangle) += the augmented weighted Gram of rows
// [r0, r1) of X, Y, sw (with Gather: rows[r0], ..., rows[r1 - 1]). Columns:
// x - c, y - c_y, 1; accumulation in double whatever T is.
template <class T, int W, bool Gather>
FASTCOST_INLINE void gram_narrow_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                      const index_t* rows, index_t r0, index_t r1, double* tile, index_t pb,
                                      double* work) {
  using V = simd::vec_t<double, W>;
  constexpr int L = simd::lanes<double, W>();
  constexpr index_t RB = kNarrowRows;
  const index_t d = X.cols, k = Y.cols, p = d + k + 1;
  double* z = work;                 // column j of the block at z + j * RB
  double* wz = work + p * RB;       // s z, when weighted
  double* acc = work + 2 * p * RB;  // L lanes per (a, b)
  std::fill(acc, acc + p * p * L, 0.0);
  auto row_of = [&](index_t i) -> index_t {
    if constexpr (Gather) {
      return rows[i];
    } else {
      (void)rows;
      return i;
    }
  };
  for (index_t i0 = r0; i0 < r1; i0 += RB) {
    const index_t nb = std::min(RB, r1 - i0);
    // Columns that are contiguous in memory (column-major X, a one-column
    // row-major X, 1-D y) copy as vectors; row-major X packs row by row.
    if (X.layout == Layout::RowMajor && !(X.ld == 1 && !Gather)) {
      index_t i = 0;
      if constexpr (!Gather) i = narrow_pack_rows<T, W>(X, shift, i0, nb, z);
      for (; i < nb; ++i) {
        const T* xr = X.row(row_of(i0 + i));
        for (index_t j = 0; j < d; ++j) z[j * RB + i] = static_cast<double>(xr[j]) - shift[j];
      }
    } else {
      for (index_t j = 0; j < d; ++j) pack_column<Gather>(column(X, j), i0, nb, shift[j], z + j * RB, row_of);
    }
    for (index_t t = 0; t < k; ++t) {
      double* zt = z + (d + t) * RB;
      if (!Y.data) {
        std::fill(zt, zt + nb, 0.0 - shift[d + t]);
      } else if (Y.layout == Layout::ColMajor || Y.ld == 1) {
        pack_column<Gather>(column(Y, t), i0, nb, shift[d + t], zt, row_of);
      } else {
        for (index_t i = 0; i < nb; ++i) zt[i] = static_cast<double>(Y(row_of(i0 + i), t)) - shift[d + t];
      }
    }
    std::fill(z + (p - 1) * RB, z + (p - 1) * RB + nb, 1.0);
    for (index_t j = 0; j < p; ++j) std::fill(z + j * RB + nb, z + (j + 1) * RB, 0.0);  // padding rows add 0
    const double* left = z;
    if (sw) {
      for (index_t i = 0; i < nb; ++i) {
        const double s = static_cast<double>(sw[row_of(i0 + i)]);
        for (index_t j = 0; j < p; ++j) wz[j * RB + i] = z[j * RB + i] * s;
      }
      for (index_t j = 0; j < p; ++j) std::fill(wz + j * RB + nb, wz + (j + 1) * RB, 0.0);
      left = wz;
    }
    for (index_t a = 0; a < p; ++a) {
      const double* za = left + a * RB;
      for (index_t b = a; b < p; ++b) {
        const double* zb = z + b * RB;
        double* out = acc + (a * p + b) * L;
        // Four independent chains: one chain of RB / L dependent multiply-adds
        // per pair would wait on the adder's latency, not its throughput.
        V s0 = V{}, s1 = V{}, s2 = V{}, s3 = V{};
        for (index_t g = 0; g < RB; g += 4 * L) {
          s0 += simd::load<double, W>(za + g) * simd::load<double, W>(zb + g);
          s1 += simd::load<double, W>(za + g + L) * simd::load<double, W>(zb + g + L);
          s2 += simd::load<double, W>(za + g + 2 * L) * simd::load<double, W>(zb + g + 2 * L);
          s3 += simd::load<double, W>(za + g + 3 * L) * simd::load<double, W>(zb + g + 3 * L);
        }
        simd::store<double, W>(out, simd::load<double, W>(out) + ((s0 + s1) + (s2 + s3)));
      }
    }
  }
  for (index_t a = 0; a < p; ++a) {
    for (index_t b = a; b < p; ++b) {
      tile[a * pb + b] += lane_total<W>(simd::load<double, W>(acc + (a * p + b) * L));
    }
  }
}

template <class T, int W>
FASTCOST_INLINE void gram_narrow_dense_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                            index_t r0, index_t r1, double* tile, index_t pb, double* work) {
  if (!gram_narrow_direct<T, W>(X, Y, sw, shift, r0, r1, tile, pb, work))
    gram_narrow_body<T, W, false>(X, Y, sw, shift, nullptr, r0, r1, tile, pb, work);
}
template <class T, int W>
FASTCOST_INLINE void gram_narrow_gather_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                             const index_t* rows, index_t r0, index_t r1, double* tile, index_t pb,
                                             double* work) {
  gram_narrow_body<T, W, true>(X, Y, sw, shift, rows, r0, r1, tile, pb, work);
}

FASTCOST_MULTIVERSION(gram_narrow_dense, gram_narrow_dense_body)
FASTCOST_MULTIVERSION(gram_narrow_gather, gram_narrow_gather_body)

}  // namespace fastcost::detail
