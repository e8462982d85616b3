// The row kernels of the mixed-design statistics pass (categorical.hpp),
// compiled per instruction set: the register transpose of a column-major
// chunk, the keys of the group tables, and the row update of the tables.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "fastcost/gram.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

// Entries of a row of a gram table's group sums: p + 2 rounded up to 8
// doubles (a multiple of every ISA's vector), the padding zero. The layout is
// the same on every ISA.
inline index_t group_stride(index_t p) { return (p + 2 + 7) / 8 * 8; }

namespace detail {

// Rows per chunk of the statistics pass: a multiple of the Gram kernel's row
// block, so the dense tile sums exactly the blocks compute_gram_stats sums.
template <class T>
constexpr index_t mixed_chunk_rows() {
  return 4 * gram_block_rows<T>();
}

// ---- the transpose of a column-major chunk ----------------------------------

// Rows [i0, i0 + nb) of a column-major X as a row-major chunk (nb x p): the
// register blocks, then the last columns one at a time.
template <class T, int W>
FASTCOST_INLINE void transpose_chunk_body(MatrixView<T> X, index_t i0, index_t nb, T* out) {
  const index_t p = X.cols;
  auto slot = [&](index_t c) { return out + c; };
  for (index_t j = simd::columns_to_rows<T, W>(X, nullptr, i0, nb, 0, p, p, slot, 0); j < p; ++j) {
    const T* FASTCOST_RESTRICT xj = X.col(j) + i0;
    for (index_t i = 0; i < nb; ++i) out[i * p + j] = xj[i];
  }
}

FASTCOST_MULTIVERSION(transpose_chunk, transpose_chunk_body)

// Every group table's view of a chunk: per table the chunk's keys, width,
// y_pos and memory; then the partner pairs (the table whose row takes the
// count, the partner's codes offset to the chunk, skip and base).
struct GroupChunk {
  index_t n = 0;
  const std::int32_t* const* keys = nullptr;
  const index_t* width = nullptr;
  const index_t* y_pos = nullptr;
  const char* padded = nullptr;  // the row starts [s (x - c), s (y - c_y), s, 0 ...] (group_stride(p))
  const char* prefetch = nullptr;
  double* const* table = nullptr;
  index_t n_pairs = 0;
  const index_t* pair_table = nullptr;
  const std::int32_t* const* pair_codes = nullptr;
  const index_t* pair_skip = nullptr;
  const index_t* pair_base = nullptr;
};

// Tables one fused row loop handles (more go through it in groups).
constexpr index_t kFusedTables = 16;

// Rows of a joint table at most (8192 rows of 24 doubles for p = 20: 1.5 MB,
// about an L2). Measured at 10^6 rows, p = 20 (one core): one joint table of
// 5 x 20 x 50 keys cost 5-6 ns a row, three tables and their
// cross-tabulations 12-14 ns; splitting it at 2048 keys was slower too.
constexpr index_t kJointRows = 8192;

// L values of x (of type T) as doubles.
template <class T, int W>
FASTCOST_INLINE simd::vec_t<double, W> load_double(const T* x) {
  if constexpr (sizeof(T) == sizeof(double)) {
    return simd::load<double, W>(reinterpret_cast<const double*>(x));
  } else {
    return __builtin_convertvector(simd::load<T, W / 2>(x), simd::vec_t<double, W>);
  }
}

// a[0, p) += s (x - c), x of type T: whole vectors, half a vector, scalars.
template <class T, int W>
FASTCOST_INLINE void add_scaled(double* FASTCOST_RESTRICT a, const T* FASTCOST_RESTRICT x,
                                const double* FASTCOST_RESTRICT c, double s, index_t p) {
  constexpr int L = simd::lanes<double, W>();
  index_t j = 0;
  for (; j + L <= p; j += L) {
    simd::store<double, W>(a + j, simd::load<double, W>(a + j) + (load_double<T, W>(x + j) - simd::load<double, W>(c + j)) * s);
  }
  if constexpr (W > 16) {
    if (j + L / 2 <= p) {
      simd::store<double, W / 2>(
          a + j, simd::load<double, W / 2>(a + j) + (load_double<T, W / 2>(x + j) - simd::load<double, W / 2>(c + j)) * s);
      j += L / 2;
    }
  }
  for (; j < p; ++j) a[j] += s * (static_cast<double>(x[j]) - c[j]);
}

// Tables of more than kPrefetchTable doubles (2 MB: beyond L2; a
// high-cardinality categorical) are read out of cache: their rows are
// prefetched kGroupPrefetch rows ahead. Smaller ones gain nothing from it.
constexpr index_t kGroupPrefetch = 12;
constexpr index_t kPrefetchTable = 262144;

// a = m ? a : b, lane by lane (bitwise: GCC and Clang agree on it).
template <int W>
FASTCOST_INLINE simd::vec_t<double, W> select(simd::vec_t<std::int64_t, W> m, simd::vec_t<double, W> a,
                                              simd::vec_t<double, W> b) {
  using I = simd::vec_t<std::int64_t, W>;
  return (simd::vec_t<double, W>)((m & (I)a) | (~m & (I)b));
}

// Vector v of the row s [x - c, y - c_y, 1, 0 ...] (group_stride(p) lanes):
// vectors below `full` are x's alone; the next holds x's last values, then y
// and the weight in lanes p and p + 1. `over`: the row may be read up to
// group_stride(p) values from its start (its last vector in one load); else
// that vector is filled one value at a time. c: group_stride(p) values, zero
// beyond p.
template <class T, int W>
FASTCOST_INLINE simd::vec_t<double, W> row_vector(int v, const T* xi, const double* c, double s, double ys,
                                                  index_t p, index_t full, bool over,
                                                  simd::vec_t<std::int64_t, W> lane) {
  constexpr int L = simd::lanes<double, W>();
  using V = simd::vec_t<double, W>;
  using I = simd::vec_t<std::int64_t, W>;
  if (v < full) return (load_double<T, W>(xi + v * L) - simd::load<double, W>(c + v * L)) * s;
  V xs{};
  if (v * L < p) {
    V xv{};
    if (over) {
      xv = load_double<T, W>(xi + v * L);
    } else {
      for (index_t l = 0; v * L + l < p; ++l) xv[l] = static_cast<double>(xi[v * L + l]);
    }
    xs = (xv - simd::load<double, W>(c + v * L)) * s;
  }
  const I at = lane + static_cast<std::int64_t>(v * L);
  const I pv = I{} + static_cast<std::int64_t>(p);
  return select<W>(at < pv, xs, select<W>(at == pv, V{} + ys, select<W>(at == pv + 1, V{} + s, V{})));
}

// Adds the chunk's rows s [x - c, y - c_y, 1] (x: nb rows of p values, ld
// apart; y, sw: the chunk's, either may be null) to their keys' rows of every
// table, a row at a time, straight from the rows (no weighted copy). With
// NV > 0 (group_stride(p) = NV vectors of doubles) the row is built once in NV
// registers (row_vector) and a padded table takes exactly NV vector adds: the
// update is bound by the bytes it stores (a 64-byte update costs over 2
// cycles here even in L1), so it stores no more than that. Rows [0, safe) may
// be read past their end (into X).
template <class T, int W, int NV>
FASTCOST_INLINE void group_rows_impl(const GroupChunk* g, const T* x, index_t ld, const T* y, const T* sw,
                                     const double* c, double cy, index_t p, index_t nb, index_t safe) {
  constexpr int L = simd::lanes<double, W>();
  using V = simd::vec_t<double, W>;
  using I = simd::vec_t<std::int64_t, W>;
  const index_t n = g->n;
  const index_t full = p / L;  // vectors of x alone
  I lane{};
  for (int l = 0; l < L; ++l) lane[l] = l;
  if constexpr (NV > 0) {
    // The common case, one padded table in cache and no partners (the joint
    // table of a few low-cardinality categoricals), without the general
    // loop's bookkeeping.
    if (n == 1 && g->n_pairs == 0 && g->padded[0] && !g->prefetch[0]) {
      const std::int32_t* keys = g->keys[0];
      double* table = g->table[0];
      const index_t width = g->width[0];
      for (index_t i = 0; i < nb; ++i) {
        const index_t key = keys[i];
        if (key < 0) continue;
        const double s = sw ? static_cast<double>(sw[i]) : 1.0;
        const double ys = s * ((y ? static_cast<double>(y[i]) : 0.0) - cy);
        double* a = table + key * width;
        for (int v = 0; v < NV; ++v) {
          const V z = row_vector<T, W>(v, x + i * ld, c, s, ys, p, full, i < safe, lane);
          simd::store<double, W>(a + v * L, simd::load<double, W>(a + v * L) + z);
        }
      }
      return;
    }
  }
  double* rows[kFusedTables];
  for (index_t i = 0; i < nb; ++i) {
    for (index_t t = 0; t < n; ++t) {
      if (g->prefetch[t] && i + kGroupPrefetch < nb) {
        const index_t ahead = g->keys[t][i + kGroupPrefetch];
        if (ahead >= 0) {
          const char* pa = reinterpret_cast<const char*>(g->table[t] + ahead * g->width[t]);
          const index_t lines = (g->width[t] * static_cast<index_t>(sizeof(double)) + 63) / 64;
          for (index_t l = 0; l <= lines; ++l) __builtin_prefetch(pa + 64 * l, 1, 3);
        }
      }
    }
    const T* xi = x + i * ld;
    const double s = sw ? static_cast<double>(sw[i]) : 1.0;
    const double ys = s * ((y ? static_cast<double>(y[i]) : 0.0) - cy);
    V z[NV > 0 ? NV : 1];
    if constexpr (NV > 0) {
      for (int v = 0; v < NV; ++v) z[v] = row_vector<T, W>(v, xi, c, s, ys, p, full, i < safe, lane);
    }
    for (index_t t = 0; t < n; ++t) {
      const index_t key = g->keys[t][i];
      if (key < 0) {
        rows[t] = nullptr;
        continue;
      }
      double* a = g->table[t] + key * g->width[t];
      rows[t] = a;
      if (NV > 0 && g->padded[t]) {
        for (int v = 0; v < (NV > 0 ? NV : 1); ++v) simd::store<double, W>(a + v * L, simd::load<double, W>(a + v * L) + z[v]);
      } else {
        add_scaled<T, W>(a, xi, c, s, p);
        a[g->y_pos[t]] += ys;
        a[g->y_pos[t] + 1] += s;
      }
    }
    for (index_t q = 0; q < g->n_pairs; ++q) {
      double* a = rows[g->pair_table[q]];
      const index_t m = g->pair_codes[q][i] - g->pair_skip[q];
      if (a && m >= 0) a[g->pair_base[q] + m] += s;
    }
  }
}

template <class T, int W>
FASTCOST_INLINE void group_rows_body(const GroupChunk* g, const T* x, index_t ld, const T* y, const T* sw,
                                     const double* c, double cy, index_t p, index_t nb, index_t safe) {
  constexpr int L = simd::lanes<double, W>();
  switch (group_stride(p) / L) {
    case 1: group_rows_impl<T, W, 1>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    case 2: group_rows_impl<T, W, 2>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    case 3: group_rows_impl<T, W, 3>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    case 4: group_rows_impl<T, W, 4>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    case 5: group_rows_impl<T, W, 5>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    case 6: group_rows_impl<T, W, 6>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    case 7: group_rows_impl<T, W, 7>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    case 8: group_rows_impl<T, W, 8>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
    default: group_rows_impl<T, W, 0>(g, x, ld, y, sw, c, cy, p, nb, safe); break;
  }
}

FASTCOST_MULTIVERSION(group_rows, group_rows_body)

// The keys of a chunk's rows in one table: key = sum_u codes[u][i] radix[u]
// - skip. Returns false, leaving the keys unfinished, if a code is outside
// [0, levels[u]) (the pass then stops and check_codes names it).
template <class T, int W>
FASTCOST_INLINE void table_keys_body(const std::int32_t* const* codes, const std::int32_t* levels,
                                     const std::int32_t* radix, index_t m, std::int32_t skip, index_t nb,
                                     std::int32_t* key, bool* ok) {
  // Unsigned arithmetic: a bad code must not overflow before it is reported,
  // and a negative one is at least 2^31 as uint32 (the max reduction finds it).
  auto* FASTCOST_RESTRICT k = reinterpret_cast<std::uint32_t*>(key);
  bool good = true;
  for (index_t u = 0; u < m; ++u) {
    const auto* FASTCOST_RESTRICT c = reinterpret_cast<const std::uint32_t*>(codes[u]);
    const auto r = static_cast<std::uint32_t>(radix[u]);
    std::uint32_t top = 0;
    if (u == 0) {
      const auto minus = static_cast<std::uint32_t>(skip);
      for (index_t i = 0; i < nb; ++i) {
        top = std::max(top, c[i]);
        k[i] = c[i] * r - minus;
      }
    } else {
      for (index_t i = 0; i < nb; ++i) {
        top = std::max(top, c[i]);
        k[i] += c[i] * r;
      }
    }
    good = good && top < static_cast<std::uint32_t>(levels[u]);
  }
  *ok = good;
}

FASTCOST_MULTIVERSION(table_keys, table_keys_body)

}  // namespace detail

}  // namespace fastcost
