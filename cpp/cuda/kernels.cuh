// Host-callable launchers of the CUDA kernels (implemented in kernels.cu).
// Plain C++ declarations over device pointers, so that the host-compiled solver
// loops (solvers_cuda.hpp) call them without seeing any CUDA syntax. Every
// launch goes to the legacy default stream, which orders it after work that
// CuPy or PyTorch queued on theirs. Partitions (grid sizes, tiles, splits)
// depend only on the data's shape, never on the device, so a given input gives
// bitwise-identical sums on every GPU model (one exception: sgd_epoch's
// fallback, below).
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastcost/matrix.hpp"

namespace fastcost::cuda {

// ---- fused loss + gradient ---------------------------------------------------
// Raw sums for r = X w + b - y (y may be null: zeros; sw may be null: ones):
//   out[0:d] = sum s r x,  out[d] = sum s,  out[d+1] = sum s r^2,  out[d+2] = sum s r
// in ONE read of X: each block stages a tile of rows in shared memory and takes
// both the residuals and their gradient contribution from there.
struct LossGradPlan {
  index_t tile_rows = 0;      // rows staged per tile (0: the wide-row kernel)
  int blocks = 0;             // fixed-size grid, one partial per block
  std::size_t smem_bytes = 0; // dynamic shared memory per block (wide rows: their column sums)
  index_t width = 0;          // d + 3 partial sums per block
};

template <class T>
LossGradPlan plan_loss_grad(index_t n, index_t d);

// partial: plan.blocks * plan.width doubles; out: plan.width doubles (device).
template <class T>
void loss_grad(const MatrixView<T>& X, const T* y, const T* sw, const T* w, T b, const LossGradPlan& plan,
               double* partial, double* out);

// ---- one-pass augmented Gram ---------------------------------------------------
// G = sum_i s_i z_i z_i^T with z_i = [x_i - c, y_i - c_y, 1] (gram.hpp's
// convention), (d + 2)^2 doubles row-major in `out`. `shift` holds c then c_y
// (d + 1 values of T, device). 64 x 64 output tiles of the upper triangle, rows
// split over blocks; products accumulate in T over 256 rows, then in double.
struct GramPlan {
  index_t tiles_per_side = 0;
  index_t n_tiles = 0;        // upper-triangular tile pairs
  index_t splits = 0;         // row chunks, one partial tile each
  index_t rows_per_split = 0;
  std::size_t partial_doubles() const { return static_cast<std::size_t>(splits * n_tiles) * 64 * 64; }
};

GramPlan plan_gram(index_t n, index_t d);

template <class T>
void gram(const MatrixView<T>& X, const T* y, const T* sw, const T* shift, const GramPlan& plan, double* partial,
          double* out);

// ---- small reductions -------------------------------------------------------------
constexpr int kSumBlocks = 256;
// out[0] = sum s, out[1] = sum s y (partial: kSumBlocks * 2 doubles).
template <class T>
void weighted_sums(const T* y, const T* sw, index_t n, double* partial, double* out);

// ---- SGD ------------------------------------------------------------------------------
// One epoch of the Keras recipe over rows in `order` (device), in one kernel:
// batches are sequential by nature, so persistent blocks walk them without a
// launch or a host round trip per batch. Up to d = 256 one block runs it. Wider
// rows split their columns over plan.blocks blocks (at most 32) of one
// cooperative launch, one grid barrier per batch (per 1024 rows of a larger
// batch): each block its columns' share of the dot products, then every block
// the same residuals and its columns' gradient and update. The split depends on
// d only; a device that cannot hold plan.blocks blocks at once (or launch
// cooperatively) runs the single-block kernel instead, whose results differ
// only in the rounding of the dot products' and the loss's sums.
// w (d values), b, the gradient scratch g (d values), scratch (plan.scratch
// values; may be null when plan.blocks == 1) and *loss (sum of nb * batch loss)
// are device memory.
struct SgdPlan {
  int blocks = 1;             // column slices, one block each
  index_t cols = 0;           // columns per slice (a multiple of 256) when blocks > 1
  std::size_t scratch = 0;    // values of T the split kernel exchanges through global memory
};

SgdPlan plan_sgd(index_t d);

template <class T>
void sgd_epoch(const MatrixView<T>& X, const T* y, const T* sw, const std::int64_t* order, index_t batch, T lr,
               T alpha, bool fit_intercept, const SgdPlan& plan, T* w, T* b, T* g, T* scratch, double* loss);

}  // namespace fastcost::cuda
