// Bindings of the solver loops: each call runs a whole fit without the GIL.
#include "bindings.hpp"

#include <string>

#include "fastcost/solvers.hpp"
#include "fastcost/tsqr.hpp"

namespace fastcost::bindings {

namespace {

FitOptions options_from(const py::dict& o, index_t d) {
  FitOptions opt;
  auto get = [&](const char* key) -> py::object { return o.contains(key) ? py::object(o[key]) : py::object(py::none()); };
  if (!get("alpha").is_none()) opt.alpha = get("alpha").cast<double>();
  if (!get("fit_intercept").is_none()) opt.fit_intercept = get("fit_intercept").cast<bool>();
  if (!get("tol").is_none()) opt.tol = get("tol").cast<double>();
  if (!get("max_iter").is_none()) opt.max_iter = get("max_iter").cast<int>();
  if (!get("history").is_none()) opt.history = get("history").cast<int>();
  if (!get("batch_size").is_none()) opt.batch_size = get("batch_size").cast<index_t>();
  if (!get("learning_rate").is_none()) opt.learning_rate = get("learning_rate").cast<double>();
  if (!get("seed").is_none()) opt.seed = get("seed").cast<std::uint64_t>();
  opt.n_threads = resolve_threads(get("n_threads").is_none() ? 0 : get("n_threads").cast<int>());
  if (!get("n_shards").is_none()) opt.n_shards = get("n_shards").cast<index_t>();
  if (!get("coef_init").is_none()) {
    opt.has_init = true;
    opt.coef_init = double_vector(get("coef_init"), d, "coef_init");
    if (!get("intercept_init").is_none()) opt.intercept_init = get("intercept_init").cast<double>();
  }
  if (!get("standardize").is_none()) opt.standardize = get("standardize").cast<bool>();
  if (!get("init_standardized").is_none()) opt.init_standardized = get("init_standardized").cast<bool>();
  if (!get("noise_var").is_none()) opt.noise_var = get("noise_var").cast<double>();
  if (!get("frozen").is_none()) {
    const std::vector<double> f = double_vector(get("frozen"), d, "frozen");
    opt.frozen.assign(f.begin(), f.end());  // nonzero: held at coefficient 0
    for (std::size_t j = 0; j < f.size(); ++j) opt.frozen[j] = f[j] != 0.0 ? 1 : 0;
  }
  if (!(opt.noise_var >= 0.0)) throw py::value_error("noise_var must be >= 0");
  if (!(opt.alpha >= 0.0)) throw py::value_error("alpha must be >= 0");
  if (!(opt.tol >= 0.0)) throw py::value_error("tol must be >= 0");
  if (opt.max_iter < 1) throw py::value_error("max_iter must be >= 1");
  if (opt.history < 1) throw py::value_error("history must be >= 1");
  if (!(opt.learning_rate > 0.0)) throw py::value_error("learning_rate must be > 0");
  return opt;
}

template <class T>
py::dict fit_impl(const py::array& X, const py::object& y, const py::object& sw, const std::string& solver,
                  const py::dict& options) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  if (!a.y) throw py::value_error("y is required");
  const MatrixView<T>& v = a.X;
  const T *yp = a.y, *sp = a.sw;
  const FitOptions opt = options_from(options, v.cols);
  if (v.rows == 0) throw py::value_error("X has no rows");
  FitResult r;
  if (solver == "newton") {
    r = run_released([&] { return fit_newton<T>(v, yp, sp, opt); });
  } else if (solver == "lbfgs") {
    r = run_released([&] { return fit_lbfgs<T>(v, yp, sp, opt); });
  } else if (solver == "gd") {
    r = run_released([&] { return fit_gd<T>(v, yp, sp, opt); });
  } else if (solver == "qr") {
    r = run_released([&] { return fit_qr<T>(v, yp, sp, opt); });
  } else if (solver == "sgd") {
    r = run_released([&] { return fit_sgd<T>(v, yp, sp, opt); });
  } else {
    throw py::value_error("unknown solver '" + solver + "' (newton, qr, lbfgs, gd, sgd)");
  }
  return result_dict(r);
}

}  // namespace

void bind_solvers(py::module_& m) {
  m.def("fit", [](const py::array& X, const py::object& y, const py::object& sample_weight, const std::string& solver,
                  const py::dict& options) {
    return dtype_of(X, "X") == Dtype::F64 ? fit_impl<double>(X, y, sample_weight, solver, options)
                                          : fit_impl<float>(X, y, sample_weight, solver, options);
  }, py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("solver"), py::arg("options"),
     "Run one solver's whole loop in C++ (GIL released). Returns a dict with coef, intercept,\n"
     "n_iter, loss_history, n_passes, converged, singular, rank, condition_estimate, message.");

  m.def("solve_stats", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& gram,
                          const py::object& shift, double alpha, bool fit_intercept) {
    return result_dict(solve_from_stats(gram_stats_from(gram, shift), alpha, fit_intercept));
  }, py::arg("gram"), py::arg("shift"), py::arg("alpha") = 0.0, py::arg("fit_intercept") = true,
     "The newton solve from (possibly merged) statistics of gram_stats.");

  m.def("sample_blocks", [](index_t n, index_t d) {
    if (n < 0 || d < 0) throw py::value_error("n and d must be >= 0");
    py::list out;
    for (const auto& [begin, end] : sample_blocks(n, d)) out.append(py::make_tuple(begin, end));
    return out;
  }, py::arg("n"), py::arg("d"),
     "lbfgs' row sample for n rows and d columns: a list of [begin, end) row blocks (empty: no sample).");

  m.def("sample_preconditioner", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& gram,
                                    const py::object& shift, index_t rows, bool fit_intercept, const py::object& sigma,
                                    const py::object& lam, const py::object& frozen) {
    const GramStats st = gram_stats_from(gram, shift);
    std::vector<char> fz;
    if (!frozen.is_none()) {
      const auto f = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(frozen);
      if (!f || f.ndim() != 1 || f.shape(0) != st.d) throw py::value_error("frozen must be a 1-D bool array of length d");
      fz.assign(f.data(), f.data() + st.d);
    }
    const std::vector<double> sg = double_vector(sigma, st.d, "sigma"), lm = double_vector(lam, st.d, "lam");
    const SamplePreconditioner pc = sample_preconditioner(st, rows, fit_intercept, sg, lm, fz);
    py::dict out;
    out["use"] = pc.use;
    out["chol"] = square_array(pc.use ? pc.chol : std::vector<double>(static_cast<std::size_t>(st.d * st.d), 0.0),
                               st.d);
    out["kappa"] = pc.kappa;
    out["kappa_sampling"] = pc.kappa_sampling;
    return out;
  }, py::arg("gram"), py::arg("shift"), py::arg("rows"), py::arg("fit_intercept"), py::arg("sigma"), py::arg("lam"),
     py::arg("frozen") = py::none(),
     "lbfgs' preconditioner from its row sample's statistics (sample_preconditioner in solvers.hpp):\n"
     "dict(use, chol, kappa, kappa_sampling).");

  m.def("apply_preconditioner", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& chol,
                                   const py::object& q) {
    if (chol.ndim() != 2 || chol.shape(0) != chol.shape(1)) throw py::value_error("chol must be a square matrix");
    const auto d = static_cast<index_t>(chol.shape(0));
    SamplePreconditioner pc;
    pc.chol.assign(chol.data(), chol.data() + d * d);
    std::vector<double> v = double_vector(q, d + 1, "q");
    apply_preconditioner(pc, d, v);
    return vector_array(v);
  }, py::arg("chol"), py::arg("q"), "M^-1 q for lbfgs' preconditioner (coefficients, then the intercept).");
}

}  // namespace fastcost::bindings
