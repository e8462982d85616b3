// Bindings of the solver loops: each call runs a whole fit without the GIL.
#include "bindings.hpp"

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fastcost/lockstep.hpp"
#include "fastcost/qr_solve.hpp"
#include "fastcost/solvers.hpp"

namespace fastcost::bindings {

namespace {

// The data pass of fastcost.dask (and of any Python object with the same
// methods): each request of the compiled lbfgs and gd loops becomes one call
// back into Python, the GIL taken only for that call. The object has
//   n_rows, n_features, dtype (float32 or float64)
//   start(moments: bool, center_rows: list[int] | None, sample: list[(begin, end)])
//     -> dict(sum_w, sum_wy, moments=(sum_w, mean, m2, finite) | None,
//             center=(d,) weighted mean of center_rows | None,
//             sample=(list of (d + 2)^2 block Grams, shift) | None)
//   probes(list of (w (d,) or None, b, with_y)) -> dict(sum_w, sum_ux (K, d), sum_u (K,), sum_uu (K, K))
// and optionally
//   takes_row_sample: bool attribute (default True): False declines lbfgs' row
//     sample (takes_row_sample in data_pass.hpp), as MixedPass does
//   start()'s dict may hold indicators_from (default -1): columns from this one
//     on are 0/1 level indicators (PassStartResult::indicators_from)
// Errors raised there propagate unchanged.
class PyPass {
 public:
  explicit PyPass(py::object obj) : obj_(std::move(obj)) {
    rows_ = obj_.attr("n_rows").cast<index_t>();
    cols_ = obj_.attr("n_features").cast<index_t>();
    const std::string dtype = py::str(obj_.attr("dtype"));
    if (dtype == "float64") {
      eps_ = std::numeric_limits<double>::epsilon();
    } else if (dtype == "float32") {
      eps_ = static_cast<double>(std::numeric_limits<float>::epsilon());
    } else {
      throw py::type_error("the data pass's dtype must be float32 or float64, got " + dtype);
    }
    if (rows_ < 1 || cols_ < 1) throw py::value_error("the data pass needs at least one row and one column");
    sample_ = py::getattr(obj_, "takes_row_sample", py::bool_(true)).cast<bool>();
  }

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  double epsilon() const { return eps_; }
  index_t reads() const { return reads_; }
  bool takes_row_sample() const { return sample_; }

  PassStartResult start(const PassStart& req) {
    py::gil_scoped_acquire gil;
    py::object center = py::none();
    if (req.center) {
      py::list rows;
      for (index_t i : center_rows(rows_)) rows.append(i);
      center = rows;
    }
    py::list blocks;
    for (const auto& [begin, end] : req.sample) blocks.append(py::make_tuple(begin, end));
    const py::dict r = obj_.attr("start")(req.moments, center, blocks);
    PassStartResult out;
    out.sum_w = r["sum_w"].cast<double>();
    out.sum_wy = r["sum_wy"].cast<double>();
    if (r.contains("indicators_from") && !r["indicators_from"].is_none()) {
      out.indicators_from = r["indicators_from"].cast<index_t>();
    }
    if (req.moments) {
      const auto m = r["moments"].cast<py::tuple>();
      out.moments.sum_w = m[0].cast<double>();
      out.moments.mean = double_vector(m[1], cols_, "moments mean");
      out.moments.m2 = double_vector(m[2], cols_, "moments m2");
      out.moments.finite = m[3].cast<bool>();
      ++reads_;
    }
    if (req.center) out.center = double_vector(r["center"], cols_, "center");
    if (!req.sample.empty()) {
      const auto smp = r["sample"].cast<py::tuple>();
      const auto grams = smp[0].cast<py::list>();
      if (grams.size() != req.sample.size()) throw py::value_error("start() must return one Gram per sample block");
      out.sample = sum_block_grams(grams, smp[1], req.sample);
    }
    return out;
  }

  ProbeSums probes(const std::vector<Probe>& probes) {
    py::gil_scoped_acquire gil;
    const auto K = static_cast<int>(probes.size());
    py::list spec;
    for (const Probe& p : probes) {
      py::object w = py::none();
      if (p.w) w = vector_array(std::vector<double>(p.w, p.w + cols_));
      spec.append(py::make_tuple(w, p.b, p.with_y));
    }
    const py::dict r = obj_.attr("probes")(spec);
    ++reads_;
    using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;
    const auto ux = Doubles::ensure(r["sum_ux"]), u = Doubles::ensure(r["sum_u"]), uu = Doubles::ensure(r["sum_uu"]);
    if (!ux || ux.ndim() != 2 || ux.shape(0) != K || ux.shape(1) != cols_ || !u || u.ndim() != 1 || u.shape(0) != K ||
        !uu || uu.ndim() != 2 || uu.shape(0) != K || uu.shape(1) != K) {
      throw py::value_error("probes() returned sums of the wrong shape");
    }
    ProbeSums out;
    out.k = K;
    out.d = cols_;
    out.sum_w = r["sum_w"].cast<double>();
    out.sum_ux.assign(ux.data(), ux.data() + K * cols_);
    out.sum_u.assign(u.data(), u.data() + K);
    out.sum_uu.assign(uu.data(), uu.data() + K * K);
    return out;
  }

 private:
  // The blocks' Grams summed as block_stats (data_pass.hpp) sums them: runs of
  // consecutive blocks, then the runs in order.
  GramStats sum_block_grams(const py::list& grams, const py::object& shift, const RowBlocks& blocks) const {
    const index_t da = cols_ + 2;
    const auto n_blocks = static_cast<index_t>(blocks.size());
    const ShardPlan groups = make_plan(0, n_blocks, kSampleGroups);
    GramStats total;
    total.d = cols_;
    total.shift = double_vector(shift, cols_ + 1, "sample shift");
    total.gram.assign(static_cast<std::size_t>(da * da), 0.0);
    std::vector<double> run(static_cast<std::size_t>(da * da));
    for (index_t g = 0; g < groups.n_shards; ++g) {
      std::fill(run.begin(), run.end(), 0.0);
      for (index_t k = groups.shard_begin(g); k < groups.shard_end(g); ++k) {
        const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(grams[k]);
        if (!a || a.size() != da * da) throw py::value_error("a sample block's Gram has the wrong shape");
        for (index_t e = 0; e < da * da; ++e) run[e] += a.data()[e];
        total.n_rows += blocks[k].second - blocks[k].first;
      }
      for (index_t e = 0; e < da * da; ++e) total.gram[e] += run[e];
    }
    return total;
  }

  py::object obj_;
  index_t rows_ = 0, cols_ = 0;
  double eps_ = 0.0;
  index_t reads_ = 0;
  bool sample_ = true;
};

template <class T>
FitResult fit_impl(const py::array& X, const py::object& y, const py::object& sw, const std::string& solver,
                   const FitOptions& opt) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  if (!a.y) throw py::value_error("y is required");
  const MatrixView<T>& v = a.X;
  const T *yp = a.y, *sp = a.sw;
  check_fit_options(opt, v.cols);
  check_positive_solver(opt, solver);
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
  return r;
}

// lbfgs or gd for every target of ys (1-D arrays of X's rows and dtype) in
// lockstep (lockstep.hpp): one read of X per round for all of them.
template <class T>
py::tuple fit_targets_impl(const py::array& X, const py::sequence& ys, const py::object& sw, const std::string& solver,
                           const py::sequence& options) {
  const RowsArgs<T> a = rows_args<T>(X, py::none(), sw);
  if (a.X.rows == 0) throw py::value_error("X has no rows");
  if (ys.size() == 0) throw py::value_error("ys holds no targets");
  if (options.size() != ys.size()) throw py::value_error("options must hold one FitOptions per target");
  if (solver != "lbfgs" && solver != "gd") {
    throw py::value_error("unknown solver '" + solver + "' for fit_targets (lbfgs, gd)");
  }
  std::vector<const T*> yp;
  std::vector<FitOptions> opts;
  for (std::size_t t = 0; t < ys.size(); ++t) {
    yp.push_back(vector_ptr<T>(ys[t], a.X.rows, "y"));
    if (!yp.back()) throw py::value_error("every target needs its y");
    opts.push_back(options[t].cast<FitOptions>());
    check_fit_options(opts.back(), a.X.cols);
    check_positive_solver(opts.back(), solver);
    if (opts.back().n_threads != opts[0].n_threads || opts.back().n_shards != opts[0].n_shards) {
      throw py::value_error("the targets' options must share n_threads and n_shards (one read of X serves them all)");
    }
  }
  index_t reads = 0;
  const MatrixView<T>& v = a.X;
  const T* sp = a.sw;
  std::vector<FitResult> results = run_released([&] {
    if (solver == "lbfgs") {
      return fit_targets(v, yp, sp, opts, [](auto& pass, const FitOptions& o) { return fit_lbfgs(pass, o); }, reads);
    }
    return fit_targets(v, yp, sp, opts, [](auto& pass, const FitOptions& o) { return fit_gd(pass, o); }, reads);
  });
  py::list out;
  for (FitResult& r : results) out.append(py::cast(std::move(r)));
  return py::make_tuple(out, reads);
}

}  // namespace

void bind_solvers(py::module_& m) {
  m.def("fit", [](const py::array& X, const py::object& y, const py::object& sample_weight, const std::string& solver,
                  const FitOptions& options) {
    return dtype_of(X, "X") == Dtype::F64 ? fit_impl<double>(X, y, sample_weight, solver, options)
                                          : fit_impl<float>(X, y, sample_weight, solver, options);
  }, py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("solver"), py::arg("options"),
     "Run one solver's whole loop in C++ (GIL released); returns a FitResult.");

  m.def("fit_targets", [](const py::array& X, const py::sequence& ys, const py::object& sample_weight,
                          const std::string& solver, const py::sequence& options) {
    return dtype_of(X, "X") == Dtype::F64 ? fit_targets_impl<double>(X, ys, sample_weight, solver, options)
                                          : fit_targets_impl<float>(X, ys, sample_weight, solver, options);
  }, py::arg("X"), py::arg("ys"), py::arg("sample_weight"), py::arg("solver"), py::arg("options"),
     "lbfgs or gd for each y of ys (options: one FitOptions per target) in lockstep, GIL released:\n"
     "every iteration round reads X once for all targets. Returns (list of FitResult, reads of X);\n"
     "target t's FitResult equals fit(X, ys[t], sample_weight, solver, options[t]) bit for bit.");

  m.def("solve_stats", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& gram,
                          const py::object& shift, double alpha, bool fit_intercept, bool minimum_norm) {
    const GramStats st = gram_stats_from(gram, shift);
    return run_released([&] { return solve_from_stats(st, alpha, fit_intercept, minimum_norm); });
  }, py::arg("gram"), py::arg("shift"), py::arg("alpha") = 0.0, py::arg("fit_intercept") = true,
     py::arg("minimum_norm") = true,
     "The newton solve from (possibly merged) statistics of gram_stats; minimum_norm=False\n"
     "stops at a singular system (zero coefficients, infinite condition estimate).");

  m.def("minimize", [](const py::object& data, const std::string& solver, const FitOptions& opt) {
    PyPass pass(data);
    check_fit_options(opt, pass.cols());
    if (solver == "lbfgs") return run_released([&] { return fit_lbfgs(pass, opt); });
    if (solver == "gd") return run_released([&] { return fit_gd(pass, opt); });
    throw py::value_error("unknown solver '" + solver + "' for minimize (lbfgs, gd)");
  }, py::arg("data"), py::arg("solver"), py::arg("options"),
     "The compiled lbfgs or gd loop over a data pass written in Python (see PyPass in\n"
     "bind_solvers.cpp; fastcost.dask runs each request as one map-reduce). Returns a FitResult.");

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
