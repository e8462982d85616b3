// The one-pass statistics of wide data through the BLAS's symmetric rank-k
// update (lapack.hpp): rows are packed, shifted and weighted, into blocks of
// the augmented design z = sqrt(s) [x - c, y - c_y, 1], and dsyrk adds each
// block's Z^T Z to the Gram in place. Above a few hundred columns that is
// where the time goes, and the library's cache blocking and packing beat the
// register-tile kernel of gram.hpp, whose per-shard partial Grams (one d x d
// matrix per shard) also stop fitting in cache; here there is one Gram and a
// packing block of a few MiB. Blocks are added in row order, so the result
// does not depend on the number of packing threads. float32 data can go
// through ssyrk on float blocks into a float Gram that is added to the double
// one every few thousand rows (the tile kernel's policy, with longer blocks);
// that path is off by default (set_float_syrk says why).
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "fastcost/isa.hpp"
#include "fastcost/lapack.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"

namespace fastcost {

// Augmented width (d + k + 1) from which the Gram goes through the BLAS's
// syrk: where the register-tile kernel of gram.hpp falls behind it. Since the
// kernel sums wide Grams region by region (gram.hpp, gram_by_regions), the
// AVX-512 tiles stay ahead of OpenBLAS's dsyrk (which SciPy's wheels run with
// AVX2 kernels) at every width measured: numpy X.T @ X against tiles / dsyrk,
// 1 and 2 threads, float64 8,000 x 8,000: 1.06x / 1.15x and 0.71x / 0.94x;
// 10,000 x 10,000: 0.80x / 1.02x and 0.73x / 0.92x; float32 (dsyrk on float64
// blocks) 10,000 x 10,000: 1.13x / 2.29x and 0.91x / 2.23x. AVX2 tiles
// (FASTCOST_ISA=avx2) at 6,000 x 4,000: float64 1.46x / 1.08x, so dsyrk stays
// from 1,536 columns; float32 1.45x / 2.16x, so float32 keeps the tiles.
// float32 with ssyrk on (off by default, see set_float_syrk), one thread, CPU
// seconds against numpy's, before the regions: AVX-512 tiles 1.01x / this
// path 1.23x at 6,666 x 1,500, 1.32x / 1.20x at 5,000 x 4,000; AVX2 tiles
// 1.16x / 1.19x at 1,000 columns, 1.45x / 1.07x at 2,000.
namespace detail {
inline std::atomic<index_t>& wide_gram_min_state() {
  static std::atomic<index_t> v{0};
  return v;
}

inline std::atomic<bool>& float_syrk_state() {
  static std::atomic<bool> on{false};
  return on;
}
}  // namespace detail

// Whether float32 data goes through ssyrk (off by default). OpenBLAS's float
// level-3 routines (ssyrk, sgemm) give bitwise different results for 1 and 2
// of its threads, while its dsyrk does not: measured for 9,000 x 702, 2,000 x
// 300 and 2,500 x 1,600, so the float path would make the Gram depend on the
// BLAS's thread count. Off, float32 takes the tiles and, from the float64
// width, dsyrk on double blocks, as before. Returns the previous setting.
inline bool set_float_syrk(bool on) { return detail::float_syrk_state().exchange(on); }
inline bool float_syrk() { return detail::float_syrk_state().load(); }

// On AVX-512 the answer depends on the BLAS's own kernels: against OpenBLAS's
// AVX-512 ones (numpy's and SciPy's wheels on an AVX-512 Intel CPU), median of
// 5, numpy X.T @ X = 1, n d = 1e7, 1 / 2 threads, tiles against dsyrk: d = 700
// 1.05 / 1.16 and 1.12 / 1.31; 1,000 1.09-1.11 / 0.96-0.99 and 0.68-1.10 /
// 1.06-1.07; 1,500 1.12 / 1.29 and 1.05 / 1.08; 2,000 1.19 / 1.30 and
// 1.06 / 1.08; 3,000 1.47 / 2.56 and 1.00 / 1.05. Against AVX2 kernels the
// tiles win at every width (above). A choice from the dtype, the shape, the ISA
// and the library's kernels: as deterministic as the ISA.
// Without the table (not resolved yet), the lower of the AVX-512 choices: a
// narrower problem never needs the library (nor SciPy imported to find it).
template <class T>
index_t wide_gram_min(Isa isa, const lapack::Table* blas) {
  const index_t forced = detail::wide_gram_min_state().load();
  if (forced > 0) return forced;
  if (sizeof(T) == 4 && float_syrk()) return isa == Isa::Avx512 ? 2560 : 1280;
  constexpr index_t never = std::numeric_limits<index_t>::max();
  if (sizeof(T) == 4) return never;
  if (isa == Isa::Avx512) return blas == nullptr || blas->avx512_kernels ? 1024 : never;
  return 1536;
}

// Forces the syrk threshold for both dtypes (0: the defaults above); returns
// the previous setting. Tests compare the two paths with it.
inline index_t set_wide_gram_min(index_t width) {
  return detail::wide_gram_min_state().exchange(std::max<index_t>(width, 0));
}

namespace detail {

// Regions of kGramRegion x kGramRegion columns (a multiple of every tile
// width NR, which divides 48) from kGramRegionMin augmented columns on, with
// the wide tiles.
// set_gram_regions scales both down so that tests reach several regions, the
// last one ragged, at a few hundred columns (under the sanitizers too).
constexpr index_t kGramRegion = 1056;
constexpr index_t kGramRegionMin = 3072;
constexpr index_t kGramRegionQuantum = 96;  // a multiple of every NR
constexpr index_t kGramRegionMax = index_t{1} << 20;

inline std::atomic<index_t>& gram_region_state() {
  static std::atomic<index_t> v{kGramRegion};
  return v;
}
inline std::atomic<index_t>& gram_region_min_state() {
  static std::atomic<index_t> v{kGramRegionMin};
  return v;
}
}  // namespace detail

// The wide Gram's region width and the augmented width from which it sums by
// regions; 0 for either: its default (1,056 and 3,072). Returns the previous
// pair. The width must be a positive multiple of 96 (every tile's NR divides
// it), at most 2^20. For tests: the kernel is the same, only the geometry shrinks.
inline std::pair<index_t, index_t> set_gram_regions(index_t region, index_t min_width) {
  if (region < 0 || min_width < 0 || region % detail::kGramRegionQuantum != 0)
    throw std::invalid_argument("set_gram_regions: region must be a multiple of 96 and min_width >= 0 (0: defaults)");
  if (region > detail::kGramRegionMax)
    throw std::invalid_argument("set_gram_regions: region must be at most 1048576 columns");
  const index_t r = region == 0 ? detail::kGramRegion : region;
  const index_t m = min_width == 0 ? detail::kGramRegionMin : min_width;
  return {detail::gram_region_state().exchange(r), detail::gram_region_min_state().exchange(m)};
}

namespace detail {

// Rows per packed block. Each dsyrk call reads and writes the whole Gram
// once, so a block holds at least 1,024 rows (the Gram's traffic then costs a
// few percent of the multiply-adds) or 16 MiB, whichever is more.
inline index_t wide_block_rows(index_t p) {
  const index_t by_size = (index_t{2} << 20) / std::max<index_t>(p, 1);
  return std::max<index_t>(1024, by_size);
}

// Rows a float Gram sums before it is added to the double one. Adding costs
// about 10 p^2 bytes of memory traffic per group against p^2 / 2 multiply-adds
// per row for ssyrk (about 50 per ns on one AVX2 core): 8,192 rows put it near
// 1 % of the pass on one thread, 2-3 % on two. ssyrk sums the group in float,
// as the tile kernel sums 192 rows (numpy's ssyrk sums all of them).
constexpr index_t kWideFloatRows = 8192;

// Packs rows [i0, i0 + nb) of X, Y, s into block (row-major nb x p, i.e. the
// column-major p x nb matrix Z^T that syrk reads), shifted and weighted in
// double and then stored as B (double, or float for ssyrk).
template <class T, class B>
void pack_wide_rows(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, index_t i0,
                    index_t nb, B* block) {
  const index_t d = X.cols, k = Y.cols, p = d + k + 1;
  const double* cy = shift + d;
  auto pack_row = [&](index_t i) {
    const index_t r = i0 + i;
    const double s = sw ? std::sqrt(static_cast<double>(sw[r])) : 1.0;
    B* z = block + i * p;
    if (X.layout == Layout::RowMajor) {
      const T* xr = X.row(r);
      for (index_t j = 0; j < d; ++j) z[j] = static_cast<B>((static_cast<double>(xr[j]) - shift[j]) * s);
    } else {
      for (index_t j = 0; j < d; ++j) z[j] = static_cast<B>((static_cast<double>(X.col(j)[r]) - shift[j]) * s);
    }
    for (index_t t = 0; t < k; ++t)
      z[d + t] = static_cast<B>(((Y.data ? static_cast<double>(Y(r, t)) : 0.0) - cy[t]) * s);
    z[d + k] = static_cast<B>(s);
  };
  for (index_t i = 0; i < nb; ++i) pack_row(i);
}

}  // namespace detail

// Whether compute_gram_stats takes the dsyrk path for this problem: wide
// enough, a BLAS registered, no negative weight (the packing takes sqrt(s)).
template <class T>
bool use_wide_gram(const MatrixView<T>& X, index_t k, const T* sw) {
  const index_t p = X.cols + k + 1;
  if (p < wide_gram_min<T>(active_isa(), nullptr) || X.rows < 1 || X.columns) return false;  // BLAS needs one ld
  const lapack::Table* blas = lapack::get(p);
  if (blas == nullptr || p < wide_gram_min<T>(active_isa(), blas)) return false;
  if (p > index_t{46340}) return false;  // p^2 must fit the BLAS's 32-bit integers
  if (sw) {
    for (index_t i = 0; i < X.rows; ++i)
      if (!(sw[i] >= T(0))) return false;
  }
  return true;
}

namespace detail {

// gram (p x p, row-major) made symmetric from its lower triangle, after
// adding fgram's lower triangle to it when fgram is given (the last float
// group: one sweep instead of two).
inline void finish_lower(const float* fgram, index_t p, std::vector<double>& gram) {
  // Square tiles: a plain column sweep would miss the cache on every read.
  constexpr index_t B = 64;
  double* g = gram.data();
  for (index_t i0 = 0; i0 < p; i0 += B) {
    for (index_t j0 = 0; j0 <= i0; j0 += B) {
      for (index_t i = i0; i < std::min(p, i0 + B); ++i) {
        const index_t jend = std::min(i + 1, j0 + B);
        if (fgram)
          for (index_t j = j0; j < jend; ++j) g[i * p + j] += static_cast<double>(fgram[i * p + j]);
        for (index_t j = j0; j < std::min(i, j0 + B); ++j) g[j * p + i] = g[i * p + j];
      }
    }
  }
}

// gram (lower triangle, row-major) += fgram's.
inline void add_float_lower(const float* fgram, index_t p, double* gram) {
  for (index_t i = 0; i < p; ++i) {
    const float* src = fgram + i * p;
    double* dst = gram + i * p;
    for (index_t j = 0; j <= i; ++j) dst[j] += static_cast<double>(src[j]);
  }
}

}  // namespace detail

// gram (p x p, row-major, zero on entry) += sum_i s_i z_i z_i^T over all rows.
template <class T>
void wide_gram(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, int n_threads,
               std::vector<double>& gram) {
  const lapack::Table* blas = lapack::get(X.cols + Y.cols + 1);
  const index_t p = X.cols + Y.cols + 1, n = X.rows;
  const index_t nb_max = std::min(n, detail::wide_block_rows(p));
  // The BLAS's own threads do the multiply-adds (threadpoolctl limits them).
  // The calling thread packs: packing is memory-bound, and an OpenMP team
  // still spinning after it would compete with the BLAS threads for the cores.
  (void)n_threads;
  char uplo = 'U', trans = 'N';
  int pi = lapack::as_int(p);
  if (sizeof(T) == 4 && float_syrk() && blas->ssyrk != nullptr) {  // else float packs into doubles for dsyrk
    std::vector<float> block(static_cast<std::size_t>(nb_max * p));
    std::vector<float> fgram(static_cast<std::size_t>(p * p));
    float one = 1.0f, zero = 0.0f;
    index_t pending = 0;  // rows in fgram not yet added to gram
    for (index_t i0 = 0; i0 < n; i0 += nb_max) {
      const index_t nb = std::min(nb_max, n - i0);
      detail::pack_wide_rows(X, Y, sw, shift, i0, nb, block.data());
      int kb = lapack::as_int(nb);
      // beta = 0 on a group's first block: ssyrk overwrites what the last group left.
      blas->ssyrk(&uplo, &trans, &pi, &kb, &one, block.data(), &pi, pending == 0 ? &zero : &one, fgram.data(),
                  &pi);
      pending += nb;
      if (cancel_requested()) throw Cancelled();
      if (i0 + nb == n) {
        detail::finish_lower(fgram.data(), p, gram);
        return;
      }
      if (pending >= detail::kWideFloatRows) {
        detail::add_float_lower(fgram.data(), p, gram.data());
        pending = 0;
      }
    }
    return;
  }
  {
    std::vector<double> block(static_cast<std::size_t>(nb_max * p));
    double one = 1.0;
    for (index_t i0 = 0; i0 < n; i0 += nb_max) {
      const index_t nb = std::min(nb_max, n - i0);
      detail::pack_wide_rows(X, Y, sw, shift, i0, nb, block.data());
      int kb = lapack::as_int(nb);
      // Column-major upper triangle of Z^T Z: the row-major lower one.
      blas->dsyrk(&uplo, &trans, &pi, &kb, &one, block.data(), &pi, &one, gram.data(), &pi);
      if (cancel_requested()) throw Cancelled();
    }
  }
  detail::finish_lower(nullptr, p, gram);
}

}  // namespace fastcost
