// Upper-triangular algebra of the qr solve at large order (row-major factors,
// leading dimension ld): solves in vector form, and the inverse (whose row
// norms the digits estimate needs) blocked and threaded. The solve's scalar
// loops (qr_solve.hpp) take a dependent multiply-add per element, and its
// column-by-column inverse streams the whole triangle from memory once per
// column: at d = 2,000 about a second, here a few hundredths.
//
// Built-in rather than LAPACK's dtrtrs/dtrtri: each result element is summed
// in an order fixed by the shape, whatever the thread count, which OpenBLAS
// does not promise (its threaded level-2 and level-3 routines round
// differently with 1 and 2 threads).
#pragma once

#include <algorithm>
#include <vector>

#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"

namespace fastcost::linalg {

// Order from which the qr solve uses this file; below it the scalar loops of
// qr_solve.hpp (and the results of earlier releases, bit for bit).
constexpr index_t kTriangularMinOrder = 64;

namespace tri_detail {

// b <- R^-1 b: row i's dot product with the solved tail, in vectors.
template <class T, int W>
FASTCOST_INLINE void upper_solve_body(const double* r, index_t n, index_t ld, double* b) {
  for (index_t i = n - 1; i >= 0; --i) {
    const double s = simd::dot<double, W>(r + i * ld + i + 1, b + i + 1, n - i - 1);
    b[i] = (b[i] - s) / r[i * ld + i];
  }
}

// b <- R^-T b: once x_i is known, row i of R (contiguous) updates the rest.
template <class T, int W>
FASTCOST_INLINE void upper_solve_t_body(const double* r, index_t n, index_t ld, double* b) {
  for (index_t i = 0; i < n; ++i) {
    b[i] /= r[i * ld + i];
    simd::axpy<double, W>(b + i + 1, -b[i], r + i * ld + i + 1, n - i - 1);
  }
}

FASTCOST_MULTIVERSION(upper_solve_v, upper_solve_body)
FASTCOST_MULTIVERSION(upper_solve_t_v, upper_solve_t_body)

constexpr index_t kInvBlock = 48;  // rows of the inverse per step (a multiple of the row tile)

// Row tile of the product: 6 x 4 vectors fill AVX-512's registers, 2 x 4 the 16 of the others.
template <int W>
constexpr int inv_mr() {
  return W == 64 ? 6 : 2;
}

// MR rows of C += U[i0.., l0..l1) X[l0..l1, c0..c0 + 4 L), the rows of U
// broadcast against rows of X (ldx).
template <int W, int MR>
FASTCOST_INLINE void inv_rows(const double* u, index_t ld, index_t i0, index_t l0, index_t l1, const double* X,
                              index_t ldx, index_t c0, double* C, index_t ldc) {
  constexpr int L = simd::lanes<double, W>();
  using V = simd::vec_t<double, W>;
  V acc[MR][4];
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < 4; ++v) acc[r][v] = simd::load<double, W>(C + r * ldc + v * L);
  for (index_t l = l0; l < l1; ++l) {
    V x[4];
    for (int v = 0; v < 4; ++v) x[v] = simd::load<double, W>(X + l * ldx + c0 + v * L);
    for (int r = 0; r < MR; ++r) {
      const double a = u[(i0 + r) * ld + l];
      for (int v = 0; v < 4; ++v) acc[r][v] += x[v] * a;
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < 4; ++v) simd::store<double, W>(C + r * ldc + v * L, acc[r][v]);
}

// Columns [c0, c0 + 4 L) of the inverse's rows [i0, i1), given its rows from
// i1 on and Xd = U[i0:i1, i0:i1]^-1 (row-major, ld kInvBlock):
//     X[i0:i1, c] = Xd (E[:, c] - U[i0:i1, i1:] X[i1:, c])
// with E = [0, I, 0] the identity's rows i0 .. i1 (in the block's own columns
// this is Xd, exactly: one term).
template <class T, int W>
FASTCOST_INLINE void inv_chunk_body(const double* u, index_t n, index_t ld, index_t i0, index_t i1, const double* Xd,
                                    double* X, index_t ldx, index_t c0, double* C) {
  constexpr int L = simd::lanes<double, W>();
  constexpr int MR = inv_mr<W>();
  constexpr index_t CW = 4 * L;
  using V = simd::vec_t<double, W>;
  constexpr index_t KB = 512;  // rows of X per sweep: its 4 L columns stay in L2 for all row tiles
  // X[l][c] = 0 for l > c: the sum over l stops at the chunk's last column.
  const index_t c1 = std::min(c0 + CW, n), h = i1 - i0;
  std::fill(C, C + h * CW, 0.0);
  for (index_t l0 = i1; l0 < c1; l0 += KB) {
    const index_t l1 = std::min(c1, l0 + KB);
    index_t r = 0;
    for (; r + MR <= h; r += MR) inv_rows<W, MR>(u, ld, i0 + r, l0, l1, X, ldx, c0, C + r * CW, CW);
    for (; r < h; ++r) inv_rows<W, 1>(u, ld, i0 + r, l0, l1, X, ldx, c0, C + r * CW, CW);
  }
  for (index_t a = 0; a < h; ++a)
    if (i0 + a >= c0 && i0 + a < c0 + CW) C[a * CW + i0 + a - c0] -= 1.0;
  for (index_t a = 0; a < h; ++a) {
    V out[4] = {};
    for (index_t s = a; s < h; ++s) {
      const double xd = Xd[a * kInvBlock + s];
      for (int v = 0; v < 4; ++v) out[v] -= simd::load<double, W>(C + s * CW + v * L) * xd;
    }
    for (int v = 0; v < 4; ++v) simd::store<double, W>(X + (i0 + a) * ldx + c0 + v * L, out[v]);
  }
}

FASTCOST_MULTIVERSION(inv_chunk, inv_chunk_body)

}  // namespace tri_detail

// b <- R^-1 b (trans: R^-T b) for the n x n upper-triangular row-major R.
inline void upper_solve(const double* r, index_t n, index_t ld, double* b, bool trans) {
  if (trans) {
    tri_detail::upper_solve_t_v<double>(active_isa(), r, n, ld, b);
  } else {
    tri_detail::upper_solve_v<double>(active_isa(), r, n, ld, b);
  }
}

// The inverse X of the n x n upper-triangular row-major U (ld), row-major
// with leading dimension ldx = returned value (n rounded up to the column
// chunk; zero below the diagonal and past column n). Block rows of 48 from the
// bottom; each block's columns are split in chunks over `threads` threads,
// chunk c always on thread c mod team and each element's sum in a fixed order.
inline index_t upper_inverse(const double* u, index_t n, index_t ld, std::vector<double>& X, int threads) {
  constexpr index_t CW = 32;  // widest chunk (4 AVX-512 vectors); narrower ISAs split it
  const Isa isa = active_isa();
  const index_t cw = isa == Isa::Avx512 ? 32 : isa == Isa::Avx2Fma ? 16 : 8;
  const index_t ldx = (n + CW - 1) / CW * CW;
  X.assign(static_cast<std::size_t>(n * ldx), 0.0);
  const index_t blocks = (n + tri_detail::kInvBlock - 1) / tri_detail::kInvBlock;
  constexpr index_t XS = tri_detail::kInvBlock * tri_detail::kInvBlock, CS = tri_detail::kInvBlock * CW;
  std::vector<double> scratch(static_cast<std::size_t>(std::max(threads, 1) * (XS + CS)));
  TeamBarrier barrier;
  run_team(threads, barrier, [&](int t, int team) {
    double* Xd = scratch.data() + t * (XS + CS);
    double* C = Xd + XS;
    for (index_t b = blocks - 1; b >= 0; --b) {
      const index_t i0 = b * tri_detail::kInvBlock, i1 = std::min(n, i0 + tri_detail::kInvBlock), h = i1 - i0;
      // The diagonal block's inverse, on every thread (h^3 / 6 multiply-adds).
      std::fill(Xd, Xd + XS, 0.0);
      for (index_t a = h - 1; a >= 0; --a) {
        const double dinv = 1.0 / u[(i0 + a) * ld + i0 + a];
        Xd[a * tri_detail::kInvBlock + a] = dinv;
        for (index_t c = a + 1; c < h; ++c) {
          double s = 0.0;
          for (index_t m = a + 1; m <= c; ++m) s += u[(i0 + a) * ld + i0 + m] * Xd[m * tri_detail::kInvBlock + c];
          Xd[a * tri_detail::kInvBlock + c] = -s * dinv;
        }
      }
      // Chunks of the columns from i0 on (the first may start left of i0:
      // its columns there get the zeros they already hold).
      const index_t first = i0 / cw, chunks = ldx / cw - first;
      for (index_t c = t; c < chunks; c += team)
        tri_detail::inv_chunk<double>(isa, u, n, ld, i0, i1, Xd, X.data(), ldx, (first + c) * cw, C);
      barrier.wait();
    }
  });
  return ldx;
}

}  // namespace fastcost::linalg
