// The data pass of lbfgs and gd (data_pass.hpp) over a mixed design
// (categorical.hpp), so that both loops run unchanged on it: each probe is
//   u_i = s_i (x_i^T w_dense + sum_k w_k[code_ik] + b - y_i)   (y only with_y)
// and one read of X and the codes gives every probe's sums
//   [X^T s u ; per level of each categorical, sum s u], sum s, sum s u, sum s u u.
// fit_mixed_lbfgs and fit_mixed_gd are the existing loops on this pass.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "fastcost/categorical.hpp"
#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/gd.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/lbfgs.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/preprocess.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

namespace detail {

// The categorical side of a probe pass, as probe_shard_impl's row terms
// (loss_grad.hpp): code columns, each categorical's first entry in a per-level
// table (all its levels, the reference level included) and the probes' coefficient
// of every level (0 for a reference level). Each row's probes get the sum of its
// levels' coefficients, and after the dense sums come K tables of total_levels
// values sum s u_k per level.
template <class T>
struct MixedProbeCats {
  static constexpr bool kActive = true;
  index_t n_cats = 0;
  const std::int32_t* const* codes = nullptr;
  const index_t* level_offset = nullptr;
  index_t total_levels = 0;
  const T* coef = nullptr;  // K tables of total_levels

  template <int K>
  FASTCOST_INLINE void add(index_t i0, index_t nb, T* const* u) const {
    for (index_t c = 0; c < n_cats; ++c) {
      const std::int32_t* cc = codes[c] + i0;
      for (int k = 0; k < K; ++k) {
        const T* wk = coef + k * total_levels + level_offset[c];
        T* uk = u[k];
        for (index_t i = 0; i < nb; ++i) uk[i] += wk[cc[i]];
      }
    }
  }

  // The categorical gradient: sum s u per level (in double: a level's sum
  // gathers rows from the whole shard).
  template <int K>
  FASTCOST_INLINE void sums(index_t i0, index_t nb, const T* const* su, double* out) const {
    for (index_t c = 0; c < n_cats; ++c) {
      const std::int32_t* cc = codes[c] + i0;
      for (int k = 0; k < K; ++k) {
        double* gk = out + k * total_levels + level_offset[c];
        const T* sk = su[k];
        for (index_t i = 0; i < nb; ++i) gk[cc[i]] += static_cast<double>(sk[i]);
      }
    }
  }
};

// Each categorical's first entry in a table of all levels, and the table's size.
inline std::vector<index_t> level_offsets(const CategoricalView& cats, index_t& total) {
  std::vector<index_t> out;
  total = 0;
  for (index_t c = 0; c < cats.count(); ++c) {
    out.push_back(total);
    total += cats.levels[c];
  }
  return out;
}

}  // namespace detail

// probe_sums (loss_grad.hpp) over a mixed design: the probes' w have the
// expanded design's D columns and so do the sums' ux. One read of X and the
// codes, sharded, reduced in shard order (reduce_shards: bitwise the same for
// any thread count, memory bounded by the thread count).
template <class T>
ProbeSums mixed_probe_sums(const MatrixView<T>& X, const CategoricalView& cats, const T* y, const T* sw,
                           const std::vector<Probe>& probes, index_t n_shards, int n_threads) {
  const int K = static_cast<int>(probes.size());
  if (K < 1 || K > kMaxProbes) throw std::invalid_argument("probe_sums takes one to three probes");
  const index_t n = X.rows, p = X.cols, nc = cats.count(), D = p + cats.expanded_width();
  index_t TL = 0;
  const std::vector<index_t> lo = detail::level_offsets(cats, TL);
  const std::vector<index_t> offs = categorical_offsets(cats, all_categoricals(cats), p);
  ProbeSums res = detail::zero_probe_sums(K, D);
  if (n == 0) return res;
  const int P = K * (K + 1) / 2;
  const index_t cat_at = K * p + 1 + K + P, width = cat_at + K * TL;
  if (n_shards <= 0) {
    const index_t row_bytes = p * index_t{sizeof(T)} + nc * index_t{sizeof(std::int32_t)};
    n_shards = default_shard_count(n, p, width, detail::pass_min_rows(row_bytes));
  }
  const ShardPlan plan = make_plan(0, n, n_shards);
  // Probes with vectors first (the kernel's order); order[i] is the caller's index.
  int order[kMaxProbes] = {};
  const int nd = detail::probe_order(probes, order);
  std::vector<T> wt(static_cast<std::size_t>(K * p), T(0)), coef(static_cast<std::size_t>(K * TL), T(0));
  const T* wp[kMaxProbes] = {};
  T bt[kMaxProbes] = {};
  bool my[kMaxProbes] = {};
  for (int i = 0; i < K; ++i) {
    const Probe& pr = probes[order[i]];
    if (pr.w) {
      for (index_t j = 0; j < p; ++j) wt[i * p + j] = static_cast<T>(pr.w[j]);
      for (index_t c = 0; c < nc; ++c) {
        const index_t dc = cats.drop[c] ? 1 : 0;
        for (index_t l = dc; l < cats.levels[c]; ++l) coef[i * TL + lo[c] + l] = static_cast<T>(pr.w[offs[c] + l - dc]);
      }
    }
    wp[i] = wt.data() + i * p;
    bt[i] = static_cast<T>(pr.b);
    my[i] = pr.with_y;
  }
  std::vector<const std::int32_t*> codes(static_cast<std::size_t>(nc));
  for (index_t c = 0; c < nc; ++c) codes[c] = cats.col(c);
  const detail::MixedProbeCats<T> mc{nc, codes.data(), lo.data(), TL, coef.data()};
  const Isa isa = active_isa();
  const double bytes = static_cast<double>(n) * (static_cast<double>(p * sizeof(T)) + 12.0 * static_cast<double>(nc));
  const int threads = threads_for_work(bytes / 1e10, n_threads);
  std::vector<double> total(static_cast<std::size_t>(width));
  reduce_shards(plan.n_shards, threads, width, total.data(), [&](index_t s, double* out) {
    std::vector<T> buf(static_cast<std::size_t>(K * p + 2 * K * detail::kLossGradBlock));
    detail::probe_shard<T>(isa, K, nd, X, y, sw, static_cast<const T* const*>(wp), static_cast<const T*>(bt),
                           static_cast<const bool*>(my), plan.shard_begin(s), plan.shard_end(s), out, buf.data(), mc,
                           nullptr, index_t{0});
  });
  for (int i = 0; i < K; ++i) {
    const int k = order[i];
    std::copy(total.begin() + i * p, total.begin() + (i + 1) * p, res.sum_ux.begin() + k * D);
    for (index_t c = 0; c < nc; ++c) {
      const index_t dc = cats.drop[c] ? 1 : 0;
      for (index_t l = dc; l < cats.levels[c]; ++l) {
        res.sum_ux[k * D + offs[c] + l - dc] = total[cat_at + i * TL + lo[c] + l];
      }
    }
  }
  detail::unpack_probe_scalars(total.data() + K * p, K, order, res);
  return res;
}

// Weighted counts of every level of every categorical (a table of all levels,
// detail::level_offsets), sharded and reduced in shard order.
template <class T>
std::vector<double> level_counts(const CategoricalView& cats, const T* sw, index_t n_shards, int n_threads) {
  index_t TL = 0;
  const std::vector<index_t> lo = detail::level_offsets(cats, TL);
  const index_t n = cats.n, nc = cats.count();
  const index_t shards = n_shards > 0 ? n_shards : default_shard_count(n, nc, TL);
  const ShardPlan plan = make_plan(0, n, shards);
  std::vector<double> total(static_cast<std::size_t>(TL));
  const int threads = threads_for_work(static_cast<double>(n * nc) * 8.0 / 1e10, n_threads);
  reduce_shards(plan.n_shards, threads, TL, total.data(), [&](index_t s, double* out) {
    for (index_t c = 0; c < nc; ++c) {
      const std::int32_t* cc = cats.col(c);
      double* tab = out + lo[c];
      for (index_t i = plan.shard_begin(s); i < plan.shard_end(s); ++i) {
        tab[cc[i]] += sw ? static_cast<double>(sw[i]) : 1.0;
      }
    }
  });
  return total;
}

// The column moments of the expanded design [X, one-hot(codes)]: X's
// (compute_column_moments), then each level column's, as MixedPass's start
// reports them: the weighted level frequency f as mean and M2 = S f (1 - f),
// the exact weighted M2 of a 0/1 column (so Chan's merge of two blocks'
// moments is that of the blocks' rows together).
template <class T>
ColumnMoments mixed_column_moments(const MatrixView<T>& X, const CategoricalView& cats, const T* sw, index_t n_shards,
                                   int n_threads) {
  ColumnMoments m = compute_column_moments(X, sw, n_shards, n_threads);
  if (cats.count() == 0) return m;
  index_t TL = 0;
  const std::vector<index_t> lo = detail::level_offsets(cats, TL);
  const std::vector<index_t> offs = categorical_offsets(cats, all_categoricals(cats), X.cols);
  const std::vector<double> counts = level_counts(cats, sw, n_shards, n_threads);
  const index_t cols = X.cols + cats.expanded_width();
  m.mean.resize(static_cast<std::size_t>(cols), 0.0);
  m.m2.resize(static_cast<std::size_t>(cols), 0.0);
  for (index_t c = 0; c < cats.count(); ++c) {
    const index_t dc = cats.drop[c] ? 1 : 0;
    for (index_t l = dc; l < cats.levels[c]; ++l) {
      const double cnt = counts[lo[c] + l], f = m.sum_w > 0.0 ? cnt / m.sum_w : 0.0;
      const index_t j = offs[c] + l - dc;
      m.mean[j] = f;
      m.m2[j] = cnt * (1.0 - f);
      if (!std::isfinite(f) || !std::isfinite(m.m2[j])) m.finite = false;
    }
  }
  return m;
}

// Above this many expanded columns MixedPass declines lbfgs' row sample
// (takes_row_sample): its (D + 2)^2 Gram, kSampleGroups partials of it and its
// Cholesky factor cost more than the warm start saves, and the sample's rows
// (at most 2 n / D) would not pin down the rarer levels anyway.
constexpr index_t kMixedSampleMaxCols = 2000;

// Whether the expanded design is collinear by construction: a categorical's
// indicators sum to 1, the intercept's column, unless drop_first removes one;
// two such categoricals sum to the same column even without an intercept.
inline bool collinear_by_construction(const CategoricalView& cats, bool intercept) {
  index_t full = 0;
  for (index_t k = 0; k < cats.count(); ++k) full += cats.drop[k] ? 0 : 1;
  return full >= 2 || (full >= 1 && intercept);
}

// Whether the pass over a mixed design of `cols` expanded columns takes lbfgs'
// row sample (MixedPass::takes_row_sample; fastcost.dask applies the same rule).
inline bool mixed_takes_row_sample(index_t cols, const CategoricalView& cats, bool intercept) {
  return cats.count() == 0 || (cols <= kMixedSampleMaxCols && !collinear_by_construction(cats, intercept));
}

// The data pass of lbfgs and gd over a mixed design. cols() is D, the
// expanded width. Its start request reports indicators_from = p: standardize
// scales the dense block only (the indicator columns keep scale 1; their
// moments are the weighted level frequencies f as means and
// M2 = S f (1 - f)), noise_var adds no term for them; `center` is the weighted
// mean of kCenterRows expanded rows; the sample (lbfgs' warm start) is the
// expanded rows' Gram, declined (takes_row_sample) above kMixedSampleMaxCols
// columns and for a design collinear by construction: lbfgs refuses the warm
// start of a rank-deficient sample anyway, and the Cholesky factor of its
// singular Hessian, which rounding lets through, would blow up the null-space
// component of every direction as a preconditioner. With no categorical it is
// HostPass, bit for bit.
template <class T>
class MixedPass {
 public:
  // intercept: whether the fit has one (it decides collinear_by_construction).
  MixedPass(const MatrixView<T>& X, const CategoricalView& cats, const T* y, const T* sw, index_t n_shards,
            int n_threads, bool intercept = true)
      : host_(X, y, sw, n_shards, n_threads), X_(X), cats_(cats), y_(y), sw_(sw), n_shards_(n_shards),
        n_threads_(n_threads) {
    if (cats_.count() > 0 && cats_.n != X.rows) throw std::invalid_argument("the codes and X have different row counts");
    check_codes(cats_, n_threads);
    offs_ = categorical_offsets(cats_, all_categoricals(cats_), X.cols);
    cols_ = X.cols + cats_.expanded_width();
    sample_ok_ = mixed_takes_row_sample(cols_, cats_, intercept);
  }

  index_t rows() const { return X_.rows; }
  index_t cols() const { return cols_; }
  double epsilon() const { return host_.epsilon(); }
  index_t reads() const { return cats_.count() == 0 ? host_.reads() : reads_; }
  bool takes_row_sample() const { return sample_ok_; }

  PassStartResult start(const PassStart& req) {
    if (cats_.count() == 0) return host_.start(req);
    PassStartResult out;
    weighted_totals(y_, sw_, X_.rows, out.sum_w, out.sum_wy);
    out.indicators_from = X_.cols;
    if (req.moments) {
      out.moments = moments();
      ++reads_;
    }
    if (req.center) out.center = center();
    if (!req.sample.empty() && takes_row_sample()) out.sample = sample(req.sample);
    return out;
  }

  ProbeSums probes(const std::vector<Probe>& probes) {
    if (cats_.count() == 0) return host_.probes(probes);
    ++reads_;
    return mixed_probe_sums(X_, cats_, y_, sw_, probes, n_shards_, n_threads_);
  }

 private:
  ColumnMoments moments() const { return mixed_column_moments(X_, cats_, sw_, n_shards_, n_threads_); }

  // The weighted mean of the centering rows (as weighted_row_mean computes it).
  std::vector<double> center() const {
    const index_t p = X_.cols;
    const std::vector<index_t> rows = center_rows(X_.rows);
    std::vector<double> row(static_cast<std::size_t>(p));
    std::vector<double> mu = weighted_row_mean(p, rows, [&](index_t i, double& s) {
      s = sw_ ? static_cast<double>(sw_[i]) : 1.0;
      for (index_t j = 0; j < p; ++j) row[j] = static_cast<double>(X_(i, j));
      return row;
    });
    const index_t wc = cols_ - p;
    std::vector<double> total(static_cast<std::size_t>(wc), 0.0), plain(static_cast<std::size_t>(wc), 0.0);
    double ws = 0.0;
    for (index_t i : rows) {
      const double s = sw_ ? static_cast<double>(sw_[i]) : 1.0;
      ws += s;
      for (index_t c = 0; c < cats_.count(); ++c) {
        const index_t l = cats_.col(c)[i] - (cats_.drop[c] ? 1 : 0);
        if (l < 0) continue;
        total[offs_[c] - p + l] += s;
        plain[offs_[c] - p + l] += 1.0;
      }
    }
    for (index_t j = 0; j < wc; ++j) {
      mu.push_back(ws > 0.0 ? total[j] / ws : plain[j] / static_cast<double>(rows.size()));
    }
    return mu;
  }

  // The Gram of the sample's expanded rows about row 0 (the dense block's
  // shift; 0 for the indicators): the blocks in kSampleGroups groups of
  // consecutive blocks, as block_stats groups them.
  GramStats sample(const RowBlocks& blocks) const {
    const index_t p = X_.cols, D = cols_;
    const auto n_blocks = static_cast<index_t>(blocks.size());
    const ShardPlan groups = make_plan(0, n_blocks, kSampleGroups);
    std::vector<RowBlocks> shards(static_cast<std::size_t>(groups.n_shards));
    index_t m = 0;
    for (index_t g = 0; g < groups.n_shards; ++g) {
      for (index_t k = groups.shard_begin(g); k < groups.shard_end(g); ++k) {
        shards[g].push_back(blocks[k]);
        m += blocks[k].second - blocks[k].first;
      }
    }
    const std::vector<index_t> members = all_categoricals(cats_);
    MixedStatsPass<T> pass(X_, y_, sw_, cats_, gram_layouts(cats_, members, p), choose_shift(X_, y_, nullptr));
    std::vector<double> total(static_cast<std::size_t>(pass.width));
    pass.run(shards, threads_for_work(pass.seconds(m), n_threads_), total.data());
    GramStats st;
    st.d = D;
    st.n_rows = m;
    st.n_shards = groups.n_shards;
    st.shift.assign(static_cast<std::size_t>(D + 1), 0.0);
    std::copy(pass.shift.begin(), pass.shift.begin() + p, st.shift.begin());
    st.shift[D] = pass.shift[p];
    st.gram = assemble_gram(pass, total.data(), 0, members);
    return st;
  }

  HostPass<T> host_;
  MatrixView<T> X_;
  CategoricalView cats_;
  const T* y_;
  const T* sw_;
  index_t n_shards_;
  int n_threads_;
  std::vector<index_t> offs_;
  index_t cols_ = 0;
  bool sample_ok_ = true;
  index_t reads_ = 0;
};

// lbfgs and gd (lbfgs.hpp, gd.hpp) over a mixed design: coefficients of the
// expanded design's D columns.
template <class T>
FitResult fit_mixed_lbfgs(const MatrixView<T>& X, const CategoricalView& cats, const T* y, const T* sw,
                          const FitOptions& opt) {
  MixedPass<T> data(X, cats, y, sw, opt.n_shards, opt.n_threads, opt.fit_intercept);
  return fit_lbfgs(data, opt);
}

template <class T>
FitResult fit_mixed_gd(const MatrixView<T>& X, const CategoricalView& cats, const T* y, const T* sw,
                       const FitOptions& opt) {
  MixedPass<T> data(X, cats, y, sw, opt.n_shards, opt.n_threads, opt.fit_intercept);
  return fit_gd(data, opt);
}

}  // namespace fastcost
