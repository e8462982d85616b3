// lbfgs: L-BFGS with exact line searches over any data pass (data_pass.hpp),
// warm-started and, on ill-conditioned data, preconditioned from a row sample.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/gram.hpp"
#include "fastcost/linalg.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/newton.hpp"
#include "fastcost/nonnegative.hpp"
#include "fastcost/objective.hpp"

namespace fastcost {

namespace detail {

// The L-BFGS memory: the last m pairs s = x_new - x, y = g_new - g.
class LbfgsHistory {
 public:
  explicit LbfgsHistory(int m) : m_(std::max(1, m)) {}

  std::size_t size() const { return s_.size(); }

  void clear() {
    s_.clear();
    y_.clear();
    rho_.clear();
  }

  void push(std::vector<double> s, std::vector<double> y) {
    const double sy = dot(s, y);
    if (!(sy > 1e-16 * dot(y, y))) return;  // no usable curvature
    if (static_cast<int>(s_.size()) == m_) {
      s_.erase(s_.begin());
      y_.erase(y_.begin());
      rho_.erase(rho_.begin());
    }
    s_.push_back(std::move(s));
    y_.push_back(std::move(y));
    rho_.push_back(1.0 / sy);
  }

  // Two-loop recursion: dir = -H g with H0 = (s^T y / y^T y) I; steepest
  // descent (and a cleared memory) when that is not a descent direction.
  void direction(const std::vector<double>& g, std::vector<double>& dir) {
    direction(g, dir, [this](std::vector<double>& q) {
      const std::size_t k = s_.size();
      const double gamma = k > 0 ? dot(s_[k - 1], y_[k - 1]) / dot(y_[k - 1], y_[k - 1]) : 1.0;
      for (double& e : q) e *= gamma;
    });
  }

  // The same with H0 applied by `h0(q)` in place (a preconditioner's inverse);
  // without a descent direction, dir = -H0 g and a cleared memory.
  template <class H0>
  void direction(const std::vector<double>& g, std::vector<double>& dir, H0&& h0) {
    const std::size_t n = g.size(), k = s_.size();
    dir = g;
    std::vector<double> a(k);
    for (std::size_t i = k; i-- > 0;) {
      a[i] = rho_[i] * dot(s_[i], dir);
      for (std::size_t j = 0; j < n; ++j) dir[j] -= a[i] * y_[i][j];
    }
    h0(dir);
    for (std::size_t i = 0; i < k; ++i) {
      const double beta = rho_[i] * dot(y_[i], dir);
      for (std::size_t j = 0; j < n; ++j) dir[j] += (a[i] - beta) * s_[i][j];
    }
    for (double& e : dir) e = -e;
    if (!(dot(g, dir) < 0.0)) {
      clear();
      dir = g;
      h0(dir);
      for (double& e : dir) e = -e;
      if (!(dot(g, dir) < 0.0)) {
        for (std::size_t j = 0; j < n; ++j) dir[j] = -g[j];
      }
    }
  }

 private:
  int m_;
  std::vector<std::vector<double>> s_, y_;
  std::vector<double> rho_;
};

}  // namespace detail

// ---- lbfgs on the data: one pass per iteration ------------------------------------

// The preconditioner lbfgs builds from its sample: M = the sample's Hessian of
// the loss in the solver's coordinates (v = sigma w; the intercept's entry is
// 2 and decoupled by the centering), used as L-BFGS's initial inverse Hessian
// when the problem is ill-conditioned. Row sampling alone makes M's condition
// about kappa_s = ((1 + r) / (1 - r))^2 with r = sqrt(d / m); the plain
// method converges at a rate set by the full problem's condition, about
// kappa / kappa_s, so M is used when kappa > kappa_s^2 (and r < 1/2).
struct SamplePreconditioner {
  bool use = false;
  std::vector<double> chol;     // lower Cholesky factor of M (d x d, row-major)
  double kappa = 1.0;           // condition of M (power iterations)
  double kappa_sampling = 1.0;  // kappa_s
};

// lambda_max / lambda_min of the SPD matrix with factor l, from power
// iterations on M and on M^-1 (about 10 % accuracy is all the rule needs).
inline double spd_condition(const std::vector<double>& m, const std::vector<double>& l, index_t d) {
  auto iterate = [&](bool inverse) {
    std::vector<double> v(static_cast<std::size_t>(d)), w(static_cast<std::size_t>(d));
    for (index_t j = 0; j < d; ++j) v[j] = 1.0 + 0.5 * static_cast<double>(j % 3);
    double lam = 0.0;
    for (int it = 0; it < 40; ++it) {
      double nv = std::sqrt(dot(v, v));
      for (double& e : v) e /= nv;
      if (inverse) {
        w = v;
        linalg::cholesky_solve(l, d, w);
      } else {
        for (index_t j = 0; j < d; ++j) {
          double t = 0.0;
          for (index_t k = 0; k < d; ++k) t += m[j * d + k] * v[k];
          w[j] = t;
        }
      }
      lam = std::sqrt(dot(w, w));
      v.swap(w);
    }
    return lam;
  };
  const double lmax = iterate(false), inv_lmin = iterate(true);
  return lmax * inv_lmin;
}

inline SamplePreconditioner sample_preconditioner(const GramStats& st, index_t rows, bool fit_intercept,
                                                  const std::vector<double>& sigma, const std::vector<double>& lam,
                                                  const std::vector<char>& frozen) {
  SamplePreconditioner pc;
  const index_t d = st.d;
  const double S = st.sum_weights();
  if (!(S > 0.0) || d == 0) return pc;
  std::vector<double> a, rhs;
  double syy = 0.0;
  normal_equations(st, fit_intercept, a, rhs, syy);
  std::vector<double> m(static_cast<std::size_t>(d * d));
  index_t active = 0;
  double diag_sum = 0.0;
  for (index_t j = 0; j < d; ++j) {
    const bool fj = !frozen.empty() && frozen[j];
    for (index_t k = 0; k < d; ++k) {
      const bool fk = !frozen.empty() && frozen[k];
      m[j * d + k] = fj || fk ? 0.0 : 2.0 * a[j * d + k] / S / (sigma[j] * sigma[k]);
    }
    if (!fj) {
      m[j * d + j] += 2.0 * lam[j];
      diag_sum += m[j * d + j];
      ++active;
    }
  }
  if (active == 0) return pc;
  for (index_t j = 0; j < d; ++j) {  // frozen columns: a neutral diagonal entry
    if (!frozen.empty() && frozen[j]) m[j * d + j] = diag_sum / static_cast<double>(active);
  }
  for (double v : m) {
    if (!std::isfinite(v)) return pc;
  }
  std::vector<double> l = m;
  if (!linalg::cholesky(l, d)) return pc;
  const double r = std::sqrt(static_cast<double>(active) / static_cast<double>(rows));
  if (!(r < 0.5)) return pc;
  pc.kappa_sampling = ((1.0 + r) / (1.0 - r)) * ((1.0 + r) / (1.0 - r));
  pc.kappa = spd_condition(m, l, d);
  pc.use = std::isfinite(pc.kappa) && pc.kappa > pc.kappa_sampling * pc.kappa_sampling;
  if (pc.use) pc.chol = std::move(l);
  return pc;
}

// What lbfgs takes from its sample: a warm start (the sample's exact
// least-squares solution: its gradient on the full data is only the sampling
// error, a few thousandths of the gradient at zero for typical data) and the
// preconditioner. The warm start needs a closed form (a uniform penalty, no
// frozen columns, no start given by the caller); the preconditioner does not.
struct SampleStart {
  bool warm = false;
  std::vector<double> w;
  double b = 0.0;
  index_t rows = 0;
  SamplePreconditioner pc;
};

// The warm start from the sample's statistics; false if none.
inline bool sample_solution(const GramStats& total, double alpha, bool fit_intercept, std::vector<double>& w,
                            double& b) {
  for (double v : total.gram) {
    if (!std::isfinite(v)) return false;
  }
  try {
    const FitResult r = solve_from_stats(total, alpha, fit_intercept);
    if (r.rank < total.d) return false;  // the sample cannot pin every coefficient down
    for (double v : r.coef) {
      if (!std::isfinite(v)) return false;
    }
    if (!std::isfinite(r.intercept)) return false;
    w = r.coef;
    b = r.intercept;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

template <class Pass>
SampleStart lbfgs_sample(const LeastSquaresObjective<Pass>& obj, const FitOptions& opt) {
  SampleStart out;
  const GramStats& total = obj.start.sample;
  if (total.gram.empty()) return out;
  out.rows = total.n_rows;
  const bool closed_form =
      !opt.has_init && obj.uniform && opt.frozen.empty() && !(opt.standardize && opt.alpha != 0.0);
  if (closed_form) out.warm = sample_solution(total, opt.alpha, opt.fit_intercept, out.w, out.b);
  out.pc = sample_preconditioner(total, out.rows, opt.fit_intercept, obj.sigma, obj.lam, opt.frozen);
  return out;
}

// M^-1 q in place for the preconditioner: Cholesky solves on the coefficients,
// the intercept's entry (2) halved.
inline void apply_preconditioner(const SamplePreconditioner& pc, index_t d, std::vector<double>& q) {
  std::vector<double> v(q.begin(), q.begin() + d);
  linalg::cholesky_solve(pc.chol, d, v);
  std::copy(v.begin(), v.end(), q.begin());
  q[d] *= 0.5;
}

// dir = -H g from the memory, with H0 = M^-1 when the preconditioner is used;
// with positive, g is zero on the binding set and H0 is M^-1's block on the
// free coordinates (still positive definite).
inline void lbfgs_direction(detail::LbfgsHistory& hist, const SamplePreconditioner& pc, index_t d,
                            const SignConstraint& signs, const std::vector<double>& g, std::vector<double>& dir) {
  if (!pc.use) {
    hist.direction(g, dir);
  } else if (!signs.on()) {
    hist.direction(g, dir, [&](std::vector<double>& q) { apply_preconditioner(pc, d, q); });
  } else {
    hist.direction(g, dir, [&](std::vector<double>& q) {
      signs.restrict(q);
      apply_preconditioner(pc, d, q);
      signs.restrict(q);
    });
  }
}

// positive: the L-BFGS direction on the free coordinates. The memory restarts
// whenever the binding set changes (its pairs are secants of the free block of
// the Hessian only). A free coefficient at 0 has g_j < 0, so dropping the
// direction's entry that would take it below 0 only adds descent
// (SignConstraint::clip_at_zero); the pairs stay secants of the free block.
inline void free_direction(detail::LbfgsHistory& hist, const SamplePreconditioner& pc, index_t d,
                           SignConstraint& signs, const std::vector<double>& theta, const std::vector<double>& g,
                           double gtol, std::vector<double>& gf, std::vector<double>& dir) {
  if (signs.bind(theta, g, kBindingSlack * gtol)) hist.clear();
  gf = g;
  signs.restrict(gf);
  lbfgs_direction(hist, pc, d, signs, gf, dir);
  signs.restrict(dir);
  signs.clip_at_zero(theta, dir);
}

// lbfgs recomputes the gradient from the data at least every this many steps.
constexpr int kGradientRefresh = 8;

// guard_projection judges the rate after this many steps (the first ones of
// a warm or preconditioned start can be slower than the rest).
constexpr int kGuardMinSteps = 5;

// Whether the steps so far, at their average rate of decrease of the
// residual (best so far, from `start` toward `target`), project past
// `max_iter` steps in all.
inline bool projects_past(int steps, int max_iter, double start, double best, double target) {
  if (steps < kGuardMinSteps || !(start > target)) return false;
  const double done = std::log(start / best);
  if (!(done > 0.0)) return true;
  return steps * (std::log(start / target) / done) > static_cast<double>(max_iter);
}

// L-BFGS with exact line searches. The loss is quadratic, so one pass gives
// H p for the search direction p, and with it the exact step a = -g.p / p.Hp,
// the next gradient g + a Hp and the next loss: every iteration reads X once,
// with no line-search trials. The gradient is carried that way and recomputed
// from the data (a second probe of the same pass) every kGradientRefresh
// steps, so rounding cannot accumulate. The first pass gives the gradient at
// the start, the exact column means (a probe with u = 1), which become the
// centering point, and, after the sample warm start, the gradient at the
// default start that the tolerance is relative to.
// Stops when max|g| <= tol * max|g at the default start|, each entry of g
// divided by its column's scale (LeastSquaresObjective::gscale).
// positive: the active-set method of nonnegative.hpp. The direction lives on
// the free coordinates (free_direction), the exact step is capped where the
// first free coefficient reaches 0, and the stopping rule measures the
// projected gradient. Both starts are projected onto w >= 0, and the clipped
// sample solution is used only if its loss is below the default start's.
template <class Pass>
void lbfgs_least_squares(LeastSquaresObjective<Pass>& obj, std::vector<double>& theta, const FitOptions& opt,
                         FitResult& res) {
  const index_t d = obj.d;
  const std::size_t n = theta.size();
  // The default start (zero or the caller's coefficients) on X's scale; the
  // tolerance is relative to the gradient there.
  std::vector<double> w_ref, w_start;
  double b_ref = 0.0, b_start = 0.0;
  obj.to_model(theta, w_ref, b_ref);
  const SampleStart smp = lbfgs_sample(obj, opt);
  const bool warm = smp.warm;
  SignConstraint signs(opt.positive, d, obj.frozen);
  signs.set_scale(obj.gscale);
  if (warm) {
    w_start = smp.w;
    b_start = smp.b;
    if (signs.on()) {
      for (double& e : w_start) e = std::max(e, 0.0);
    }
  } else {
    w_start = w_ref;
    b_start = b_ref;
  }
  bool ref_is_zero = true;
  for (double v : w_ref) ref_is_zero = ref_is_zero && v == 0.0;
  std::vector<Probe> probes{Probe{w_start.data(), b_start, true}};
  const bool means = opt.fit_intercept && !opt.standardize;
  if (means) probes.push_back(Probe{nullptr, 1.0, false});  // u = 1: sum s x and sum s
  if (warm) probes.push_back(Probe{ref_is_zero ? nullptr : w_ref.data(), b_ref, true});
  const ProbeSums first = obj.pass(probes);
  if (means) {
    // Exact column means: centering there makes the intercept direction
    // orthogonal to the others, the best-conditioned parametrization.
    const double* sx = first.ux(1);
    for (index_t j = 0; j < d; ++j) obj.mu[j] = sx[j] / first.sum_u[1];
    for (double v : obj.mu) {
      if (!std::isfinite(v)) throw NonFiniteError("non-finite column means");
    }
  }
  std::vector<double> g, hp, theta_ref;
  obj.to_theta(w_start, b_start, theta);
  obj.theta_grad(first, 0, theta, g);
  double fx = first.uu(0, 0) / obj.sum_w + obj.penalty_dot(theta, theta);
  double g0 = signs.scaled_max(g);
  bool started_warm = warm;
  if (warm) {
    std::vector<double> g_ref;
    obj.to_theta(w_ref, b_ref, theta_ref);
    const int k_ref = means ? 2 : 1;
    obj.theta_grad(first, k_ref, theta_ref, g_ref);
    g0 = signs.scaled_max(g_ref);
    const double f_ref = first.uu(k_ref, k_ref) / obj.sum_w + obj.penalty_dot(theta_ref, theta_ref);
    if (signs.on() && f_ref < fx) {
      theta = theta_ref;
      g = g_ref;
      fx = f_ref;
      started_warm = false;
    }
  }
  if (!std::isfinite(fx) || !std::isfinite(g0) || !std::isfinite(max_abs_of(g))) {
    throw NonFiniteError("non-finite loss or gradient");
  }
  const double gtol = opt.tol * g0;
  detail::LbfgsHistory hist(opt.history);
  std::vector<double> dir, pw, gf;
  res.converged = signs.residual(theta, g) <= gtol;
  const double resid_start = signs.residual(theta, g);
  double resid_best = resid_start;
  int iter = 0;
  // Steps since g last came from the data (the first pass gave it). In
  // between, g + a Hp carries it: exact for the quadratic, with rounding of
  // order eps max|g| per step in double. Every kGradientRefresh steps (and
  // every step for float32 data, whose kernels round at 1e-7) the pass also
  // recomputes it, two probes instead of one.
  int since_fresh = 0;
  const bool single = obj.data->epsilon() > std::numeric_limits<double>::epsilon();
  auto fresh_gradient = [single](int steps) {
    return single || steps >= kGradientRefresh;
  };
  if (started_warm) {
    res.notes = "started from the exact solution of " + std::to_string(smp.rows) + " sampled rows";
    if (signs.on()) res.notes += ", clipped at 0";
  }
  if (smp.pc.use) {
    if (!res.notes.empty()) res.notes += "; ";
    char buf[160];
    std::snprintf(buf, sizeof buf, "preconditioned by the sample's Hessian (its condition %.3g > %.3g)", smp.pc.kappa,
                  smp.pc.kappa_sampling * smp.pc.kappa_sampling);
    res.notes += buf;
  }
  while (!res.converged && iter < opt.max_iter) {
    if (signs.on()) {
      free_direction(hist, smp.pc, d, signs, theta, g, gtol, gf, dir);
    } else {
      lbfgs_direction(hist, smp.pc, d, signs, g, dir);
    }
    // Unit length: the exact step absorbs the scale, and the probe's sums
    // (x^T p)^2 stay in range in float32 when g is huge (the first direction is -g).
    const double dir_norm = std::sqrt(dot(dir, dir));
    if (!(dir_norm > 0.0) || !std::isfinite(dir_norm)) throw NonFiniteError("non-finite loss or gradient");
    for (double& e : dir) e /= dir_norm;
    double pb = 0.0;
    obj.to_model(dir, pw, pb);
    double gp = 0.0, php = 0.0;
    if (fresh_gradient(since_fresh)) {
      std::vector<double> wt;
      double bt = 0.0;
      obj.to_model(theta, wt, bt);
      const ProbeSums ps = obj.pass({Probe{wt.data(), bt, true}, Probe{pw.data(), pb, false}});
      // The gradient and loss at theta from the data (they equal the values
      // carried over from the last steps up to rounding), and H p.
      obj.theta_grad(ps, 0, theta, g);
      obj.theta_grad(ps, 1, dir, hp);
      fx = ps.uu(0, 0) / obj.sum_w + obj.penalty_dot(theta, theta);
      since_fresh = 0;
      if (!std::isfinite(fx) || !std::isfinite(max_abs_of(g)) || !std::isfinite(max_abs_of(hp))) {
        throw NonFiniteError("non-finite loss or gradient");
      }
      if (signs.residual(theta, g) <= gtol) {
        res.converged = true;
        break;
      }
      gp = 2.0 * ps.uu(0, 1) / obj.sum_w + 2.0 * obj.penalty_dot(theta, dir);
      php = 2.0 * ps.uu(1, 1) / obj.sum_w + 2.0 * obj.penalty_dot(dir, dir);
    } else {  // H p alone: a one-probe pass
      const ProbeSums ps = obj.pass({Probe{pw.data(), pb, false}});
      obj.theta_grad(ps, 0, dir, hp);
      if (!std::isfinite(max_abs_of(hp))) throw NonFiniteError("non-finite loss or gradient");
      gp = dot(g, dir);
      php = 2.0 * ps.uu(0, 0) / obj.sum_w + 2.0 * obj.penalty_dot(dir, dir);
    }
    if (!std::isfinite(gp) || !std::isfinite(php)) throw NonFiniteError("non-finite loss or gradient");
    if (!(php > 0.0) || !(gp < 0.0)) {
      // No curvature or no descent along p: theta is as good as rounding allows.
      res.message = "no further decrease along the search direction (rounding limit)";
      break;
    }
    double a = -gp / php;
    index_t blocking = -1;
    if (signs.on()) {
      const double cap = signs.max_step(theta, dir, blocking);
      if (cap < a) {
        a = cap;  // a free coefficient reaches 0 first
      } else {
        blocking = -1;
      }
    }
    std::vector<double> s(n), yv(n);
    for (std::size_t j = 0; j < n; ++j) {
      s[j] = a * dir[j];
      yv[j] = a * hp[j];
      theta[j] += s[j];
      g[j] += yv[j];
    }
    // f(theta + a p) = f + a g.p + a^2 p.Hp / 2, = f + a g.p / 2 with the
    // exact a = -g.p / p.Hp; a sum of squares, so not below 0 (the update can
    // round there when f drops to ~0).
    if (blocking >= 0) {
      fx = std::max(0.0, fx + a * gp + 0.5 * a * a * php);
    } else {
      fx = std::max(0.0, fx + 0.5 * a * gp);
    }
    if (signs.on()) {
      signs.land(theta, blocking);
      signs.restrict(yv);  // a secant of the free block
    }
    hist.push(std::move(s), std::move(yv));
    ++iter;
    ++since_fresh;
    res.loss_history.push_back(fx);
    const double resid = signs.residual(theta, g);
    res.converged = resid <= gtol;
    resid_best = std::min(resid_best, resid);
    if (!res.converged && opt.guard_projection && projects_past(iter, opt.max_iter, resid_start, resid_best, gtol)) {
      res.message = "stopped by the guard: the rate so far projects past max_iter";
      break;
    }
  }
  finish_minimize(res, iter, signs.residual(theta, g), fx);
}

// lbfgs over a data pass (data_pass.hpp).
template <class Pass>
FitResult fit_lbfgs(Pass& data, const FitOptions& options) {
  const FitOptions opt = with_tolerance_floor(options, data.epsilon());
  std::vector<double> theta;
  // lbfgs' first pass gives the exact means: no sampled centering point.
  LeastSquaresObjective<Pass> obj = make_objective(data, opt, theta, /*center=*/false, row_sample(data));
  FitResult res;
  lbfgs_least_squares(obj, theta, opt, res);
  finish_iterative(obj, theta, res);
  return res;
}

}  // namespace fastcost
