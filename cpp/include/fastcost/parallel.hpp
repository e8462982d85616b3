// Threads and cooperative cancellation (instruction-set selection: isa.hpp).
#pragma once

#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "fastcost/matrix.hpp"

#if FASTCOST_HAS_OPENMP
#include <omp.h>
#endif

namespace fastcost {

inline bool has_openmp() { return FASTCOST_HAS_OPENMP != 0; }

// Threads OpenMP would use now: honours OMP_NUM_THREADS and omp_set_num_threads
// (which is what threadpoolctl calls to limit a process).
inline int max_threads() {
#if FASTCOST_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int resolve_threads(int requested) {
  if (!has_openmp()) return 1;
  if (requested <= 0) return std::max(1, max_threads());
  return requested;
}

// Threads for a pass whose single-threaded time is estimated at `seconds`.
// Waking an OpenMP team costs tens of microseconds on an idle machine and
// milliseconds on a loaded one, so passes estimated below kMinParallelSeconds
// run on the calling thread. The estimate depends only on the shape, so the
// choice is deterministic (and results are bitwise equal either way).
// 2 ms: on a shared machine a pass this short gains less from a second thread than
// it can lose waiting for one (measured: 8000 x 20 qr, 0.9 ms on one thread, 5-8 ms
// on two while another process held a core).
constexpr double kMinParallelSeconds = 2e-3;

inline int threads_for_work(double seconds, int n_threads) {
  return seconds < kMinParallelSeconds ? 1 : n_threads;
}

// ---- teams that synchronize often -------------------------------------------

// Waits until ready() holds: a short spin, then yielding the core. OpenMP's
// own barriers spin for long (libgomp: 300,000 rounds while threads <= cores),
// which on a loaded machine keeps a core from the very thread being waited
// for: with an OpenMP barrier per panel, the wide qr pass (tsqr_wide.hpp) of
// 100,000 x 500 took 3 to 5 s on two threads against 0.19 s on one while
// other processes kept both cores busy.
template <class F>
inline void wait_until(F&& ready) {
  for (int spin = 0; !ready(); ++spin) {
    if (spin >= 64) std::this_thread::yield();
  }
}

// A barrier for a team that waits with wait_until; reset() before use.
class TeamBarrier {
 public:
  void reset(int n) {
    n_ = n;
    count_.store(0);
  }
  void wait() {
    if (n_ <= 1) return;
    const int gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
    } else {
      wait_until([&] { return gen_.load(std::memory_order_acquire) != gen; });
    }
  }

 private:
  int n_ = 1;
  std::atomic<int> count_{0}, gen_{0};
};

// Runs body(t, team) on a team of up to `threads` threads (t = 0 .. team - 1),
// after resetting `barrier` to the team OpenMP actually gave.
template <class Body>
void run_team(int threads, TeamBarrier& barrier, Body&& body) {
#if FASTCOST_HAS_OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    {
#pragma omp single
      barrier.reset(omp_get_num_threads());
      body(omp_get_thread_num(), omp_get_num_threads());
    }
    return;
  }
#endif
  (void)threads;
  barrier.reset(1);
  body(0, 1);
}

// ---- cancellation -----------------------------------------------------------

// Long loops poll this flag between shards and iterations; the bindings raise it
// from a SIGINT handler so Ctrl-C stops a fit promptly without killing the process.
inline std::atomic<bool>& cancel_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
inline bool cancel_requested() { return cancel_flag().load(std::memory_order_relaxed); }

struct Cancelled : std::exception {
  const char* what() const noexcept override { return "fastcost: operation cancelled"; }
};

// Runs body(shard) for every shard of the plan on n_threads threads. Shards are
// independent; exceptions are captured and rethrown on the calling thread.
template <class Body>
void for_each_shard(const ShardPlan& plan, int n_threads, Body&& body) {
  std::exception_ptr error;
  std::mutex error_mutex;
  const index_t n = plan.n_shards;
  const int threads = static_cast<int>(std::min<index_t>(std::max(1, n_threads), n));
  (void)threads;
#if FASTCOST_HAS_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (index_t s = 0; s < n; ++s) {
    if (cancel_requested()) continue;
    try {
      body(s);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  if (cancel_requested()) throw Cancelled();
}

}  // namespace fastcost
