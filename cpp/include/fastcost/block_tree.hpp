// Sums over the rows of X that do not depend on how the rows are split.
//
// The rows fall into blocks of kTreeBlockRows, numbered from X's first row;
// each block's sums are computed from its rows alone, and the blocks' sums are
// added in one pairwise tree fixed by the block numbers: a node covers the
// 2^level blocks [start, start + 2^level) with start a multiple of 2^level,
// and is the sum of its two halves. Any contiguous run of blocks sums to a
// short list of such nodes (at most two per level), and two adjacent runs'
// lists merge into the list of their union with the same additions. So the
// shards of a local pass, the chunks of a Dask array, and any split of either,
// give the same bits: an iterative fit on a cluster takes the local fit's
// steps and stops at the same iteration, whatever the chunking.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "fastcost/matrix.hpp"

namespace fastcost {

constexpr index_t kTreeBlockRows = 256;

// Bounds of a node pushed into a tree: start + 2^level stays far below
// index_t's range (merges add at most one level to the largest pushed).
constexpr int kMaxTreeLevel = 56;
constexpr index_t kMaxTreeStart = index_t{1} << 56;

// Blocks of n rows (the last may be short).
constexpr index_t tree_blocks(index_t n) { return (n + kTreeBlockRows - 1) / kTreeBlockRows; }

// How two adjacent nodes' values become their parent's: left = left (+) right.
using MergeFn = void (*)(double* left, const double* right, index_t width);

inline void add_values(double* left, const double* right, index_t width) {
  for (index_t j = 0; j < width; ++j) left[j] += right[j];
}

// The canonical nodes of a contiguous run of blocks, in block order, each
// holding `width` values: sums (add_values), or what `merge` combines.
class BlockTree {
 public:
  explicit BlockTree(index_t width = 0, MergeFn merge = add_values) : width_(width), merge_(merge) {}

  index_t width() const { return width_; }
  index_t size() const { return static_cast<index_t>(levels_.size()); }
  bool empty() const { return levels_.empty(); }
  int level(index_t i) const { return levels_[static_cast<std::size_t>(i)]; }
  index_t start(index_t i) const { return starts_[static_cast<std::size_t>(i)]; }
  const double* values(index_t i) const { return values_.data() + i * width_; }
  // The block after the last node's.
  index_t next() const { return empty() ? 0 : starts_.back() + (index_t{1} << levels_.back()); }

  // Adds the node of blocks [start, start + 2^level), which must follow the
  // nodes held so far, merging it with its left neighbours as the tree does.
  void push(int level, index_t start, const double* v) {
    if (level < 0 || level > kMaxTreeLevel || start < 0 || start > kMaxTreeStart) {
      throw std::invalid_argument("block sums: a node's level or start is out of range");
    }
    if (start % (index_t{1} << level) != 0) throw std::invalid_argument("block sums: a node is not aligned to its level");
    if (!empty() && start != next()) throw std::invalid_argument("block sums are not contiguous and in order");
    levels_.push_back(level);
    starts_.push_back(start);
    values_.insert(values_.end(), v, v + width_);
    while (size() >= 2) {
      const std::size_t r = levels_.size() - 1, l = r - 1;
      if (levels_[l] != levels_[r] || starts_[l] % (index_t{1} << (levels_[l] + 1)) != 0) break;
      double* left = values_.data() + static_cast<index_t>(l) * width_;
      merge_(left, left + width_, width_);
      levels_[l] += 1;
      levels_.pop_back();
      starts_.pop_back();
      values_.resize(values_.size() - static_cast<std::size_t>(width_));
    }
  }

  // One block's sums, then `v` zeroed for the next block.
  void push_block(index_t block, double* v) {
    push(0, block, v);
    std::fill(v, v + width_, 0.0);
  }

  // The nodes of the run that follows this one.
  void append(const BlockTree& right) {
    if (right.width_ != width_) throw std::invalid_argument("block sums of different widths");
    for (index_t i = 0; i < right.size(); ++i) push(right.level(i), right.start(i), right.values(i));
  }

  // The whole run's values: its nodes merged left to right (zeros when empty).
  std::vector<double> total() const {
    std::vector<double> out(static_cast<std::size_t>(width_), 0.0);
    if (empty()) return out;
    std::copy(values(0), values(0) + width_, out.begin());
    for (index_t i = 1; i < size(); ++i) merge_(out.data(), values(i), width_);
    return out;
  }

 private:
  index_t width_;
  MergeFn merge_;
  std::vector<int> levels_;
  std::vector<index_t> starts_;
  std::vector<double> values_;
};

// The runs of shards (in shard order) as one.
inline BlockTree join_trees(const std::vector<BlockTree>& parts, index_t width, MergeFn merge = add_values) {
  BlockTree all(width, merge);
  for (const BlockTree& p : parts) all.append(p);
  return all;
}

// Shards of whole blocks: shard s holds rows [row_begin(s), row_end(s)) of n.
struct BlockShards {
  index_t n = 0;
  ShardPlan blocks;

  BlockShards(index_t rows, index_t n_shards) : n(rows) {
    const index_t nb = tree_blocks(rows);
    blocks = make_plan(0, nb, std::max<index_t>(1, std::min(n_shards, nb)));
  }
  index_t count() const { return blocks.n_shards; }
  index_t row_begin(index_t s) const { return std::min(n, blocks.shard_begin(s) * kTreeBlockRows); }
  index_t row_end(index_t s) const { return std::min(n, blocks.shard_end(s) * kTreeBlockRows); }
};

}  // namespace fastcost
