// gd: full-batch gradient descent with Armijo backtracking over any data pass
// (data_pass.hpp).
#pragma once

#include <cmath>
#include <vector>

#include "fastcost/fit_types.hpp"
#include "fastcost/objective.hpp"

namespace fastcost {

// Full-batch gradient descent; the step comes from backtracking (Armijo,
// halving) and grows by 1.25 after every accepted step; one pass per evaluation.
template <class Pass>
void gd_minimize(LeastSquaresObjective<Pass>& obj, std::vector<double>& theta, const FitOptions& opt, FitResult& res) {
  std::vector<double> g, g_new, x_new;
  double fx = obj(theta, g);
  const double g0 = max_abs(g);
  const double gtol = opt.tol * g0;
  double step = 1.0;
  res.converged = g0 == 0.0;
  int iter = 0;
  while (!res.converged && iter < opt.max_iter) {
    const double gg = dot(g, g);
    bool accepted = false;
    double fnew = fx;
    for (int bt = 0; bt < 60; ++bt) {
      x_new = theta;
      for (std::size_t j = 0; j < theta.size(); ++j) x_new[j] -= step * g[j];
      fnew = obj(x_new, g_new);
      // Armijo with c = 1/2. For this quadratic objective it is equivalent to
      // g_new . g >= 0, which stays decidable once f changes below its rounding.
      if (fnew <= fx - 0.5 * step * gg || (fnew <= fx + 1e-8 * std::fabs(fx) && dot(g_new, g) >= 0.0)) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      res.converged = max_abs(g) <= gtol;
      if (!res.converged) res.message = "backtracking could not decrease the loss further (rounding limit)";
      break;
    }
    theta = x_new;
    g = g_new;
    fx = fnew;
    step *= 1.25;
    ++iter;
    res.loss_history.push_back(fx);
    res.converged = max_abs(g) <= gtol;
  }
  finish_minimize(res, iter, g, fx);
}

// gd over a data pass, centered at the pass's sampled centering point.
template <class Pass>
FitResult fit_gd(Pass& data, const FitOptions& options) {
  const FitOptions opt = with_tolerance_floor(options, data.epsilon());
  std::vector<double> theta;
  LeastSquaresObjective<Pass> obj = make_objective(data, opt, theta, /*center=*/true);
  FitResult res;
  gd_minimize(obj, theta, opt, res);
  finish_iterative(obj, theta, res);
  return res;
}

}  // namespace fastcost
