// Lockstep fits of several targets: one iterative loop (lbfgs.hpp, gd.hpp) run
// once per column y_t of a multi-output y over the same X, every round of their
// requests served by ONE read of X for all of them.
//
// The loops are not copied. Each runs unchanged on its own thread over a
// TargetPass (the pass concept of data_pass.hpp), whose requests block until
// the coordinator (the calling thread) has served them. The coordinator waits
// until every loop still running has asked, then serves the round: the probes
// of all targets in one sharded walk over X (probe_sums_targets), each
// target's sums exactly as its own HostPass would form them (the same shards,
// blocks and order of additions), so that target t's result equals a
// single-target fit on y_t bit for bit. OpenMP runs only on the coordinator;
// the loops' own arithmetic runs one loop at a time (a baton passed on), so nothing
// else they call (LAPACK at large d) runs concurrently either.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/preprocess.hpp"

namespace fastcost {

// Rows of X the combined read takes at a time, as bytes: every target's probes
// run over such a piece while it is in the core's L2 cache (1 MB and up), so
// memory is read once per round however many targets there are.
constexpr index_t kLockstepPieceBytes = index_t(256) << 10;

// Targets fitted in one lockstep group; more run in further groups (each
// target's shard partials are kept in memory during a round, about 0.5 % of X
// each at the default shard count).
constexpr std::size_t kLockstepTargets = 32;

// The probes of several targets over X (requests[i] against y = ys[i]) from one
// read: out[i] equals probe_sums(X, ys[i], sw, *requests[i], n_shards, .) bit
// for bit. Each shard is taken in pieces of whole kernel blocks, every target
// summing a piece before the next is read (ProbeBatch::add_rows). Requests
// whose default shard counts differ (default_shard_count never gives that for
// one to three probes, whose partials are far below its memory bound) are read
// in separate passes. Returns the number of reads of X.
template <class T>
index_t probe_sums_targets(const MatrixView<T>& X, const std::vector<const T*>& ys, const T* sw,
                           const std::vector<const std::vector<Probe>*>& requests, index_t n_shards, int n_threads,
                           std::vector<ProbeSums>& out) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  const std::size_t m = requests.size();
  std::vector<detail::ProbeBatch<T>> batches;
  batches.reserve(m);
  for (std::size_t i = 0; i < m; ++i) batches.emplace_back(*requests[i], d);
  out.assign(m, ProbeSums{});
  if (m == 0) return 0;
  if (n == 0) {
    for (std::size_t i = 0; i < m; ++i) out[i] = detail::zero_probe_sums(batches[i].probes(), d);
    return 1;
  }
  const Isa isa = active_isa();
  const index_t row_bytes = std::max<index_t>(1, d * static_cast<index_t>(sizeof(T)));
  const index_t block_bytes = detail::kLossGradBlock * row_bytes;
  const index_t piece = detail::kLossGradBlock * std::max<index_t>(1, kLockstepPieceBytes / block_bytes);
  std::vector<char> done(m, 0);
  index_t reads = 0;
  for (std::size_t first = 0; first < m; ++first) {
    if (done[first]) continue;
    const index_t shards = batches[first].shard_count(n, n_shards);
    std::vector<std::size_t> group;
    for (std::size_t i = first; i < m; ++i) {
      if (!done[i] && batches[i].shard_count(n, n_shards) == shards) {
        group.push_back(i);
        done[i] = 1;
      }
    }
    const BlockShards plan(n, shards);
    std::vector<std::vector<BlockTree>> trees(group.size());
    for (std::size_t g = 0; g < group.size(); ++g) {
      trees[g].assign(static_cast<std::size_t>(plan.count()), BlockTree(batches[group[g]].width()));
    }
    // One read of X at ~10 GB/s (probe_sums' estimate) plus every target's
    // arithmetic on pieces in cache, ~5e10 bytes' worth a second (the probe
    // kernel on X in cache, one core: 0.03 s for 2,000,000 x 100 float64 rows).
    const double bytes = static_cast<double>(n) * static_cast<double>(d) * sizeof(T);
    const double work = bytes / 1e10 + bytes * static_cast<double>(group.size()) / 5e10;
    for_each_shard(plan.blocks, threads_for_work(work, n_threads), [&](index_t s) {
      std::vector<std::vector<T>> bufs(group.size());
      std::vector<std::vector<double>> scratch(group.size());
      for (std::size_t g = 0; g < group.size(); ++g) {
        bufs[g].resize(batches[group[g]].buffer_size());
        scratch[g].assign(static_cast<std::size_t>(batches[group[g]].width()), 0.0);
      }
      const index_t r1 = plan.row_end(s);
      for (index_t r = plan.row_begin(s); r < r1; r += piece) {
        const index_t e = std::min(r1, r + piece);
        for (std::size_t g = 0; g < group.size(); ++g) {
          batches[group[g]].add_rows(isa, X, ys[group[g]], sw, r, e, trees[g][s], 0, scratch[g].data(),
                                     bufs[g].data());
        }
      }
    });
    for (std::size_t g = 0; g < group.size(); ++g) {
      const detail::ProbeBatch<T>& b = batches[group[g]];
      out[group[g]] = b.unpack(join_trees(trees[g], b.width()).total());
    }
    ++reads;
  }
  return reads;
}

// The coordinator of one lockstep fit over (X, ys, sw); run() fits every target.
//
// One thread at a time runs: a baton goes from each running loop to the next
// (in target order) as each makes its request or finishes, then to the
// coordinator, which serves the round and hands the baton to the first loop
// again. So a round costs one wake-up per loop (no thundering herd), and the
// loops' own arithmetic never runs concurrently.
template <class T>
class Lockstep {
  enum class State { Running, Waiting, Finished };
  static constexpr std::size_t kCoordinator = static_cast<std::size_t>(-1);
  static constexpr std::size_t kNobody = static_cast<std::size_t>(-2);

  // What a loop asked for and what it got back.
  struct Slot {
    State state = State::Running;
    bool is_start = false;
    PassStart start_req;
    const std::vector<Probe>* probes = nullptr;
    PassStartResult start_res;
    ProbeSums sums;
    std::exception_ptr reply_error;  // the round's error, raised in the loop
    std::exception_ptr error;        // how the loop ended, if not normally
    std::condition_variable wake;    // the baton has come to this loop
  };

  // Raised in the loops still running once another target's loop has failed.
  struct Aborted : std::runtime_error {
    Aborted() : std::runtime_error("fastcost: another target's fit failed") {}
  };

 public:
  // The pass one target's loop reads (data_pass.hpp's concept): its requests
  // wait for the coordinator's next round.
  class TargetPass {
   public:
    TargetPass(Lockstep* owner, std::size_t i) : owner_(owner), i_(i) {}
    index_t rows() const { return owner_->X_.rows; }
    index_t cols() const { return owner_->X_.cols; }
    double epsilon() const { return static_cast<double>(std::numeric_limits<T>::epsilon()); }
    index_t reads() const { return reads_; }

    PassStartResult start(const PassStart& req) {
      Slot& s = owner_->slot(i_);
      s.is_start = true;
      s.start_req = req;
      owner_->wait_for_round(i_);
      if (req.moments) ++reads_;
      return std::move(s.start_res);
    }

    ProbeSums probes(const std::vector<Probe>& probes) {
      Slot& s = owner_->slot(i_);
      s.is_start = false;
      s.probes = &probes;
      owner_->wait_for_round(i_);
      ++reads_;
      return std::move(s.sums);
    }

   private:
    Lockstep* owner_;
    std::size_t i_;
    index_t reads_ = 0;  // what its own HostPass would have counted
  };

  Lockstep(const MatrixView<T>& X, std::vector<const T*> ys, const T* sw, index_t n_shards, int n_threads)
      : X_(X), ys_(std::move(ys)), sw_(sw), n_shards_(n_shards), n_threads_(n_threads) {
    X_.validate();
  }

  // fit(pass, options[t]) -> FitResult for every target t, the loops of a group
  // of kLockstepTargets in lockstep. The first error (in target order, of the
  // first round that had one) is rethrown once every loop has stopped.
  template <class Fit>
  std::vector<FitResult> run(const std::vector<FitOptions>& options, Fit fit) {
    if (options.size() != ys_.size()) throw std::invalid_argument("one FitOptions per target");
    std::vector<FitResult> results(ys_.size());
    for (std::size_t g0 = 0; g0 < ys_.size(); g0 += kLockstepTargets) {
      run_group(g0, std::min(ys_.size(), g0 + kLockstepTargets), options, fit, results);
    }
    return results;
  }

  // Reads of X so far: the rounds that had probes, and the column moments once.
  index_t reads() const { return reads_; }

 private:
  Slot& slot(std::size_t i) { return slots_[i]; }

  template <class Fit>
  void run_group(std::size_t g0, std::size_t g1, const std::vector<FitOptions>& options, Fit& fit,
                 std::vector<FitResult>& results) {
    const std::size_t m = g1 - g0;
    first_ = g0;
    n_slots_ = m;
    slots_ = std::make_unique<Slot[]>(m);
    runner_ = kNobody;  // no loop runs before every thread exists
    std::vector<TargetPass> passes;
    passes.reserve(m);
    for (std::size_t i = 0; i < m; ++i) passes.emplace_back(this, i);
    std::vector<std::thread> threads;
    threads.reserve(m);
    std::size_t started = 0;
    std::exception_ptr no_thread;
    for (; started < m; ++started) {
      try {
        threads.emplace_back([&, i = started] { loop(i, [&] { results[g0 + i] = fit(passes[i], options[g0 + i]); }); });
      } catch (...) {  // this target and the rest end with the error
        no_thread = std::current_exception();
        break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t j = started; j < m; ++j) {
        slots_[j].state = State::Finished;
        slots_[j].error = no_thread;
      }
    }
    hand_on(kCoordinator);  // the baton to the first loop
    coordinate();
    for (std::thread& th : threads) th.join();
    std::exception_ptr first_error, aborted;
    for (std::size_t i = 0; i < m; ++i) {
      const std::exception_ptr e = slots_[i].error;
      if (!e) continue;
      try {
        std::rethrow_exception(e);
      } catch (const Aborted&) {
        if (!aborted) aborted = e;
      } catch (...) {
        if (!first_error) first_error = e;
      }
    }
    if (first_error) std::rethrow_exception(first_error);
    if (aborted) std::rethrow_exception(aborted);
  }

  // Gives the baton to the first running loop after `after` (all of them for
  // kCoordinator, which is SIZE_MAX: after + 1 wraps to 0), else to the
  // coordinator, and wakes it.
  void hand_on(std::size_t after) {
    std::condition_variable* wake = &to_coordinator_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      runner_ = kCoordinator;
      for (std::size_t j = after + 1; j < n_slots_; ++j) {
        if (slots_[j].state == State::Running) {
          runner_ = j;
          wake = &slots_[j].wake;
          break;
        }
      }
    }
    wake->notify_one();
  }

  // A target's thread: its loop runs when the baton comes; however it ends,
  // its slot says so and the baton moves on.
  template <class Body>
  void loop(std::size_t i, Body&& body) {
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      slots_[i].wake.wait(lock, [&] { return runner_ == i; });
    }
    try {
      body();
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      slots_[i].state = State::Finished;
      slots_[i].error = error;
    }
    hand_on(i);
  }

  // Called by loop i with its request in its slot: hands the baton on and
  // waits until the round is served and the baton is back.
  void wait_for_round(std::size_t i) {
    Slot& s = slots_[i];
    {
      std::lock_guard<std::mutex> lock(mutex_);
      s.state = State::Waiting;
    }
    hand_on(i);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      s.wake.wait(lock, [&] { return runner_ == i; });
    }
    if (s.reply_error) {
      const std::exception_ptr e = s.reply_error;
      s.reply_error = nullptr;
      std::rethrow_exception(e);
    }
  }

  // Rounds until every loop has finished: wait for the baton, serve the
  // waiting loops, hand the baton to the first of them. Errors of a round go
  // to its loops; once a loop has failed the others are answered with Aborted.
  // Never throws (the loops must always be released).
  void coordinate() noexcept {
    std::vector<std::size_t> waiting;
    for (;;) {
      bool failed = false;
      waiting.clear();
      {
        std::unique_lock<std::mutex> lock(mutex_);
        to_coordinator_.wait(lock, [&] { return runner_ == kCoordinator; });
        for (std::size_t i = 0; i < n_slots_; ++i) {
          if (slots_[i].state == State::Waiting) waiting.push_back(i);
          failed = failed || (slots_[i].state == State::Finished && slots_[i].error);
        }
      }
      if (waiting.empty()) return;
      if (failed) {
        for (std::size_t i : waiting) slots_[i].reply_error = std::make_exception_ptr(Aborted());
      } else {
        serve(waiting);
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        for (std::size_t i : waiting) slots_[i].state = State::Running;
      }
      hand_on(kCoordinator);
    }
  }

  // One round: the start requests one by one (the column moments read once),
  // every probe request from one read of X.
  void serve(const std::vector<std::size_t>& waiting) noexcept {
    std::vector<std::size_t> probing;
    try {
      std::vector<const T*> ys;
      std::vector<const std::vector<Probe>*> requests;
      for (std::size_t i : waiting) {
        Slot& s = slots_[i];
        if (!s.is_start) {
          probing.push_back(i);
          ys.push_back(ys_[first_ + i]);
          requests.push_back(s.probes);
          continue;
        }
        try {
          s.start_res = start(i, s.start_req);
        } catch (...) {
          s.reply_error = std::current_exception();
        }
      }
      if (probing.empty()) return;
      std::vector<ProbeSums> sums;
      reads_ += probe_sums_targets(X_, ys, sw_, requests, n_shards_, n_threads_, sums);
      for (std::size_t p = 0; p < probing.size(); ++p) slots_[probing[p]].sums = std::move(sums[p]);
    } catch (...) {
      const std::exception_ptr e = std::current_exception();
      for (std::size_t i : waiting) {
        if (!slots_[i].is_start) slots_[i].reply_error = e;
      }
    }
  }

  // HostPass::start for target i, the moments (the same for every target)
  // computed on the first request only.
  PassStartResult start(std::size_t i, PassStart req) {
    const bool moments = req.moments;
    req.moments = false;
    HostPass<T> host(X_, ys_[first_ + i], sw_, n_shards_, n_threads_);
    PassStartResult out = host.start(req);
    if (moments) {
      if (!moments_) {
        moments_ = compute_column_moments(X_, sw_, n_shards_, n_threads_);
        ++reads_;
      }
      out.moments = *moments_;
    }
    return out;
  }

  MatrixView<T> X_;
  std::vector<const T*> ys_;
  const T* sw_;
  index_t n_shards_;
  int n_threads_;
  index_t reads_ = 0;
  std::optional<ColumnMoments> moments_;
  std::size_t first_ = 0;  // the group's first target
  std::size_t n_slots_ = 0;
  std::unique_ptr<Slot[]> slots_;
  std::size_t runner_ = kNobody;  // who holds the baton: a slot, the coordinator or nobody yet
  std::mutex mutex_;              // slots_' states and runner_
  std::condition_variable to_coordinator_;
};

// lbfgs or gd (`fit_one(pass, options)`: fit_lbfgs or fit_gd of lbfgs.hpp,
// gd.hpp) for every y_t in lockstep; `reads` gets the reads of X made.
template <class T, class FitOne>
std::vector<FitResult> fit_targets(const MatrixView<T>& X, const std::vector<const T*>& ys, const T* sw,
                                   const std::vector<FitOptions>& options, FitOne fit_one, index_t& reads) {
  if (ys.empty()) throw std::invalid_argument("no targets to fit");
  if (options.size() != ys.size()) throw std::invalid_argument("one FitOptions per target");
  Lockstep<T> lockstep(X, ys, sw, options[0].n_shards, options[0].n_threads);
  std::vector<FitResult> out = lockstep.run(options, fit_one);
  reads = lockstep.reads();
  return out;
}

}  // namespace fastcost
