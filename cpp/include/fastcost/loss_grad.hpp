// Fused weighted squared loss and gradient: ONE read of X, no residual vector
// of length n (residuals live in a block-sized buffer at most).
//
// For parameters (w, b) over rows [r0, r1) it returns the raw sums
//     sum s r^2,  sum s r,  sum s r x,  sum s       with r = x^T w + b - y,
// which the solvers turn into a loss and gradient (and Dask adds across chunks).
// The same pass takes up to three such "probes" at once (probe_sums): lbfgs
// gets the gradient at its iterate and the Hessian times its search direction
// from one read of X.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "fastcost/block_tree.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

struct LossGradSums {
  double sum_w = 0.0;     // sum s
  double sum_wr2 = 0.0;   // sum s r^2
  double sum_wr = 0.0;    // sum s r
  std::vector<double> sum_wrx;  // sum s r x (length d)
};

namespace detail {

// The kernel's blocks are the pairwise tree's (block_tree.hpp).
constexpr index_t kLossGradBlock = kTreeBlockRows;

// Rows a default shard of a fused pass holds at least: 4,096 short rows (up to
// 512 bytes: the shard's partial and its reduction then cost next to
// nothing), fewer long ones, so that a shard holds about 2 MiB of X and no
// fewer than one block of rows: short, wide X (5,000 x 4,000) still makes
// shards for every core.
inline index_t pass_min_rows(index_t row_bytes) {
  return std::clamp<index_t>((index_t{2} << 20) / std::max<index_t>(row_bytes, 1), kLossGradBlock, 4096);
}
// Rows per group of the row-major loop (even, dividing kLossGradBlock): four
// for one probe (the plain loss and gradient: eight measured 1.1-1.2x slower on
// one thread at 2M x 100), eight for more (the accumulators are loaded and
// stored once per group; 3 probes ran 1.6x faster in cache).
template <int K>
constexpr int row_group() {
  return K == 1 ? 4 : 8;
}

// Rows to prefetch ahead of the row-major loop: about 12 KB of X (into L1),
// measured best on the 2M x 100 (16 rows) and 1M x 20 cases. Rows over 2 KB
// get none: the hardware prefetcher follows long rows by itself and software
// prefetch of four long rows evicts the group the second sweep re-reads (d = 1000:
// 1.16x numpy X @ v without, 1.3x with).
inline index_t prefetch_rows(index_t row_bytes) {
  if (row_bytes > 2048) return 0;
  return std::min<index_t>(64, std::max<index_t>(16, 12288 / std::max<index_t>(row_bytes, 1)));
}

// G rows at once (row-major X) against ND vectors: G ND independent dot
// products from one read of the rows, r[k][q] = x_q^T w_k. The accumulation
// below (grad_update_rows) then re-reads the G rows from L1.
template <class T, int W, int ND, int G>
FASTCOST_INLINE void dots_rows(const T* const* xs, const T* const* w, index_t d, T (*r)[G]) {
  constexpr int L = simd::lanes<T, W>();
  using V = simd::vec_t<T, W>;
  V a[ND][G] = {};
  index_t j = 0;
  for (; j + L <= d; j += L) {
    V v[G];
    for (int q = 0; q < G; ++q) v[q] = simd::load<T, W>(xs[q] + j);
    for (int k = 0; k < ND; ++k) {
      const V wv = simd::load<T, W>(w[k] + j);
      for (int q = 0; q < G; ++q) a[k][q] += v[q] * wv;
    }
  }
  for (int k = 0; k < ND; ++k) {
    for (int q = 0; q < G; ++q) {
      if constexpr (W > 16) {
        using H = simd::vec_t<T, W / 2>;
        H h = simd::low_half<T, W>(a[k][q]) + simd::high_half<T, W>(a[k][q]);
        if (j + L / 2 <= d) h += simd::load<T, W / 2>(xs[q] + j) * simd::load<T, W / 2>(w[k] + j);
        r[k][q] = simd::hsum<T, W / 2>(h);
      } else {
        r[k][q] = simd::hsum<T, W>(a[k][q]);
      }
    }
  }
  if constexpr (W > 16) {
    if (j + L / 2 <= d) j += L / 2;
  }
  for (; j < d; ++j) {
    for (int k = 0; k < ND; ++k) {
      for (int q = 0; q < G; ++q) r[k][q] += xs[q][j] * w[k][j];
    }
  }
}

// acc_k += sum_q c[k][q] x_q for the K accumulators: the G rows are loaded
// once per column chunk whatever K is, and each accumulator chunk is loaded
// and stored once per G rows.
template <class T, int W, int K, int G>
FASTCOST_INLINE void grad_update_rows(T* const* acc, const T* const* xs, const T (*c)[G], index_t d) {
  constexpr int L = simd::lanes<T, W>();
  using V = simd::vec_t<T, W>;
  index_t j = 0;
  for (; j + L <= d; j += L) {
    V v[G];
    for (int q = 0; q < G; ++q) v[q] = simd::load<T, W>(xs[q] + j);
    for (int k = 0; k < K; ++k) {
      V u = v[0] * c[k][0], t = v[1] * c[k][1];
      for (int q = 2; q + 1 < G; q += 2) {
        u += v[q] * c[k][q];
        t += v[q + 1] * c[k][q + 1];
      }
      simd::store<T, W>(acc[k] + j, simd::load<T, W>(acc[k] + j) + (u + t));
    }
  }
  if constexpr (W > 16) {
    if (j + L / 2 <= d) {
      using H = simd::vec_t<T, W / 2>;
      H v[G];
      for (int q = 0; q < G; ++q) v[q] = simd::load<T, W / 2>(xs[q] + j);
      for (int k = 0; k < K; ++k) {
        H u = v[0] * c[k][0], t = v[1] * c[k][1];
        for (int q = 2; q + 1 < G; q += 2) {
          u += v[q] * c[k][q];
          t += v[q + 1] * c[k][q + 1];
        }
        simd::store<T, W / 2>(acc[k] + j, simd::load<T, W / 2>(acc[k] + j) + (u + t));
      }
      j += L / 2;
    }
  }
  for (; j < d; ++j) {
    for (int k = 0; k < K; ++k) {
      T u = xs[0][j] * c[k][0], t = xs[1][j] * c[k][1];
      for (int q = 2; q + 1 < G; q += 2) {
        u += xs[q][j] * c[k][q];
        t += xs[q + 1][j] * c[k][q + 1];
      }
      acc[k][j] += u + t;
    }
  }
}

// Index of the pair (k, l), k <= l, in the packed upper triangle of a K x K matrix.
constexpr int pair_index(int k, int l, int K) { return k * K - k * (k - 1) / 2 + (l - k); }

// probe_shard_impl's per-row terms: none (the dense probes, whose code this
// leaves as it was). A type with kActive = true adds a term t_k(i) to each row's
// probes (categorical_pass.hpp: the row's level coefficients) and is handed each
// block of rows [i0, i0 + nb) twice:
//   add<K>(i0, nb, u): u[k][i] holds b_k - y at row i0 + i; add t_k(i0 + i) to it;
//   sums<K>(i0, nb, su, tail): su[k][i] is s u_k at row i0 + i; tail points just
//   past the kernel's own sums in out (its own sums go there).
struct NoRowTerms {
  static constexpr bool kActive = false;
  template <int K, class... A>
  void add(A...) const {}
  template <int K, class... A>
  void sums(A...) const {}
};

// Probes u_k = x^T w_k + b_k - (minus_y_k ? y : 0) (+ t_k(i): terms), k < K, over rows [r0, r1);
// the first ND have a vector w_k, the others w_k = 0 (no dot product). Adds to out, in this order:
// K blocks of d values sum s u_k x, then sum s, then K values sum s u_k, then the
// K (K + 1) / 2 products sum s u_k u_l (k <= l, packed by rows), then what terms adds.
// buf: K d + 2 K NB values of T. With a tree, each block's sums go to it as
// block block0 + i0 / NB (r0 a multiple of NB) and out, zeros on entry, is
// its scratch.
template <class T, int W, int K, int ND, class Terms>
FASTCOST_INLINE void probe_shard_impl(MatrixView<T> X, const T* y, const T* sw, const T* const* w, const T* b,
                                      const bool* minus_y, index_t r0, index_t r1, double* out, T* buf,
                                      const Terms& terms, BlockTree* tree, index_t block0) {
  constexpr bool kTerms = Terms::kActive;
  constexpr index_t NB = kLossGradBlock;
  constexpr int P = K * (K + 1) / 2;
  constexpr int G = row_group<K>();
  const index_t d = X.cols;
  T* acc[K];
  T* u[K];
  T* su[K];
  for (int k = 0; k < K; ++k) {
    acc[k] = buf + k * d;
    u[k] = buf + K * d + k * NB;
    su[k] = buf + K * d + (K + k) * NB;
  }
  double* o_w = out + K * d;
  double* o_u = o_w + 1;
  double* o_uu = o_u + K;
  auto offset = [&](int k, index_t i) { return b[k] - (minus_y[k] && y ? y[i] : T(0)); };
  for (index_t i0 = r0; i0 < r1; i0 += NB) {
    const index_t nb = std::min(NB, r1 - i0);
    // With row terms the block's offsets are u: b - y, then the terms added.
    if constexpr (kTerms) {
      for (int k = 0; k < K; ++k) {
        for (index_t i = 0; i < nb; ++i) u[k][i] = offset(k, i0 + i);
      }
      terms.template add<K>(i0, nb, static_cast<T* const*>(u));
    }
    T lw = 0, lu[K] = {}, luu[P] = {};
    if (X.layout == Layout::RowMajor) {
      for (int k = 0; k < K; ++k) std::fill(acc[k], acc[k] + d, T(0));
      index_t i = i0;
      const auto row_bytes = static_cast<index_t>(static_cast<std::size_t>(d) * sizeof(T));
      const index_t pf = prefetch_rows(row_bytes);
      for (; i + G <= i0 + nb; i += G) {
        // Software prefetch (prefetcht0): the hardware prefetcher alone leaves
        // the stream ~1.3x short of numpy's X @ v between the two sweeps.
        if (pf > 0 && i + pf + G <= r1) {
          for (int q = 0; q < G; ++q) {
            const char* p = reinterpret_cast<const char*>(X.row(i + pf + q));
            for (index_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
          }
        }
        const T* xs[G];
        for (int q = 0; q < G; ++q) xs[q] = X.row(i + q);
        T rr[K][G] = {}, c[K][G];
        if constexpr (ND > 0) dots_rows<T, W, ND, G>(xs, w, d, rr);
        for (int q = 0; q < G; ++q) {
          const T s = sw ? sw[i + q] : T(1);
          lw += s;
          for (int k = 0; k < K; ++k) {
            rr[k][q] += kTerms ? u[k][i - i0 + q] : offset(k, i + q);
            c[k][q] = s * rr[k][q];
            lu[k] += c[k][q];
            if constexpr (kTerms) su[k][i - i0 + q] = c[k][q];
          }
          for (int k = 0; k < K; ++k) {
            for (int l = k; l < K; ++l) luu[pair_index(k, l, K)] += c[k][q] * rr[l][q];
          }
        }
        grad_update_rows<T, W, K, G>(acc, xs, c, d);
      }
      for (; i < i0 + nb; ++i) {
        const T* xi = X.row(i);
        const T s = sw ? sw[i] : T(1);
        lw += s;
        T ri[K];
        for (int k = 0; k < K; ++k) {
          ri[k] = (k < ND ? simd::dot<T, W>(xi, w[k], d) : T(0)) + (kTerms ? u[k][i - i0] : offset(k, i));
          if constexpr (kTerms) su[k][i - i0] = s * ri[k];
          lu[k] += s * ri[k];
          simd::axpy<T, W>(acc[k], s * ri[k], xi, d);
        }
        for (int k = 0; k < K; ++k) {
          for (int l = k; l < K; ++l) luu[pair_index(k, l, K)] += s * ri[k] * ri[l];
        }
      }
      for (int k = 0; k < K; ++k) {
        for (index_t j = 0; j < d; ++j) out[k * d + j] += static_cast<double>(acc[k][j]);
      }
    } else {
      for (int k = 0; k < K; ++k) {
        if constexpr (!kTerms) {
          for (index_t i = 0; i < nb; ++i) u[k][i] = offset(k, i0 + i);
        }
        if (k < ND) {
          for (index_t j = 0; j < d; ++j) simd::axpy<T, W>(u[k], w[k][j], X.col(j) + i0, nb);
        }
      }
      for (index_t i = 0; i < nb; ++i) {
        const T s = sw ? sw[i0 + i] : T(1);
        lw += s;
        for (int k = 0; k < K; ++k) {
          su[k][i] = s * u[k][i];
          lu[k] += su[k][i];
        }
        for (int k = 0; k < K; ++k) {
          for (int l = k; l < K; ++l) luu[pair_index(k, l, K)] += su[k][i] * u[l][i];
        }
      }
      for (index_t j = 0; j < d; ++j) {
        for (int k = 0; k < K; ++k) out[k * d + j] += static_cast<double>(simd::dot<T, W>(X.col(j) + i0, su[k], nb));
      }
    }
    *o_w += static_cast<double>(lw);
    for (int k = 0; k < K; ++k) o_u[k] += static_cast<double>(lu[k]);
    for (int p = 0; p < P; ++p) o_uu[p] += static_cast<double>(luu[p]);
    if constexpr (kTerms) terms.template sums<K>(i0, nb, static_cast<const T* const*>(su), o_uu + P);
    if (tree) tree->push_block(block0 + i0 / NB, out);
  }
}

// K probes of which the first ND have vectors (the others' w_k are zero
// vectors in `w`): the combinations the solvers use get their own code; any
// other runs as ND = K, reading the zero vectors.
constexpr bool has_probe_kernel(int K, int ND) {
  return (K == 1 && ND == 1) || (K == 2 && (ND == 1 || ND == 2)) || (K == 3 && (ND == 1 || ND == 3));
}

template <class T, int W, class Terms>
FASTCOST_INLINE void probe_shard_body(int K, int ND, MatrixView<T> X, const T* y, const T* sw, const T* const* w,
                                      const T* b, const bool* minus_y, index_t r0, index_t r1, double* out, T* buf,
                                      Terms terms, BlockTree* tree, index_t block0) {
  const int key = K * 4 + (has_probe_kernel(K, ND) ? ND : K);
  switch (key) {
    case 1 * 4 + 1: probe_shard_impl<T, W, 1, 1>(X, y, sw, w, b, minus_y, r0, r1, out, buf, terms, tree, block0); break;
    case 2 * 4 + 1: probe_shard_impl<T, W, 2, 1>(X, y, sw, w, b, minus_y, r0, r1, out, buf, terms, tree, block0); break;
    case 2 * 4 + 2: probe_shard_impl<T, W, 2, 2>(X, y, sw, w, b, minus_y, r0, r1, out, buf, terms, tree, block0); break;
    case 3 * 4 + 1: probe_shard_impl<T, W, 3, 1>(X, y, sw, w, b, minus_y, r0, r1, out, buf, terms, tree, block0); break;
    default: probe_shard_impl<T, W, 3, 3>(X, y, sw, w, b, minus_y, r0, r1, out, buf, terms, tree, block0); break;
  }
}

FASTCOST_MULTIVERSION(probe_shard, probe_shard_body)

}  // namespace detail

// One probe of probe_sums: u = x^T w + b - y (with_y) or x^T w + b; w null: zero.
struct Probe {
  const double* w = nullptr;
  double b = 0.0;
  bool with_y = true;
};

// The sums of one pass over X for up to kMaxProbes probes.
struct ProbeSums {
  int k = 0;
  index_t d = 0;
  double sum_w = 0.0;             // sum s
  std::vector<double> sum_ux;     // k blocks of d: sum s u_k x
  std::vector<double> sum_u;      // sum s u_k
  std::vector<double> sum_uu;     // k x k, row-major: sum s u_k u_l

  const double* ux(int i) const { return sum_ux.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(d); }
  double uu(int i, int j) const { return sum_uu[static_cast<std::size_t>(i * k + j)]; }
};

constexpr int kMaxProbes = 3;

namespace detail {

// The sums of K probes over d columns, all zero (what a pass over no rows gives).
inline ProbeSums zero_probe_sums(int K, index_t d) {
  ProbeSums res;
  res.k = K;
  res.d = d;
  res.sum_ux.assign(static_cast<std::size_t>(K * d), 0.0);
  res.sum_u.assign(static_cast<std::size_t>(K), 0.0);
  res.sum_uu.assign(static_cast<std::size_t>(K * K), 0.0);
  return res;
}

// The probes with vectors first (the kernels' order): order[i] is the
// caller's index of the i-th; returns how many have a vector.
inline int probe_order(const std::vector<Probe>& probes, int* order) {
  const auto K = static_cast<int>(probes.size());
  int nd = 0;
  for (int k = 0; k < K; ++k) {
    if (probes[k].w) order[nd++] = k;
  }
  for (int k = 0, i = nd; k < K; ++k) {
    if (!probes[k].w) order[i++] = k;
  }
  return nd;
}

// The scalars of a probe pass from its packed sums (sum s, then sum s u per
// probe, then the pairs' sum s u_i u_j), the probes packed in `order`.
inline void unpack_probe_scalars(const double* packed, int K, const int* order, ProbeSums& res) {
  res.sum_w = packed[0];
  for (int i = 0; i < K; ++i) {
    const int k = order[i];
    res.sum_u[k] = packed[1 + i];
    for (int l = i; l < K; ++l) {
      const double v = packed[1 + K + pair_index(i, l, K)];
      res.sum_uu[k * K + order[l]] = v;
      res.sum_uu[order[l] * K + k] = v;
    }
  }
}

}  // namespace detail

namespace detail {

// The probes of one pass as the kernels take them (those with vectors first,
// in X's dtype), what one shard of rows adds for them, and their shards'
// partial sums reduced into ProbeSums: probe_sums and the lockstep read of
// several targets (lockstep.hpp) run the same arithmetic through this.
template <class T>
class ProbeBatch {
 public:
  ProbeBatch(const std::vector<Probe>& probes, index_t d) : K_(static_cast<int>(probes.size())), d_(d) {
    if (K_ < 1 || K_ > kMaxProbes) throw std::invalid_argument("probe_sums takes one to three probes");
    nd_ = probe_order(probes, order_);
    wt_.assign(static_cast<std::size_t>(K_ * d), T(0));
    for (int i = 0; i < K_; ++i) {
      const Probe& pr = probes[order_[i]];
      if (pr.w) {
        for (index_t j = 0; j < d; ++j) wt_[i * d + j] = static_cast<T>(pr.w[j]);
      }
      bt_[i] = static_cast<T>(pr.b);
      my_[i] = pr.with_y;
    }
  }

  int probes() const { return K_; }
  // Doubles of one shard's partial sums.
  index_t width() const { return K_ * d_ + 1 + K_ + K_ * (K_ + 1) / 2; }
  // Values of T in a shard's working buffer.
  std::size_t buffer_size() const { return static_cast<std::size_t>(K_ * d_ + 2 * K_ * kLossGradBlock); }
  // The shard count probe_sums uses for n_shards (0: the default for this width).
  index_t shard_count(index_t n, index_t n_shards) const {
    return n_shards > 0 ? n_shards : default_shard_count(n, d_, width(), pass_min_rows(d_ * index_t{sizeof(T)}));
  }

  // Adds the sums of rows [r0, r1) (r0 a multiple of kLossGradBlock) to
  // `tree` as blocks block0 + i / kLossGradBlock; scratch: width() zeros.
  // A shard's rows may come in consecutive pieces of whole blocks.
  void add_rows(Isa isa, const MatrixView<T>& X, const T* y, const T* sw, index_t r0, index_t r1, BlockTree& tree,
                index_t block0, double* scratch, T* buf) const {
    const T* wp[kMaxProbes] = {};
    for (int i = 0; i < K_; ++i) wp[i] = wt_.data() + i * d_;
    probe_shard<T>(isa, K_, nd_, X, y, sw, static_cast<const T* const*>(wp), static_cast<const T*>(bt_),
                   static_cast<const bool*>(my_), r0, r1, scratch, buf, NoRowTerms{}, &tree, block0);
  }

  // The sums of a pass (width() values: the total of its BlockTree) as ProbeSums.
  ProbeSums unpack(const std::vector<double>& total) const {
    if (static_cast<index_t>(total.size()) != width()) throw std::invalid_argument("probe sums of another width");
    ProbeSums res = zero_probe_sums(K_, d_);
    for (int i = 0; i < K_; ++i) {
      std::copy(total.begin() + i * d_, total.begin() + (i + 1) * d_, res.sum_ux.begin() + order_[i] * d_);
    }
    unpack_probe_scalars(total.data() + K_ * d_, K_, order_, res);
    return res;
  }

 private:
  int K_;
  index_t d_;
  int nd_ = 0;
  int order_[kMaxProbes] = {};  // order_[i]: the caller's index of the kernel's i-th probe
  std::vector<T> wt_;
  T bt_[kMaxProbes] = {};
  bool my_[kMaxProbes] = {};
};

}  // namespace detail

// The block sums of a probe pass over X, whose first row starts block
// `block0` (block_tree.hpp): the shards hold whole blocks.
template <class T>
BlockTree probe_tree(const MatrixView<T>& X, const T* y, const T* sample_weight, const std::vector<Probe>& probes,
                     index_t block0, index_t n_shards, int n_threads) {
  X.validate();
  const index_t n = X.rows, d = X.cols;
  const detail::ProbeBatch<T> batch(probes, d);
  const index_t width = batch.width();
  if (n == 0) return BlockTree(width);
  const BlockShards shards(n, batch.shard_count(n, n_shards));
  std::vector<BlockTree> trees(static_cast<std::size_t>(shards.count()), BlockTree(width));
  const Isa isa = active_isa();
  // Memory-bound: ~n d sizeof(T) bytes at ~10 GB/s on one core.
  const int threads = threads_for_work(static_cast<double>(n) * static_cast<double>(d) * sizeof(T) / 1e10, n_threads);
  for_each_shard(shards.blocks, threads, [&](index_t s) {
    std::vector<T> buf(batch.buffer_size());
    std::vector<double> scratch(static_cast<std::size_t>(width), 0.0);
    batch.add_rows(isa, X, y, sample_weight, shards.row_begin(s), shards.row_end(s), trees[s], block0, scratch.data(),
                   buf.data());
  });
  return join_trees(trees, width);
}

// ONE read of X for up to three probes: the loss and gradient at a point, a
// Hessian-vector product along a direction, or the column sums (w = 0, b = 1)
// all come from the same fused pass. The sums are the same bits for any
// thread count, shard count, or split of the rows into parts (block_tree.hpp).
template <class T>
ProbeSums probe_sums(const MatrixView<T>& X, const T* y, const T* sample_weight, const std::vector<Probe>& probes,
                     index_t n_shards, int n_threads) {
  const detail::ProbeBatch<T> batch(probes, X.cols);
  return batch.unpack(probe_tree(X, y, sample_weight, probes, 0, n_shards, n_threads).total());
}

// The fused loss and gradient: probe_sums with the one probe r = x^T w + b - y.
template <class T>
LossGradSums loss_grad_sums(const MatrixView<T>& X, const T* y, const T* sample_weight, const double* w,
                            double b, index_t n_shards, int n_threads) {
  ProbeSums p = probe_sums(X, y, sample_weight, {Probe{w, b, true}}, n_shards, n_threads);
  LossGradSums res;
  res.sum_w = p.sum_w;
  res.sum_wr2 = p.sum_uu[0];
  res.sum_wr = p.sum_u[0];
  res.sum_wrx = std::move(p.sum_ux);
  return res;
}

}  // namespace fastcost
