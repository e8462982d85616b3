// The least-squares objective of the iterative solvers (lbfgs, gd) over any
// data pass (data_pass.hpp): its coordinates, gradients from probe sums, and
// the set-up every backend shares (totals, centering, scales, starting point).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/preprocess.hpp"

namespace fastcost {

// The intercept on X's scale of a model fitted to centered columns: the
// centered model's bias theta[d] minus mu^T w (0 without an intercept).
inline double intercept_on_x_scale(const std::vector<double>& theta, const std::vector<double>& w,
                                   const std::vector<double>& mu, bool fit_intercept) {
  if (!fit_intercept) return 0.0;
  const std::size_t d = w.size();
  double b = theta[d];
  for (std::size_t j = 0; j < d; ++j) b -= mu[j] * w[j];
  return b;
}

// Least squares in centered, optionally scaled coordinates: theta = [v, beta]
// with the model v^T (x - mu) / sigma + beta, i.e. w = v / sigma and
// b = beta - mu^T w. Centering and scaling cost nothing in the kernel (they
// only change w and b) and make the problem far better conditioned. The penalty
// is sum_j lam_j v_j^2: lam = alpha (+ noise terms), sigma = 1 unless standardizing.
template <class Pass>
struct LeastSquaresObjective {
  Pass* data = nullptr;
  index_t d = 0;
  double alpha = 0.0;
  bool fit_intercept = true;
  std::vector<double> mu;     // zeros without intercept
  std::vector<double> sigma;  // ones unless standardizing
  std::vector<double> lam;    // per-column penalty on v
  std::vector<char> frozen;   // empty, or 1 for columns held at zero
  bool uniform = true;        // lam == alpha: the plain solver's arithmetic, bit for bit
  double sum_w = 0.0;
  PassStartResult start;      // what the pass's start request returned
  // Factors of the gradient's entries in the stopping rule (SignConstraint::
  // set_scale): 1 / the column's standard deviation in the row sample, 1 on
  // the intercept; empty (all 1) when standardizing, whose coordinates are
  // scaled already, without a sample, or for float32 data.
  std::vector<double> gscale;

  index_t dim() const { return d + 1; }

  void to_model(const std::vector<double>& theta, std::vector<double>& w, double& b) const {
    w.assign(theta.begin(), theta.begin() + d);
    for (index_t j = 0; j < d; ++j) w[j] /= sigma[j];
    b = intercept_on_x_scale(theta, w, mu, fit_intercept);
  }

  // theta of a model (w, b) on X's scale.
  void to_theta(const std::vector<double>& w, double b, std::vector<double>& t) const {
    t.assign(static_cast<std::size_t>(d + 1), 0.0);
    for (index_t j = 0; j < d; ++j) t[j] = w[j] * sigma[j];
    if (fit_intercept) {
      t[d] = b;
      for (index_t j = 0; j < d; ++j) t[d] += mu[j] * w[j];
    }
  }

  // theta-space gradient of the quadratic from probe k of a pass: the gradient
  // at t when probe k was the model of t (with y), or the Hessian times t when
  // it was the model of the direction t (without y).
  void theta_grad(const ProbeSums& ps, int k, const std::vector<double>& t, std::vector<double>& grad) const {
    const double* ux = ps.ux(k);
    const double su = ps.sum_u[static_cast<std::size_t>(k)];
    grad.assign(static_cast<std::size_t>(d + 1), 0.0);
    for (index_t j = 0; j < d; ++j) {
      grad[j] = 2.0 * (ux[j] - mu[j] * su) / sum_w / sigma[j] + 2.0 * lam[j] * t[j];
      if (!frozen.empty() && frozen[j]) grad[j] = 0.0;
    }
    grad[d] = fit_intercept ? 2.0 * su / sum_w : 0.0;
  }

  // sum_j lam_j a_j b_j over the coefficients (not the intercept).
  double penalty_dot(const std::vector<double>& a, const std::vector<double>& b) const {
    double pen = 0.0;
    for (index_t j = 0; j < d; ++j) pen += (uniform ? a[j] : lam[j] * a[j]) * b[j];
    return uniform ? alpha * pen : pen;
  }

  // One read of X with the given probes (cancellation checked first).
  ProbeSums pass(const std::vector<Probe>& probes) {
    if (cancel_requested()) throw Cancelled();
    return data->probes(probes);
  }

  // Loss and gradient at theta from a one-probe pass.
  double operator()(const std::vector<double>& theta, std::vector<double>& grad) {
    std::vector<double> w;
    double b;
    to_model(theta, w, b);
    const ProbeSums s = pass({Probe{w.data(), b, true}});
    theta_grad(s, 0, theta, grad);
    const double f = s.uu(0, 0) / sum_w + penalty_dot(theta, theta);
    if (!std::isfinite(f) || !std::isfinite(max_abs_of(grad))) throw NonFiniteError("non-finite loss or gradient");
    return f;
  }
};

// Gradients evaluated in X's precision cannot be resolved below a few thousand
// ulps of their starting size, so the relative tolerance is floored there.
inline FitOptions with_tolerance_floor(FitOptions opt, double epsilon) {
  opt.tol = std::max(opt.tol, 1000.0 * epsilon);
  return opt;
}

// Rows of the iterative solvers' row sample (lbfgs' warm start and
// preconditioner; lbfgs' and gd's gradient_scales): evenly spread blocks of
// kSampleBlock rows.
constexpr index_t kSampleBlock = 256;

// The rows of lbfgs' sample, about 2 n / d of them (the sample's Gram costs
// about m d^2 / 2 multiply-adds, near a tenth of one pass over X), in blocks;
// 0 when that leaves fewer than 8 (d + 2) rows.
inline index_t sample_rows(index_t n, index_t d) {
  const index_t m = std::min(n / 4, 2 * n / std::max<index_t>(d, 1));
  return m < 8 * (d + 2) ? 0 : m;
}

// The sample's rows as [begin, end) blocks of kSampleBlock rows spread evenly
// over n (the last may overlap its neighbour); none when sample_rows is 0.
// Dask's lbfgs reads the same blocks (_core.sample_blocks).
inline std::vector<std::pair<index_t, index_t>> sample_blocks(index_t n, index_t d) {
  std::vector<std::pair<index_t, index_t>> out;
  const index_t m = sample_rows(n, d);
  if (m == 0) return out;
  const index_t blocks = std::max<index_t>(1, m / kSampleBlock);
  for (index_t k = 0; k < blocks; ++k) {
    const index_t i0 = std::min(k * n / blocks, n - std::min(n, kSampleBlock));
    out.emplace_back(i0, i0 + std::min(kSampleBlock, n - i0));
  }
  return out;
}

// The sample blocks a pass is asked for (none where it declines them).
template <class Pass>
RowBlocks row_sample(const Pass& data) {
  return takes_row_sample(data, 0) ? sample_blocks(data.rows(), data.cols()) : RowBlocks{};
}

// The stopping rule's factors from a row sample's Gram (empty without one):
// a coefficient's gradient 2 x_j^T r / n grows with its column's scale, so
// max |g| alone would call a column of small values converged while its
// coefficient is still far off, and a column of large ones the opposite.
// Divided by the column's standard deviation, every entry is in the units of
// the residual, as the intercept's is. A column constant in the sample keeps 1.
inline std::vector<double> gradient_scales(const GramStats& sample, index_t d) {
  if (sample.gram.empty() || sample.d != d) return {};
  const index_t last = sample.dim() - 1;
  const double S = sample.sum_weights();
  if (!(S > 0.0)) return {};
  std::vector<double> out(static_cast<std::size_t>(d + 1), 1.0);
  for (index_t j = 0; j < d; ++j) {
    const double m = sample.at(j, last) / S;
    const double c = std::sqrt(std::max(sample.at(j, j) / S - m * m, 0.0));
    if (c > 0.0 && std::isfinite(1.0 / c)) out[j] = 1.0 / c;
  }
  return out;
}

// The objective on `data` and its starting point theta0: one start request
// for the totals, the column moments (standardize), the centering point
// (`center`: gd; lbfgs takes exact means from its first pass instead) and
// lbfgs' row `sample`; the penalty per column; coef_init mapped into theta.
template <class Pass>
LeastSquaresObjective<Pass> make_objective(Pass& data, const FitOptions& opt, std::vector<double>& theta0,
                                           bool center, const RowBlocks& sample = {}) {
  const index_t d = data.cols();
  if (data.rows() < 1) throw std::invalid_argument("X has no rows");
  if (!opt.frozen.empty() && static_cast<index_t>(opt.frozen.size()) != d) {
    throw std::invalid_argument("frozen has the wrong length");
  }
  LeastSquaresObjective<Pass> obj;
  obj.data = &data;
  obj.d = d;
  obj.alpha = opt.alpha;
  obj.fit_intercept = opt.fit_intercept;
  PassStart req;
  req.moments = opt.standardize;
  req.center = center && !opt.standardize && opt.fit_intercept;  // mu is 0 without an intercept
  req.sample = sample;
  obj.start = data.start(req);
  // Indicator columns (a categorical's levels) are neither scaled nor noisy.
  const index_t measured = obj.start.indicators_from < 0 ? d : std::min(d, obj.start.indicators_from);
  obj.sigma.assign(static_cast<std::size_t>(d), 1.0);
  if (opt.standardize) {
    // One pass gives the means and the scales (the same kernel as StandardScaler).
    const ColumnMoments& m = obj.start.moments;
    if (!m.finite) throw NonFiniteError("non-finite column means");
    obj.sum_w = m.sum_w;
    obj.mu = m.mean;
    obj.sigma = scale_from_moments(m);
    std::fill(obj.sigma.begin() + measured, obj.sigma.end(), 1.0);
  } else {
    obj.sum_w = obj.start.sum_w;
    obj.mu = req.center ? obj.start.center : std::vector<double>(static_cast<std::size_t>(d), 0.0);
  }
  if (!(obj.sum_w > 0.0)) throw std::invalid_argument("the sample weights sum to zero: nothing to fit");
  // float32 data: the plain max |g|, which its 1000-eps tolerance floor
  // (with_tolerance_floor) is measured against; dividing by a column's scale
  // would ask its rounding of |x| |r| (means included) for more than that.
  const bool double_data = data.epsilon() <= std::numeric_limits<double>::epsilon();
  if (!opt.standardize && double_data) obj.gscale = gradient_scales(obj.start.sample, d);
  for (double v : obj.mu) {
    if (!std::isfinite(v)) throw NonFiniteError("non-finite column means");
  }
  const double mean_y = obj.start.sum_wy / obj.sum_w;
  if (!opt.fit_intercept) std::fill(obj.mu.begin(), obj.mu.end(), 0.0);
  obj.lam.resize(static_cast<std::size_t>(d));
  for (index_t j = 0; j < d; ++j) {
    obj.lam[j] = j < measured ? opt.alpha + opt.noise_var / (obj.sigma[j] * obj.sigma[j]) : opt.alpha;
  }
  obj.uniform = opt.noise_var == 0.0;
  obj.frozen = opt.frozen;
  theta0.assign(static_cast<std::size_t>(d + 1), 0.0);
  if (opt.has_init) {
    // coef_init is w on X's scale unless it was drawn for the standardized model.
    // positive: projected onto w >= 0 (sigma > 0 keeps the signs of v).
    std::vector<double> w0(opt.coef_init.begin(), opt.coef_init.begin() + d);
    if (opt.positive) {
      for (double& e : w0) e = std::max(e, 0.0);
    }
    for (index_t j = 0; j < d; ++j) {
      if (opt.init_standardized) {
        theta0[j] = w0[j];
        w0[j] /= obj.sigma[j];
      } else {
        theta0[j] = w0[j] * obj.sigma[j];
      }
    }
    if (opt.fit_intercept) {
      // beta is the intercept of the centered model: b + mu^T w, or the
      // standardized model's own bias when the draw was made for it.
      double beta = opt.intercept_init;
      if (!opt.init_standardized) {
        for (index_t j = 0; j < d; ++j) beta += obj.mu[j] * w0[j];
      }
      theta0[d] = beta;
    }
  } else if (opt.fit_intercept) {
    theta0[d] = mean_y;
  }
  for (index_t j = 0; j < d; ++j) {
    if (!obj.frozen.empty() && obj.frozen[j]) theta0[j] = 0.0;
  }
  return obj;
}

// The model, passes and rank of a finished iterative fit.
template <class Pass>
void finish_iterative(const LeastSquaresObjective<Pass>& obj, const std::vector<double>& theta, FitResult& res) {
  obj.to_model(theta, res.coef, res.intercept);
  res.n_passes = obj.data->reads();
  res.rank = obj.d;
}

// The common end of the lbfgs and gd loops: iterations, final gradient size, a
// loss history of at least the starting loss, and why it stopped.
// grad_norm: max|g|, or with positive the projected gradient's (SignConstraint::residual).
inline void finish_minimize(FitResult& res, int iter, double grad_norm, double fx) {
  res.n_iter = iter;
  res.grad_norm = grad_norm;
  if (res.loss_history.empty()) res.loss_history.push_back(fx);
  if (!res.converged && res.message.empty()) res.message = "reached max_iter before the gradient tolerance";
}

}  // namespace fastcost
