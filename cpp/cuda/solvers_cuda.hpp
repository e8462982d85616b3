// The solvers of the CUDA backend, run on the host around the device kernels
// of kernels.cuh; X, y and the weights stay on the device.
//
// lbfgs and gd are not written here: DevicePass implements the data pass of
// data_pass.hpp over device memory, and the loops of lbfgs.hpp and gd.hpp run
// on it exactly as they run on host arrays (HostPass) and on Dask (PyPass), so
// a fix or an option of those loops reaches every backend at once. Per read of
// X only O(d) numbers cross the bus: the probes' coefficients down, their sums
// up. newton forms the Gram on the device and does the small (d + 2)^2 solve on
// the host with solve_from_stats, so both backends share one numerically
// careful solve (equilibration, condition estimate, minimum-norm fallback).
// sgd keeps its own loop: its batches are sequential, so one kernel runs a
// whole epoch rather than a pass per batch. Compiled by the host compiler.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "device.hpp"
#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/gd.hpp"
#include "fastcost/lbfgs.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/newton.hpp"
#include "fastcost/sgd.hpp"
#include "kernels.cuh"

namespace fastcost::cuda {

// X, y and the weights on the device: pointers either borrowed from the caller
// (CuPy / PyTorch memory) or into the owned buffers (a copy of host input).
template <class T>
struct DeviceProblem {
  MatrixView<T> X;
  const T* y = nullptr;
  const T* sw = nullptr;
  DeviceBuffer<T> own_x, own_y, own_sw;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Waits for the legacy default stream, where every launch and copy of this
// backend goes (kernels.cuh), and surfaces its errors. Not a device-wide
// synchronize: that would also wait for whatever CuPy or PyTorch keep running
// on their own streams, which neither the timings nor the results depend on.
inline void synchronize(const char* what) { check(cudaStreamSynchronize(cudaStreamLegacy), what); }

// Batches of the fused loss/gradient pass, each launch being one read of X:
// the batch's coefficients go down in one copy and all its sums come back in
// one, so a batch pays two transfers however many launches it holds. The
// workspaces are allocated once for the whole fit. All launches share one
// partial-sums buffer: they run in order on one stream, so each reduction has
// read it before the next launch writes it.
template <class T>
class DeviceLossGrad {
 public:
  explicit DeviceLossGrad(const DeviceProblem<T>& p, int slots = 1)
      : p_(p),
        slots_(std::max(slots, 1)),
        plan_(plan_loss_grad<T>(p.X.rows, p.X.cols)),
        partial_(static_cast<std::size_t>(plan_.blocks) * static_cast<std::size_t>(plan_.width),
                 "loss/gradient partial sums"),
        out_(static_cast<std::size_t>(slots_) * static_cast<std::size_t>(plan_.width), "loss/gradient sums"),
        w_(static_cast<std::size_t>(slots_) * static_cast<std::size_t>(p.X.cols), "coefficients"),
        host_w_(w_.size()),
        host_out_(out_.size()) {}

  // Launches so far: the reads of X they cost.
  index_t launches() const { return launches_; }

  // The sums of loss_grad_sums (loss_grad.hpp) for each (w, b, with_y) of the
  // batch: r = X w + b - y, or X w + b without y (also when there is no y).
  std::vector<LossGradSums> run(const std::vector<Probe>& batch) {
    const auto k_count = static_cast<index_t>(batch.size());
    if (k_count < 1 || k_count > slots_) throw std::invalid_argument("too many loss/gradient launches in one batch");
    const index_t d = p_.X.cols, width = plan_.width;
    for (index_t k = 0; k < k_count; ++k) {
      const double* w = batch[static_cast<std::size_t>(k)].w;
      for (index_t j = 0; j < d; ++j) host_w_[k * d + j] = w ? static_cast<T>(w[j]) : T(0);
    }
    to_device(w_.data(), host_w_.data(), static_cast<std::size_t>(k_count * d), "copying coefficients to the device");
    for (index_t k = 0; k < k_count; ++k) {
      const Probe& pr = batch[static_cast<std::size_t>(k)];
      loss_grad<T>(p_.X, pr.with_y ? p_.y : nullptr, p_.sw, w_.data() + k * d, static_cast<T>(pr.b), plan_,
                   partial_.data(), out_.data() + k * width);
      ++launches_;
    }
    to_host(host_out_.data(), out_.data(), static_cast<std::size_t>(k_count * width),
            "copying loss/gradient sums to the host");
    std::vector<LossGradSums> sums(static_cast<std::size_t>(k_count));
    for (index_t k = 0; k < k_count; ++k) {
      const double* o = host_out_.data() + k * width;
      LossGradSums& s = sums[static_cast<std::size_t>(k)];
      s.sum_wrx.assign(o, o + d);
      s.sum_w = o[d];
      s.sum_wr2 = o[d + 1];
      s.sum_wr = o[d + 2];
    }
    return sums;
  }

  LossGradSums operator()(const double* w, double b, bool with_y = true) {
    return std::move(run({Probe{w, b, with_y}}).front());
  }

 private:
  const DeviceProblem<T>& p_;
  index_t slots_;
  LossGradPlan plan_;
  DeviceBuffer<double> partial_, out_;
  DeviceBuffer<T> w_;
  std::vector<T> host_w_;
  std::vector<double> host_out_;
  index_t launches_ = 0;
};

// Row 0 of X and y[0] (the Gram's shift, as gram.hpp's default) copied to the host.
template <class T>
std::vector<T> first_row(const DeviceProblem<T>& p) {
  const index_t d = p.X.cols;
  std::vector<T> row(static_cast<std::size_t>(d + 1), T(0));
  if (p.X.layout == Layout::RowMajor) {
    to_host(row.data(), p.X.data, static_cast<std::size_t>(d), "reading the first row of X");
  } else {
    // One value per column, ld apart: cudaMemcpy2D, unless that pitch exceeds
    // its limit (cudaDevAttrMaxPitch: more than 2^28 float64 rows), then a copy per value.
    const std::size_t pitch = static_cast<std::size_t>(p.X.ld) * sizeof(T);
    int dev = 0, max_pitch = 0;
    check(cudaGetDevice(&dev), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&max_pitch, cudaDevAttrMaxPitch, dev), "cudaDeviceGetAttribute (max pitch)");
    if (pitch <= static_cast<std::size_t>(max_pitch)) {
      check(cudaMemcpy2D(row.data(), sizeof(T), p.X.data, pitch, sizeof(T), static_cast<std::size_t>(d),
                         cudaMemcpyDeviceToHost),
            "reading the first row of X");
    } else {
      for (index_t j = 0; j < d; ++j) to_host(row.data() + j, p.X.data + j * p.X.ld, 1, "reading the first row of X");
    }
  }
  if (p.y) to_host(row.data() + d, p.y, 1, "reading y[0]");
  return row;
}

// One pass of the augmented weighted Gram on the device (gram.hpp's convention).
template <class T>
GramStats device_gram_stats(const DeviceProblem<T>& p) {
  const index_t n = p.X.rows, d = p.X.cols, da = d + 2;
  GramStats st;
  st.d = d;
  st.n_rows = n;
  const std::vector<T> row = first_row(p);
  st.shift.assign(row.begin(), row.end());
  const GramPlan plan = plan_gram(n, d);
  st.n_shards = plan.splits;
  DeviceBuffer<T> shift(row.size(), "the Gram shift");
  to_device(shift.data(), row.data(), row.size(), "copying the Gram shift");
  DeviceBuffer<double> partial(plan.partial_doubles(), "the Gram's per-block partial tiles");
  DeviceBuffer<double> out(static_cast<std::size_t>(da * da), "the Gram matrix");
  gram<T>(p.X, p.y, p.sw, shift.data(), plan, partial.data(), out.data());
  st.gram.resize(static_cast<std::size_t>(da * da));
  to_host(st.gram.data(), out.data(), st.gram.size(), "copying the Gram matrix to the host");
  return st;
}

// Device memory for the sample's block Grams fetched in one copy: bounds the
// buffer when d is large, while a typical sample (thousands of small Grams)
// still comes back in a handful of copies rather than one per block.
constexpr std::size_t kSampleBatchBytes = std::size_t(16) << 20;

// The data pass of data_pass.hpp over device memory. Each probe is one
// launch of the fused loss/gradient kernel (the kernel takes one vector), so
// a request of K probes reads X K times, plus once per pair of probes that
// both have y (see probes()); reads() counts every launch.
template <class T>
class DevicePass {
 public:
  // Probes plus one difference launch per pair of them.
  static constexpr int kMaxLaunches = kMaxProbes + kMaxProbes * (kMaxProbes - 1) / 2;

  explicit DevicePass(const DeviceProblem<T>& p) : p_(p), lg_(p, kMaxLaunches) {
    p_.X.validate();
    if (!p_.y) throw std::invalid_argument("the device data pass needs y");
  }

  index_t rows() const { return p_.X.rows; }
  index_t cols() const { return p_.X.cols; }
  double epsilon() const { return static_cast<double>(std::numeric_limits<T>::epsilon()); }
  index_t reads() const { return lg_.launches(); }

  PassStartResult start(const PassStart& req) {
    if (req.moments) throw std::invalid_argument("standardize is not available on the CUDA device");
    PassStartResult out;
    {
      DeviceBuffer<double> partial(static_cast<std::size_t>(kSumBlocks) * 2, "weighted sums"), sums(2, "weighted sums");
      weighted_sums<T>(p_.y, p_.sw, p_.X.rows, partial.data(), sums.data());
      double host[2] = {0.0, 0.0};
      to_host(host, sums.data(), 2, "copying weighted sums to the host");
      out.sum_w = host[0];
      out.sum_wy = host[1];
    }
    if (req.center) {
      // The exact weighted column means from a pass with u = 1 (w = 0, b = 1,
      // no y), not the host's mean of kCenterRows rows spread over X: a gather
      // of that many scattered rows costs more on a GPU than reading X once.
      // Any centering point gives the same minimizer; only conditioning and
      // hence the iteration count depend on it.
      const LossGradSums s = lg_.run({Probe{nullptr, 1.0, false}}).front();
      out.center.assign(static_cast<std::size_t>(cols()), 0.0);
      // Weights summing to zero leave no mean; make_objective then refuses the
      // fit, so the zero point is never used.
      if (s.sum_w > 0.0) {
        for (index_t j = 0; j < cols(); ++j) out.center[j] = s.sum_wrx[j] / s.sum_w;
      }
    }
    if (!req.sample.empty()) out.sample = sample_stats(req.sample);
    return out;
  }

  // The sums of probe_sums (loss_grad.hpp). The kernel gives each probe's
  // sum s u x, sum s, sum s u^2 and sum s u; the cross terms follow from them
  // by linearity where one probe of a pair has no y:
  //   sum s u_k u_l = (sum s u_k x) . w_l + b_l sum s u_k   (u_l = x . w_l + b_l).
  // A pair that both have y needs y's products, which no probe gave, so one
  // more launch reads u_k - u_l = X (w_k - w_l) + (b_k - b_l) (y cancels) and
  //   sum s u_k u_l = (sum s u_k^2 + sum s u_l^2 - sum s (u_k - u_l)^2) / 2.
  ProbeSums probes(const std::vector<Probe>& probes) {
    const int K = static_cast<int>(probes.size());
    if (K < 1 || K > kMaxProbes) throw std::invalid_argument("a data pass takes one to three probes");
    const index_t d = cols();
    // diff_slot[k][l]: the batch index of u_k - u_l, for pairs k < l that both have y.
    int diff_slot[kMaxProbes][kMaxProbes] = {};
    std::vector<std::vector<double>> diff_w;
    std::vector<double> diff_b;
    diff_w.reserve(static_cast<std::size_t>(kMaxLaunches - K));
    for (int k = 0; k < K; ++k) {
      for (int l = k + 1; l < K; ++l) {
        const Probe& a = probes[static_cast<std::size_t>(k)];
        const Probe& c = probes[static_cast<std::size_t>(l)];
        if (!a.with_y || !c.with_y) continue;
        std::vector<double> w(static_cast<std::size_t>(d), 0.0);
        for (index_t j = 0; j < d; ++j) w[j] = (a.w ? a.w[j] : 0.0) - (c.w ? c.w[j] : 0.0);
        diff_slot[k][l] = K + static_cast<int>(diff_w.size());
        diff_w.push_back(std::move(w));
        diff_b.push_back(a.b - c.b);
      }
    }
    std::vector<Probe> batch(probes.begin(), probes.end());
    for (std::size_t i = 0; i < diff_w.size(); ++i) batch.push_back(Probe{diff_w[i].data(), diff_b[i], false});
    const std::vector<LossGradSums> s = lg_.run(batch);

    ProbeSums out;
    out.k = K;
    out.d = d;
    out.sum_w = s.front().sum_w;
    out.sum_ux.assign(static_cast<std::size_t>(K) * static_cast<std::size_t>(d), 0.0);
    out.sum_u.assign(static_cast<std::size_t>(K), 0.0);
    out.sum_uu.assign(static_cast<std::size_t>(K * K), 0.0);
    for (int k = 0; k < K; ++k) {
      const LossGradSums& sk = s[static_cast<std::size_t>(k)];
      std::copy(sk.sum_wrx.begin(), sk.sum_wrx.end(), out.sum_ux.begin() + static_cast<std::ptrdiff_t>(k) * d);
      out.sum_u[static_cast<std::size_t>(k)] = sk.sum_wr;
      out.sum_uu[static_cast<std::size_t>(k * K + k)] = sk.sum_wr2;
    }
    // sum s u_k u_l when u_l = x . w_l + b_l (probe l without y).
    auto linear = [&](int k, int l) {
      const Probe& pl = probes[static_cast<std::size_t>(l)];
      const LossGradSums& sk = s[static_cast<std::size_t>(k)];
      double v = pl.b * sk.sum_wr;
      if (pl.w) {
        for (index_t j = 0; j < d; ++j) v += sk.sum_wrx[static_cast<std::size_t>(j)] * pl.w[j];
      }
      return v;
    };
    for (int k = 0; k < K; ++k) {
      for (int l = k + 1; l < K; ++l) {
        double v = 0.0;
        if (!probes[static_cast<std::size_t>(l)].with_y) {
          v = linear(k, l);
        } else if (!probes[static_cast<std::size_t>(k)].with_y) {
          v = linear(l, k);
        } else {
          const double dd = s[static_cast<std::size_t>(diff_slot[k][l])].sum_wr2;
          v = 0.5 * (s[static_cast<std::size_t>(k)].sum_wr2 + s[static_cast<std::size_t>(l)].sum_wr2 - dd);
        }
        out.sum_uu[static_cast<std::size_t>(k * K + l)] = v;
        out.sum_uu[static_cast<std::size_t>(l * K + k)] = v;
      }
    }
    return out;
  }

 private:
  // The augmented Gram of the sample's row blocks about one common shift (row
  // 0 and y[0], as device_gram_stats), so that the blocks' sums add up. Each
  // block is one Gram launch on a view of its rows; the Grams are added on the
  // host in block_stats' grouping (data_pass.hpp): runs of consecutive blocks,
  // then the runs in order.
  GramStats sample_stats(const RowBlocks& blocks) {
    const index_t d = cols(), da = d + 2;
    const auto gram_size = static_cast<std::size_t>(da * da);
    const auto n_blocks = static_cast<index_t>(blocks.size());
    const std::vector<T> row = first_row(p_);
    GramStats total;
    total.d = d;
    total.shift.assign(row.begin(), row.end());
    total.gram.assign(gram_size, 0.0);
    DeviceBuffer<T> shift(row.size(), "the sample Gram's shift");
    to_device(shift.data(), row.data(), row.size(), "copying the sample Gram's shift");

    std::vector<GramPlan> plans;
    plans.reserve(blocks.size());
    std::size_t partial_doubles = 0;
    for (const auto& b : blocks) {
      if (b.first < 0 || b.second > rows() || b.second <= b.first) throw std::invalid_argument("bad sample block");
      plans.push_back(plan_gram(b.second - b.first, d));
      partial_doubles = std::max(partial_doubles, plans.back().partial_doubles());
    }
    // One partial buffer for every launch: stream order again.
    DeviceBuffer<double> partial(partial_doubles, "the sample Grams' partial tiles");
    const auto batch = static_cast<index_t>(
        std::min<std::size_t>(static_cast<std::size_t>(n_blocks),
                              std::max<std::size_t>(1, kSampleBatchBytes / (gram_size * sizeof(double)))));
    DeviceBuffer<double> grams(static_cast<std::size_t>(batch) * gram_size, "the sample's block Grams");
    std::vector<double> host(grams.size());

    const ShardPlan groups = make_plan(0, n_blocks, kSampleGroups);
    std::vector<double> run(gram_size, 0.0);
    index_t g = 0;
    for (index_t k0 = 0; k0 < n_blocks; k0 += batch) {
      const index_t k1 = std::min(n_blocks, k0 + batch);
      for (index_t k = k0; k < k1; ++k) {
        const index_t i0 = blocks[static_cast<std::size_t>(k)].first;
        MatrixView<T> part = p_.X;
        part.rows = blocks[static_cast<std::size_t>(k)].second - i0;
        part.data = p_.X.layout == Layout::RowMajor ? p_.X.data + i0 * p_.X.ld : p_.X.data + i0;
        gram<T>(part, p_.y + i0, p_.sw ? p_.sw + i0 : nullptr, shift.data(), plans[static_cast<std::size_t>(k)],
                partial.data(), grams.data() + static_cast<std::size_t>(k - k0) * gram_size);
      }
      to_host(host.data(), grams.data(), static_cast<std::size_t>(k1 - k0) * gram_size,
              "copying the sample's block Grams to the host");
      for (index_t k = k0; k < k1; ++k) {
        const double* gk = host.data() + static_cast<std::size_t>(k - k0) * gram_size;
        for (std::size_t e = 0; e < gram_size; ++e) run[e] += gk[e];
        total.n_rows += blocks[static_cast<std::size_t>(k)].second - blocks[static_cast<std::size_t>(k)].first;
        if (k + 1 == groups.shard_end(g)) {
          for (std::size_t e = 0; e < gram_size; ++e) total.gram[e] += run[e];
          std::fill(run.begin(), run.end(), 0.0);
          ++g;
        }
      }
    }
    return total;
  }

  const DeviceProblem<T>& p_;
  DeviceLossGrad<T> lg_;
};

template <class T>
FitResult fit_newton(const DeviceProblem<T>& p, const FitOptions& opt) {
  const GramStats st = device_gram_stats(p);
  for (double v : st.gram) {
    if (!std::isfinite(v)) throw NonFiniteError("non-finite statistics");
  }
  FitResult res = solve_from_stats(st, opt.alpha, opt.fit_intercept, opt.minimum_norm);
  res.n_passes = 1;
  return res;
}

template <class T>
FitResult fit_lbfgs(const DeviceProblem<T>& p, const FitOptions& options) {
  DevicePass<T> pass(p);
  return fastcost::fit_lbfgs(pass, options);
}

template <class T>
FitResult fit_gd(const DeviceProblem<T>& p, const FitOptions& options) {
  DevicePass<T> pass(p);
  return fastcost::fit_gd(pass, options);
}

// The Keras recipe as fit_sgd (sgd.hpp): the same splitmix64 Fisher-Yates
// shuffle on the host, so a seed gives the CPU's batch order; each epoch's order
// (8 bytes per row) goes to the device, then one kernel runs all its batches.
// Parameters live in X's precision on the device; only the epoch loss comes back.
template <class T>
FitResult fit_sgd(const DeviceProblem<T>& p, const FitOptions& opt) {
  const index_t n = p.X.rows, d = p.X.cols;
  if (opt.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1");
  std::vector<T> w(static_cast<std::size_t>(d), T(0));
  T b = 0;
  if (opt.has_init) {
    for (index_t j = 0; j < d; ++j) w[j] = static_cast<T>(opt.coef_init[j]);
    b = opt.fit_intercept ? static_cast<T>(opt.intercept_init) : T(0);
  }
  DeviceBuffer<T> dw(static_cast<std::size_t>(d), "sgd coefficients"), db(1, "sgd intercept");
  DeviceBuffer<T> dg(static_cast<std::size_t>(d), "sgd gradient");
  const SgdPlan plan = plan_sgd(d);
  DeviceBuffer<T> dscratch(plan.scratch, "sgd partial dot products");
  DeviceBuffer<double> dloss(1, "sgd epoch loss");
  DeviceBuffer<std::int64_t> dorder(static_cast<std::size_t>(n), "the sgd row order");
  to_device(dw.data(), w.data(), w.size(), "copying sgd coefficients");
  to_device(db.data(), &b, 1, "copying the sgd intercept");
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t(0));
  SplitMix64 rng{opt.seed};
  FitResult res;
  for (int epoch = 0; epoch < opt.max_iter; ++epoch) {
    if (cancel_requested()) throw Cancelled();
    for (index_t i = n - 1; i > 0; --i) {  // Fisher-Yates, as the CPU backend
      const auto j = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
      std::swap(order[i], order[j]);
    }
    to_device(dorder.data(), order.data(), order.size(), "copying the sgd row order");
    sgd_epoch<T>(p.X, p.y, p.sw, dorder.data(), opt.batch_size, static_cast<T>(opt.learning_rate),
                 static_cast<T>(opt.alpha), opt.fit_intercept, plan, dw.data(), db.data(), dg.data(), dscratch.data(),
                 dloss.data());
    double total = 0.0;
    to_host(&total, dloss.data(), 1, "copying the sgd epoch loss");
    res.loss_history.push_back(total / static_cast<double>(n));
    if (!std::isfinite(res.loss_history.back())) {
      throw DivergenceError("sgd diverged (the loss is no longer finite): lower learning_rate");
    }
  }
  to_host(w.data(), dw.data(), w.size(), "copying sgd coefficients to the host");
  to_host(&b, db.data(), 1, "copying the sgd intercept to the host");
  res.n_iter = opt.max_iter;
  res.n_passes = opt.max_iter;
  res.coef.assign(w.begin(), w.end());
  res.intercept = static_cast<double>(b);
  res.rank = d;
  res.converged = true;
  return res;
}

}  // namespace fastcost::cuda
