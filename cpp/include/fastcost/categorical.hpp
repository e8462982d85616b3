// Mixed designs: a dense block X (n x p) beside K categorical columns given as
// integer codes. The expanded ("one-hot") design has the p dense columns, then
// categorical 0's level columns, then categorical 1's, ...; a categorical with
// drop_first has no column for level 0 (its reference level). It is never
// formed: its Gram comes from the dense block's Gram (gram.hpp's kernel),
// weighted counts, cross-tabulations and group sums.
//
// This header: the view of the codes and their check, a sharded reduction
// whose memory is bounded by the thread count, and the one-pass statistics
// (the augmented Gram of the expanded design, and the block-arrow statistics
// of one high-cardinality categorical against the rest). The data pass of
// lbfgs/gd over a mixed design is categorical_pass.hpp, its sgd
// categorical_sgd.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>


#include "fastcost/buffers.hpp"
#include "fastcost/categorical_kernels.hpp"
#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

// K categorical columns of n rows as int32 codes in [0, levels[k]) (caller's
// memory, never copied): categorical k's code of row i is codes[k * stride + i].
struct CategoricalView {
  const std::int32_t* codes = nullptr;
  index_t n = 0;
  index_t stride = 0;
  std::vector<index_t> levels;
  std::vector<char> drop;  // 1: level 0 is the reference level, without a column

  index_t count() const { return static_cast<index_t>(levels.size()); }
  const std::int32_t* col(index_t k) const { return codes + k * stride; }
  index_t width(index_t k) const { return levels[k] - (drop[k] ? 1 : 0); }
  index_t expanded_width() const {
    index_t w = 0;
    for (index_t k = 0; k < count(); ++k) w += width(k);
    return w;
  }
  // Rows [begin, end) of every categorical.
  CategoricalView rows(index_t begin, index_t end) const {
    CategoricalView v = *this;
    v.codes = codes ? codes + begin : nullptr;
    v.n = end - begin;
    return v;
  }

  void validate() const {
    if (drop.size() != levels.size()) throw std::invalid_argument("drop_first and n_levels differ in length");
    if (n < 0) throw std::invalid_argument("the codes have a negative row count");
    if (count() > 0 && n > 0 && codes == nullptr) throw std::invalid_argument("the codes are null");
    if (count() > 1 && stride < n) throw std::invalid_argument("the codes' stride is shorter than a column");
    for (index_t k = 0; k < count(); ++k) {
      if (levels[k] < 1 || levels[k] > static_cast<index_t>(std::numeric_limits<std::int32_t>::max()) + 1) {
        throw std::invalid_argument("n_levels[" + std::to_string(k) + "] must be in [1, 2^31]");
      }
    }
  }
};

// The expanded column of each categorical's first column, when the
// categoricals `members` follow `first` columns (in that order).
inline std::vector<index_t> categorical_offsets(const CategoricalView& cats, const std::vector<index_t>& members,
                                                index_t first) {
  std::vector<index_t> out;
  index_t o = first;
  for (index_t k : members) {
    out.push_back(o);
    o += cats.width(k);
  }
  return out;
}

inline std::vector<index_t> all_categoricals(const CategoricalView& cats) {
  std::vector<index_t> m(static_cast<std::size_t>(cats.count()));
  for (index_t k = 0; k < cats.count(); ++k) m[k] = k;
  return m;
}

// Throws std::invalid_argument (ValueError) naming the first code outside
// [0, levels[k)), categorical by categorical, in row order.
inline void check_codes(const CategoricalView& cats, int n_threads) {
  cats.validate();
  const index_t K = cats.count(), n = cats.n;
  if (K == 0 || n == 0) return;
  const ShardPlan plan = make_plan(0, n, std::min<index_t>(64, std::max<index_t>(1, n / 65536)));
  std::vector<index_t> first(static_cast<std::size_t>(plan.n_shards * K), -1);
  const int threads = threads_for_work(static_cast<double>(n * K) / 4e9, n_threads);
  for_each_shard(plan, threads, [&](index_t s) {
    for (index_t k = 0; k < K; ++k) {
      const std::int32_t* c = cats.col(k);
      const auto L = static_cast<std::uint64_t>(cats.levels[k]);
      for (index_t i0 = plan.shard_begin(s); i0 < plan.shard_end(s); i0 += 1024) {
        const index_t i1 = std::min(plan.shard_end(s), i0 + 1024);
        bool bad = false;  // a branch-free scan of the block first
        // A negative code is at least 2^31 as uint32, and L <= 2^31.
        for (index_t i = i0; i < i1; ++i) bad |= static_cast<std::uint32_t>(c[i]) >= L;
        if (!bad) continue;
        for (index_t i = i0; i < i1 && first[s * K + k] < 0; ++i) {
          if (c[i] < 0 || static_cast<std::uint64_t>(c[i]) >= L) first[s * K + k] = i;
        }
        break;
      }
    }
  });
  for (index_t k = 0; k < K; ++k) {
    for (index_t s = 0; s < plan.n_shards; ++s) {
      const index_t i = first[s * K + k];
      if (i >= 0) {
        throw std::invalid_argument("categorical " + std::to_string(k) + ", row " + std::to_string(i) + ": code " +
                                    std::to_string(cats.col(k)[i]) + " is outside [0, " +
                                    std::to_string(cats.levels[k]) + ")");
      }
    }
  }
}

// ---- a sharded reduction with memory bounded by the thread count ------------

// Sums per-shard partials of `width` doubles into `total` (zero on entry):
// body(s, out) adds shard s's sums to `out` (zeroed). Shard 0 accumulates in
// `total` itself; the
// others in one of at most `threads` buffers, added to total in shard order
// after each wave of `threads` shards. Every shard starts from zero and total
// is p_0 + p_1 + ... in that order whatever the thread count, so the result
// depends on the shard count only, while memory is total plus
// min(threads, n_shards) buffers (not n_shards of them: a group table of 10^5
// levels is tens of MB).
template <class Body>
void reduce_shards(index_t n_shards, int n_threads, index_t width, double* total, Body&& body) {
  const int threads = static_cast<int>(std::max<index_t>(1, std::min<index_t>(n_threads, n_shards)));
  std::vector<ZeroedBuffer> bufs(static_cast<std::size_t>(threads));
  for (index_t w0 = 0; w0 < n_shards; w0 += threads) {
    const index_t m = std::min<index_t>(threads, n_shards - w0);
    const ShardPlan wave{0, m, m};
    for_each_shard(wave, threads, [&](index_t q) {
      double* out = total;
      if (w0 + q > 0) {
        ZeroedBuffer& b = bufs[static_cast<std::size_t>(q)];
        if (b.size() == width) {
          b.zero();
        } else {
          b.resize(width);
        }
        out = b.data();
      }
      body(w0 + q, out);
    });
    const index_t q0 = w0 == 0 ? 1 : 0;
    if (m <= q0) continue;
    // Element blocks in parallel; each element's sum keeps the shard order.
    const index_t n_blocks = std::max<index_t>(1, std::min<index_t>(4 * threads, width / 16384));
    const ShardPlan blocks = make_plan(0, width, n_blocks);
    const int rt = threads_for_work(static_cast<double>(width * (m - q0)) / 1e9, threads);
    for_each_shard(blocks, rt, [&](index_t e) {
      const index_t e0 = blocks.shard_begin(e), e1 = blocks.shard_end(e);
      for (index_t q = q0; q < m; ++q) {
        const double* FASTCOST_RESTRICT src = bufs[static_cast<std::size_t>(q)].data();
        double* FASTCOST_RESTRICT dst = total;
        for (index_t j = e0; j < e1; ++j) dst[j] += src[j];
      }
    });
  }
}

// ---- the statistics pass ------------------------------------------------------

// A group table: a row per key, the key of a row being the mixed-radix
// combination of its codes in `cats` (the first fastest: key = c_0 + L_0 c_1
// + ...) minus row_skip (a row whose key is negative has none: the arrow's
// reference level). Each row is [s (x - c) (p values) ..., s (y - c_y) at
// y_pos, s at y_pos + 1, ...] plus, for each partner categorical j, s at
// base + code_j - skip_j (nothing when code_j < skip_j). A `padded` table
// has y_pos = p and its partners from group_stride(p) on. One row update per
// input row and table whatever the number of categoricals in the key: a joint
// table of several low-cardinality categoricals costs one update where
// separate tables and their cross-tabulations would cost several, and its
// marginal sums give both (assemble_gram).
struct GroupLayout {
  struct Partner {
    index_t cat = 0, base = 0, skip = 0;
  };
  std::vector<index_t> cats;
  index_t row_skip = 0;
  index_t rows = 0;
  index_t width = 0;
  index_t y_pos = 0;
  bool padded = false;
  std::vector<Partner> partners;
  index_t offset = 0;  // first entry in the pass's buffer
};

// One statistics pass over a mixed design: the dense block's augmented Gram
// tile (compute_gram_stats' kernel and padded upper-triangle layout) and the
// group tables of `layouts`, in one buffer: the tables at their offsets, the
// tile after them (tile_offset). X is read once: each chunk of rows feeds the
// Gram kernel and then, from cache, the group sums.
template <class T>
struct MixedStatsPass {
  MatrixView<T> X;
  const T* y = nullptr;
  const T* sw = nullptr;
  CategoricalView cats;
  std::vector<GroupLayout> layouts;
  std::vector<double> shift;  // p + 1: the dense columns' and y's
  detail::GramKernel kernel{Isa::Baseline, 2};
  index_t pb = 0;             // padded tile dimension
  index_t tile_offset = 0;
  index_t width = 0;          // doubles per shard

  MixedStatsPass(const MatrixView<T>& x, const T* y_, const T* sw_, const CategoricalView& c,
                 std::vector<GroupLayout> lay, std::vector<double> sh)
      : X(x), y(y_), sw(sw_), cats(c), layouts(std::move(lay)), shift(std::move(sh)) {
    kernel = detail::gram_kernel<T>(active_isa(), X.cols);
    pb = detail::padded_gram_dim<T>(kernel, X.cols);
    index_t off = 0;
    for (GroupLayout& g : layouts) {
      g.offset = off;
      off += g.rows * g.width;
    }
    tile_offset = off;
    width = off + pb * pb;
  }

  // Per-shard partial doubles in units of T (the memory rule of default_shard_count).
  index_t partial_units() const { return width * static_cast<index_t>(sizeof(double) / sizeof(T)); }

  // ~n (p + 2)^2 / 2 multiply-adds for the tile, n K (p + 2) adds for the tables.
  double seconds(index_t rows) const {
    const double da = static_cast<double>(X.cols + 2);
    return static_cast<double>(rows) * (da * da * 0.5 / 8e9 + static_cast<double>(layouts.size()) * da / 2e9);
  }

  // Adds the statistics of the row ranges to `out` (width doubles). Returns
  // false, at once, on a code outside its range (check_codes then names it).
  bool shard(const RowBlocks& ranges, double* out) const {
    const index_t p = X.cols;
    constexpr index_t CH = detail::mixed_chunk_rows<T>();
    const Isa isa = active_isa();
    detail::GramPack<T> pack(kernel, p, sw != nullptr);
    double* tile = out + tile_offset;
    const index_t stride = group_stride(p);
    // xt's tail lets every row of a transposed chunk read group_stride(p) values.
    std::vector<T> xt(X.layout == Layout::ColMajor ? static_cast<std::size_t>(CH * p + stride) : 0);
    std::vector<double> c_pad(static_cast<std::size_t>(stride), 0.0);
    std::copy(shift.begin(), shift.begin() + p, c_pad.begin());
    // Rows of X (row-major) that can read group_stride(p) values from their start.
    const index_t over = stride - p;
    const index_t last_safe = p == 0 ? X.rows - 1 : X.rows - 1 - (over + X.ld - 1) / std::max<index_t>(X.ld, 1);
    // Each table's keys: its codes, levels and radices.
    const auto L = static_cast<index_t>(layouts.size());
    std::vector<std::int32_t> keys(static_cast<std::size_t>(L * CH));
    std::vector<std::vector<const std::int32_t*>> key_codes(static_cast<std::size_t>(L));
    std::vector<std::vector<std::int32_t>> key_levels(static_cast<std::size_t>(L)), key_radix(static_cast<std::size_t>(L));
    std::vector<const std::int32_t*> key_ptr;
    std::vector<index_t> wid, ypos, pair_table, pair_skip, pair_base, pair_cat;
    std::vector<char> pref, padded;
    std::vector<double*> tables;
    for (index_t t = 0; t < L; ++t) {
      const GroupLayout& lay = layouts[t];
      std::int32_t radix = 1;
      for (index_t k : lay.cats) {
        key_codes[t].push_back(nullptr);
        key_levels[t].push_back(static_cast<std::int32_t>(std::min<index_t>(cats.levels[k], INT32_MAX)));
        key_radix[t].push_back(radix);
        radix = static_cast<std::int32_t>(std::min<index_t>(radix * cats.levels[k], INT32_MAX));
      }
      key_ptr.push_back(keys.data() + t * CH);
      wid.push_back(lay.width);
      ypos.push_back(lay.y_pos);
      padded.push_back(lay.padded ? 1 : 0);
      pref.push_back(lay.rows * lay.width > detail::kPrefetchTable ? 1 : 0);
      tables.push_back(out + lay.offset);
    }
    std::vector<std::vector<index_t>> pairs_of(static_cast<std::size_t>((L + detail::kFusedTables - 1) / detail::kFusedTables));
    for (index_t t = 0; t < L; ++t) {
      for (const GroupLayout::Partner& q : layouts[t].partners) {
        pairs_of[t / detail::kFusedTables].push_back(static_cast<index_t>(pair_table.size()));
        pair_table.push_back(t % detail::kFusedTables);
        pair_cat.push_back(q.cat);
        pair_skip.push_back(q.skip);
        pair_base.push_back(q.base);
      }
    }
    std::vector<detail::GroupChunk> chunks(pairs_of.size());
    std::vector<std::vector<index_t>> pt(pairs_of.size()), ps(pairs_of.size()), pbs(pairs_of.size());
    std::vector<std::vector<const std::int32_t*>> pc(pairs_of.size());
    for (std::size_t h = 0; h < pairs_of.size(); ++h) {
      const index_t t0 = static_cast<index_t>(h) * detail::kFusedTables;
      detail::GroupChunk& c = chunks[h];
      c.n = std::min(detail::kFusedTables, L - t0);
      c.keys = key_ptr.data() + t0;
      c.width = wid.data() + t0;
      c.y_pos = ypos.data() + t0;
      c.padded = padded.data() + t0;
      c.prefetch = pref.data() + t0;
      c.table = tables.data() + t0;
      for (index_t q : pairs_of[h]) {
        pt[h].push_back(pair_table[q]);
        ps[h].push_back(pair_skip[q]);
        pbs[h].push_back(pair_base[q]);
        pc[h].push_back(nullptr);
      }
      c.n_pairs = static_cast<index_t>(pt[h].size());
      c.pair_table = pt[h].data();
      c.pair_skip = ps[h].data();
      c.pair_base = pbs[h].data();
      c.pair_codes = pc[h].data();
    }
    for (const auto& [r0, r1] : ranges) {
      for (index_t i0 = r0; i0 < r1; i0 += CH) {
        const index_t nb = std::min(CH, r1 - i0);
        // The keys first: a bad code must not index a table.
        for (index_t t = 0; t < L; ++t) {
          for (std::size_t u = 0; u < layouts[t].cats.size(); ++u) key_codes[t][u] = cats.col(layouts[t].cats[u]) + i0;
          bool ok = true;
          detail::table_keys<std::int32_t>(isa, static_cast<const std::int32_t* const*>(key_codes[t].data()),
                                           static_cast<const std::int32_t*>(key_levels[t].data()),
                                           static_cast<const std::int32_t*>(key_radix[t].data()),
                                           static_cast<index_t>(layouts[t].cats.size()),
                                           static_cast<std::int32_t>(layouts[t].row_skip), nb,
                                           keys.data() + t * CH, &ok);
          if (!ok) return false;
        }
        for (std::size_t h = 0; h < chunks.size(); ++h) {
          // Every partner is keyed by some table too, so its codes are checked.
          for (std::size_t q = 0; q < pairs_of[h].size(); ++q) pc[h][q] = cats.col(pair_cat[pairs_of[h][q]]) + i0;
        }
        const T* rows = X.data;
        index_t ld = X.ld;
        index_t safe = std::clamp<index_t>(last_safe - i0 + 1, 0, nb);
        const T* yc = y ? y + i0 : nullptr;
        const T* sc = sw ? sw + i0 : nullptr;
        if (X.layout == Layout::RowMajor || p == 0) {
          pack.run(X, y, sw, shift.data(), i0, i0 + nb, tile);
          if (p > 0) rows = X.row(i0);
        } else {
          // The register transpose and the row-major kernel cost less than
          // the kernel's own column-major packing, and the tables read the
          // same rows.
          detail::transpose_chunk<T>(isa, X, i0, nb, xt.data());
          const MatrixView<T> v{xt.data(), nb, p, p, Layout::RowMajor};
          pack.run(v, yc, sc, shift.data(), 0, nb, tile);
          rows = xt.data();
          ld = p;
          safe = nb;
        }
        for (std::size_t h = 0; h < chunks.size(); ++h) {
          detail::group_rows<T>(isa, static_cast<const detail::GroupChunk*>(&chunks[h]), rows, ld, yc, sc,
                                static_cast<const double*>(c_pad.data()), shift[p], p, nb, safe);
        }
      }
    }
    return true;
  }

  // All shards (each a list of row ranges) summed by reduce_shards into
  // total (width doubles, zero on entry). Codes are checked on the way
  // (check_codes names a bad one).
  void run(const std::vector<RowBlocks>& shards, int threads, double* total) const {
    std::vector<char> bad(shards.size(), 0);
    reduce_shards(static_cast<index_t>(shards.size()), threads, width, total,
                  [&](index_t s, double* out) { bad[s] = shard(shards[s], out) ? 0 : 1; });
    if (std::find(bad.begin(), bad.end(), 1) != bad.end()) {
      check_codes(cats, threads);
      throw std::invalid_argument("a categorical code is outside its levels");  // not reached
    }
  }

  // A NaN/inf in X, y or the weights reaches the tile's diagonal (s z_j^2).
  void check_finite(const double* total) const {
    for (index_t e = 0; e < pb * pb; ++e) {
      if (!std::isfinite(total[tile_offset + e])) throw NonFiniteError("non-finite statistics");
    }
  }
};

// The contiguous row shards of a plan, as MixedStatsPass takes them.
inline std::vector<RowBlocks> plan_ranges(const ShardPlan& plan) {
  std::vector<RowBlocks> out(static_cast<std::size_t>(plan.n_shards));
  for (index_t s = 0; s < plan.n_shards; ++s) out[s].emplace_back(plan.shard_begin(s), plan.shard_end(s));
  return out;
}

// The group tables of the Gram of [dense, members' columns]: the members in
// order, joined while the product of their levels stays within kJointRows;
// each table's rows hold the group sums and, after them, the
// cross-tabulation with each member of the later tables (all levels).
inline std::vector<GroupLayout> gram_layouts(const CategoricalView& cats, const std::vector<index_t>& members,
                                             index_t p) {
  std::vector<std::vector<index_t>> joint;
  index_t rows = 0;
  for (index_t k : members) {
    if (joint.empty() || rows * cats.levels[k] > detail::kJointRows) {
      joint.emplace_back();
      rows = 1;
    }
    joint.back().push_back(k);
    rows *= cats.levels[k];
  }
  std::vector<GroupLayout> out;
  for (std::size_t q = 0; q < joint.size(); ++q) {
    GroupLayout g;
    g.cats = joint[q];
    g.rows = 1;
    for (index_t k : g.cats) g.rows *= cats.levels[k];
    g.y_pos = p;
    g.padded = true;
    index_t w = group_stride(p);
    for (std::size_t r = q + 1; r < joint.size(); ++r) {
      for (index_t j : joint[r]) {
        g.partners.push_back({j, w, 0});
        w += cats.levels[j];
      }
    }
    g.width = w;
    out.push_back(std::move(g));
  }
  return out;
}

// The augmented Gram (D + 2 square, D = p + the members' columns, y at D, the
// ones at D + 1) from a pass's tile and the members' gram_layouts tables
// (layouts [first_layout, ...)): the tile's entries, then each table's rows
// added to the columns of their levels, in row order (a fixed order: the
// marginal sums of a joint table).
template <class T>
std::vector<double> assemble_gram(const MixedStatsPass<T>& pass, const double* total, std::size_t first_layout,
                                  const std::vector<index_t>& members) {
  const CategoricalView& cats = pass.cats;
  const index_t p = pass.X.cols;
  const std::vector<index_t> offs = categorical_offsets(cats, members, p);
  std::vector<index_t> col_of(static_cast<std::size_t>(cats.count()), -1);  // first column of each member
  index_t D = p;
  for (std::size_t q = 0; q < members.size(); ++q) {
    col_of[members[q]] = offs[q];
    D += cats.width(members[q]);
  }
  const index_t dg = D + 2;
  std::vector<double> G(static_cast<std::size_t>(dg * dg), 0.0);
  auto add = [&](index_t i, index_t j, double v) {
    G[i * dg + j] += v;
    if (i != j) G[j * dg + i] += v;
  };
  auto dense = [&](index_t t) { return t < p ? t : t == p ? D : D + 1; };
  const double* tile = total + pass.tile_offset;
  for (index_t a = 0; a < p + 2; ++a) {
    for (index_t b = a; b < p + 2; ++b) add(dense(a), dense(b), tile[a * pass.pb + b]);
  }
  // The column of level l of categorical k, or -1 for its reference level.
  auto column = [&](index_t k, index_t l) { return l < (cats.drop[k] ? 1 : 0) ? -1 : col_of[k] + l - (cats.drop[k] ? 1 : 0); };
  for (std::size_t t = first_layout; t < pass.layouts.size(); ++t) {
    const GroupLayout& g = pass.layouts[t];
    const auto m = g.cats.size();
    std::vector<index_t> level(m, 0), col(m);
    for (index_t r = 0; r < g.rows; ++r) {
      const double* a = total + g.offset + r * g.width;
      for (std::size_t u = 0; u < m; ++u) col[u] = column(g.cats[u], level[u]);
      for (std::size_t u = 0; u < m; ++u) {
        if (col[u] < 0) continue;
        for (index_t e = 0; e < p + 2; ++e) add(col[u], dense(e), a[e]);
        add(col[u], col[u], a[p + 1]);  // the count: z^2 = z for a 0/1 column
        for (std::size_t v = u + 1; v < m; ++v) {
          if (col[v] >= 0) add(col[u], col[v], a[p + 1]);
        }
        for (const GroupLayout::Partner& q : g.partners) {
          for (index_t l = q.skip; l < cats.levels[q.cat]; ++l) {
            const index_t cj = column(q.cat, l);
            if (cj >= 0) add(col[u], cj, a[q.base + l - q.skip]);
          }
        }
      }
      for (std::size_t u = 0; u < m && ++level[u] == cats.levels[g.cats[u]]; ++u) level[u] = 0;
    }
  }
  return G;
}

// Shards of a mixed statistics pass: the caller's count, or the default for a
// partial of the pass's width (the memory rule of compute_gram_stats), and no
// more than keep the partials' zeroing and reduction (a pass over each) within
// a quarter of the data's size: a 10^5-level table (17.6 MB at p = 20) in 4
// shards cost 1e6 x 20 rows a third more than in 2.
template <class T>
ShardPlan mixed_plan(const MixedStatsPass<T>& pass, index_t n_shards) {
  const index_t n = pass.X.rows;
  if (n_shards <= 0) {
    n_shards = default_shard_count(n, pass.X.cols, pass.partial_units());
    const double data = static_cast<double>(n) * static_cast<double>(std::max<index_t>(pass.X.cols, 1)) *
                        static_cast<double>(sizeof(T)) / static_cast<double>(sizeof(double));
    const auto cap = static_cast<index_t>(0.25 * data / static_cast<double>(pass.width));
    n_shards = std::max<index_t>(1, std::min(n_shards, std::max<index_t>(2, cap)));
  }
  return make_plan(0, n, n_shards);
}

// The dense block's shift (p + 1: columns, then y) of a mixed shift
// (D + 1 values), or the first row and its target.
template <class T>
std::vector<double> dense_shift(const MatrixView<T>& X, const T* y, const double* shift, index_t D) {
  if (!shift) return choose_shift(X, y, nullptr);
  std::vector<double> c(shift, shift + X.cols);
  c.push_back(shift[D]);
  return c;
}

// The statistics of the expanded design as compute_gram_stats gives them for
// a dense X: the Gram of [x - c, y - c_y, 1] (D + 2 square) about `shift`
// (D + 1 values; default: the first row of the dense block and its target,
// 0 for the categorical columns). With no categorical it is compute_gram_stats.
template <class T>
GramStats compute_mixed_gram_stats(const MatrixView<T>& X, const CategoricalView& cats, const T* y, const T* sw,
                                   const double* shift, index_t n_shards, int n_threads) {
  X.validate();
  if (cats.count() == 0) return compute_gram_stats(X, y, sw, shift, n_shards, n_threads);
  if (cats.n != X.rows) throw std::invalid_argument("the codes and X have different row counts");
  cats.validate();  // the codes themselves are checked by the pass
  const index_t p = X.cols, D = p + cats.expanded_width();
  const std::vector<index_t> members = all_categoricals(cats);
  MixedStatsPass<T> pass(X, y, sw, cats, gram_layouts(cats, members, p), dense_shift(X, y, shift, D));
  GramStats st;
  st.d = D;
  st.n_rows = X.rows;
  st.shift.assign(static_cast<std::size_t>(D + 1), 0.0);
  std::copy(pass.shift.begin(), pass.shift.begin() + p, st.shift.begin());
  st.shift[D] = pass.shift[p];
  if (X.rows == 0) {
    if (shift) st.shift.assign(shift, shift + D + 1);
    st.gram.assign(static_cast<std::size_t>((D + 2) * (D + 2)), 0.0);
    return st;
  }
  const ShardPlan plan = mixed_plan(pass, n_shards);
  st.n_shards = plan.n_shards;
  std::vector<double> total(static_cast<std::size_t>(pass.width));
  pass.run(plan_ranges(plan), threads_for_work(pass.seconds(X.rows), n_threads), total.data());
  pass.check_finite(total.data());
  st.gram = assemble_gram(pass, total.data(), 0, members);
  if (shift) {
    // The categorical columns were summed about 0; move them to the caller's shift.
    const std::vector<double> want(shift, shift + D + 1);
    if (!std::equal(want.begin() + p, want.begin() + D, st.shift.begin() + p)) st = reshift(st, want);
  }
  return st;
}

// The block-arrow statistics of one categorical `arrow` against the rest of
// the design (the dense block and the other categoricals, expanded): the
// rest's statistics as compute_mixed_gram_stats gives them, and
//   cross[l] = sum over rows with code l + drop[arrow] of s [rest - c, y - c_y, 1]
// (La x (Dr + 2), La = arrow's columns; its last column is the weighted
// count). The caller forms the Schur complement of the arrow's diagonal.
// cross is the pass's own buffer (its first La (Dr + 2) doubles): no copy.
struct ArrowStats {
  GramStats rest;
  ZeroedBuffer buffer;  // cross, then the pass's other sums
  index_t cross_rows = 0, cross_cols = 0;
};

template <class T>
ArrowStats compute_arrow_stats(const MatrixView<T>& X, const CategoricalView& cats, index_t arrow, const T* y,
                               const T* sw, const double* shift, index_t n_shards, int n_threads) {
  X.validate();
  if (arrow < 0 || arrow >= cats.count()) throw std::invalid_argument("arrow is not the index of a categorical");
  if (cats.n != X.rows) throw std::invalid_argument("the codes and X have different row counts");
  cats.validate();  // the codes themselves are checked by the pass
  const index_t p = X.cols;
  std::vector<index_t> members;
  for (index_t k = 0; k < cats.count(); ++k) {
    if (k != arrow) members.push_back(k);
  }
  const std::vector<index_t> offs = categorical_offsets(cats, members, p);
  index_t Dr = p;
  for (index_t k : members) Dr += cats.width(k);
  // The arrow's table first, in the output's layout, so that it is `cross`.
  GroupLayout a;
  a.cats = {arrow};
  a.row_skip = cats.drop[arrow] ? 1 : 0;
  a.rows = cats.width(arrow);
  a.width = Dr + 2;
  a.y_pos = Dr;
  for (std::size_t q = 0; q < members.size(); ++q) {
    a.partners.push_back({members[q], offs[q], cats.drop[members[q]] ? 1 : 0});
  }
  ArrowStats out;
  out.cross_rows = a.rows;
  out.cross_cols = a.width;
  std::vector<GroupLayout> layouts{std::move(a)};
  for (GroupLayout& g : gram_layouts(cats, members, p)) layouts.push_back(std::move(g));
  MixedStatsPass<T> pass(X, y, sw, cats, std::move(layouts), dense_shift(X, y, shift, Dr));
  GramStats& st = out.rest;
  st.d = Dr;
  st.n_rows = X.rows;
  st.shift.assign(static_cast<std::size_t>(Dr + 1), 0.0);
  std::copy(pass.shift.begin(), pass.shift.begin() + p, st.shift.begin());
  st.shift[Dr] = pass.shift[p];
  out.buffer.resize(pass.width);
  if (X.rows > 0) {
    const ShardPlan plan = mixed_plan(pass, n_shards);
    st.n_shards = plan.n_shards;
    pass.run(plan_ranges(plan), threads_for_work(pass.seconds(X.rows), n_threads), out.buffer.data());
    pass.check_finite(out.buffer.data());
  }
  st.gram = assemble_gram(pass, out.buffer.data(), 1, members);
  if (shift) {
    const std::vector<double> want(shift, shift + Dr + 1);
    if (!std::equal(want.begin() + p, want.begin() + Dr, st.shift.begin() + p)) {
      // Indicator columns about c_j: cross[l][j] = sum s (z_j - c_j) = table - c_j count.
      for (index_t l = 0; l < out.cross_rows; ++l) {
        double* row = out.buffer.data() + l * out.cross_cols;
        for (index_t j = p; j < Dr; ++j) row[j] -= want[j] * row[Dr + 1];
      }
      st = reshift(st, want);
    }
  }
  return out;
}

}  // namespace fastcost
