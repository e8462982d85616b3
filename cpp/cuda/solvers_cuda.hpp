// The solver loops of the CUDA backend: the same newton, lbfgs, gd and sgd as
// solvers.hpp, run on the host around the device kernels of kernels.cuh. X, y
// and the weights stay on the device; per iteration only O(d) numbers cross the
// bus (w down, the d + 3 loss/gradient sums up). newton forms the Gram on the
// device and does the small (d + 2)^2 solve on the host with solve_from_stats,
// so both backends share one numerically careful solve (equilibration,
// condition estimate, minimum-norm fallback). Compiled by the host compiler.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "device.hpp"
#include "fastcost/solvers.hpp"
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

inline void synchronize(const char* what) { check(cudaDeviceSynchronize(), what); }

// Repeated fused loss+gradient passes with their workspace allocated once.
template <class T>
class DeviceLossGrad {
 public:
  explicit DeviceLossGrad(const DeviceProblem<T>& p)
      : p_(p),
        plan_(plan_loss_grad<T>(p.X.rows, p.X.cols)),
        partial_(static_cast<std::size_t>(plan_.blocks * plan_.width), "loss/gradient partial sums"),
        out_(static_cast<std::size_t>(plan_.width), "loss/gradient sums"),
        w_(static_cast<std::size_t>(p.X.cols), "coefficients"),
        host_w_(static_cast<std::size_t>(p.X.cols)),
        host_out_(static_cast<std::size_t>(plan_.width)) {}

  // The sums of loss_grad_sums (loss_grad.hpp) for (w, b); y null: zero targets.
  LossGradSums operator()(const double* w, double b, bool with_y = true) {
    const index_t d = p_.X.cols;
    for (index_t j = 0; j < d; ++j) host_w_[j] = static_cast<T>(w[j]);
    to_device(w_.data(), host_w_.data(), host_w_.size(), "copying coefficients to the device");
    loss_grad<T>(p_.X, with_y ? p_.y : nullptr, p_.sw, w_.data(), static_cast<T>(b), plan_, partial_.data(),
                 out_.data());
    to_host(host_out_.data(), out_.data(), host_out_.size(), "copying loss/gradient sums to the host");
    LossGradSums s;
    s.sum_wrx.assign(host_out_.begin(), host_out_.begin() + d);
    s.sum_w = host_out_[d];
    s.sum_wr2 = host_out_[d + 1];
    s.sum_wr = host_out_[d + 2];
    return s;
  }

 private:
  const DeviceProblem<T>& p_;
  LossGradPlan plan_;
  DeviceBuffer<double> partial_, out_;
  DeviceBuffer<T> w_;
  std::vector<T> host_w_;
  std::vector<double> host_out_;
};

// Row 0 of X and y[0] (the Gram's shift, as gram.hpp's default) copied to the host.
template <class T>
std::vector<T> first_row(const DeviceProblem<T>& p) {
  const index_t d = p.X.cols;
  std::vector<T> row(static_cast<std::size_t>(d + 1), T(0));
  if (p.X.layout == Layout::RowMajor) {
    to_host(row.data(), p.X.data, static_cast<std::size_t>(d), "reading the first row of X");
  } else {
    check(cudaMemcpy2D(row.data(), sizeof(T), p.X.data, static_cast<std::size_t>(p.X.ld) * sizeof(T), sizeof(T),
                       static_cast<std::size_t>(d), cudaMemcpyDeviceToHost),
          "reading the first row of X");
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

template <class T>
FitResult fit_newton(const DeviceProblem<T>& p, const FitOptions& opt) {
  const GramStats st = device_gram_stats(p);
  for (double v : st.gram) {
    if (!std::isfinite(v)) throw std::domain_error("non-finite statistics");
  }
  FitResult res = solve_from_stats(st, opt.alpha, opt.fit_intercept);
  res.n_passes = 1;
  return res;
}

// LeastSquaresObjective (solvers.hpp) with the pass on the device: theta = [v, beta]
// in centered coordinates, w = v, b = beta - mu^T w; uniform L2 penalty alpha.
template <class T>
struct DeviceObjective {
  explicit DeviceObjective(DeviceLossGrad<T>& p) : pass(p) {}
  DeviceLossGrad<T>& pass;
  index_t d = 0;
  double alpha = 0.0;
  bool fit_intercept = true;
  std::vector<double> mu;
  double sum_w = 0.0;
  index_t n_evals = 0;

  void to_model(const std::vector<double>& theta, std::vector<double>& w, double& b) const {
    w.assign(theta.begin(), theta.begin() + d);
    b = intercept_on_x_scale(theta, w, mu, fit_intercept);
  }

  double operator()(const std::vector<double>& theta, std::vector<double>& grad) {
    if (cancel_requested()) throw Cancelled();
    std::vector<double> w;
    double b;
    to_model(theta, w, b);
    const LossGradSums s = pass(w.data(), b);
    ++n_evals;
    double pen = 0.0;
    grad.assign(static_cast<std::size_t>(d + 1), 0.0);
    for (index_t j = 0; j < d; ++j) {
      grad[j] = 2.0 * (s.sum_wrx[j] - mu[j] * s.sum_wr) / sum_w + 2.0 * alpha * theta[j];
      pen += theta[j] * theta[j];
    }
    grad[d] = fit_intercept ? 2.0 * s.sum_wr / sum_w : 0.0;
    const double f = s.sum_wr2 / sum_w + alpha * pen;
    if (!std::isfinite(f) || !std::isfinite(max_abs_of(grad))) throw std::domain_error("non-finite loss or gradient");
    return f;
  }
};

// Means of X's columns (one pass) and of y, and the starting point, as make_objective.
template <class T>
DeviceObjective<T> make_device_objective(const DeviceProblem<T>& p, DeviceLossGrad<T>& pass, const FitOptions& opt,
                                         std::vector<double>& theta0) {
  const index_t d = p.X.cols;
  DeviceObjective<T> obj(pass);
  obj.d = d;
  obj.alpha = opt.alpha;
  obj.fit_intercept = opt.fit_intercept;
  const std::vector<double> zero(static_cast<std::size_t>(d), 0.0);
  const LossGradSums s = pass(zero.data(), 1.0, /*with_y=*/false);  // residuals 1: sum s x and sum s
  obj.sum_w = s.sum_w;
  if (!(obj.sum_w > 0.0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
  obj.mu.assign(static_cast<std::size_t>(d), 0.0);
  if (opt.fit_intercept) {
    for (index_t j = 0; j < d; ++j) {
      obj.mu[j] = s.sum_wrx[j] / obj.sum_w;
      if (!std::isfinite(obj.mu[j])) throw std::domain_error("non-finite column means");
    }
  }
  DeviceBuffer<double> partial(static_cast<std::size_t>(kSumBlocks * 2), "weighted sums"), out(2, "weighted sums");
  weighted_sums<T>(p.y, p.sw, p.X.rows, partial.data(), out.data());
  double sums[2];
  to_host(sums, out.data(), 2, "copying weighted sums to the host");
  const double mean_y = sums[1] / obj.sum_w;
  theta0.assign(static_cast<std::size_t>(d + 1), 0.0);
  if (opt.has_init) {
    for (index_t j = 0; j < d; ++j) theta0[j] = opt.coef_init[j];
    if (opt.fit_intercept) {
      double beta = opt.intercept_init;
      for (index_t j = 0; j < d; ++j) beta += obj.mu[j] * opt.coef_init[j];
      theta0[d] = beta;
    }
  } else if (opt.fit_intercept) {
    theta0[d] = mean_y;
  }
  return obj;
}

// Selected by fit_iterative (solvers.hpp) for the device objective.
template <class T>
void finish_iterative(const DeviceObjective<T>& obj, const std::vector<double>& theta, FitResult& res) {
  obj.to_model(theta, res.coef, res.intercept);
  res.n_passes = obj.n_evals + 1;  // + the pass for the means
  res.rank = obj.d;
}

// lbfgs and gd as on the CPU, with the loss/gradient pass on the device.
template <class T>
FitResult fit_device_iterative(const DeviceProblem<T>& p, const FitOptions& options, Minimizer minimizer) {
  DeviceLossGrad<T> pass(p);
  return fit_iterative<T>(minimizer, options, [&](const FitOptions& opt, std::vector<double>& theta) {
    return make_device_objective(p, pass, opt, theta);
  });
}

template <class T>
FitResult fit_lbfgs(const DeviceProblem<T>& p, const FitOptions& options) {
  return fit_device_iterative(p, options, Minimizer::Lbfgs);
}

template <class T>
FitResult fit_gd(const DeviceProblem<T>& p, const FitOptions& options) {
  return fit_device_iterative(p, options, Minimizer::Gd);
}

// The Keras recipe as fit_sgd (solvers.hpp): the same splitmix64 Fisher-Yates
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
                 static_cast<T>(opt.alpha), opt.fit_intercept, dw.data(), db.data(), dg.data(), dloss.data());
    double total = 0.0;
    to_host(&total, dloss.data(), 1, "copying the sgd epoch loss");
    res.loss_history.push_back(total / static_cast<double>(n));
    if (!std::isfinite(res.loss_history.back())) {
      throw std::overflow_error("sgd diverged (the loss is no longer finite): lower learning_rate");
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
