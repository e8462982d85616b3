// The "meat" of robust (sandwich) covariances in ONE read of X.
//
// For a fitted model theta = [b, w] about a shift c (z = [1, x - c], or x - c
// without an intercept), residuals e = y - z^T theta and a matrix K with
// K K^T = H^-1 (H the bread: the weighted Gram, plus the ridge penalty), each
// row's whitened design v = K^T z gives its leverage h = s ||v||^2, and
//     HC0/HC1: meat = sum s^2 e^2 v v^T
//     HC2:     meat = sum s^2 e^2 / (1 - h) v v^T
//     HC3:     meat = sum s^2 e^2 / (1 - h)^2 v v^T
//     cluster: scores[g] = sum_{i in g} s e v   (the meat is sum_g scores scores^T)
// all in the coordinates of v, so the covariance is K meat K^T. Working in v
// rather than z keeps the meat well scaled: the cancellation that makes z^T H^-1 z
// lose digits on an ill-conditioned design happens once, in K, not in a sum.
//
// The pass is blocked: a block of rows is packed as z, V = Z [K | theta] is
// one small register-tiled product (its last column is the fitted value, so e
// costs nothing extra), and the meat takes V^T diag(weights) V through the
// Gram pass's tile kernel (gram.hpp). Per row that is about twice the
// multiply-adds of the Gram pass (p^2 / 2 for V with a triangular K, p^2 / 2
// for the weighted Gram), all in vector registers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "fastcost/gram.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

enum class MeatKind { HC0, HC2, HC3, Cluster };

// The fitted model and the bread the pass needs. Pointers are caller-owned.
struct SandwichModel {
  const double* w = nullptr;      // d coefficients
  double b = 0.0;                 // intercept about the shift (ignored without one)
  const double* shift = nullptr;  // d values subtracted from x; null: none
  bool intercept = true;          // z = [1, x - c] (p = d + 1) or x - c (p = d)
  const double* K = nullptr;      // p x p, row-major; v = K^T z
  bool K_upper = false;           // K is upper triangular: v_k needs z_0..z_k only
  MeatKind kind = MeatKind::HC0;
  const std::int32_t* codes = nullptr;  // cluster of each row, in [0, n_groups)
  index_t n_groups = 0;
};

struct SandwichSums {
  index_t p = 0;
  std::vector<double> meat;    // p x p, row-major (HC kinds; zeros for cluster)
  std::vector<double> scores;  // n_groups x p, row-major (cluster only)
  index_t n_shards = 0;
};

// Rows per block of the pass (the Gram kernel's block for double: one packed
// panel of it stays in L1 while the tiles stream past). Block boundaries fall
// at the shard's first row plus multiples of this, whatever the thread count.
constexpr index_t kSandwichBlock = 128;

namespace detail {

// Rows of the V = Z K register tile (GM rows x NV vectors of columns): 24 or 8
// accumulators of AVX-512's 32 registers, 12 or 8 of the 16 of the others.
// Each row of the tile is one more pointer into z: 16 rows of one vector
// spilled them and ran 3 % slower than 8 at d = 20.
template <int W, int NV>
constexpr int sandwich_gm() {
  return W == 64 ? (NV == 1 ? 8 : 12) : W == 32 ? 6 : 4;
}

// What every block of the pass shares (read-only).
template <class T>
struct SandwichPass {
  MatrixView<T> X;
  const T* y = nullptr;
  const T* sw = nullptr;
  const SandwichModel* mdl = nullptr;
  const double* shift = nullptr;  // d values (zeros when the model has none)
  const double* kp = nullptr;     // [K | theta] in panels of NR columns: panel h is p x NR, row-major
  index_t p = 0;                  // width of z and v
  index_t gb = 0;                 // panels of [K | theta] (p + 1 columns, padded to NR)
  index_t pm = 0;                 // order of the meat partial (p padded to NR)
};

// One shard's scratch: z (row-major), V and weights * V in panels of NR columns.
struct SandwichScratch {
  SandwichScratch(index_t p, index_t gb, index_t nr, index_t nbp)
      : z(static_cast<std::size_t>(nbp * std::max<index_t>(p, 1))), v(static_cast<std::size_t>(gb * nbp * nr)),
        wv(static_cast<std::size_t>(gb * nbp * nr)) {}
  Scratch<double> z, v, wv;
};

// Packs rows [i0, i0 + m) of X as z in double, row-major (row stride p), so
// that a row-major X packs with vector loads and stores; rows m .. mg - 1 are zero.
template <class T, int W>
FASTCOST_INLINE void sandwich_pack_z(const SandwichPass<T>& ps, index_t i0, index_t m, index_t mg,
                                     double* FASTCOST_RESTRICT z) {
  constexpr int L = simd::lanes<double, W>();
  const MatrixView<T>& X = ps.X;
  const index_t d = X.cols, p = ps.p;
  const index_t off = ps.mdl->intercept ? 1 : 0;
  const double* FASTCOST_RESTRICT c = ps.shift;
  std::fill(z + m * p, z + mg * p, 0.0);
  if (off) {
    for (index_t r = 0; r < m; ++r) z[r * p] = 1.0;
  }
  if (X.layout == Layout::RowMajor) {
    for (index_t r = 0; r < m; ++r) {
      const T* FASTCOST_RESTRICT x = X.row(i0 + r);
      double* FASTCOST_RESTRICT zr = z + r * p + off;
      index_t j = 0;
      for (; j + L <= d; j += L) {
        simd::vec_t<double, W> xv;
        if constexpr (sizeof(T) == sizeof(double)) {
          xv = simd::load<double, W>(x + j);
        } else {  // float32: L floats widened to double
          xv = __builtin_convertvector((simd::load<T, W / 2>(x + j)), simd::vec_t<double, W>);
        }
        simd::store<double, W>(zr + j, xv - simd::load<double, W>(c + j));
      }
      if constexpr (W > 16 && sizeof(T) == sizeof(double)) {  // a half vector: the tail of d = 20 in one step
        if (j + L / 2 <= d) {
          simd::store<double, W / 2>(zr + j, simd::load<double, W / 2>(x + j) - simd::load<double, W / 2>(c + j));
          j += L / 2;
        }
      }
      for (; j < d; ++j) zr[j] = static_cast<double>(x[j]) - c[j];
    }
    return;
  }
  for (index_t j = 0; j < d; ++j) {
    const T* FASTCOST_RESTRICT col = X.col(j) + i0;
    const double cj = c[j];
    double* FASTCOST_RESTRICT zj = z + off + j;
    for (index_t r = 0; r < m; ++r) zj[r * p] = static_cast<double>(col[r]) - cj;
  }
}

// out (GM rows, row stride NR) = GM rows of z (row stride p) times one panel
// of [K | theta] (NR columns), over the panel's first a_end rows.
template <int W, int NV, int GM>
FASTCOST_INLINE void sandwich_zk_tile(const double* FASTCOST_RESTRICT zg, index_t p,
                                      const double* FASTCOST_RESTRICT kp, index_t a_end,
                                      double* FASTCOST_RESTRICT out) {
  constexpr int L = simd::lanes<double, W>();
  constexpr int NR = NV * L;
  using V = simd::vec_t<double, W>;
  V acc[GM][NV];
#pragma GCC unroll 16
  for (int r = 0; r < GM; ++r) {
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  }
  for (index_t a = 0; a < a_end; ++a) {
    V kb[NV];
    for (int v = 0; v < NV; ++v) kb[v] = simd::load<double, W>(kp + a * NR + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < GM; ++r) {
      const double za = zg[r * p + a];
      for (int v = 0; v < NV; ++v) acc[r][v] += kb[v] * za;
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < GM; ++r) {
    for (int v = 0; v < NV; ++v) simd::store<double, W>(out + r * NR + v * L, acc[r][v]);
  }
}

// The weight of a row's outer product in the HC meat: s^2 e^2 f(h).
template <MeatKind Kind>
FASTCOST_INLINE double hc_weight(double s, double e, double h) {
  const double base = s * s * e * e;
  if constexpr (Kind == MeatKind::HC2) {
    return base / (1.0 - h);
  } else if constexpr (Kind == MeatKind::HC3) {
    return base / ((1.0 - h) * (1.0 - h));
  } else {
    (void)h;
    return base;
  }
}

// Where the V panels of a block live: row r, column k at
// v[(k / NR) * panel + r * NR + k % NR].
struct SandwichBlock {
  double* v;
  double* wv;
  index_t panel;   // values per panel
  index_t gb;      // panels
  index_t fit_at;  // column p (the fitted value) of row 0
};

// Reads each row's fitted value from V (e = y - fit) and, for an HC kind,
// writes weight * v into wv; for the cluster kind adds s e v to the row's
// group. The fitted value stays in V: it only reaches row and column p of the
// meat tile, which nobody reads, and the leverage masks it out (clearing it
// with a scalar store would stall the vector loads of the row that follow).
// A zero-weight row is not an observation: its V row is cleared, so it adds
// nothing even where x or y is not finite.
template <class T, int W, int NV, MeatKind Kind>
FASTCOST_INLINE void sandwich_weigh(const SandwichPass<T>& ps, const SandwichBlock& blk, index_t i0, index_t m,
                                    double* scores) {
  constexpr int L = simd::lanes<double, W>();
  constexpr int NR = NV * L;
  using V = simd::vec_t<double, W>;
  const SandwichModel& mdl = *ps.mdl;
  const index_t p = ps.p, gb = blk.gb, panel = blk.panel;
  const index_t fit_vec = (p / NR) * NV + (p % NR) / L;  // the vector of a row's panels holding the fit
  V keep;
  for (int l = 0; l < L; ++l) keep[l] = l == p % L ? 0.0 : 1.0;
  for (index_t r = 0; r < m; ++r) {
    const index_t row = i0 + r;
    double* vr = blk.v + r * NR;
    double* wr = blk.wv + r * NR;
    const double e = static_cast<double>(ps.y[row]) - vr[blk.fit_at];
    const double s = ps.sw ? static_cast<double>(ps.sw[row]) : 1.0;
    if (s == 0.0) {
      for (index_t h = 0; h < gb; ++h) {
        std::fill(vr + h * panel, vr + h * panel + NR, 0.0);
        std::fill(wr + h * panel, wr + h * panel + NR, 0.0);
      }
      continue;
    }
    if constexpr (Kind == MeatKind::Cluster) {
      const std::int32_t g = mdl.codes[row];
      if (g < 0 || g >= mdl.n_groups) throw std::invalid_argument("cluster code out of range");
      double* sg = scores + static_cast<index_t>(g) * p;
      for (index_t h = 0; h * NR < p; ++h) {
        simd::axpy<double, W>(sg + h * NR, s * e, vr + h * panel, std::min<index_t>(NR, p - h * NR));
      }
    } else {
      double lev = 0.0;
      if constexpr (Kind != MeatKind::HC0) {  // the leverage s ||v||^2
        V sq = V{};
        for (index_t h = 0; h < gb; ++h) {
          for (int u = 0; u < NV; ++u) {
            V x = simd::load<double, W>(vr + h * panel + u * L);
            if (h * NV + u == fit_vec) x *= keep;
            sq += x * x;
          }
        }
        lev = s * simd::hsum<double, W>(sq);
      }
      const double c = hc_weight<Kind>(s, e, lev);
      for (index_t h = 0; h < gb; ++h) {
        for (int u = 0; u < NV; ++u) {
          simd::store<double, W>(wr + h * panel + u * L, simd::load<double, W>(vr + h * panel + u * L) * c);
        }
      }
    }
  }
}

// Rows [r0, r1) of the pass: adds to `meat` (pm x pm, upper-triangle tiles) or
// to `scores` (n_groups x p) for the cluster kind.
template <class T, int W, int NV>
FASTCOST_INLINE void sandwich_rows_body(const SandwichPass<T>* pass, index_t r0, index_t r1, double* meat,
                                        double* scores, SandwichScratch* work) {
  constexpr int NR = NV * simd::lanes<double, W>();
  constexpr int MR = gram_mr<double, W, NV>();
  constexpr int GM = sandwich_gm<W, NV>();
  const SandwichPass<T>& ps = *pass;
  const SandwichModel& mdl = *ps.mdl;
  const index_t p = ps.p, gb = ps.gb, pm = ps.pm;
  const index_t nbp = (kSandwichBlock + GM - 1) / GM * GM;  // panel height of V
  SandwichBlock blk{work->v.data(), work->wv.data(), nbp * NR, gb, (p / NR) * nbp * NR + p % NR};
  double* z = work->z.data();
  for (index_t i0 = r0; i0 < r1; i0 += kSandwichBlock) {
    const index_t m = std::min(kSandwichBlock, r1 - i0);
    const index_t mg = (m + GM - 1) / GM * GM;
    sandwich_pack_z<T, W>(ps, i0, m, mg, z);
    for (index_t i = 0; i < mg; i += GM) {
      for (index_t h = 0; h < gb; ++h) {
        const index_t a_end = mdl.K_upper ? std::min(p, (h + 1) * NR) : p;
        sandwich_zk_tile<W, NV, GM>(z + i * p, p, ps.kp + h * p * NR, a_end, blk.v + h * blk.panel + i * NR);
      }
    }
    switch (mdl.kind) {
      case MeatKind::Cluster:
        sandwich_weigh<T, W, NV, MeatKind::Cluster>(ps, blk, i0, m, scores);
        continue;  // no meat
      case MeatKind::HC2:
        sandwich_weigh<T, W, NV, MeatKind::HC2>(ps, blk, i0, m, scores);
        break;
      case MeatKind::HC3:
        sandwich_weigh<T, W, NV, MeatKind::HC3>(ps, blk, i0, m, scores);
        break;
      default:
        sandwich_weigh<T, W, NV, MeatKind::HC0>(ps, blk, i0, m, scores);
        break;
    }
    // Upper-triangle tiles of the first pm / NR panels (the rest hold padding).
    const index_t gbm = pm / NR, ga = (p + MR - 1) / MR;
    for (index_t h = 0; h < gbm; ++h) {
      for (index_t g = 0; g < ga && g * MR < (h + 1) * NR; ++g) {
        const double* ap = blk.wv + (g * MR / NR) * blk.panel + (g * MR) % NR;
        gram_tile<double, W, NV>(ap, blk.v + h * blk.panel, m, meat + g * MR * pm + h * NR, pm);
      }
    }
  }
}

template <class T, int W>
FASTCOST_INLINE void sandwich_rows_square_body(const SandwichPass<T>* pass, index_t r0, index_t r1, double* meat,
                                               double* scores, SandwichScratch* work) {
  sandwich_rows_body<T, W, 1>(pass, r0, r1, meat, scores, work);
}
template <class T, int W>
FASTCOST_INLINE void sandwich_rows_wide_body(const SandwichPass<T>* pass, index_t r0, index_t r1, double* meat,
                                             double* scores, SandwichScratch* work) {
  sandwich_rows_body<T, W, 2>(pass, r0, r1, meat, scores, work);
}

FASTCOST_MULTIVERSION(sandwich_rows_square, sandwich_rows_square_body)
FASTCOST_MULTIVERSION(sandwich_rows_wide, sandwich_rows_wide_body)

// The tile shape of the pass: as the Gram pass's (gram_kernel), square L x L
// tiles on AVX-512 while [v, fit] is at most 32 wide, else two vectors.
struct SandwichKernel {
  Isa isa = Isa::Baseline;
  int nv = 2;
  index_t nr = 0;  // columns per panel
  index_t gm = 0;  // rows of the V tile
};

inline SandwichKernel sandwich_kernel(Isa isa, index_t p) {
  SandwichKernel k;
  k.isa = isa;
  const index_t lanes = isa == Isa::Avx512 ? 8 : isa == Isa::Avx2Fma ? 4 : 2;
  k.nv = isa == Isa::Avx512 && p + 1 <= 4 * lanes ? 1 : 2;
  k.nr = k.nv * lanes;
#if FASTCOST_X86_DISPATCH
  if (isa == Isa::Avx512) {
    k.gm = k.nv == 1 ? sandwich_gm<64, 1>() : sandwich_gm<64, 2>();
  } else {
    k.gm = isa == Isa::Avx2Fma ? sandwich_gm<32, 2>() : sandwich_gm<16, 2>();
  }
#else
  k.gm = sandwich_gm<16, 2>();
#endif
  return k;
}

// [K | theta] (p x (p + 1)) in panels of nr columns, zero-padded: panel h is
// p rows of nr values, row-major.
inline std::vector<double> pack_k_theta(const SandwichModel& mdl, index_t p, index_t gb, index_t nr) {
  std::vector<double> kp(static_cast<std::size_t>(gb * std::max<index_t>(p, 1) * nr), 0.0);
  const index_t off = mdl.intercept ? 1 : 0;
  for (index_t a = 0; a < p; ++a) {
    for (index_t k = 0; k <= p; ++k) {
      double value;
      if (k < p) {
        value = mdl.K[a * p + k];
      } else {
        value = a < off ? mdl.b : mdl.w[a - off];
      }
      kp[static_cast<std::size_t>(((k / nr) * p + a) * nr + k % nr)] = value;
    }
  }
  return kp;
}

}  // namespace detail

// The meat (or the cluster scores) of a robust covariance in one sharded pass.
// y is required; sw may be null (unit weights). Deterministic for a given
// shard count: per-shard partial sums are added in shard order.
template <class T>
SandwichSums sandwich_sums(const MatrixView<T>& X, const T* y, const T* sw, const SandwichModel& mdl,
                           index_t n_shards, int n_threads) {
  X.validate();
  if (y == nullptr) throw std::invalid_argument("sandwich_sums needs y");
  if (mdl.K == nullptr || (X.cols > 0 && mdl.w == nullptr)) throw std::invalid_argument("sandwich_sums needs w and K");
  const bool cluster = mdl.kind == MeatKind::Cluster;
  if (cluster && (mdl.codes == nullptr || mdl.n_groups < 1)) {
    throw std::invalid_argument("a cluster meat needs codes and n_groups >= 1");
  }
  const index_t d = X.cols;
  const index_t p = d + (mdl.intercept ? 1 : 0);
  const detail::SandwichKernel kernel = detail::sandwich_kernel(active_isa(), p);
  const index_t gb = (p + 1 + kernel.nr - 1) / kernel.nr;
  const index_t pm = (p + kernel.nr - 1) / kernel.nr * kernel.nr;
  const std::vector<double> kp = detail::pack_k_theta(mdl, p, gb, kernel.nr);
  std::vector<double> shift(static_cast<std::size_t>(d), 0.0);
  if (mdl.shift) std::copy(mdl.shift, mdl.shift + d, shift.begin());
  detail::SandwichPass<T> pass;
  pass.X = X;
  pass.y = y;
  pass.sw = sw;
  pass.mdl = &mdl;
  pass.shift = shift.data();
  pass.kp = kp.data();
  pass.p = p;
  pass.gb = gb;
  pass.pm = pm;

  const index_t meat_size = cluster ? 0 : pm * pm;
  const index_t score_size = cluster ? mdl.n_groups * p : 0;
  const index_t partial = meat_size + score_size;
  if (n_shards <= 0) n_shards = default_shard_count(X.rows, X.cols, std::max<index_t>(partial, 1));
  const ShardPlan plan = make_plan(0, X.rows, n_shards);
  std::vector<double> parts(static_cast<std::size_t>(plan.n_shards * partial), 0.0);
  // V (p^2 / 2 multiply-adds a row with a triangular K, p^2 without) and the
  // weighted Gram (p^2 / 2): two or three Gram passes' worth of work.
  const double seconds = gram_seconds(X.rows, p) * (mdl.K_upper ? 2.0 : 3.0);
  const index_t nbp = (kSandwichBlock + kernel.gm - 1) / kernel.gm * kernel.gm;
  for_each_shard(plan, threads_for_work(seconds, n_threads), [&](index_t s) {
    double* base = parts.data() + s * partial;
    detail::SandwichScratch work(p, gb, kernel.nr, nbp);
    if (kernel.nv == 1) {
      detail::sandwich_rows_square<T>(kernel.isa, &pass, plan.shard_begin(s), plan.shard_end(s), base,
                                      base + meat_size, &work);
    } else {
      detail::sandwich_rows_wide<T>(kernel.isa, &pass, plan.shard_begin(s), plan.shard_end(s), base,
                                    base + meat_size, &work);
    }
  });
  SandwichSums out;
  out.p = p;
  out.n_shards = plan.n_shards;
  out.meat.assign(static_cast<std::size_t>(p * p), 0.0);
  out.scores.assign(static_cast<std::size_t>(score_size), 0.0);
  for (index_t s = 0; s < plan.n_shards; ++s) {
    const double* base = parts.data() + s * partial;
    if (!cluster) {
      for (index_t a = 0; a < p; ++a) {
        for (index_t k = a; k < p; ++k) out.meat[a * p + k] += base[a * pm + k];
      }
    }
    for (index_t k = 0; k < score_size; ++k) out.scores[k] += base[meat_size + k];
  }
  for (index_t a = 0; a < p; ++a) {
    for (index_t k = 0; k < a; ++k) out.meat[a * p + k] = out.meat[k * p + a];
  }
  return out;
}

}  // namespace fastcost
