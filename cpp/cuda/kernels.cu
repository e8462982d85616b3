// CUDA kernels of the GPU backend: the fused loss+gradient pass, the one-pass
// augmented Gram, weighted sums of y and one SGD epoch, with their launchers.
// No cuBLAS: the Gram kernel forms the shifted, weighted rows z on the fly from
// X (a GEMM library would need them materialized, or an unshifted X^T X that
// loses digits for columns with a large mean), and the machine's toolkit need
// not ship cuBLAS at all.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "device.hpp"
#include "kernels.cuh"

namespace fastcost::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxBlocks = 1024;                  // fixed: no dependence on the device's SM count
constexpr std::size_t kTileBytes = 32 * 1024;     // staged rows per block in the loss-grad pass
constexpr std::size_t kMaxSmem = 96 * 1024;       // above this the wide-row kernel takes over
constexpr index_t kWideAccCols = kMaxSmem / sizeof(double);  // 12288 column sums in the wide kernel's shared memory
static_assert(kWideAccCols % kThreads == 0, "the wide kernel's shared/global split must fall between passes");
constexpr int kStageUnroll = 4;                   // loads in flight per thread while staging

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <class T, bool RowMajor>
__device__ __forceinline__ T load_x(const T* __restrict__ X, index_t ld, index_t i, index_t j) {
  return RowMajor ? __ldg(X + i * ld + j) : __ldg(X + j * ld + i);
}

// ---- loss + gradient ---------------------------------------------------------

// Shared memory: red (kThreads doubles) | gacc (d doubles when d > kThreads) |
// tile (tile_rows x dp of T) | ws (d of T) | sr (tile_rows of T).
template <class T>
__host__ __device__ inline index_t tile_pitch(index_t d) {
  return d % 2 == 0 ? d + 1 : d;  // odd pitch: the gradient sweep reads columns without bank conflicts
}

template <class T>
std::size_t loss_grad_smem(index_t d, index_t tile_rows) {
  const std::size_t gacc = d > kThreads ? static_cast<std::size_t>(d) : 0;
  return (kThreads + gacc) * sizeof(double) +
         static_cast<std::size_t>(tile_rows * tile_pitch<T>(d) + d + tile_rows) * sizeof(T);
}

template <class T, bool RowMajor>
__global__ void __launch_bounds__(kThreads)
loss_grad_tile_kernel(const T* __restrict__ X, index_t n, index_t d, index_t ld, const T* __restrict__ y,
                      const T* __restrict__ sw, const T* __restrict__ w, T b, index_t tile_rows,
                      double* __restrict__ partial) {
  extern __shared__ double smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const bool small = d <= kThreads;
  const index_t dp = tile_pitch<T>(d);
  double* red = smem;
  double* gacc = red + kThreads;
  T* tile = reinterpret_cast<T*>(gacc + (small ? 0 : d));
  T* ws = tile + tile_rows * dp;
  T* sr = ws + d;
  for (index_t j = tid; j < d; j += kThreads) {
    ws[j] = w[j];
    if (!small) gacc[j] = 0.0;
  }
  // Narrow X: thread (q, j) sums column j over rows q, q + G, ... of each tile
  // in a register, so every thread works even when d is far below the block size.
  const index_t groups = small ? kThreads / d : 1;
  const index_t q = small ? tid / d : 0, jq = small ? tid % d : 0;
  double acc = 0.0;
  double lw = 0.0, l2 = 0.0, l1 = 0.0;  // lane 0 of each warp
  const index_t n_tiles = (n + tile_rows - 1) / tile_rows;
  __syncthreads();

  for (index_t t = blockIdx.x; t < n_tiles; t += gridDim.x) {
    const index_t i0 = t * tile_rows;
    const index_t nr = min(tile_rows, n - i0);
    const index_t total = nr * d;
    // Stage the tile, coalesced along X's contiguous dimension, several loads in flight.
    const index_t fast = RowMajor ? d : nr;
    index_t a = tid / fast, c = tid % fast;  // (slow, fast) coordinates of this thread's element
    const index_t step_a = kThreads / fast, step_c = kThreads % fast;
    for (index_t e0 = tid; e0 < total; e0 += kStageUnroll * kThreads) {
      T v[kStageUnroll];
      index_t pos[kStageUnroll];
#pragma unroll
      for (int u = 0; u < kStageUnroll; ++u) {
        const bool in = e0 + u * kThreads < total;
        const index_t r = RowMajor ? a : c, j = RowMajor ? c : a;
        pos[u] = r * dp + j;
        v[u] = in ? (RowMajor ? __ldg(X + (i0 + r) * ld + j) : __ldg(X + j * ld + i0 + r)) : T(0);
        a += step_a;
        c += step_c;
        if (c >= fast) {
          c -= fast;
          ++a;
        }
      }
#pragma unroll
      for (int u = 0; u < kStageUnroll; ++u) {
        if (e0 + u * kThreads < total) tile[pos[u]] = v[u];
      }
    }
    __syncthreads();
    // Residuals: a warp per row.
    for (index_t r = warp; r < nr; r += kWarps) {
      T dot = 0;
      for (index_t j = lane; j < d; j += 32) dot += tile[r * dp + j] * ws[j];
      dot = warp_sum(dot);
      if (lane == 0) {
        const index_t i = i0 + r;
        const T ri = dot + b - (y ? y[i] : T(0));
        const T s = sw ? sw[i] : T(1);
        const T si = s * ri;
        sr[r] = si;
        lw += static_cast<double>(s);
        l2 += static_cast<double>(si * ri);
        l1 += static_cast<double>(si);
      }
    }
    __syncthreads();
    // Gradient: sum over the tile's rows of s r x, in T, then into double.
    if (small) {
      if (q < groups) {
        T part = 0;
        for (index_t r = q; r < nr; r += groups) part += sr[r] * tile[r * dp + jq];
        acc += static_cast<double>(part);
      }
    } else {
      for (index_t j = tid; j < d; j += kThreads) {
        T part = 0;
        for (index_t r = 0; r < nr; ++r) part += sr[r] * tile[r * dp + j];
        gacc[j] += static_cast<double>(part);
      }
    }
    __syncthreads();  // the next tile overwrites tile and sr
  }

  // Fixed-order reductions into this block's partial.
  double* out = partial + static_cast<index_t>(blockIdx.x) * (d + 3);
  if (small) {
    red[tid] = q < groups ? acc : 0.0;
    __syncthreads();
    if (tid < d) {
      double s = 0.0;
      for (index_t g = 0; g < groups; ++g) s += red[g * d + tid];
      out[tid] = s;
    }
    __syncthreads();
  } else {
    for (index_t j = tid; j < d; j += kThreads) out[j] = gacc[j];
  }
  if (lane == 0) {
    red[3 * warp] = lw;
    red[3 * warp + 1] = l2;
    red[3 * warp + 2] = l1;
  }
  __syncthreads();
  if (tid < 3) {
    double s = 0.0;
    for (int k = 0; k < kWarps; ++k) s += red[3 * k + tid];
    out[d + tid] = s;
  }
}

// Rows too wide to stage: a block per row at a time, the dot product first,
// then the gradient from a second read of the same row (an L2 hit, not DRAM).
// Thread tid owns columns tid, tid + kThreads, ... and keeps their sums, in
// double, across all the block's rows: in shared memory for the first acc_cols
// columns (all d up to kWideAccCols, the shared-memory budget), and only beyond
// that in the block's row of `partial` itself. One owner per column adding the
// block's rows in order: the sums of a per-row accumulation into `partial`,
// without its read-modify-write of global memory per row. Every block writes
// its whole row of `partial` (no zeroing needed).
template <class T, bool RowMajor>
__global__ void __launch_bounds__(kThreads)
loss_grad_wide_kernel(const T* __restrict__ X, index_t n, index_t d, index_t ld, const T* __restrict__ y,
                      const T* __restrict__ sw, const T* __restrict__ w, T b, index_t acc_cols,
                      double* __restrict__ partial) {
  extern __shared__ double acc[];  // acc_cols doubles
  __shared__ T warp_dots[kWarps];
  __shared__ T s_r;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  double* out = partial + static_cast<index_t>(blockIdx.x) * (d + 3);
  // acc_cols is a multiple of kThreads or d itself, so each pass of these
  // loops is on one side of it for the whole block (no divergence).
  for (index_t j = tid; j < d; j += kThreads) {
    if (j < acc_cols) {
      acc[j] = 0.0;
    } else {
      out[j] = 0.0;
    }
  }
  // No barrier for acc or out: only thread tid ever touches its columns.
  double lw = 0.0, l2 = 0.0, l1 = 0.0;
  for (index_t i = blockIdx.x; i < n; i += gridDim.x) {
    T dot = 0;
    for (index_t j = tid; j < d; j += kThreads) dot += load_x<T, RowMajor>(X, ld, i, j) * w[j];
    dot = warp_sum(dot);
    if (lane == 0) warp_dots[warp] = dot;
    __syncthreads();
    if (tid == 0) {
      T total = 0;
      for (int k = 0; k < kWarps; ++k) total += warp_dots[k];
      const T ri = total + b - (y ? y[i] : T(0));
      const T s = sw ? sw[i] : T(1);
      s_r = s * ri;
      lw += static_cast<double>(s);
      l2 += static_cast<double>(s * ri * ri);
      l1 += static_cast<double>(s * ri);
    }
    __syncthreads();
    const T si = s_r;
    for (index_t j = tid; j < d; j += kThreads) {
      const double v = static_cast<double>(si * load_x<T, RowMajor>(X, ld, i, j));
      if (j < acc_cols) {
        acc[j] += v;
      } else {
        out[j] += v;
      }
    }
    __syncthreads();  // s_r and warp_dots are rewritten for the next row
  }
  for (index_t j = tid; j < acc_cols; j += kThreads) out[j] = acc[j];
  if (tid == 0) {
    out[d] = lw;
    out[d + 1] = l2;
    out[d + 2] = l1;
  }
}

// out[k] = sum over blocks of partial[b][k], blocks in order.
__global__ void reduce_partials_kernel(const double* __restrict__ partial, index_t blocks, index_t width,
                                       double* __restrict__ out) {
  for (index_t k = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; k < width;
       k += static_cast<index_t>(gridDim.x) * blockDim.x) {
    double s = 0.0;
    for (index_t b = 0; b < blocks; ++b) s += partial[b * width + k];
    out[k] = s;
  }
}

void reduce_partials(const double* partial, index_t blocks, index_t width, double* out) {
  const auto grid = static_cast<unsigned>(std::min<index_t>((width + kThreads - 1) / kThreads, 4096));
  reduce_partials_kernel<<<grid, kThreads>>>(partial, blocks, width, out);
  check(cudaGetLastError(), "reduce_partials launch");
}

// ---- Gram ---------------------------------------------------------------------------

constexpr int kGT = 64;      // output tile edge
constexpr int kGK = 16;      // rows per shared-memory stage
constexpr int kGFlush = 16;  // stages (256 rows) accumulated in T before the double accumulators

template <class T, bool RowMajor>
__device__ __forceinline__ T z_value(const T* __restrict__ X, index_t ld, index_t d, const T* __restrict__ y,
                                     const T* cs, T cy, index_t i, index_t col, int local) {
  if (col < d) return load_x<T, RowMajor>(X, ld, i, col) - cs[local];
  if (col == d) return (y ? y[i] : T(0)) - cy;
  if (col == d + 1) return T(1);
  return T(0);
}

template <class T, bool RowMajor>
__global__ void __launch_bounds__(kThreads)
gram_kernel(const T* __restrict__ X, index_t n, index_t d, index_t ld, const T* __restrict__ y,
            const T* __restrict__ sw, const T* __restrict__ shift, index_t tiles_per_side, index_t rows_per_split,
            double* __restrict__ partial) {
  __shared__ T As[kGK][kGT];   // s_i z_i, columns of the row tile
  __shared__ T Bs[kGK][kGT];   // z_i, columns of the column tile
  __shared__ T ca[kGT], cb[kGT];
  __shared__ T swk[kGK];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  // Upper-triangular tile pair (ti <= tj) of this block.
  index_t t = blockIdx.y, ti = 0;
  while (t >= tiles_per_side - ti) {
    t -= tiles_per_side - ti;
    ++ti;
  }
  const index_t tj = ti + t;
  const index_t col_a = ti * kGT, col_b = tj * kGT;
  const T cy = shift[d];
  if (tid < kGT) {
    ca[tid] = col_a + tid < d ? shift[col_a + tid] : T(0);
    cb[tid] = col_b + tid < d ? shift[col_b + tid] : T(0);
  }
  const index_t r_begin = static_cast<index_t>(blockIdx.x) * rows_per_split;
  const index_t r_end = min(n, r_begin + rows_per_split);
  T acc[4][4];
  double accd[4][4];
#pragma unroll
  for (int m = 0; m < 4; ++m)
#pragma unroll
    for (int k = 0; k < 4; ++k) acc[m][k] = T(0), accd[m][k] = 0.0;
  __syncthreads();

  int stage = 0;
  for (index_t i0 = r_begin; i0 < r_end; i0 += kGK) {
    if (tid < kGK) swk[tid] = i0 + tid < r_end ? (sw ? sw[i0 + tid] : T(1)) : T(0);
    __syncthreads();
#pragma unroll
    for (int u = 0; u < kGK * kGT / kThreads; ++u) {
      const int e = tid + u * kThreads;
      // Row-major X: consecutive threads take consecutive columns; column-major: consecutive rows.
      const int k = RowMajor ? e / kGT : e % kGK;
      const int c = RowMajor ? e % kGT : e / kGK;
      const index_t i = i0 + k;
      T za = 0, zb = 0;
      if (i < r_end) {
        za = z_value<T, RowMajor>(X, ld, d, y, ca, cy, i, col_a + c, c);
        zb = ti == tj ? za : z_value<T, RowMajor>(X, ld, d, y, cb, cy, i, col_b + c, c);
      }
      As[k][c] = swk[k] * za;
      Bs[k][c] = zb;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kGK; ++k) {
      T av[4], bv[4];
#pragma unroll
      for (int m = 0; m < 4; ++m) av[m] = As[k][ty + 16 * m], bv[m] = Bs[k][tx + 16 * m];
#pragma unroll
      for (int m = 0; m < 4; ++m)
#pragma unroll
        for (int p = 0; p < 4; ++p) acc[m][p] += av[m] * bv[p];
    }
    __syncthreads();
    if (++stage == kGFlush) {
      stage = 0;
#pragma unroll
      for (int m = 0; m < 4; ++m)
#pragma unroll
        for (int p = 0; p < 4; ++p) accd[m][p] += static_cast<double>(acc[m][p]), acc[m][p] = T(0);
    }
  }
  double* out = partial + (static_cast<index_t>(blockIdx.x) * gridDim.y + blockIdx.y) * kGT * kGT;
#pragma unroll
  for (int m = 0; m < 4; ++m)
#pragma unroll
    for (int p = 0; p < 4; ++p) out[(ty + 16 * m) * kGT + tx + 16 * p] = accd[m][p] + static_cast<double>(acc[m][p]);
}

// Sums the splits' tiles in order and writes the symmetric (d + 2)^2 Gram.
__global__ void gram_reduce_kernel(const double* __restrict__ partial, index_t da, index_t tiles_per_side,
                                   index_t n_tiles, index_t splits, double* __restrict__ out) {
  const index_t total = da * da;
  for (index_t idx = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const index_t i = idx / da, j = idx % da;
    if (i > j) continue;
    const index_t ti = i / kGT, tj = j / kGT;
    const index_t tile = ti * tiles_per_side - ti * (ti - 1) / 2 + (tj - ti);
    const index_t off = (i % kGT) * kGT + (j % kGT);
    double s = 0.0;
    for (index_t sp = 0; sp < splits; ++sp) s += partial[(sp * n_tiles + tile) * kGT * kGT + off];
    out[i * da + j] = s;
    out[j * da + i] = s;
  }
}

// ---- weighted sums of y ------------------------------------------------------------

template <class T>
__global__ void __launch_bounds__(kThreads)
weighted_sums_kernel(const T* __restrict__ y, const T* __restrict__ sw, index_t n, double* __restrict__ partial) {
  __shared__ double red[2][kWarps];
  double s0 = 0.0, s1 = 0.0;
  for (index_t i = blockIdx.x * static_cast<index_t>(kThreads) + threadIdx.x; i < n;
       i += static_cast<index_t>(gridDim.x) * kThreads) {
    const double s = sw ? static_cast<double>(sw[i]) : 1.0;
    s0 += s;
    s1 += s * static_cast<double>(y[i]);
  }
  s0 = warp_sum(s0);
  s1 = warp_sum(s1);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) red[0][warp] = s0, red[1][warp] = s1;
  __syncthreads();
  if (threadIdx.x < 2) {
    double s = 0.0;
    for (int k = 0; k < kWarps; ++k) s += red[threadIdx.x][k];
    partial[blockIdx.x * 2 + threadIdx.x] = s;
  }
}

// ---- SGD epoch ---------------------------------------------------------------------------

constexpr int kSgdChunk = 1024;  // batch rows whose residuals sit in shared memory at once
// Blocks of the cooperative sgd kernel at most: fixed (no dependence on the
// device), and small enough to be resident at once on any sm_90 device or MIG slice.
constexpr int kSgdMaxBlocks = 32;

template <class T, bool RowMajor>
__global__ void __launch_bounds__(kThreads)
sgd_epoch_kernel(const T* __restrict__ X, index_t n, index_t d, index_t ld, const T* __restrict__ y,
                 const T* __restrict__ sw, const std::int64_t* __restrict__ order, index_t batch, T lr, T alpha,
                 bool fit_intercept, T* w, T* b, T* g, double* loss_out) {
  __shared__ T sr[kSgdChunk];
  __shared__ index_t rows[kSgdChunk];
  __shared__ T red[3][kWarps];
  __shared__ T totals[3];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  double epoch_total = 0.0;  // thread 0
  for (index_t k0 = 0; k0 < n; k0 += batch) {
    const index_t nb = min(batch, n - k0);
    T loss = 0, gb = 0;  // lane 0 of each warp
    for (index_t c0 = k0; c0 < k0 + nb; c0 += kSgdChunk) {
      const index_t nc = min(static_cast<index_t>(kSgdChunk), k0 + nb - c0);
      for (index_t k = tid; k < nc; k += kThreads) rows[k] = order[c0 + k];
      __syncthreads();
      const T bias = *b;
      for (index_t k = warp; k < nc; k += kWarps) {
        const index_t i = rows[k];
        T dot = 0;
        for (index_t j = lane; j < d; j += 32) dot += load_x<T, RowMajor>(X, ld, i, j) * w[j];
        dot = warp_sum(dot);
        if (lane == 0) {
          const T r = dot + bias - y[i];
          const T s = sw ? sw[i] : T(1);
          const T si = s * r;
          sr[k] = si;
          loss += si * r;
          gb += si;
        }
      }
      __syncthreads();
      for (index_t j = tid; j < d; j += kThreads) {
        T a = c0 == k0 ? T(0) : g[j];
        for (index_t k = 0; k < nc; ++k) a += sr[k] * load_x<T, RowMajor>(X, ld, rows[k], j);
        g[j] = a;
      }
      __syncthreads();  // sr and rows are rewritten by the next chunk
    }
    T pen = 0;
    for (index_t j = tid; j < d; j += kThreads) pen += w[j] * w[j];
    loss = warp_sum(loss);  // only lane 0 of each warp holds nonzero loss and gb
    gb = warp_sum(gb);
    pen = warp_sum(pen);
    if (lane == 0) red[0][warp] = loss, red[1][warp] = gb, red[2][warp] = pen;
    __syncthreads();
    if (tid < 3) {
      T s = 0;
      for (int k = 0; k < kWarps; ++k) s += red[tid][k];
      totals[tid] = s;
    }
    __syncthreads();
    const T inv = T(1) / static_cast<T>(nb);
    for (index_t j = tid; j < d; j += kThreads) w[j] -= lr * (T(2) * g[j] * inv + T(2) * alpha * w[j]);
    if (tid == 0) {
      if (fit_intercept) *b -= lr * T(2) * totals[1] * inv;
      epoch_total += static_cast<double>(nb) * static_cast<double>(totals[0] * inv + alpha * totals[2]);
    }
    __syncthreads();  // w and b are read by the next batch
  }
  if (tid == 0) *loss_out = epoch_total;
}

// The same epoch on several blocks (SgdPlan: d > kThreads), launched
// cooperatively. Block s owns the columns [s * cols, min(d, (s + 1) * cols)):
// their w and g are read and written by this block only. Per chunk of a
// batch's rows (one grid barrier each):
//   1. each block: its columns' part of every row's x_i^T w (a warp per row,
//      lanes over the columns as the single-block kernel), into P[k][s]; at a
//      batch's first chunk also its columns' part of |w|^2, into Q[s];
//   2. grid barrier;
//   3. every block: every row's residual from P[k][0] + ... + P[k][S-1] (in
//      that order), the loss and intercept sums, and its columns' gradient
//      g_j += s_i r_i x_ij over the rows in batch order (as the single-block
//      kernel); at the batch's end the update of its columns of w and of its
//      copy of b.
// Every block computes the same residuals, sums and b from the same numbers in
// the same order, so its copies agree bit for bit; block 0 writes b and the
// loss. P and Q alternate between two halves of `scratch` (chunk parity): a
// block writes half h in step t + 2 only after the barrier of step t + 1, which
// every block reaches after its last read of half h in step t. Nothing
// depends on which block runs when; the results equal the single-block
// kernel's up to the order of the dot products' and the loss's sums.
template <class T, bool RowMajor>
__global__ void __launch_bounds__(kThreads)
sgd_epoch_split_kernel(const T* __restrict__ X, index_t n, index_t d, index_t ld, const T* __restrict__ y,
                       const T* __restrict__ sw, const std::int64_t* __restrict__ order, index_t batch, T lr,
                       T alpha, bool fit_intercept, index_t cols, T* w, T* b, T* g, T* scratch,
                       double* loss_out) {
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  __shared__ T sr[kSgdChunk];
  __shared__ index_t rows[kSgdChunk];
  __shared__ T red[2][kWarps];
  __shared__ T totals[2];
  __shared__ T bias;  // this block's copy of b
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const index_t blocks = gridDim.x, s = blockIdx.x;
  const index_t lo = s * cols, hi = min(d, lo + cols);
  const index_t half = kSgdChunk * blocks + blocks;  // P (kSgdChunk x blocks), then Q (blocks)
  if (tid == 0) bias = *b;  // before the first barrier: block 0 writes *b only after the last
  double epoch_total = 0.0;  // thread 0
  index_t step = 0;
  for (index_t k0 = 0; k0 < n; k0 += batch) {
    const index_t nb = min(batch, n - k0);
    T loss = 0, gb = 0;  // this thread's rows
    T pen = 0;           // thread 0
    for (index_t c0 = k0; c0 < k0 + nb; c0 += kSgdChunk, ++step) {
      const index_t nc = min(static_cast<index_t>(kSgdChunk), k0 + nb - c0);
      T* P = scratch + (step & 1) * half;
      T* Q = P + kSgdChunk * blocks;
      for (index_t k = tid; k < nc; k += kThreads) rows[k] = order[c0 + k];
      __syncthreads();
      // 1. This block's columns' part of each row's dot product (and of |w|^2).
      for (index_t k = warp; k < nc; k += kWarps) {
        const index_t i = rows[k];
        T dot = 0;
        for (index_t j = lo + lane; j < hi; j += 32) dot += load_x<T, RowMajor>(X, ld, i, j) * w[j];
        dot = warp_sum(dot);
        if (lane == 0) P[k * blocks + s] = dot;
      }
      if (c0 == k0) {  // the same for every thread of the grid
        T p = 0;
        for (index_t j = lo + tid; j < hi; j += kThreads) p += w[j] * w[j];
        p = warp_sum(p);
        if (lane == 0) red[0][warp] = p;
        __syncthreads();
        if (tid == 0) {
          T t = 0;
          for (int k = 0; k < kWarps; ++k) t += red[0][k];
          Q[s] = t;
        }
      }
      grid.sync();  // every block's P and Q are written (and visible)
      // 3. Residuals of the chunk's rows, the same in every block. P and Q were
      // written during this kernel by other blocks: read through L2 (__ldcg),
      // never through the read-only path.
      const T bb = bias;
      for (index_t k = tid; k < nc; k += kThreads) {
        const index_t i = rows[k];
        T dot = __ldcg(P + k * blocks);
        for (index_t q = 1; q < blocks; ++q) dot += __ldcg(P + k * blocks + q);
        const T r = dot + bb - y[i];
        const T si = (sw ? sw[i] : T(1)) * r;
        sr[k] = si;
        loss += si * r;
        gb += si;
      }
      if (c0 == k0 && tid == 0) {
        for (index_t q = 0; q < blocks; ++q) pen += __ldcg(Q + q);
      }
      __syncthreads();
      for (index_t j = lo + tid; j < hi; j += kThreads) {
        T a = c0 == k0 ? T(0) : g[j];
        for (index_t k = 0; k < nc; ++k) a += sr[k] * load_x<T, RowMajor>(X, ld, rows[k], j);
        g[j] = a;
      }
      __syncthreads();  // sr, rows and red are rewritten by the next chunk
    }
    loss = warp_sum(loss);
    gb = warp_sum(gb);
    if (lane == 0) red[0][warp] = loss, red[1][warp] = gb;
    __syncthreads();
    if (tid < 2) {
      T t = 0;
      for (int k = 0; k < kWarps; ++k) t += red[tid][k];
      totals[tid] = t;
    }
    __syncthreads();
    const T inv = T(1) / static_cast<T>(nb);
    for (index_t j = lo + tid; j < hi; j += kThreads) w[j] -= lr * (T(2) * g[j] * inv + T(2) * alpha * w[j]);
    if (tid == 0) {
      if (fit_intercept) bias -= lr * T(2) * totals[1] * inv;
      epoch_total += static_cast<double>(nb) * static_cast<double>(totals[0] * inv + alpha * pen);
    }
    __syncthreads();  // this block's w and bias are read by the next batch; red and totals rewritten
  }
  if (s == 0 && tid == 0) {
    if (n > 0) *b = bias;  // n > 0: at least one barrier, so every block has read *b
    *loss_out = epoch_total;
  }
}

}  // namespace

// ---- launchers ---------------------------------------------------------------------------

template <class T>
LossGradPlan plan_loss_grad(index_t n, index_t d) {
  LossGradPlan p;
  p.width = d + 3;
  const index_t row_bytes = tile_pitch<T>(d) * static_cast<index_t>(sizeof(T));
  p.tile_rows = std::max<index_t>(1, std::min<index_t>(512, static_cast<index_t>(kTileBytes) / std::max<index_t>(row_bytes, 1)));
  p.smem_bytes = loss_grad_smem<T>(d, p.tile_rows);
  if (p.smem_bytes > kMaxSmem) {
    p.tile_rows = 0;  // wide rows: the column sums in shared memory, as many as fit
    p.smem_bytes = static_cast<std::size_t>(std::min<index_t>(d, kWideAccCols)) * sizeof(double);
    p.blocks = static_cast<int>(std::max<index_t>(1, std::min<index_t>(n, kMaxBlocks)));
  } else {
    const index_t tiles = (n + p.tile_rows - 1) / p.tile_rows;
    p.blocks = static_cast<int>(std::max<index_t>(1, std::min<index_t>(tiles, kMaxBlocks)));
  }
  return p;
}

template <class T>
void loss_grad(const MatrixView<T>& X, const T* y, const T* sw, const T* w, T b, const LossGradPlan& plan,
               double* partial, double* out) {
  const bool row = X.layout == Layout::RowMajor;
  const auto grid = static_cast<unsigned>(plan.blocks);
  if (plan.tile_rows > 0) {
    auto kernel = row ? loss_grad_tile_kernel<T, true> : loss_grad_tile_kernel<T, false>;
    if (plan.smem_bytes > 48 * 1024) {
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(plan.smem_bytes)),
            "cudaFuncSetAttribute (loss_grad shared memory)");
    }
    kernel<<<grid, kThreads, plan.smem_bytes>>>(X.data, X.rows, X.cols, X.ld, y, sw, w, b, plan.tile_rows, partial);
  } else {
    auto kernel = row ? loss_grad_wide_kernel<T, true> : loss_grad_wide_kernel<T, false>;
    if (plan.smem_bytes > 48 * 1024) {
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(plan.smem_bytes)),
            "cudaFuncSetAttribute (loss_grad wide-row shared memory)");
    }
    const auto acc_cols = static_cast<index_t>(plan.smem_bytes / sizeof(double));
    kernel<<<grid, kThreads, plan.smem_bytes>>>(X.data, X.rows, X.cols, X.ld, y, sw, w, b, acc_cols, partial);
  }
  check(cudaGetLastError(), "loss_grad launch");
  reduce_partials(partial, plan.blocks, plan.width, out);
}

GramPlan plan_gram(index_t n, index_t d) {
  GramPlan p;
  const index_t da = d + 2;
  p.tiles_per_side = (da + kGT - 1) / kGT;
  p.n_tiles = p.tiles_per_side * (p.tiles_per_side + 1) / 2;
  const index_t stages = std::max<index_t>(1, (n + kGK - 1) / kGK);
  const index_t want = std::max<index_t>(1, std::min<index_t>(stages, kMaxBlocks / std::max<index_t>(p.n_tiles, 1)));
  p.rows_per_split = (stages + want - 1) / want * kGK;
  p.splits = std::max<index_t>(1, (n + p.rows_per_split - 1) / p.rows_per_split);
  return p;
}

template <class T>
void gram(const MatrixView<T>& X, const T* y, const T* sw, const T* shift, const GramPlan& plan, double* partial,
          double* out) {
  const dim3 grid(static_cast<unsigned>(plan.splits), static_cast<unsigned>(plan.n_tiles));
  if (plan.n_tiles > 65535) throw std::invalid_argument("too many features for the CUDA Gram kernel");
  if (X.layout == Layout::RowMajor) {
    gram_kernel<T, true><<<grid, kThreads>>>(X.data, X.rows, X.cols, X.ld, y, sw, shift, plan.tiles_per_side,
                                             plan.rows_per_split, partial);
  } else {
    gram_kernel<T, false><<<grid, kThreads>>>(X.data, X.rows, X.cols, X.ld, y, sw, shift, plan.tiles_per_side,
                                              plan.rows_per_split, partial);
  }
  check(cudaGetLastError(), "gram launch");
  const index_t da = X.cols + 2;
  const auto rgrid = static_cast<unsigned>(std::min<index_t>((da * da + kThreads - 1) / kThreads, 65535));
  gram_reduce_kernel<<<rgrid, kThreads>>>(partial, da, plan.tiles_per_side, plan.n_tiles, plan.splits, out);
  check(cudaGetLastError(), "gram reduce launch");
}

template <class T>
void weighted_sums(const T* y, const T* sw, index_t n, double* partial, double* out) {
  weighted_sums_kernel<T><<<kSumBlocks, kThreads>>>(y, sw, n, partial);
  check(cudaGetLastError(), "weighted_sums launch");
  reduce_partials(partial, kSumBlocks, 2, out);
}

SgdPlan plan_sgd(index_t d) {
  SgdPlan p;
  if (d <= kThreads) return p;  // one block: the single-block kernel
  const index_t want = std::min<index_t>((d + kThreads - 1) / kThreads, kSgdMaxBlocks);
  p.cols = ((d + want - 1) / want + kThreads - 1) / kThreads * kThreads;  // a multiple of kThreads
  p.blocks = static_cast<int>((d + p.cols - 1) / p.cols);
  if (p.blocks < 2) return SgdPlan{};
  p.scratch = 2 * static_cast<std::size_t>(kSgdChunk + 1) * static_cast<std::size_t>(p.blocks);
  return p;
}

template <class T>
void sgd_epoch(const MatrixView<T>& X, const T* y, const T* sw, const std::int64_t* order, index_t batch, T lr,
               T alpha, bool fit_intercept, const SgdPlan& plan, T* w, T* b, T* g, T* scratch, double* loss) {
  const bool row = X.layout == Layout::RowMajor;
  if (plan.blocks > 1 && scratch != nullptr) {
    auto kernel = row ? sgd_epoch_split_kernel<T, true> : sgd_epoch_split_kernel<T, false>;
    // A cooperative grid must be resident all at once: check that this device
    // (or its MIG slice) can, else run the single-block kernel below.
    int device = 0, cooperative = 0, sms = 0, per_sm = 0;
    check(cudaGetDevice(&device), "cudaGetDevice (sgd)");
    check(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device), "cudaDeviceGetAttribute (sgd)");
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute (sgd)");
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0), "sgd occupancy");
    if (cooperative != 0 && static_cast<long long>(per_sm) * sms >= plan.blocks) {
      cudaLaunchAttribute attr[1];
      attr[0].id = cudaLaunchAttributeCooperative;
      attr[0].val.cooperative = 1;
      cudaLaunchConfig_t cfg = {};
      cfg.gridDim = dim3(static_cast<unsigned>(plan.blocks));
      cfg.blockDim = dim3(kThreads);
      cfg.dynamicSmemBytes = 0;
      cfg.stream = 0;  // the legacy default stream, as every other launch here
      cfg.attrs = attr;
      cfg.numAttrs = 1;
      check(cudaLaunchKernelEx(&cfg, kernel, X.data, X.rows, X.cols, X.ld, y, sw, order, batch, lr, alpha,
                               fit_intercept, plan.cols, w, b, g, scratch, loss),
            "sgd_epoch (cooperative) launch");
      return;
    }
  }
  if (row) {
    sgd_epoch_kernel<T, true><<<1, kThreads>>>(X.data, X.rows, X.cols, X.ld, y, sw, order, batch, lr, alpha,
                                              fit_intercept, w, b, g, loss);
  } else {
    sgd_epoch_kernel<T, false><<<1, kThreads>>>(X.data, X.rows, X.cols, X.ld, y, sw, order, batch, lr, alpha,
                                               fit_intercept, w, b, g, loss);
  }
  check(cudaGetLastError(), "sgd_epoch launch");
}

#define FASTCOST_CUDA_INSTANTIATE(T)                                                                         \
  template LossGradPlan plan_loss_grad<T>(index_t, index_t);                                                 \
  template void loss_grad<T>(const MatrixView<T>&, const T*, const T*, const T*, T, const LossGradPlan&,     \
                             double*, double*);                                                              \
  template void gram<T>(const MatrixView<T>&, const T*, const T*, const T*, const GramPlan&, double*, double*); \
  template void weighted_sums<T>(const T*, const T*, index_t, double*, double*);                             \
  template void sgd_epoch<T>(const MatrixView<T>&, const T*, const T*, const std::int64_t*, index_t, T, T,    \
                             bool, const SgdPlan&, T*, T*, T*, T*, double*);

FASTCOST_CUDA_INSTANTIATE(float)
FASTCOST_CUDA_INSTANTIATE(double)

}  // namespace fastcost::cuda
