// Portable SIMD building blocks (GCC/Clang vector extensions).
//
// A kernel body is an always-inline template over the vector width W (bytes).
// FASTCOST_MULTIVERSION (isa.hpp) wraps it in thin wrappers with `target`
// attributes, so each ISA variant is its own symbol and the default build
// contains no -march code; the caller picks a variant at run time from active_isa().
#pragma once

#include <cstring>
#include <type_traits>
#include <utility>

#include "fastcost/matrix.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define FASTCOST_INLINE inline __attribute__((always_inline))
#define FASTCOST_RESTRICT __restrict__
#else
#define FASTCOST_INLINE inline
#define FASTCOST_RESTRICT
#endif

namespace fastcost::simd {

template <class T, int W>
struct vec {
  typedef T type __attribute__((vector_size(W)));
};
template <class T, int W>
using vec_t = typename vec<T, W>::type;

template <class T, int W>
constexpr int lanes() {
  return W / static_cast<int>(sizeof(T));
}

template <class T, int W>
FASTCOST_INLINE vec_t<T, W> load(const T* p) {
  vec_t<T, W> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <class T, int W>
FASTCOST_INLINE void store(T* p, vec_t<T, W> v) {
  std::memcpy(p, &v, sizeof(v));
}

// Halves of a vector (the compiler turns the copies into one extract).
template <class T, int W>
FASTCOST_INLINE vec_t<T, W / 2> low_half(vec_t<T, W> v) {
  vec_t<T, W / 2> h;
  std::memcpy(&h, &v, sizeof(h));
  return h;
}
template <class T, int W>
FASTCOST_INLINE vec_t<T, W / 2> high_half(vec_t<T, W> v) {
  vec_t<T, W / 2> h;
  std::memcpy(&h, reinterpret_cast<const char*>(&v) + W / 2, sizeof(h));
  return h;
}

// o[l] += double(v[l]) for every lane, in vectors (float lanes widened in two
// halves): each o[l] gets the same single addition as a scalar loop.
template <class T, int W>
FASTCOST_INLINE void add_to_doubles(double* o, vec_t<T, W> v) {
  if constexpr (sizeof(T) == sizeof(double)) {
    store<double, W>(o, load<double, W>(o) + v);
  } else {
    constexpr int H = lanes<T, W>() / 2;
    store<double, W>(o, load<double, W>(o) + __builtin_convertvector(low_half<T, W>(v), vec_t<double, W>));
    store<double, W>(o + H, load<double, W>(o + H) + __builtin_convertvector(high_half<T, W>(v), vec_t<double, W>));
  }
}

// Sum of the lanes by halving (log2 steps instead of a serial chain).
template <class T, int W>
FASTCOST_INLINE T hsum(vec_t<T, W> v) {
  if constexpr (W > 16) {
    return hsum<T, W / 2>(low_half<T, W>(v) + high_half<T, W>(v));
  } else {
    T s = 0;
    for (int l = 0; l < lanes<T, W>(); ++l) s += v[l];
    return s;
  }
}

// dot(a, b) over n elements, two independent vector accumulators; a tail of at
// least half a vector takes one half-width step before the scalar remainder.
template <class T, int W>
FASTCOST_INLINE T dot(const T* FASTCOST_RESTRICT a, const T* FASTCOST_RESTRICT b, index_t n) {
  constexpr int L = lanes<T, W>();
  vec_t<T, W> s0 = {}, s1 = {};
  index_t j = 0;
  for (; j + 2 * L <= n; j += 2 * L) {
    s0 += load<T, W>(a + j) * load<T, W>(b + j);
    s1 += load<T, W>(a + j + L) * load<T, W>(b + j + L);
  }
  for (; j + L <= n; j += L) s0 += load<T, W>(a + j) * load<T, W>(b + j);
  T s;
  if constexpr (W > 16) {
    vec_t<T, W / 2> h = low_half<T, W>(s0 + s1) + high_half<T, W>(s0 + s1);
    if (j + L / 2 <= n) {
      h += load<T, W / 2>(a + j) * load<T, W / 2>(b + j);
      j += L / 2;
    }
    s = hsum<T, W / 2>(h);
  } else {
    s = hsum<T, W>(s0 + s1);
  }
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

// y += alpha * x over n elements.
template <class T, int W>
FASTCOST_INLINE void axpy(T* FASTCOST_RESTRICT y, T alpha, const T* FASTCOST_RESTRICT x, index_t n) {
  constexpr int L = lanes<T, W>();
  index_t j = 0;
  for (; j + L <= n; j += L) store<T, W>(y + j, load<T, W>(y + j) + load<T, W>(x + j) * alpha);
  if constexpr (W > 16) {
    if (j + L / 2 <= n) {
      store<T, W / 2>(y + j, load<T, W / 2>(y + j) + load<T, W / 2>(x + j) * alpha);
      j += L / 2;
    }
  }
  for (; j < n; ++j) y[j] += alpha * x[j];
}

// One butterfly of an L x L register transpose: with H a power of two, rows a
// (bit H of its index clear) and b = the row H below trade their off-diagonal
// H x H blocks.
template <class T, int W, int H, int... M>
FASTCOST_INLINE void butterfly(vec_t<T, W>& a, vec_t<T, W>& b, std::integer_sequence<int, M...>) {
  constexpr int L = lanes<T, W>();
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
  const vec_t<T, W> lo = __builtin_shufflevector(a, b, ((M & H) == 0 ? M : L + M - H)...);
  const vec_t<T, W> hi = __builtin_shufflevector(a, b, ((M & H) == 0 ? M + H : L + M)...);
#else
  using I = vec_t<std::conditional_t<sizeof(T) == 8, long long, int>, W>;
  const vec_t<T, W> lo = __builtin_shuffle(a, b, I{((M & H) == 0 ? M : L + M - H)...});
  const vec_t<T, W> hi = __builtin_shuffle(a, b, I{((M & H) == 0 ? M + H : L + M)...});
#endif
  a = lo;
  b = hi;
}

template <class T, int W, int H>
FASTCOST_INLINE void transpose_rounds(vec_t<T, W>* v) {
  constexpr int L = lanes<T, W>();
  if constexpr (H < L) {
    for (int k = 0; k < L; ++k) {
      if ((k & H) == 0) butterfly<T, W, H>(v[k], v[k + H], std::make_integer_sequence<int, L>{});
    }
    transpose_rounds<T, W, 2 * H>(v);
  }
}

// v[q] <- lane q of every v[i]: an L x L transpose in log2(L) rounds of
// two-input shuffles (a pure permutation: the values keep their bits).
template <class T, int W>
FASTCOST_INLINE void transpose(vec_t<T, W>* v) {
  transpose_rounds<T, W, 1>(v);
}

// Rows [i0, i0 + nb) of columns [j, xe) of a column-major X written as rows:
// element (i, c) to slot(c) + i * ld, minus shift[c] when shift is given (the
// element-wise x - c). Each group of L columns (then L / 2, ...) from j must
// be contiguous in its slot (slot(c) + 1 == slot(c + 1)). L x L blocks are
// loaded down the columns and transposed in registers; with ahead > 0 the
// same columns `ahead` rows further down are prefetched meanwhile. Returns
// the first column left (fewer than the narrowest group).
template <class T, int W, class Slot>
FASTCOST_INLINE index_t columns_to_rows(const MatrixView<T>& X, const T* shift, index_t i0, index_t nb, index_t j,
                                        index_t xe, index_t ld, const Slot& slot, index_t ahead) {
  constexpr int L = lanes<T, W>();
  using V = vec_t<T, W>;
  const bool prefetch = ahead > 0 && i0 + nb + ahead <= X.rows;  // those rows exist
  for (; j + L <= xe; j += L) {
    const T* col[L];
    for (int q = 0; q < L; ++q) col[q] = X.col(j + q) + i0;
    const V cv = shift ? load<T, W>(shift + j) : V{};
    T* out = slot(j);
    index_t i = 0;
    for (; i + L <= nb; i += L) {
      V v[L];
      for (int q = 0; q < L; ++q) v[q] = load<T, W>(col[q] + i);
      if (prefetch) {
        for (int q = 0; q < L; ++q) __builtin_prefetch(col[q] + i + ahead, 0, 2);
      }
      transpose<T, W>(v);
      for (int r = 0; r < L; ++r) store<T, W>(out + (i + r) * ld, shift ? v[r] - cv : v[r]);
    }
    for (; i < nb; ++i) {
      for (int q = 0; q < L; ++q) out[i * ld + q] = shift ? col[q][i] - shift[j + q] : col[q][i];
    }
  }
  if constexpr (W > 16) return columns_to_rows<T, W / 2>(X, shift, i0, nb, j, xe, ld, slot, ahead);
  return j;
}

}  // namespace fastcost::simd
