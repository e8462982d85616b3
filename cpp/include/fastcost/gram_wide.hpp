// The one-pass statistics of wide data through the BLAS's symmetric rank-k
// update (lapack.hpp): rows are packed, shifted and weighted, into blocks of
// the augmented design z = sqrt(s) [x - c, y - c_y, 1], and dsyrk adds each
// block's Z^T Z to the Gram in place. Above a few hundred columns that is
// where the time goes, and the library's cache blocking and packing beat the
// register-tile kernel of gram.hpp, whose per-shard partial Grams (one d x d
// matrix per shard) also stop fitting in cache; here there is one Gram and a
// packing block of a few MiB. Blocks are added in row order, so the result
// does not depend on the number of packing threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastcost/isa.hpp"
#include "fastcost/lapack.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"

namespace fastcost {

// Augmented width (d + k + 1) from which the Gram goes through dsyrk: where
// the register-tile kernel of gram.hpp falls behind the BLAS. With AVX-512
// tiles it is ahead of OpenBLAS's syrk (which SciPy's wheels run with AVX2
// kernels) up to about 4,000 columns (1.12x numpy's X.T @ X at 5,000 x 4,000;
// at 8,000 x 8,000 1.5x, this path 1.1x); with AVX2 tiles they are even near
// 1,000 to 2,000 columns (0.97x / 1.11x at 1,000, 1.13x / 1.05x at 2,000).
inline index_t wide_gram_min(Isa isa) { return isa == Isa::Avx512 ? 6144 : 1536; }

namespace detail {

// Rows per packed block. Each dsyrk call reads and writes the whole Gram
// once, so a block holds at least 1,024 rows (the Gram's traffic then costs a
// few percent of the multiply-adds) or 16 MiB, whichever is more.
inline index_t wide_block_rows(index_t p) {
  const index_t by_size = (index_t{2} << 20) / std::max<index_t>(p, 1);
  return std::max<index_t>(1024, by_size);
}

// Packs rows [i0, i0 + nb) of X, Y, s into block (row-major nb x p, i.e. the
// column-major p x nb matrix Z^T that dsyrk reads).
template <class T>
void pack_wide_rows(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, index_t i0,
                    index_t nb, double* block) {
  const index_t d = X.cols, k = Y.cols, p = d + k + 1;
  const double* cy = shift + d;
  auto pack_row = [&](index_t i) {
    const index_t r = i0 + i;
    const double s = sw ? std::sqrt(static_cast<double>(sw[r])) : 1.0;
    double* z = block + i * p;
    if (X.layout == Layout::RowMajor) {
      const T* xr = X.row(r);
      for (index_t j = 0; j < d; ++j) z[j] = (static_cast<double>(xr[j]) - shift[j]) * s;
    } else {
      for (index_t j = 0; j < d; ++j) z[j] = (static_cast<double>(X.col(j)[r]) - shift[j]) * s;
    }
    for (index_t t = 0; t < k; ++t) z[d + t] = ((Y.data ? static_cast<double>(Y(r, t)) : 0.0) - cy[t]) * s;
    z[d + k] = s;
  };
  for (index_t i = 0; i < nb; ++i) pack_row(i);
}

}  // namespace detail

// Whether compute_gram_stats takes the dsyrk path for this problem: wide
// enough, a BLAS registered, no negative weight (the packing takes sqrt(s)).
template <class T>
bool use_wide_gram(const MatrixView<T>& X, index_t k, const T* sw) {
  const index_t p = X.cols + k + 1;
  if (p < wide_gram_min(active_isa()) || X.rows < 1 || lapack::get(p) == nullptr) return false;
  if (p > index_t{46340}) return false;  // p^2 must fit the BLAS's 32-bit integers
  if (sw) {
    for (index_t i = 0; i < X.rows; ++i)
      if (!(sw[i] >= T(0))) return false;
  }
  return true;
}

// gram (p x p, row-major, zero on entry) += sum_i s_i z_i z_i^T over all rows.
template <class T>
void wide_gram(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw, const double* shift, int n_threads,
               std::vector<double>& gram) {
  const lapack::Table* blas = lapack::get(X.cols + Y.cols + 1);
  const index_t p = X.cols + Y.cols + 1, n = X.rows;
  const index_t nb_max = std::min(n, detail::wide_block_rows(p));
  std::vector<double> block(static_cast<std::size_t>(nb_max * p));
  // The BLAS's own threads do the multiply-adds (threadpoolctl limits them).
  // The calling thread packs: packing is memory-bound, and an OpenMP team
  // still spinning after it would compete with the BLAS threads for the cores.
  (void)n_threads;
  char uplo = 'U', trans = 'N';
  int pi = lapack::as_int(p);
  double one = 1.0;
  for (index_t i0 = 0; i0 < n; i0 += nb_max) {
    const index_t nb = std::min(nb_max, n - i0);
    detail::pack_wide_rows(X, Y, sw, shift, i0, nb, block.data());
    int kb = lapack::as_int(nb);
    // Column-major upper triangle of Z^T Z: the row-major lower one.
    blas->dsyrk(&uplo, &trans, &pi, &kb, &one, block.data(), &pi, &one, gram.data(), &pi);
    if (cancel_requested()) throw Cancelled();
  }
  // Mirror in square tiles: a plain column sweep would miss the cache on every read.
  constexpr index_t B = 64;
  for (index_t i0 = 0; i0 < p; i0 += B)
    for (index_t j0 = i0; j0 < p; j0 += B)
      for (index_t i = i0; i < std::min(p, i0 + B); ++i)
        for (index_t j = std::max(j0, i + 1); j < std::min(p, j0 + B); ++j) gram[i * p + j] = gram[j * p + i];
}

}  // namespace fastcost
