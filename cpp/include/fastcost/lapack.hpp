// The BLAS and LAPACK routines the d x d algebra and the wide Gram use, as a
// table of function pointers that the host fills in (the Python module takes
// them from the LAPACK SciPy already loaded, so no second BLAS enters the
// process). The core stays free of any link-time BLAS: with an empty table
// every caller runs its own loops, which is also what small problems do.
#pragma once

#include <atomic>

#include "fastcost/matrix.hpp"

#if FASTCOST_HAS_OPENMP
#include <omp.h>
#endif

namespace fastcost::lapack {

// Fortran calling convention with 32-bit integers (LP64), as SciPy exports them.
using dpotrf_t = void(char*, int*, double*, int*, int*);
using dpotrs_t = void(char*, int*, int*, double*, int*, double*, int*, int*);
using dpocon_t = void(char*, int*, double*, int*, double*, double*, double*, int*, int*);
using dsyevd_t = void(char*, char*, int*, double*, int*, double*, double*, int*, int*, int*, int*);
using dtrtrs_t = void(char*, char*, char*, int*, int*, double*, int*, double*, int*, int*);
using dtrcon_t = void(char*, char*, char*, int*, double*, int*, double*, double*, int*, int*);
using dtpqrt_t = void(int*, int*, int*, int*, double*, int*, double*, int*, double*, int*, double*, int*);
using dgesdd_t = void(char*, int*, int*, double*, int*, double*, double*, int*, double*, int*, double*, int*, int*,
                      int*);
using dsyrk_t = void(char*, char*, int*, int*, double*, double*, int*, double*, double*, int*);
using ssyrk_t = void(char*, char*, int*, int*, float*, float*, int*, float*, float*, int*);
using dgemm_t = void(char*, char*, int*, int*, int*, double*, double*, int*, double*, int*, double*, double*, int*);

struct Table {
  dpotrf_t* dpotrf = nullptr;
  dpotrs_t* dpotrs = nullptr;
  dpocon_t* dpocon = nullptr;
  dsyevd_t* dsyevd = nullptr;
  dtrtrs_t* dtrtrs = nullptr;
  dtrcon_t* dtrcon = nullptr;
  dtpqrt_t* dtpqrt = nullptr;
  dgesdd_t* dgesdd = nullptr;
  dsyrk_t* dsyrk = nullptr;
  dgemm_t* dgemm = nullptr;
  ssyrk_t* ssyrk = nullptr;  // optional: float32 wide Grams fall back to dsyrk without it
  // The library's own kernels use AVX-512 (OpenBLAS's SkylakeX, Cooperlake or
  // SapphireRapids cores, MKL on an AVX-512 CPU): gram_wide.hpp's width rule.
  bool avx512_kernels = false;

  bool complete() const {
    return dpotrf && dpotrs && dpocon && dsyevd && dtrtrs && dtrcon && dtpqrt && dgesdd && dsyrk && dgemm;
  }
};

// Below this order the built-in loops are as fast (the matrix fits in L1/L2
// and a library call's set-up dominates), and a process that only fits narrow
// models (a Dask worker, say) never loads SciPy's LAPACK.
constexpr index_t kMinOrder = 32;

namespace detail {
struct State {
  Table table;
  std::atomic<int> phase{0};  // 0: not asked yet, 1: being resolved, 2: settled
  bool enabled = true;
  void (*resolver)(Table&) = nullptr;
};
inline State& state() {
  static State s;
  return s;
}
}  // namespace detail

// The host's way of filling the table, called once on first need (it may take
// the interpreter's lock). Set before any solve runs.
inline void set_resolver(void (*resolver)(Table&)) { detail::state().resolver = resolver; }

// Turns the library path off (the built-in loops everywhere) or back on;
// tests compare the two.
inline void set_enabled(bool on) { detail::state().enabled = on; }
inline bool enabled() { return detail::state().enabled; }

inline bool in_parallel_region() {
#if FASTCOST_HAS_OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

// The table if the library path applies to a problem of order n, else null.
// A thread that finds another resolving the table goes on without it, and so
// does a thread inside a parallel region (the resolver may wait for the
// interpreter's lock, which the thread that opened the region may hold).
inline const Table* get(index_t n) {
  detail::State& s = detail::state();
  if (!s.enabled || n < kMinOrder) return nullptr;
  int phase = s.phase.load(std::memory_order_acquire);
  if (phase == 0 && s.resolver != nullptr && !in_parallel_region()) {
    int expected = 0;
    if (s.phase.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      Table t;
      s.resolver(t);
      if (t.complete()) s.table = t;
      s.phase.store(2, std::memory_order_release);
    }
    phase = s.phase.load(std::memory_order_acquire);
  }
  if (phase != 2 || !s.table.complete()) return nullptr;
  return &s.table;
}

// Whether the table was loaded (for build information).
inline bool loaded() {
  const detail::State& s = detail::state();
  return s.phase.load(std::memory_order_acquire) == 2 && s.table.complete();
}

inline int as_int(index_t v) { return static_cast<int>(v); }

}  // namespace fastcost::lapack
