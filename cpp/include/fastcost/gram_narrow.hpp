// The augmented Gram of narrow data (d + 2 <= kNarrowMaxDim columns) with
// rows in the vector lanes. The register-tile kernel of gram.hpp pads the
// augmented row to a full tile (8 x 8 on AVX-512 for d = 1, where 6 products
// are wanted), so at a few columns it spent ten times the multiply-adds it
// needed and ran at a third of numpy's X.T @ X. Here a block of rows is
// transposed into columns and each pair (a, b) of the upper triangle takes one
// multiply-add per L rows, with lane-wise partial sums reduced in a fixed order.
#pragma once

#include <algorithm>
#include <cstring>
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
      for (index_t i = 0; i < nb; ++i) {
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
      const double* lanes = acc + (a * p + b) * L;
      double total = 0.0;
      for (int l = 0; l < L; ++l) total += lanes[l];
      tile[a * pb + b] += total;
    }
  }
}

template <class T, int W>
FASTCOST_INLINE void gram_narrow_dense_body(MatrixView<T> X, MatrixView<T> Y, const T* sw, const double* shift,
                                            index_t r0, index_t r1, double* tile, index_t pb, double* work) {
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
