// The tall-skinny QR of wide designs: R <- R of [R; B] for packed blocks B of
// many rows, blocked so that the bulk of the work is two matrix products per
// panel of kWqPanel reflectors.
//
// Why not qr_stack (tsqr_kernels.hpp) alone: it applies each panel of 8
// reflectors to all of B, which at p = d + k + 1 in the thousands (B of
// 256 x 2,000 is 4 MB) streams B from L3 once per 8 reflectors, and its
// per-shard factors (p^2 doubles each) are folded one after another at the end.
// Here each block of kWqRows rows is folded into the factor with panels of 32
// reflectors (factored by qr_stack), and the trailing update
//     W = T^T (R[j0:j0+32, k] + Y^T B[:, k]);  R[j0:j0+32, k] -= W;  B[:, k] -= Y W
// runs as register-tiled products with the panel cache-resident. Tall data
// (n >= 32 p) is split in row shards as qr_stack's pass splits it, each folded
// on one thread and the shards' factors merged at the end (cheap there);
// otherwise one factor is kept and its columns are split over the threads.
// While the others update the trailing columns, one thread updates and
// factors the next panel (look-ahead), so the panels, which run on one
// thread, cost little time.
//
// Determinism: each column's arithmetic (the order of every sum) depends only
// on the shape and the shard count, never on which thread runs it or how many
// there are, so the factor is bitwise identical for any thread count.
// Nothing here calls a BLAS: the work is split by OpenMP, and a BLAS's
// threads could not promise that (OpenBLAS's dgemm and dtrmv round
// differently with 1 and 2 threads).
//
// The same fold, with B upper trapezoidal, merges two factors (Dask chunks)
// and appends the ridge rows of the solve at a third of the dense cost: panel
// j0 only touches rows < j0 + 32 of B.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <type_traits>
#include <vector>

#include "fastcost/gram.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"
#include "fastcost/tsqr_kernels.hpp"

namespace fastcost {

// Augmented width p = d + k + 1 from which double passes, merges and ridge
// solves take the blocked kernel. Measured on one thread (AMD EPYC, tall
// data): from 64 columns it takes 0.5-0.7x qr_stack's time with AVX-512
// kernels and 0.7-0.9x with AVX2; at 32 it is 0.8x and 1.0x. Below the
// threshold, results stay those of earlier releases bit for bit.
constexpr index_t kWideQrMinCols = 64;

namespace detail {

inline std::atomic<index_t>& wide_qr_min_cols_state() {
  static std::atomic<index_t> v{kWideQrMinCols};
  return v;
}

constexpr index_t kWqPanel = 32;   // reflectors per block reflector: rows of W
constexpr index_t kWqRows = 1024;  // rows per packed block (B of p = 2,000: 16 MB)

// Register tiles: NC columns of B against RV vectors of W's rows (products)
// or MI row vectors of B (updates). 4 x 6 accumulators fill AVX-512's 32
// registers with room for the operands; 2 x 6 the 16 of AVX2 and SSE2 (whose
// products then take several passes over the rows for the 32 rows of W).
template <int W>
constexpr int wq_rv() {
  return W == 64 ? 4 : 2;
}
template <int W>
constexpr int wq_mi() {
  return W == 64 ? 4 : 2;
}
template <int W>
constexpr int wq_nc() {
  return 6;
}

}  // namespace detail

// The width from which the blocked kernel is used (tests lower it to run the
// blocked kernel on small problems, or raise it to compare with qr_stack).
inline index_t wide_qr_min_cols() { return detail::wide_qr_min_cols_state().load(std::memory_order_relaxed); }
inline index_t set_wide_qr_min_cols(index_t cols) {
  return detail::wide_qr_min_cols_state().exchange(std::max<index_t>(cols, 1));
}
inline bool use_wide_qr(index_t p) { return p >= wide_qr_min_cols(); }

namespace detail {

// out[c][r] = sum_i Y[i][r] B[i][k + c] (r < 32) from the panel's reflectors
// by rows, Yt (rows x 32, row-major): broadcasts of B against rows of Yt, so
// no horizontal sums.
template <int W, int NC>
FASTCOST_INLINE void wq_product(const double* FASTCOST_RESTRICT Yt, const double* B, index_t ldb, index_t rows,
                                index_t k, double (*out)[kWqPanel]) {
  constexpr int L = simd::lanes<double, W>();
  constexpr int NB = static_cast<int>(kWqPanel);
  constexpr int RV = wq_rv<W>();
  using V = simd::vec_t<double, W>;
  for (int r0 = 0; r0 < NB; r0 += RV * L) {
    V acc[RV][NC];
    for (int v = 0; v < RV; ++v)
      for (int c = 0; c < NC; ++c) acc[v][c] = V{};
    const double* yt = Yt + r0;
    for (index_t i = 0; i < rows; ++i) {
      V y[RV];
      for (int v = 0; v < RV; ++v) y[v] = simd::load<double, W>(yt + i * NB + v * L);
      for (int c = 0; c < NC; ++c) {
        const double b = B[(k + c) * ldb + i];
        for (int v = 0; v < RV; ++v) acc[v][c] += y[v] * b;
      }
    }
    for (int c = 0; c < NC; ++c)
      for (int v = 0; v < RV; ++v) simd::store<double, W>(out[c] + r0 + v * L, acc[v][c]);
  }
}

// Columns k .. k + NC of the trailing update by one panel (see the top of the
// file). Yt is the panel's reflectors by rows (rows x 32, row-major), Y the
// same column-major in B, Trow the panel's T by rows (Trow[q * 32 + r] = T(q, r)).
template <int W, int NC>
FASTCOST_INLINE void wq_cols(const double* FASTCOST_RESTRICT Yt, const double* Trow, const double* Y, index_t ldb,
                             index_t rows, double* R, index_t ldr, index_t j0, double* B, index_t k) {
  constexpr int L = simd::lanes<double, W>();
  constexpr int NB = static_cast<int>(kWqPanel);
  constexpr int MI = wq_mi<W>(), NV = NB / L;
  using V = simd::vec_t<double, W>;
  alignas(64) double w[NC][NB];
  wq_product<W, NC>(Yt, B, ldb, rows, k, w);  // W = R[j0:, k] + Y^T B[:, k]
  for (int c = 0; c < NC; ++c) {
    const double* rc = R + (k + c) * ldr + j0;
    for (int v = 0; v < NV; ++v)
      simd::store<double, W>(w[c] + v * L, simd::load<double, W>(w[c] + v * L) + simd::load<double, W>(rc + v * L));
  }
  // W <- T^T W (T upper triangular: row q of T reaches columns r >= q), and R -= W.
  alignas(64) double tw[NC][NB];
  for (int c = 0; c < NC; ++c) {
    V t[NV];
    for (int v = 0; v < NV; ++v) t[v] = V{};
    for (int q = 0; q < NB; ++q) {
      const double wq = w[c][q];
      for (int v = q / L; v < NV; ++v) t[v] += simd::load<double, W>(Trow + q * NB + v * L) * wq;
    }
    double* rc = R + (k + c) * ldr + j0;
    for (int v = 0; v < NV; ++v) {
      simd::store<double, W>(tw[c] + v * L, t[v]);
      simd::store<double, W>(rc + v * L, simd::load<double, W>(rc + v * L) - t[v]);
    }
  }
  // B[:, k] -= Y W, MI row vectors at a time.
  index_t i = 0;
  for (; i + MI * L <= rows; i += MI * L) {
    V acc[MI][NC];
    for (int c = 0; c < NC; ++c)
      for (int m = 0; m < MI; ++m) acc[m][c] = simd::load<double, W>(B + (k + c) * ldb + i + m * L);
    for (int r = 0; r < NB; ++r) {
      V y[MI];
      for (int m = 0; m < MI; ++m) y[m] = simd::load<double, W>(Y + r * ldb + i + m * L);
      for (int c = 0; c < NC; ++c) {
        const double t = tw[c][r];
        for (int m = 0; m < MI; ++m) acc[m][c] -= y[m] * t;
      }
    }
    for (int c = 0; c < NC; ++c)
      for (int m = 0; m < MI; ++m) simd::store<double, W>(B + (k + c) * ldb + i + m * L, acc[m][c]);
  }
  for (; i < rows; i += L) {
    V acc[NC];
    for (int c = 0; c < NC; ++c) acc[c] = simd::load<double, W>(B + (k + c) * ldb + i);
    for (int r = 0; r < NB; ++r) {
      const V y = simd::load<double, W>(Y + r * ldb + i);
      for (int c = 0; c < NC; ++c) acc[c] -= y * tw[c][r];
    }
    for (int c = 0; c < NC; ++c) simd::store<double, W>(B + (k + c) * ldb + i, acc[c]);
  }
}

// Columns [ka, kb) of the trailing update, NC at a time from ka (the grouping
// depends only on ka, so on the shape).
template <class T, int W>
FASTCOST_INLINE void wq_update_body(const double* Yt, const double* Trow, index_t ldb, index_t rows, double* R,
                                    index_t ldr, index_t j0, double* B, index_t ka, index_t kb) {
  constexpr int NC = wq_nc<W>();
  const double* Y = B + j0 * ldb;
  index_t k = ka;
  for (; k + NC <= kb; k += NC) wq_cols<W, NC>(Yt, Trow, Y, ldb, rows, R, ldr, j0, B, k);
  if constexpr (NC > 2) {  // 32 = 5 x 6 + 2
    for (; k + 2 <= kb; k += 2) wq_cols<W, 2>(Yt, Trow, Y, ldb, rows, R, ldr, j0, B, k);
  }
  for (; k < kb; ++k) wq_cols<W, 1>(Yt, Trow, Y, ldb, rows, R, ldr, j0, B, k);
}

FASTCOST_MULTIVERSION(wq_update, wq_update_body)

// The panel's reflectors by rows (Yt) and its T (LAPACK's dlarft, forward,
// columnwise; stored by rows), from the reflectors Y (rows x 32 in B) and
// their coefficients. As in qr_stack, V^T V = I + Y^T Y; Y^T Y comes from
// wq_product, which runs several times faster than 496 dot products.
template <class T, int W>
FASTCOST_INLINE void wq_prepare_body(const double* Y, index_t ldb, index_t rows, const double* tau, double* Trow,
                                     double* Yt) {
  constexpr index_t NB = kWqPanel;
  constexpr int NC = wq_nc<W>();
  if constexpr (W == 64) {  // rows is a multiple of 8
    using V = simd::vec_t<double, 64>;
    for (index_t i0 = 0; i0 < rows; i0 += 8)
      for (index_t r0 = 0; r0 < NB; r0 += 8) {
        V v[8];
        for (index_t q = 0; q < 8; ++q) v[q] = simd::load<double, 64>(Y + (r0 + q) * ldb + i0);
        simd::transpose<double, 64>(v);
        for (index_t q = 0; q < 8; ++q) simd::store<double, 64>(Yt + (i0 + q) * NB + r0, v[q]);
      }
  } else {
    for (index_t i0 = 0; i0 < rows; i0 += 8)  // 8 rows per sweep: one cache line of each column
      for (index_t r = 0; r < NB; ++r)
        for (index_t i = i0; i < std::min(rows, i0 + 8); ++i) Yt[i * NB + r] = Y[r * ldb + i];
  }
  alignas(64) double g[NB][NB];  // g[i][q] = Y_q . Y_i
  index_t c = 1;                 // column 0 of the product is never read
  for (; c + NC <= NB; c += NC) wq_product<W, NC>(Yt, Y, ldb, rows, c, g + c);
  for (; c < NB; ++c) wq_product<W, 1>(Yt, Y, ldb, rows, c, g + c);
  std::fill(Trow, Trow + NB * NB, 0.0);
  for (index_t i = 0; i < NB; ++i) {
    Trow[i * NB + i] = tau[i];
    if (tau[i] == 0.0) continue;
    for (index_t q = 0; q < i; ++q) {
      double s = 0.0;
      for (index_t u = q; u < i; ++u) s += Trow[q * NB + u] * g[i][u];
      Trow[q * NB + i] = -tau[i] * s;
    }
  }
}

FASTCOST_MULTIVERSION(wq_prepare, wq_prepare_body)

// One fold R <- R of [R; B], shared by a team. R: p x p, column-major
// (leading dimension ldr), upper triangular; B: rows x p, column-major
// (leading dimension ldb), rows a multiple of 8 (padding rows zero),
// overwritten. `upper`: B is upper trapezoidal (B[i][j] = 0 for i > j), so
// panel j only works on the first 32 (j + 1) rows (a multiple of 8).
//
// Panel j is columns [32 j, 32 j + 32); chunk c (the same columns) belongs to
// thread c mod team, which alone updates it, panel by panel, and factors it
// when its turn comes, publishing the panel's reflectors through `ready`.
// Panel data are kept per panel, so no thread waits for another to finish
// reading them; each thread only waits for the panel it needs next.
struct WqFold {
  double* R = nullptr;
  index_t ldr = 0, p = 0;
  double* B = nullptr;
  index_t ldb = 0, rows = 0;
  bool upper = false;
  index_t panels = 0;
  std::vector<double> tau, trow, yt;  // per panel: 32, 32 x 32, rows_at(j) x 32
  std::vector<index_t> yt_at;         // where panel j's part of yt starts
  std::vector<double> qr_work;        // per thread
  std::atomic<index_t> ready{0};      // panels factored and published

  // Room for blocks of up to max_rows rows (upper: exactly max_rows).
  WqFold(index_t p_, index_t max_rows, bool upper_, int threads)
      : p(p_),
        upper(upper_),
        panels((p_ + kWqPanel - 1) / kWqPanel),
        tau(static_cast<std::size_t>(panels * kWqPanel)),
        trow(static_cast<std::size_t>(panels * kWqPanel * kWqPanel)),
        yt_at(static_cast<std::size_t>(panels + 1)),
        qr_work(static_cast<std::size_t>(std::max(threads, 1) * kQrPanel * (kQrPanel + 1))) {
    set_rows(max_rows);
    yt.resize(static_cast<std::size_t>(yt_at[panels]));
  }

  // Rows of the block now folded (at most the constructor's max_rows).
  void set_rows(index_t r) {
    rows = r;
    for (index_t j = 0; j < panels; ++j) yt_at[j + 1] = yt_at[j] + rows_at(j) * kWqPanel;
  }
  index_t rows_at(index_t j) const { return upper ? std::min(rows, (j + 1) * kWqPanel) : rows; }
  double* tau_of(index_t j) { return tau.data() + j * kWqPanel; }
  double* trow_of(index_t j) { return trow.data() + j * kWqPanel * kWqPanel; }
  double* yt_of(index_t j) { return yt.data() + yt_at[j]; }
};

// Thread t's share of a fold (all of it when team = 1).
inline void wq_fold_member(WqFold& f, int t, int team) {
  const Isa isa = active_isa();
  constexpr index_t NB = kWqPanel;
  const index_t m = f.panels, p = f.p, ldr = f.ldr, ldb = f.ldb;
  double* R = f.R;
  double* B = f.B;
  double* work = f.qr_work.data() + t * kQrPanel * (kQrPanel + 1);
  auto owner = [&](index_t c) { return static_cast<int>(c % team); };
  auto factor = [&](index_t j) {
    const index_t j0 = j * NB, nb = std::min(NB, p - j0), rows = f.rows_at(j);
    qr_stack<double>(isa, R + j0 * ldr + j0, ldr, nb, B + j0 * ldb, ldb, rows, work, f.tau_of(j));
    if (j0 + nb < p) wq_prepare<double>(isa, B + j0 * ldb, ldb, rows, f.tau_of(j), f.trow_of(j), f.yt_of(j));
    f.ready.store(j + 1, std::memory_order_release);
  };
  auto update = [&](index_t c, index_t j) {  // chunk c by panel j
    const index_t ka = c * NB;
    wq_update<double>(isa, f.yt_of(j), f.trow_of(j), ldb, f.rows_at(j), R, ldr, j * NB, B, ka, std::min(p, ka + NB));
  };
  if (owner(0) == t) factor(0);
  for (index_t j = 0; j + 1 < m; ++j) {
    const index_t first = j + 1 + (t - (j + 1) % team + team) % team;  // first chunk > j of this thread
    if (first >= m) break;
    wait_until([&] { return f.ready.load(std::memory_order_acquire) > j; });
    index_t c = first;
    if (c == j + 1) {  // look-ahead: the next panel first, so the others need not wait for it
      update(c, j);
      factor(c);
      c += team;
    }
    for (; c < m; c += team) update(c, j);
  }
}

// Columns 1 .. d of 8 packed rows of row-major X (row r at x + r * ldx):
// B1[j * ldb + r] = root[r] (x_rj - c_j), B1 = B + ldb + the rows' offset.
template <class T, int W>
FASTCOST_INLINE void wq_pack8_body(const T* x, index_t ldx, index_t d, const double* shift, const double* root,
                                   double* B1, index_t ldb) {
  index_t j = 0;
  if constexpr (W == 64 && std::is_same_v<T, double>) {
    using V = simd::vec_t<double, 64>;
    const V rv = simd::load<double, 64>(root);
    for (; j + 8 <= d; j += 8) {
      V v[8];
      for (index_t r = 0; r < 8; ++r) v[r] = simd::load<double, 64>(x + r * ldx + j);
      simd::transpose<double, 64>(v);
      for (index_t q = 0; q < 8; ++q) simd::store<double, 64>(B1 + (j + q) * ldb, rv * (v[q] - shift[j + q]));
    }
  }
  for (; j < d; ++j)
    for (index_t r = 0; r < 8; ++r) B1[j * ldb + r] = root[r] * (static_cast<double>(x[r * ldx + j]) - shift[j]);
}

FASTCOST_MULTIVERSION(wq_pack8, wq_pack8_body)

// Packs rows [a, b) of the block of rows i0 .. i0 + nb as sqrt(s_i)
// [1, x_i - c, y_i - c_y] into the column-major block B (leading dimension
// ldb), as qr_pack does; rows of [a, b) at or past nb are zeroed. Row-major X
// is read 8 rows at a time so that each column of B receives whole cache
// lines. Returns the rows with s_i > 0.
template <class T>
index_t wq_pack_rows(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, index_t i0,
                     index_t nb, index_t a, index_t b, double* B, index_t ldb) {
  const index_t d = X.cols, k = Y.cols, p = d + k + 1;
  const Isa isa = active_isa();
  index_t nonzero = 0;
  for (index_t g = a; g < std::min(b, nb); g += 8) {
    const index_t ge = std::min({b, nb, g + 8});
    alignas(64) double root[8] = {};
    for (index_t i = g; i < ge; ++i) {
      const double s = sw ? static_cast<double>(sw[i0 + i]) : 1.0;
      nonzero += s > 0;
      root[i - g] = std::sqrt(s);
      B[i] = root[i - g];
    }
    if (X.layout == Layout::RowMajor && ge == g + 8) {
      wq_pack8<T>(isa, X.row(i0 + g), X.ld, d, shift, root, B + ldb + g, ldb);
    } else {
      for (index_t j = 0; j < d; ++j) {
        double* bj = B + (j + 1) * ldb;
        const double cj = shift[j];
        if (X.layout == Layout::RowMajor) {
          for (index_t i = g; i < ge; ++i) bj[i] = root[i - g] * (static_cast<double>(X.row(i0 + i)[j]) - cj);
        } else {
          const T* xj = X.col(j) + i0;
          for (index_t i = g; i < ge; ++i) bj[i] = root[i - g] * (static_cast<double>(xj[i]) - cj);
        }
      }
    }
    for (index_t t = 0; t < k; ++t) {
      double* bt = B + (d + 1 + t) * ldb;
      const double ct = shift[d + t];
      for (index_t i = g; i < ge; ++i)
        bt[i] = root[i - g] * ((Y.data ? static_cast<double>(Y(i0 + i, t)) : 0.0) - ct);
    }
  }
  if (b > nb)
    for (index_t j = 0; j < p; ++j) std::fill(B + j * ldb + std::max(a, nb), B + j * ldb + b, 0.0);
  return nonzero;
}

// dst = src^T for p x p matrices (column-major <-> row-major), in 32 x 32
// tiles: a plain sweep misses the cache on every read at p in the thousands.
inline void wq_transpose(const double* src, index_t p, double* dst) {
  constexpr index_t TB = 32;
  for (index_t i0 = 0; i0 < p; i0 += TB)
    for (index_t j0 = 0; j0 < p; j0 += TB)
      for (index_t j = j0; j < std::min(p, j0 + TB); ++j)
        for (index_t i = i0; i < std::min(p, i0 + TB); ++i) dst[i * p + j] = src[j * p + i];
}

// Rows [r0, r1) of (X, Y, sw) folded into the column-major factor R (p x p)
// by a team of up to `threads`; returns the rows with a positive weight. One
// team for all blocks: each block is packed (rows split over the team), then
// folded; a barrier between the two keeps B from being packed while read.
template <class T>
index_t wq_pass_rows(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, index_t r0,
                     index_t r1, int threads, double* R) {
  const index_t p = X.cols + Y.cols + 1;
  const index_t mb = std::min(kWqRows, round_up(r1 - r0, 8));
  Scratch<double> B(static_cast<std::size_t>(mb * p));
  WqFold f(p, mb, false, threads);
  f.R = R;
  f.ldr = p;
  f.B = B.data();
  f.ldb = mb;
  std::atomic<index_t> nonzero{0};
  std::atomic<bool> stop{false};
  TeamBarrier barrier;
  run_team(threads, barrier, [&](int t, int team) {
    for (index_t i0 = r0; i0 < r1; i0 += mb) {
      const index_t nb = std::min(mb, r1 - i0), rows = round_up(nb, 8);
      const index_t a = round_up(rows * t / team, 8), b = round_up(rows * (t + 1) / team, 8);
      nonzero.fetch_add(wq_pack_rows(X, Y, sw, shift, i0, nb, a, b, B.data(), mb), std::memory_order_relaxed);
      if (t == 0) {
        f.set_rows(rows);
        f.ready.store(0, std::memory_order_relaxed);
        if (cancel_requested()) stop.store(true, std::memory_order_relaxed);
      }
      barrier.wait();
      if (stop.load(std::memory_order_relaxed)) return;
      wq_fold_member(f, t, team);
      barrier.wait();
    }
  });
  if (stop.load()) throw Cancelled();
  return nonzero.load();
}

// R <- R of [R; B] for the column-major p x p upper-triangular R and the
// upper-trapezoidal B (rows x p, column-major, rows a multiple of 8, B[i][j]
// = 0 for i > j): another factor (a merge) or the ridge rows of a solve.
inline void wq_fold_upper(double* R, index_t p, double* B, index_t rows, int threads) {
  WqFold f(p, rows, true, threads);
  f.R = R;
  f.ldr = p;
  f.B = B;
  f.ldb = rows;
  TeamBarrier barrier;
  run_team(threads, barrier, [&](int t, int team) { wq_fold_member(f, t, team); });
}

// Threads for a fold of a triangular B, about 2/3 p^3 flops (2e9 a second on
// one core), of at most n_threads (0: OpenMP's default).
inline int wq_upper_threads(index_t p, int n_threads = 0) {
  const double pd = static_cast<double>(p);
  return threads_for_work(pd * pd * pd / 3e9, resolve_threads(n_threads));
}

// R <- R of [R; add] for two column-major p x p upper-triangular factors.
inline void wq_fold_factor(double* R, const double* add, index_t p, int threads) {
  const index_t rows = round_up(p, 8);
  std::vector<double> B(static_cast<std::size_t>(rows * p), 0.0);
  for (index_t j = 0; j < p; ++j) std::copy(add + j * p, add + j * p + j + 1, B.data() + j * rows);
  wq_fold_upper(R, p, B.data(), rows, threads);
}

// Rows per column from which the pass splits rows into shards (as the narrow
// kernel does) rather than columns over threads: each shard is folded on one
// thread, with no synchronization until the shards' factors are merged, which
// costs (shards - 1) 2/3 p^3, at most about p / n of the pass. Thinner data
// splits columns, which needs no merge but synchronizes once per panel.
constexpr index_t kWqShardRatio = 32;

// Shards of the pass: n_shards if given, else the narrow kernel's default
// (bounded by memory: a factor of p^2 doubles each) for data of at least
// kWqShardRatio rows per column, else one.
inline index_t wide_qr_shards(index_t n, index_t p, index_t n_shards) {
  if (n_shards > 0) return std::min(n_shards, std::max<index_t>(n, 1));
  return n >= kWqShardRatio * p ? default_shard_count(n, p, p * p) : 1;
}

// The double pass of the whole of (X, Y, sw) into one column-major factor R
// (p x p, zero on entry), in `shards` row shards merged in order (1: the
// columns split over the threads). Returns the rows with a positive weight.
template <class T>
index_t tsqr_wide_pass(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift,
                       index_t shards, int n_threads, std::vector<double>& R) {
  const index_t n = X.rows, p = X.cols + Y.cols + 1;
  // About 2 n p^2 flops at ~4e9 a second on one core: below a few ms one thread is faster.
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(p) * static_cast<double>(p) / 2e9,
                                       n_threads);
  if (shards <= 1) return wq_pass_rows(X, Y, sw, shift, 0, n, threads, R.data());
  const ShardPlan plan = make_plan(0, n, shards);
  const index_t tile = p * p;
  std::vector<double> partials(static_cast<std::size_t>((plan.n_shards - 1) * tile), 0.0);
  std::vector<index_t> nonzero(static_cast<std::size_t>(plan.n_shards), 0);
  for_each_shard(plan, threads, [&](index_t s) {
    double* Rs = s == 0 ? R.data() : partials.data() + (s - 1) * tile;
    nonzero[s] = wq_pass_rows(X, Y, sw, shift, plan.shard_begin(s), plan.shard_end(s), 1, Rs);
  });
  for (index_t s = 1; s < plan.n_shards; ++s) wq_fold_factor(R.data(), partials.data() + (s - 1) * tile, p, threads);
  index_t total = 0;
  for (index_t v : nonzero) total += v;
  return total;
}

}  // namespace detail

}  // namespace fastcost
