// The augmented Grams of many row groups (cross-validation folds, or the
// "atoms" folds are built from) about one common shift, in one read of X.
//
// Rows are counting-sorted by group (stable: each group keeps X's row order),
// every group's rows are cut into shards, and the Gram kernel's pack step
// gathers each shard's rows (gram.hpp, GramPack::run_rows); the tiles are the
// dense pass's. Each row is read once, by the one shard holding it. The shard
// plan depends only on the group sizes and the shard count, and every group
// sums its shards in a fixed order, so the result is bitwise the same for any
// thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastcost/gram.hpp"
#include "fastcost/parallel.hpp"

namespace fastcost {

struct GroupedGramStats {
  index_t d = 0;
  index_t n_targets = 1;
  index_t n_groups = 0;
  std::vector<double> shift;     // d + k values, common to every group
  std::vector<double> grams;     // n_groups blocks of (d + k + 1) squared, row-major
  std::vector<index_t> counts;   // rows in each group
  index_t n_shards = 0;          // shards actually run (over all groups)

  index_t dim() const { return d + n_targets + 1; }
};

namespace detail {

// One unit of work: rows order[begin, end) of group `group`.
struct GroupShard {
  index_t group, begin, end;
};

// Each non-empty group gets a share of the shard count proportional to its rows
// (at least one shard), cut evenly as make_plan cuts a row range.
inline std::vector<GroupShard> group_shards(const std::vector<index_t>& offsets, index_t n_selected,
                                            index_t n_shards) {
  std::vector<GroupShard> out;
  const auto n_groups = static_cast<index_t>(offsets.size()) - 1;
  for (index_t g = 0; g < n_groups; ++g) {
    const index_t b = offsets[g], e = offsets[g + 1];
    if (e == b) continue;
    const index_t share = std::max<index_t>(1, (n_shards * (e - b) + n_selected - 1) / n_selected);
    const ShardPlan plan = make_plan(b, e, share);
    for (index_t s = 0; s < plan.n_shards; ++s) out.push_back({g, plan.shard_begin(s), plan.shard_end(s)});
  }
  return out;
}

}  // namespace detail

// Grams of the groups of the rows of X (rows x d), targets Y (rows x k, data
// null: zeros) and weights sw (null: ones). groups[i] in [0, n_groups) puts row
// i in that group; -1 leaves it out. `shift` (d + k values) defaults to the
// first row and its targets, as compute_gram_stats' does, so the sum of all
// groups' Grams is the dense pass's Gram of the selected rows (to rounding).
template <class T>
GroupedGramStats compute_grouped_gram_stats(const MatrixView<T>& X, const MatrixView<T>& Y, const T* sw,
                                            const std::int64_t* groups, index_t n_groups, const double* shift,
                                            index_t n_shards, int n_threads) {
  X.validate();
  validate_targets(Y, X.rows);
  if (n_groups < 0) throw std::invalid_argument("n_groups must be >= 0");
  const index_t n = X.rows, d = X.cols, k = Y.cols, da = d + k + 1;
  GroupedGramStats st;
  st.d = d;
  st.n_targets = k;
  st.n_groups = n_groups;
  st.shift = choose_shift(X, Y, shift);
  st.grams.assign(static_cast<std::size_t>(n_groups * da * da), 0.0);
  st.counts.assign(static_cast<std::size_t>(n_groups), 0);
  // Counting sort of the selected rows by group.
  for (index_t i = 0; i < n; ++i) {
    const std::int64_t g = groups[i];
    if (g == -1) continue;
    if (g < 0 || g >= n_groups) {
      throw std::invalid_argument("groups[" + std::to_string(i) + "] = " + std::to_string(g) +
                                  " is outside [0, n_groups) and not -1");
    }
    ++st.counts[static_cast<std::size_t>(g)];
  }
  std::vector<index_t> offsets(static_cast<std::size_t>(n_groups + 1), 0);
  for (index_t g = 0; g < n_groups; ++g) offsets[g + 1] = offsets[g] + st.counts[g];
  const index_t n_selected = offsets[n_groups];
  if (n_selected == 0) return st;
  std::vector<index_t> order(static_cast<std::size_t>(n_selected));
  {
    std::vector<index_t> next(offsets.begin(), offsets.end() - 1);
    for (index_t i = 0; i < n; ++i) {
      if (groups[i] >= 0) order[next[groups[i]]++] = i;
    }
  }
  const detail::GramKernel kernel = detail::gram_kernel<T>(active_isa(), d, k);
  const index_t pb = detail::padded_gram_dim<T>(kernel, d, k), tile = pb * pb;
  const auto per_t = static_cast<index_t>(sizeof(double) / sizeof(T));
  if (n_shards <= 0) n_shards = default_shard_count(n_selected, d, tile * per_t);
  const std::vector<detail::GroupShard> work = detail::group_shards(offsets, n_selected, n_shards);
  st.n_shards = static_cast<index_t>(work.size());
  ZeroedBuffer partials(static_cast<index_t>(work.size()) * tile);
  const int threads = threads_for_work(gram_seconds(n_selected, da), n_threads);
  const ShardPlan plan = make_plan(0, st.n_shards, st.n_shards);  // one task per work item
  for_each_shard(plan, threads, [&](index_t s) {
    const detail::GroupShard& w = work[static_cast<std::size_t>(s)];
    detail::GramPack<T> pack(kernel, d, sw != nullptr, k);
    pack.run_rows(X, Y, sw, st.shift.data(), order.data(), w.begin, w.end, partials.data() + s * tile);
  });
  // Each group sums its shards in plan order, mirrored.
  std::size_t s = 0;
  for (index_t g = 0; g < n_groups; ++g) {
    if (st.counts[g] == 0) continue;
    const std::size_t first = s;
    while (s < work.size() && work[s].group == g) ++s;
    detail::reduce_mirrored(partials.data() + static_cast<index_t>(first) * tile, static_cast<index_t>(s - first), pb,
                            da, st.grams.data() + g * da * da, 1);
  }
  return st;
}

}  // namespace fastcost
