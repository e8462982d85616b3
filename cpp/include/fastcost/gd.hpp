// gd: full-batch gradient descent with Armijo backtracking over any data pass
// (data_pass.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fastcost/fit_types.hpp"
#include "fastcost/nonnegative.hpp"
#include "fastcost/objective.hpp"

namespace fastcost {

// Full-batch gradient descent; the step comes from backtracking (Armijo,
// halving) and grows by 1.25 after every accepted step; one pass per evaluation.
// Stops as lbfgs does: max|g| <= tol * max|g at the start|, each entry of g
// divided by its column's scale (LeastSquaresObjective::gscale); from coef_init,
// the larger of that and max|g at zero coefficients|.
// positive: projected gradient descent on the active set of nonnegative.hpp,
// the trial step capped where the first free coefficient reaches 0.
template <class Pass>
void gd_minimize(LeastSquaresObjective<Pass>& obj, std::vector<double>& theta, const FitOptions& opt, FitResult& res) {
  SignConstraint signs(opt.positive, obj.d, obj.frozen);
  signs.set_scale(obj.gscale);
  signs.project(theta);
  std::vector<double> g, g_new, x_new, gf, down;
  double fx = obj(theta, g);
  double g0 = signs.scaled_max(g);
  if (opt.has_init) {
    // A start near the solution (coef_init) has a gradient of rounding noise,
    // which no step can bring tol times lower: the tolerance is then relative to
    // the gradient at zero coefficients, the problem's own scale (one pass).
    std::vector<double> zero, g_zero;
    obj.to_theta(std::vector<double>(static_cast<std::size_t>(obj.d), 0.0), 0.0, zero);
    signs.project(zero);
    obj(zero, g_zero);
    g0 = std::max(g0, signs.scaled_max(g_zero));
  }
  const double gtol = opt.tol * g0;
  double step = 1.0;
  res.converged = g0 == 0.0 || (signs.on() && signs.residual(theta, g) <= gtol);
  int iter = 0;
  while (!res.converged && iter < opt.max_iter) {
    // The descent direction is -gf: -g, on the free coordinates with positive.
    gf = g;
    double cap = std::numeric_limits<double>::infinity();
    index_t blocking = -1;
    if (signs.on()) {
      signs.bind(theta, g, kBindingSlack * gtol);
      signs.restrict(gf);
      down.resize(gf.size());
      for (std::size_t j = 0; j < gf.size(); ++j) down[j] = -gf[j];
      cap = signs.max_step(theta, down, blocking);
    }
    const double gg = dot(gf, gf);
    bool accepted = false;
    double fnew = fx, t = step;
    for (int bt = 0; bt < 60; ++bt) {
      t = std::min(step, cap);
      x_new = theta;
      for (std::size_t j = 0; j < theta.size(); ++j) x_new[j] -= t * gf[j];
      if (signs.on()) signs.land(x_new, t == cap ? blocking : -1);
      fnew = obj(x_new, g_new);
      // Armijo with c = 1/2. For this quadratic objective it is equivalent to
      // g_new . gf >= 0, which stays decidable once f changes below its rounding.
      if (fnew <= fx - 0.5 * t * gg || (fnew <= fx + 1e-8 * std::fabs(fx) && dot(g_new, gf) >= 0.0)) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      res.converged = signs.residual(theta, g) <= gtol;
      if (!res.converged) res.message = "backtracking could not decrease the loss further (rounding limit)";
      break;
    }
    theta = x_new;
    g = g_new;
    fx = fnew;
    if (t == step) step *= 1.25;  // a capped step says nothing of the step's scale
    ++iter;
    res.loss_history.push_back(fx);
    res.converged = signs.residual(theta, g) <= gtol;
  }
  finish_minimize(res, iter, signs.residual(theta, g), fx);
}

// gd over a data pass, centered at the pass's sampled centering point.
template <class Pass>
FitResult fit_gd(Pass& data, const FitOptions& options) {
  const FitOptions opt = with_tolerance_floor(options, data.epsilon());
  std::vector<double> theta;
  // The row sample serves the stopping rule's column scales (gradient_scales).
  LeastSquaresObjective<Pass> obj = make_objective(data, opt, theta, /*center=*/true, row_sample(data));
  FitResult res;
  gd_minimize(obj, theta, opt, res);
  finish_iterative(obj, theta, res);
  return res;
}

}  // namespace fastcost
