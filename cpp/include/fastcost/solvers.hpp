// The solvers for weighted least squares with optional L2 penalty,
//     f(w, b) = (1 / sum s) * sum_i s_i (x_i^T w + b - y_i)^2 + alpha * ||w||^2,
// on arrays in host memory: newton (newton.hpp), lbfgs (lbfgs.hpp), gd (gd.hpp)
// over the host data pass, and sgd (sgd.hpp). Each loop lives in its own
// header once; these entry points only choose the host pass. Callers release
// the GIL around them.
#pragma once

#include "fastcost/data_pass.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/gd.hpp"
#include "fastcost/lbfgs.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/newton.hpp"
#include "fastcost/sgd.hpp"

namespace fastcost {

template <class T>
FitResult fit_lbfgs(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& options) {
  HostPass<T> data(X, y, sw, options.n_shards, options.n_threads);
  return fit_lbfgs(data, options);
}

template <class T>
FitResult fit_gd(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& options) {
  HostPass<T> data(X, y, sw, options.n_shards, options.n_threads);
  return fit_gd(data, options);
}

}  // namespace fastcost
