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

}  // namespace fastcost::simd
