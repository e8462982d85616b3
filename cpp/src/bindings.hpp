// Shared helpers for the pybind11 bindings of _core and _cuda: array checks
// (done with the GIL held), dtype dispatch, the result dicts both modules
// return and a SIGINT guard around long GIL-free calls.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/solvers.hpp"

namespace fastcost::bindings {

namespace py = pybind11;

void bind_kernels(py::module_& m);
void bind_solvers(py::module_& m);
void bind_qr(py::module_& m);
void bind_preprocess(py::module_& m);
void bind_categorical(py::module_& m);
void bind_sparse(py::module_& m);
void bind_sandwich(py::module_& m);
void bind_lapack(py::module_& m);

enum class Dtype { F32, F64 };

// True for numpy.longdouble where it is wider than float64 (not on MSVC, where
// long double is double and numpy.longdouble is float64).
inline bool is_long_double(const py::array& a) {
  const py::dtype dt = a.dtype();
  return sizeof(long double) > sizeof(double) && dt.kind() == 'f' &&
         static_cast<std::size_t>(dt.itemsize()) == sizeof(long double);
}

inline Dtype dtype_of(const py::array& a, const char* name) {
  const py::dtype dt = a.dtype();
  if (dt.kind() == 'f' && dt.itemsize() == 8) return Dtype::F64;
  if (dt.kind() == 'f' && dt.itemsize() == 4) return Dtype::F32;
  if (is_long_double(a)) {
    throw py::type_error(std::string(name) + " is longdouble, which only the qr solver reads (fit_qr, tsqr_stats); "
                         "convert it to float64 for this function");
  }
  throw py::type_error(std::string(name) + " must be float32 or float64, got " + std::string(py::str(dt)));
}

template <class T>
MatrixView<T> matrix_view(const py::array& a, const char* name) {
  if (a.ndim() != 2) throw py::value_error(std::string(name) + " must be 2-D");
  if (static_cast<std::size_t>(a.itemsize()) != sizeof(T)) throw py::type_error(std::string(name) + " has the wrong dtype");
  MatrixView<T> v;
  v.data = static_cast<const T*>(a.data());
  v.rows = a.shape(0);
  v.cols = a.shape(1);
  const auto item = static_cast<py::ssize_t>(sizeof(T));
  if (a.flags() & py::array::c_style) {
    v.layout = Layout::RowMajor;
    v.ld = std::max<index_t>(v.cols, 1);
  } else if (a.flags() & py::array::f_style) {
    v.layout = Layout::ColMajor;
    v.ld = std::max<index_t>(v.rows, 1);
  } else if (a.strides(1) == item && a.strides(0) % item == 0 && a.strides(0) / item >= v.cols) {
    v.layout = Layout::RowMajor;  // a block of rows/columns of a C array: still no copy
    v.ld = a.strides(0) / item;
  } else if (a.strides(0) == item && a.strides(1) % item == 0 && a.strides(1) / item >= v.rows) {
    v.layout = Layout::ColMajor;
    v.ld = a.strides(1) / item;
  } else {
    throw py::value_error(std::string(name) + " must have unit stride along rows or columns (copy it first)");
  }
  v.validate();
  return v;
}

// X given as a list or tuple of 1-D arrays of equal length and one float dtype
// (the columns of an Arrow record batch, each its own buffer): a column-major
// view of them, read in place. `pointers` holds the column addresses for the
// view's lifetime; the caller's sequence keeps the arrays alive.
inline bool is_column_list(const py::object& X) {
  return py::isinstance<py::list>(X) || py::isinstance<py::tuple>(X);
}

// The dtype of X, a 2-D array or a column list (that of its first column).
inline Dtype x_dtype(const py::object& X) {
  if (is_column_list(X)) {
    const auto cols = py::reinterpret_borrow<py::sequence>(X);
    if (cols.size() == 0) throw py::value_error("X has no columns (an empty list)");
    if (!py::isinstance<py::array>(cols[0])) throw py::type_error("X's columns must be numpy arrays");
    return dtype_of(py::reinterpret_borrow<py::array>(cols[0]), "X's column 0");
  }
  if (!py::isinstance<py::array>(X)) throw py::type_error("X must be a numpy array or a list of 1-D column arrays");
  return dtype_of(py::reinterpret_borrow<py::array>(X), "X");
}

template <class T>
MatrixView<T> columns_view(const py::sequence& cols, std::vector<const T*>& pointers) {
  MatrixView<T> v;
  v.layout = Layout::ColMajor;
  v.cols = static_cast<index_t>(cols.size());
  pointers.assign(static_cast<std::size_t>(v.cols), nullptr);
  for (index_t j = 0; j < v.cols; ++j) {
    const std::string name = "X's column " + std::to_string(j);
    const py::object c = cols[static_cast<std::size_t>(j)];
    if (!py::isinstance<py::array>(c)) throw py::type_error(name + " must be a numpy array");
    const auto a = py::reinterpret_borrow<py::array>(c);
    if (a.ndim() != 1) throw py::value_error(name + " must be 1-D");
    if (j == 0) v.rows = a.shape(0);
    if (a.shape(0) != v.rows) {
      throw py::value_error(name + " has " + std::to_string(a.shape(0)) + " rows, column 0 has " +
                            std::to_string(v.rows));
    }
    const py::dtype dt = a.dtype();
    if (!(dt.kind() == 'f' && static_cast<std::size_t>(dt.itemsize()) == sizeof(T))) {
      throw py::type_error(name + " must have column 0's float dtype");
    }
    if (v.rows > 1 && a.strides(0) != static_cast<py::ssize_t>(sizeof(T))) {
      throw py::value_error(name + " must be contiguous");
    }
    pointers[static_cast<std::size_t>(j)] = static_cast<const T*>(a.data());
  }
  v.ld = std::max<index_t>(v.rows, 1);
  v.data = v.cols > 0 ? pointers[0] : nullptr;
  v.columns = pointers.data();
  v.validate();
  return v;
}

// A 2-D array, or a list of columns (columns_view), as a view.
template <class T>
MatrixView<T> x_view(const py::object& X, std::vector<const T*>& pointers) {
  if (is_column_list(X)) return columns_view<T>(py::reinterpret_borrow<py::sequence>(X), pointers);
  return matrix_view<T>(py::reinterpret_borrow<py::array>(X), "X");
}

// A contiguous 1-D array of T with n entries, or null for None.
template <class T>
const T* vector_ptr(const py::object& o, index_t n, const char* name) {
  if (o.is_none()) return nullptr;
  const auto a = py::reinterpret_borrow<py::array>(o);
  if (!py::isinstance<py::array>(o)) throw py::type_error(std::string(name) + " must be a numpy array");
  if (a.ndim() != 1) throw py::value_error(std::string(name) + " must be 1-D");
  if (a.shape(0) != n) {
    throw py::value_error(std::string(name) + " has " + std::to_string(a.shape(0)) + " entries, expected " + std::to_string(n));
  }
  const py::dtype dt = a.dtype();
  if (!(dt.kind() == 'f' && static_cast<std::size_t>(dt.itemsize()) == sizeof(T))) {
    throw py::type_error(std::string(name) + " must have the same float dtype as X");
  }
  if (n > 1 && a.strides(0) != static_cast<py::ssize_t>(sizeof(T))) throw py::value_error(std::string(name) + " must be contiguous");
  return static_cast<const T*>(a.data());
}

inline std::vector<double> double_vector(const py::object& o, index_t n, const char* name) {
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(o);
  if (!a || a.ndim() != 1 || a.shape(0) != n) {
    throw py::value_error(std::string(name) + " must be a 1-D array of length " + std::to_string(n));
  }
  return std::vector<double>(a.data(), a.data() + n);
}

// A 1-D float64 vector of any length.
inline std::vector<double> any_double_vector(const py::object& o, const char* name) {
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(o);
  if (!a || a.ndim() != 1) throw py::value_error(std::string(name) + " must be a 1-D array");
  return std::vector<double>(a.data(), a.data() + a.shape(0));
}

// _core.FitOptions(**options): one table of keywords for every solver binding
// of _core and _cuda; an unknown keyword is an error, so a misspelt option
// never passes silently. Lengths that depend on X are checked by
// check_fit_options when X is known.
inline FitOptions fit_options_from(const py::kwargs& o) {
  static const char* const known[] = {"alpha", "fit_intercept", "tol", "max_iter", "history", "batch_size",
                                      "learning_rate", "seed", "n_threads", "n_shards", "coef_init",
                                      "intercept_init", "standardize", "init_standardized", "noise_var",
                                      "frozen", "positive", "minimum_norm", "guard_projection"};
  for (const auto& item : o) {
    const std::string key = py::str(item.first);
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return key == k; }) == std::end(known)) {
      std::string names;
      for (const char* k : known) names += std::string(names.empty() ? "" : ", ") + k;
      throw py::value_error("unknown option '" + key + "' (known: " + names + ")");
    }
  }
  auto has = [&](const char* k) { return o.contains(k) && !o[k].is_none(); };
  FitOptions opt;
  if (has("alpha")) opt.alpha = py::cast<double>(o["alpha"]);
  if (has("fit_intercept")) opt.fit_intercept = py::cast<bool>(o["fit_intercept"]);
  if (has("tol")) opt.tol = py::cast<double>(o["tol"]);
  if (has("max_iter")) opt.max_iter = py::cast<int>(o["max_iter"]);
  if (has("history")) opt.history = py::cast<int>(o["history"]);
  if (has("batch_size")) opt.batch_size = py::cast<index_t>(o["batch_size"]);
  if (has("learning_rate")) opt.learning_rate = py::cast<double>(o["learning_rate"]);
  if (has("seed")) opt.seed = py::cast<std::uint64_t>(o["seed"]);
  opt.n_threads = resolve_threads(has("n_threads") ? py::cast<int>(o["n_threads"]) : 0);
  if (has("n_shards")) opt.n_shards = py::cast<index_t>(o["n_shards"]);
  if (has("coef_init")) {
    opt.has_init = true;
    opt.coef_init = any_double_vector(o["coef_init"], "coef_init");
    if (has("intercept_init")) opt.intercept_init = py::cast<double>(o["intercept_init"]);
  }
  if (has("standardize")) opt.standardize = py::cast<bool>(o["standardize"]);
  if (has("init_standardized")) opt.init_standardized = py::cast<bool>(o["init_standardized"]);
  if (has("noise_var")) opt.noise_var = py::cast<double>(o["noise_var"]);
  if (has("positive")) opt.positive = py::cast<bool>(o["positive"]);
  if (has("minimum_norm")) opt.minimum_norm = py::cast<bool>(o["minimum_norm"]);
  if (has("guard_projection")) opt.guard_projection = py::cast<bool>(o["guard_projection"]);
  if (has("frozen")) {
    const std::vector<double> f = any_double_vector(o["frozen"], "frozen");
    opt.frozen.resize(f.size());  // nonzero: held at coefficient 0
    for (std::size_t j = 0; j < f.size(); ++j) opt.frozen[j] = f[j] != 0.0 ? 1 : 0;
  }
  if (!(opt.noise_var >= 0.0)) throw py::value_error("noise_var must be >= 0");
  if (!(opt.alpha >= 0.0)) throw py::value_error("alpha must be >= 0");
  if (!(opt.tol >= 0.0)) throw py::value_error("tol must be >= 0");
  if (opt.max_iter < 1) throw py::value_error("max_iter must be >= 1");
  if (opt.history < 1) throw py::value_error("history must be >= 1");
  if (opt.batch_size < 1) throw py::value_error("batch_size must be >= 1");
  if (!(opt.learning_rate > 0.0)) throw py::value_error("learning_rate must be > 0");
  if (opt.n_shards < 0) throw py::value_error("n_shards must be >= 0");
  return opt;
}

// positive is an option of the lbfgs and gd loops (nonnegative.hpp); newton and
// qr reach it through their statistics (fastcost._nnls), sgd not at all.
inline void check_positive_solver(const FitOptions& opt, const std::string& solver) {
  if (opt.positive && solver != "lbfgs" && solver != "gd") {
    throw py::value_error("positive=True is an option of solver 'lbfgs' and 'gd' only, not '" + solver + "'");
  }
}

// The options' vectors against X's d columns.
inline void check_fit_options(const FitOptions& opt, index_t d) {
  if (opt.has_init && static_cast<index_t>(opt.coef_init.size()) != d) {
    throw py::value_error("coef_init must be a 1-D array of length " + std::to_string(d));
  }
  if (!opt.frozen.empty() && static_cast<index_t>(opt.frozen.size()) != d) {
    throw py::value_error("frozen must be a 1-D array of length " + std::to_string(d));
  }
}

// X, y and sample_weight of one call, checked together; y and sample_weight
// may be None (null here).
template <class T>
struct RowsArgs {
  MatrixView<T> X;
  const T* y = nullptr;
  const T* sw = nullptr;
};

template <class T>
RowsArgs<T> rows_args(const py::array& X, const py::object& y, const py::object& sw) {
  RowsArgs<T> a;
  a.X = matrix_view<T>(X, "X");
  a.y = vector_ptr<T>(y, a.X.rows, "y");
  a.sw = vector_ptr<T>(sw, a.X.rows, "sample_weight");
  return a;
}

// The targets argument of gram_stats and tsqr_stats: None (no targets: zeros,
// k = 1), a 1-D y (one target) or a 2-D (n, k) array of k >= 1 targets, C or
// F ordered (or a block of rows/columns of one), in X's dtype. No copy.
template <class T>
MatrixView<T> targets_view(const py::object& y, index_t rows) {
  if (y.is_none() || (py::isinstance<py::array>(y) && py::reinterpret_borrow<py::array>(y).ndim() == 1)) {
    return target_column(vector_ptr<T>(y, rows, "y"), rows);
  }
  if (!py::isinstance<py::array>(y)) throw py::type_error("y must be a numpy array");
  const auto a = py::reinterpret_borrow<py::array>(y);
  if (a.ndim() != 2) throw py::value_error("y must be 1-D (one target) or 2-D (n_samples, n_targets)");
  if (a.shape(0) != rows) {
    throw py::value_error("y has " + std::to_string(a.shape(0)) + " rows, expected " + std::to_string(rows) +
                          " (X's rows)");
  }
  if (a.shape(1) == 0) throw py::value_error("y has no columns: a 2-D y needs at least one target");
  const py::dtype dt = a.dtype();
  if (!(dt.kind() == 'f' && static_cast<std::size_t>(dt.itemsize()) == sizeof(T))) {
    throw py::type_error("y must have the same float dtype as X");
  }
  return matrix_view<T>(a, "y");
}

// The d + k values of a shift argument (d features, k targets), or empty for
// None (the kernel's default).
inline std::vector<double> optional_shift(const py::object& shift, index_t d, index_t k = 1) {
  if (shift.is_none()) return {};
  return double_vector(shift, d + k, "shift");
}

// Augmented Gram statistics as gram_stats returns them: a square float64 gram
// and its shift (d + 1 values).
inline GramStats gram_stats_from(const py::array_t<double, py::array::c_style | py::array::forcecast>& gram,
                                 const py::object& shift) {
  GramStats st;
  const index_t da = gram.shape(0);
  if (gram.ndim() != 2 || gram.shape(1) != da || da < 2) throw py::value_error("gram must be square");
  st.d = da - 2;
  st.gram.assign(gram.data(), gram.data() + da * da);
  st.shift = double_vector(shift, st.d + 1, "shift");
  return st;
}

inline py::array_t<double> vector_array(const std::vector<double>& v) {
  return py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
}

// The probes of probe_sums and mixed_probe_sums: a sequence of one to
// kMaxProbes (w or None, b, with_y) tuples, w of length d. Each Probe's w
// points into `ws`.
struct ProbeList {
  std::vector<std::vector<double>> ws;
  std::vector<Probe> list;
};

inline ProbeList probe_list(const py::sequence& probes, index_t d, bool has_y) {
  const auto k = static_cast<int>(py::len(probes));
  if (k < 1 || k > kMaxProbes) throw py::value_error("probes must hold one to three (w, b, with_y) tuples");
  ProbeList out;
  out.ws.resize(static_cast<std::size_t>(k));
  out.list.resize(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    const auto t = py::reinterpret_borrow<py::sequence>(probes[static_cast<std::size_t>(i)]);
    if (py::len(t) != 3) throw py::value_error("each probe is a (w or None, b, with_y) tuple");
    if (!t[0].is_none()) {
      out.ws[i] = double_vector(t[0], d, "probe w");
      out.list[i].w = out.ws[i].data();
    }
    out.list[i].b = t[1].cast<double>();
    out.list[i].with_y = t[2].cast<bool>();
    if (out.list[i].with_y && !has_y) throw py::value_error("a probe with with_y=True needs y");
  }
  return out;
}

// Column moments as a dict: sum_weights, mean, m2, finite.
inline py::dict moments_dict(const ColumnMoments& m) {
  py::dict out;
  out["sum_weights"] = m.sum_w;
  out["mean"] = vector_array(m.mean);
  out["m2"] = vector_array(m.m2);
  out["finite"] = m.finite;
  return out;
}

// probe_sums' result as a dict: sum_w, sum_ux (k x d), sum_u (k), sum_uu (k x k).
inline py::dict probe_sums_dict(const ProbeSums& s, std::size_t k, index_t d) {
  py::dict out;
  out["sum_w"] = s.sum_w;
  out["sum_ux"] = vector_array(s.sum_ux).attr("reshape")(k, d);
  out["sum_u"] = vector_array(s.sum_u);
  out["sum_uu"] = vector_array(s.sum_uu).attr("reshape")(k, k);
  return out;
}

inline py::array_t<double> square_array(const std::vector<double>& v, index_t p) {
  py::array_t<double> out({static_cast<py::ssize_t>(p), static_cast<py::ssize_t>(p)});
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// FitOptions and FitResult as Python classes. Registered by _core; _cuda
// imports _core first and so returns the same FitResult type.
inline void bind_types(py::module_& m) {
  py::class_<FitOptions>(m, "FitOptions",
                         "Options of the compiled solvers, from keywords (unknown ones are an error).")
      .def(py::init([](const py::kwargs& kw) { return fit_options_from(kw); }))
      .def_readonly("alpha", &FitOptions::alpha)
      .def_readonly("fit_intercept", &FitOptions::fit_intercept)
      .def_readonly("tol", &FitOptions::tol)
      .def_readonly("max_iter", &FitOptions::max_iter)
      .def_readonly("n_threads", &FitOptions::n_threads)
      .def_readonly("n_shards", &FitOptions::n_shards)
      .def_readonly("standardize", &FitOptions::standardize)
      .def_readonly("noise_var", &FitOptions::noise_var)
      .def_readonly("positive", &FitOptions::positive)
      .def_readonly("minimum_norm", &FitOptions::minimum_norm)
      .def_readonly("guard_projection", &FitOptions::guard_projection)
      .def_property_readonly("coef_init", [](const FitOptions& o) -> py::object {
        if (!o.has_init) return py::none();
        return vector_array(o.coef_init);
      });
  py::class_<FitResult>(m, "FitResult", "What a compiled solver returns.")
      .def_property_readonly("coef", [](const FitResult& r) { return vector_array(r.coef); })
      .def_readonly("intercept", &FitResult::intercept)
      .def_readonly("n_iter", &FitResult::n_iter)
      .def_property_readonly("loss_history", [](const FitResult& r) { return vector_array(r.loss_history); })
      .def_readonly("n_passes", &FitResult::n_passes)
      .def_readonly("converged", &FitResult::converged)
      .def_readonly("singular", &FitResult::singular)
      .def_readonly("rank", &FitResult::rank)
      .def_readonly("condition_estimate", &FitResult::condition_estimate)
      .def_readonly("grad_norm", &FitResult::grad_norm)
      .def_readonly("message", &FitResult::message)
      .def_readonly("notes", &FitResult::notes)
      .def_readonly("precision", &FitResult::precision)
      .def_readonly("precision_reason", &FitResult::precision_reason)
      .def_readonly("digits_estimate", &FitResult::digits_estimate)
      .def_readonly("extended_skipped", &FitResult::extended_skipped);
}

// gram_stats()'s dict: gram, shift, n_rows, n_shards, n_targets. The Gram is
// not copied (it can be hundreds of MB): the array views the GramStats, which
// a capsule owns.
inline py::dict gram_stats_dict(GramStats&& stats) {
  auto st = std::make_unique<GramStats>(std::move(stats));
  const auto da = static_cast<py::ssize_t>(st->dim());
  py::dict out;
  out["shift"] = vector_array(st->shift);
  out["n_rows"] = st->n_rows;
  out["n_shards"] = st->n_shards;
  out["n_targets"] = st->n_targets;
  out["blas"] = st->blas;
  double* data = st->gram.data();
  py::capsule owner(st.get(), [](void* p) { delete static_cast<GramStats*>(p); });
  st.release();
  const auto item = static_cast<py::ssize_t>(sizeof(double));
  out["gram"] = py::array_t<double>({da, da}, {da * item, item}, data, owner);
  return out;
}
inline py::dict gram_stats_dict(const GramStats& st) { return gram_stats_dict(GramStats(st)); }

// loss_grad()'s tuple: (sum s, sum s r^2, sum s r, sum s r x).
inline py::tuple loss_grad_tuple(const LossGradSums& s) {
  return py::make_tuple(s.sum_w, s.sum_wr2, s.sum_wr, vector_array(s.sum_wrx));
}

// NonFiniteError and DivergenceError (fit_types.hpp) raise the Python classes
// of fastcost.exceptions, so callers catch a type instead of matching text.
inline void register_errors() {
  py::register_exception_translator([](std::exception_ptr p) {
    auto raise = [](const char* name, const char* what) {
      const py::object cls = py::module_::import("fastcost.exceptions").attr(name);
      PyErr_SetString(cls.ptr(), what);
    };
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NonFiniteError& e) {
      raise("NonFiniteError", e.what());
    } catch (const DivergenceError& e) {
      raise("DivergenceError", e.what());
    }
  });
}

// While any GIL-free call runs, SIGINT sets fastcost's cancel flag instead of
// waiting for the interpreter; the loops stop at the next shard or iteration
// and the call raises KeyboardInterrupt once the GIL is back.
class InterruptGuard {
 public:
  InterruptGuard() {
    std::lock_guard<std::mutex> lock(mutex());
    if (depth()++ == 0) {
      struct sigaction sa {};
      sa.sa_handler = [](int) { cancel_flag().store(true); };
      sigemptyset(&sa.sa_mask);
      sigaction(SIGINT, &sa, &previous());
    }
  }
  ~InterruptGuard() {
    std::lock_guard<std::mutex> lock(mutex());
    if (--depth() == 0) {
      sigaction(SIGINT, &previous(), nullptr);
      cancel_flag().store(false);
    }
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  static std::mutex& mutex() { static std::mutex m; return m; }
  static int& depth() { static int d = 0; return d; }
  static struct sigaction& previous() { static struct sigaction p {}; return p; }
};

// Runs fn() without the GIL under an InterruptGuard. A Ctrl-C that arrives after
// the last check inside fn() still raises, so no interrupt is ever lost.
template <class Fn>
auto run_released(Fn&& fn) {
  InterruptGuard guard;
  auto result = [&] {
    py::gil_scoped_release release;
    return fn();
  }();
  if (cancel_requested()) throw Cancelled();
  return result;
}

}  // namespace fastcost::bindings
