// The Householder kernels of the tall-skinny QR (tsqr.hpp): folding a packed
// block of rows B into a running triangular factor R (R <- R of [R; B]) in
// double (SIMD, compact WY) or a wider type (one reflector at a time), and the
// packing of weighted, shifted rows into such a block. The blocked kernel for
// wide designs (tsqr_wide.hpp) factors its panels with qr_stack as well.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

namespace detail {

// sqrt(a^2 + b^2) without overflow or underflow. Written out rather than
// std::hypot: glibc 2.35 versioned the double hypot symbol, and that one
// reference alone would raise the wheel's manylinux floor from 2_34 to 2_35.
template <class R>
inline R hypot2(R a, R b) {
  a = std::fabs(a);
  b = std::fabs(b);
  const R m = std::max(a, b);
  if (m == R(0) || !std::isfinite(m)) return m;
  const R p = a / m, q = b / m;
  return m * std::sqrt(p * p + q * q);
}

constexpr index_t kQrPanel = 8;        // reflectors per compact-WY block (one zmm of doubles)
constexpr index_t kQrBlockRows = 256;  // rows per packed block: B of d = 100 is ~200 KiB, in L2
constexpr int kQrCols = 3;             // trailing columns updated together (register tile)

inline index_t round_up(index_t v, index_t m) { return (v + m - 1) / m * m; }

// Trailing update of KC columns k.. of [R; B] by the block reflector
// I - V T V^T of one panel (rows j0..j0+NB of R, Householder vectors Y in B):
//     w = T^T (R[j0:j0+NB, k] + Y^T B[:, k]);  R[j0:, k] -= w;  B[:, k] -= Y w.
// The column of B stays in L1 between the two halves.
// Y and B have leading dimension ldb and `rows` rows (a multiple of the
// vector width); R has leading dimension ldr.
template <int W, int KC>
FASTCOST_INLINE void qr_apply_cols(const double* FASTCOST_RESTRICT Y, index_t ldb, index_t rows, const double* Tm,
                                   double* R, index_t ldr, index_t j0, double* FASTCOST_RESTRICT B, index_t k) {
  constexpr int L = simd::lanes<double, W>();
  constexpr int NB = static_cast<int>(kQrPanel);
  using V = simd::vec_t<double, W>;
  V acc[NB][KC];
  for (int r = 0; r < NB; ++r)
    for (int c = 0; c < KC; ++c) acc[r][c] = V{};
  for (index_t i = 0; i < rows; i += L) {
    V b[KC];
    for (int c = 0; c < KC; ++c) b[c] = simd::load<double, W>(B + (k + c) * ldb + i);
#pragma GCC unroll 8
    for (int r = 0; r < NB; ++r) {
      const V y = simd::load<double, W>(Y + r * ldb + i);
      for (int c = 0; c < KC; ++c) acc[r][c] += y * b[c];
    }
  }
  double w[NB][KC], tw[NB][KC];
  for (int r = 0; r < NB; ++r)
    for (int c = 0; c < KC; ++c) w[r][c] = simd::hsum<double, W>(acc[r][c]) + R[(k + c) * ldr + j0 + r];
  for (int r = 0; r < NB; ++r) {  // tw = T^T w, T upper triangular (column-major NB x NB)
    for (int c = 0; c < KC; ++c) {
      double s = 0.0;
      for (int q = 0; q <= r; ++q) s += Tm[r * NB + q] * w[q][c];
      tw[r][c] = s;
    }
  }
  for (int r = 0; r < NB; ++r)
    for (int c = 0; c < KC; ++c) R[(k + c) * ldr + j0 + r] -= tw[r][c];
  // Two row vectors at a time: the NB-long dependency chains of each output
  // would otherwise leave the FMA units waiting on latency.
  index_t i = 0;
  for (; i + 2 * L <= rows; i += 2 * L) {
    V b0[KC], b1[KC];
    for (int c = 0; c < KC; ++c) {
      b0[c] = simd::load<double, W>(B + (k + c) * ldb + i);
      b1[c] = simd::load<double, W>(B + (k + c) * ldb + i + L);
    }
#pragma GCC unroll 8
    for (int r = 0; r < NB; ++r) {
      const V y0 = simd::load<double, W>(Y + r * ldb + i);
      const V y1 = simd::load<double, W>(Y + r * ldb + i + L);
      for (int c = 0; c < KC; ++c) {
        b0[c] -= y0 * tw[r][c];
        b1[c] -= y1 * tw[r][c];
      }
    }
    for (int c = 0; c < KC; ++c) {
      simd::store<double, W>(B + (k + c) * ldb + i, b0[c]);
      simd::store<double, W>(B + (k + c) * ldb + i + L, b1[c]);
    }
  }
  for (; i < rows; i += L) {
    V b0[KC];
    for (int c = 0; c < KC; ++c) b0[c] = simd::load<double, W>(B + (k + c) * ldb + i);
    for (int r = 0; r < NB; ++r) {
      const V y0 = simd::load<double, W>(Y + r * ldb + i);
      for (int c = 0; c < KC; ++c) b0[c] -= y0 * tw[r][c];
    }
    for (int c = 0; c < KC; ++c) simd::store<double, W>(B + (k + c) * ldb + i, b0[c]);
  }
}

// Householder QR of the stacked matrix [R; B] in place: R (p x p, column-major
// with leading dimension ldr, upper triangular) becomes the new factor; B
// (rows x p, column-major with leading dimension ldb, rows a multiple of the
// vector width, padding rows zero) is overwritten with the reflectors. Each
// reflector touches one row of R and all of B. `work` holds
// kQrPanel * (kQrPanel + 1) doubles; `taus`, if not null, receives the p
// reflector coefficients (the blocked wide kernel factors its panels here).
template <class T, int W>
FASTCOST_INLINE void qr_stack_body(double* R, index_t ldr, index_t p, double* B, index_t ldb, index_t rows,
                                   double* work, double* taus) {
  constexpr index_t NB = kQrPanel;
  double* tau = work;
  double* Tm = work + NB;  // column-major NB x NB
  for (index_t j0 = 0; j0 < p; j0 += NB) {
    const index_t nb = std::min(NB, p - j0);
    // Panel: unblocked Householder on columns j0 .. j0 + nb.
    for (index_t j = j0; j < j0 + nb; ++j) {
      double* bj = B + j * ldb;
      double xnorm2 = simd::dot<double, W>(bj, bj, rows);
      const double alpha = R[j * ldr + j];
      double t = 0.0;
      if (xnorm2 > 0.0) {
        double scale = 1.0;
        if (!std::isfinite(xnorm2) || xnorm2 < std::numeric_limits<double>::min() / std::numeric_limits<double>::epsilon()) {
          // Squares over/underflowed: recompute the norm of a rescaled column.
          double amax = 0.0;
          for (index_t i = 0; i < rows; ++i) amax = std::max(amax, std::fabs(bj[i]));
          scale = amax;
          xnorm2 = 0.0;
          for (index_t i = 0; i < rows; ++i) xnorm2 += (bj[i] / amax) * (bj[i] / amax);
        }
        const double beta = -std::copysign(scale * hypot2(alpha / scale, std::sqrt(xnorm2)), alpha);
        t = (beta - alpha) / beta;
        const double inv = 1.0 / (alpha - beta);  // |alpha - beta| >= |beta|: no cancellation
        for (index_t i = 0; i < rows; ++i) bj[i] *= inv;
        R[j * ldr + j] = beta;
      }
      tau[j - j0] = t;
      if (taus) taus[j] = t;
      if (t == 0.0) continue;
      for (index_t k = j + 1; k < j0 + nb; ++k) {
        double* bk = B + k * ldb;
        const double wk = t * (R[k * ldr + j] + simd::dot<double, W>(bj, bk, rows));
        R[k * ldr + j] -= wk;
        simd::axpy<double, W>(bk, -wk, bj, rows);
      }
    }
    if (j0 + nb >= p) break;  // last panel: nothing to its right
    // T of the compact WY form (LAPACK's dlarft, forward, columnwise). The
    // unit parts of the reflectors sit on distinct rows of R, so V^T V = I + Y^T Y.
    const double* Y = B + j0 * ldb;
    std::fill(Tm, Tm + NB * NB, 0.0);
    for (index_t i = 0; i < NB; ++i) {
      Tm[i * NB + i] = tau[i];
      if (tau[i] == 0.0) continue;
      double z[NB];
      for (index_t q = 0; q < i; ++q) z[q] = simd::dot<double, W>(Y + q * ldb, Y + i * ldb, rows);
      for (index_t q = 0; q < i; ++q) {
        double s = 0.0;
        for (index_t u = q; u < i; ++u) s += Tm[u * NB + q] * z[u];
        Tm[i * NB + q] = -tau[i] * s;
      }
    }
    index_t k = j0 + NB;
    for (; k + kQrCols <= p; k += kQrCols) qr_apply_cols<W, kQrCols>(Y, ldb, rows, Tm, R, ldr, j0, B, k);
    for (; k < p; ++k) qr_apply_cols<W, 1>(Y, ldb, rows, Tm, R, ldr, j0, B, k);
  }
}

FASTCOST_MULTIVERSION(qr_stack, qr_stack_body)

// Rows per packed block of the extended pass: a long double takes 16 bytes, so
// half of kQrBlockRows keeps B of d = 100 at ~200 KiB, still in L2.
constexpr index_t kQrBlockRowsWide = 128;

template <class Real>
Real dot_wide(const Real* a, const Real* b, index_t n) {
  // Four partial sums: x87 adds have no vector form, so hide their latency instead.
  Real s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  index_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

// qr_stack_body's algebra for a type without SIMD lanes (long double): the same
// reflectors, applied one at a time; with no vector units to feed, the compact
// WY blocking would only add work.
template <class Real>
void qr_stack_wide(Real* R, index_t p, Real* B, index_t mb) {
  for (index_t j = 0; j < p; ++j) {
    Real* bj = B + j * mb;
    Real xnorm2 = dot_wide(bj, bj, mb);
    if (!(xnorm2 > 0)) continue;
    const Real alpha = R[j * p + j];
    Real scale = 1;
    if (!std::isfinite(xnorm2) || xnorm2 < std::numeric_limits<Real>::min() / std::numeric_limits<Real>::epsilon()) {
      // Only reachable when Real has double's range (MSVC); as in qr_stack_body.
      Real amax = 0;
      for (index_t i = 0; i < mb; ++i) amax = std::max(amax, std::fabs(bj[i]));
      scale = amax;
      xnorm2 = 0;
      for (index_t i = 0; i < mb; ++i) xnorm2 += (bj[i] / amax) * (bj[i] / amax);
    }
    const Real beta = -std::copysign(scale * hypot2(alpha / scale, std::sqrt(xnorm2)), alpha);
    const Real t = (beta - alpha) / beta;
    const Real inv = 1 / (alpha - beta);
    for (index_t i = 0; i < mb; ++i) bj[i] *= inv;
    R[j * p + j] = beta;
    for (index_t k = j + 1; k < p; ++k) {
      Real* FASTCOST_RESTRICT bk = B + k * mb;
      const Real wk = t * (R[k * p + j] + dot_wide(bj, bk, mb));
      R[k * p + j] -= wk;
      for (index_t i = 0; i < mb; ++i) bk[i] -= wk * bj[i];
    }
  }
}

// One [R; B] -> R step in Real: the SIMD kernels for double, else the wide one.
template <class Real>
void stack_block(Isa isa, Real* R, index_t p, Real* B, index_t mb, Real* work) {
  if constexpr (std::is_same_v<Real, double>) {
    qr_stack<double>(isa, R, p, p, B, mb, mb, work, static_cast<double*>(nullptr));
  } else {
    (void)isa;
    (void)work;
    qr_stack_wide(R, p, B, mb);
  }
}

template <class Real>
constexpr index_t block_rows() {
  return std::is_same_v<Real, double> ? kQrBlockRows : kQrBlockRowsWide;
}

// Packs rows [i0, i0 + nb) as sqrt(s_i) [1, x_i - c, y_i - c_y] into the
// column-major block B (ld mb), widened to Real; rows nb.. stay zero. Y is
// rows x k (data null: zeros). Returns the rows with s_i > 0.
template <class Real, class T>
index_t qr_pack(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, index_t i0,
                index_t nb, Real* FASTCOST_RESTRICT B, index_t mb, Real* FASTCOST_RESTRICT root) {
  const index_t d = X.cols, k = Y.cols;
  index_t nonzero = 0;
  for (index_t i = 0; i < nb; ++i) {
    const Real s = sw ? static_cast<Real>(sw[i0 + i]) : Real(1);
    nonzero += s > 0;
    root[i] = std::sqrt(s);
    B[i] = root[i];
  }
  for (index_t t = 0; t < k; ++t) {
    Real* bt = B + (d + 1 + t) * mb;
    const Real ct = static_cast<Real>(shift[d + t]);
    for (index_t i = 0; i < nb; ++i)
      bt[i] = root[i] * ((Y.data ? static_cast<Real>(Y(i0 + i, t)) : Real(0)) - ct);
  }
  if (X.layout == Layout::RowMajor) {
    for (index_t i = 0; i < nb; ++i) {
      const T* xi = X.row(i0 + i);
      const Real ri = root[i];
      for (index_t j = 0; j < d; ++j) B[(j + 1) * mb + i] = ri * (static_cast<Real>(xi[j]) - static_cast<Real>(shift[j]));
    }
  } else {
    for (index_t j = 0; j < d; ++j) {
      const T* xj = X.col(j) + i0;
      Real* bj = B + (j + 1) * mb;
      const Real cj = static_cast<Real>(shift[j]);
      for (index_t i = 0; i < nb; ++i) bj[i] = root[i] * (static_cast<Real>(xj[i]) - cj);
    }
  }
  for (index_t j = 0; j < d + k + 1; ++j) std::fill(B + j * mb + nb, B + (j + 1) * mb, Real(0));
  return nonzero;
}

// Folds the upper-triangular `add` (p x p, column-major) into R: R <- R of [R; add].
template <class Real>
void qr_fold(Isa isa, Real* R, const Real* add, index_t p, std::vector<Real>& buf, Real* work) {
  const index_t mb = round_up(p, 8);
  buf.assign(static_cast<std::size_t>(mb * p), Real(0));
  for (index_t k = 0; k < p; ++k)
    for (index_t i = 0; i <= k; ++i) buf[k * mb + i] = add[k * p + i];
  stack_block(isa, R, p, buf.data(), mb, work);
}

// Row-major <-> column-major copies of a p x p factor (strict lower part zero).
template <class Real>
std::vector<Real> upper_to_colmajor(const std::vector<Real>& r, index_t p) {
  std::vector<Real> out(static_cast<std::size_t>(p * p), Real(0));
  for (index_t i = 0; i < p; ++i)
    for (index_t j = i; j < p; ++j) out[j * p + i] = r[i * p + j];
  return out;
}

template <class Real>
std::vector<Real> colmajor_to_upper(const Real* c, index_t p) {
  std::vector<Real> out(static_cast<std::size_t>(p * p), Real(0));
  for (index_t i = 0; i < p; ++i)
    for (index_t j = i; j < p; ++j) out[i * p + j] = c[j * p + i];
  return out;
}

}  // namespace detail

}  // namespace fastcost
