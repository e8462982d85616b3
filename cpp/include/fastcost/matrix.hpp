// Views over caller-owned data and the fixed partition of rows into shards.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace fastcost {

using index_t = std::ptrdiff_t;

enum class Layout { RowMajor, ColMajor };

// A read-only 2-D matrix that is either row-major (C) or column-major (Fortran)
// with a leading dimension; the kernels never copy it. A column-major view may
// instead hold one address per column (`columns`: the columns of an Arrow
// record batch, each its own buffer); only kernels that reach X through col()
// and operator() take such a view (compute_gram_stats; BLAS is not used for it).
template <class T>
struct MatrixView {
  const T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t ld = 0;  // distance between consecutive rows (RowMajor) or columns (ColMajor)
  Layout layout = Layout::RowMajor;
  const T* const* columns = nullptr;  // ColMajor only: column j starts at columns[j]

  T operator()(index_t i, index_t j) const { return layout == Layout::RowMajor ? data[i * ld + j] : col(j)[i]; }
  const T* row(index_t i) const { return data + i * ld; }  // RowMajor only
  const T* col(index_t j) const { return columns ? columns[j] : data + j * ld; }  // ColMajor only

  void validate() const {
    if (rows < 0 || cols < 0) throw std::invalid_argument("matrix shape must be non-negative");
    if (columns) {
      if (layout != Layout::ColMajor) throw std::invalid_argument("a view of separate columns must be ColMajor");
      for (index_t j = 0; rows > 0 && j < cols; ++j)
        if (columns[j] == nullptr) throw std::invalid_argument("matrix column data is null");
      return;
    }
    if (rows > 0 && cols > 0 && data == nullptr) throw std::invalid_argument("matrix data is null");
    const index_t need = layout == Layout::RowMajor ? cols : rows;
    if (ld < need) throw std::invalid_argument("matrix leading dimension is too small");
  }
};

// Rows [begin, end) split into n_shards contiguous, nearly equal shards. The
// partition depends only on (begin, end, n_shards), never on the thread count,
// which is what makes every reduction bitwise reproducible across threads.
struct ShardPlan {
  index_t begin = 0;
  index_t end = 0;
  index_t n_shards = 1;

  index_t shard_begin(index_t s) const { return begin + (end - begin) * s / n_shards; }
  index_t shard_end(index_t s) const { return begin + (end - begin) * (s + 1) / n_shards; }
};

// Default shard count from the problem's shape only. Shards of at least
// `min_rows` rows, at most 64 of them, and the per-shard partial results
// (`partial_doubles` each) bounded to about 0.5 % of the data they summarize.
inline index_t default_shard_count(index_t rows, index_t cols, index_t partial_doubles,
                                   index_t min_rows = 2048) {
  if (rows <= 0) return 1;
  index_t shards = std::min<index_t>(64, std::max<index_t>(1, rows / min_rows));
  const double data_doubles = static_cast<double>(rows) * static_cast<double>(std::max<index_t>(cols, 1));
  const double budget = std::max(0.005 * data_doubles, 4.0 * static_cast<double>(partial_doubles));
  const auto by_memory = static_cast<index_t>(budget / static_cast<double>(std::max<index_t>(partial_doubles, 1)));
  shards = std::min(shards, std::max<index_t>(1, by_memory));
  return shards;
}

inline ShardPlan make_plan(index_t begin, index_t end, index_t n_shards) {
  if (end < begin) throw std::invalid_argument("row range is empty or reversed");
  if (n_shards < 1) throw std::invalid_argument("n_shards must be at least 1");
  ShardPlan plan;
  plan.begin = begin;
  plan.end = end;
  plan.n_shards = std::min<index_t>(n_shards, std::max<index_t>(end - begin, 1));
  return plan;
}

}  // namespace fastcost
