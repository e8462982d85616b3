// Bindings of the mixed-design kernels (categorical*.hpp): statistics and fits
// of a dense block X beside categorical columns given as int32 codes, whose
// expanded one-hot design is never formed.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "fastcost/categorical.hpp"
#include "fastcost/categorical_pass.hpp"
#include "fastcost/categorical_sgd.hpp"

namespace fastcost::bindings {

namespace {

// codes: int32 (K, n), C-contiguous (checked, never converted: a cast from a
// wider integer could wrap a bad code into range); n_levels: K integers;
// drop_first: K booleans. The view points into `codes`, which the caller holds.
CategoricalView categorical_view(const py::object& codes, const py::object& n_levels, const py::object& drop_first,
                                 index_t n) {
  if (!py::isinstance<py::array>(codes)) throw py::type_error("codes must be a numpy array");
  const auto c = py::reinterpret_borrow<py::array>(codes);
  const py::dtype dt = c.dtype();
  if (!(dt.kind() == 'i' && dt.itemsize() == 4)) {
    throw py::type_error("codes must be int32, got " + std::string(py::str(dt)));
  }
  if (c.ndim() != 2) throw py::value_error("codes must be 2-D (n_categoricals, n_rows)");
  const auto lv = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(n_levels);
  const auto dr = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(drop_first);
  if (!lv || lv.ndim() != 1) throw py::value_error("n_levels must be a 1-D integer array");
  if (!dr || dr.ndim() != 1) throw py::value_error("drop_first must be a 1-D boolean array");
  const index_t K = c.shape(0);
  if (lv.shape(0) != K || dr.shape(0) != K) {
    throw py::value_error("codes, n_levels and drop_first must agree on the number of categoricals");
  }
  if (K > 0 && c.shape(1) != n) {
    throw py::value_error("codes has " + std::to_string(c.shape(1)) + " rows, X has " + std::to_string(n));
  }
  if (K > 0 && n > 1 && !(c.flags() & py::array::c_style)) throw py::value_error("codes must be C-contiguous");
  CategoricalView v;
  v.codes = static_cast<const std::int32_t*>(c.data());
  v.n = n;
  v.stride = n;
  for (index_t k = 0; k < K; ++k) {
    v.levels.push_back(static_cast<index_t>(lv.data()[k]));
    v.drop.push_back(dr.data()[k] ? 1 : 0);
    if (v.levels.back() < 1 || v.levels.back() > (index_t(1) << 31)) {
      throw py::value_error("n_levels[" + std::to_string(k) + "] must be in [1, 2^31]");
    }
  }
  return v;
}

template <class T>
py::dict mixed_gram_impl(const py::array& X, const py::object& codes, const py::object& n_levels,
                         const py::object& drop_first, const py::object& y, const py::object& sw,
                         const py::object& shift, index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  const CategoricalView cats = categorical_view(codes, n_levels, drop_first, a.X.rows);
  const std::vector<double> sh = optional_shift(shift, a.X.cols + cats.expanded_width());
  const int threads = resolve_threads(n_threads);
  const GramStats st = run_released([&] {
    return compute_mixed_gram_stats<T>(a.X, cats, a.y, a.sw, sh.empty() ? nullptr : sh.data(), n_shards, threads);
  });
  return gram_stats_dict(st);
}

template <class T>
py::dict mixed_arrow_impl(const py::array& X, const py::object& codes, const py::object& n_levels,
                          const py::object& drop_first, index_t arrow, const py::object& y, const py::object& sw,
                          const py::object& shift, index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  const CategoricalView cats = categorical_view(codes, n_levels, drop_first, a.X.rows);
  if (arrow < 0 || arrow >= cats.count()) {
    throw py::value_error("arrow must index a categorical (0 <= arrow < " + std::to_string(cats.count()) + ")");
  }
  const std::vector<double> sh = optional_shift(shift, a.X.cols + cats.expanded_width() - cats.width(arrow));
  const int threads = resolve_threads(n_threads);
  auto st = std::make_unique<ArrowStats>(run_released([&] {
    return compute_arrow_stats<T>(a.X, cats, arrow, a.y, a.sw, sh.empty() ? nullptr : sh.data(), n_shards, threads);
  }));
  py::dict out = gram_stats_dict(st->rest);
  // cross is the first rows x cols doubles of the pass's buffer, handed over
  // without a copy (it can be tens of MB); the capsule owns the buffer.
  const auto rows = static_cast<py::ssize_t>(st->cross_rows), cols = static_cast<py::ssize_t>(st->cross_cols);
  double* data = st->buffer.data();
  py::capsule owner(st.get(), [](void* p) { delete static_cast<ArrowStats*>(p); });
  st.release();
  out["cross"] = py::array_t<double>({rows, cols}, {cols * static_cast<py::ssize_t>(sizeof(double)),
                                                    static_cast<py::ssize_t>(sizeof(double))},
                                     data, owner);
  return out;
}

// probe_sums (bind_kernels.cpp) over the expanded design: probes' w and the
// sums' rows have its D columns.
template <class T>
py::dict mixed_probe_impl(const py::array& X, const py::object& codes, const py::object& n_levels,
                          const py::object& drop_first, const py::object& y, const py::object& sw,
                          const py::sequence& probes, index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  const CategoricalView cats = categorical_view(codes, n_levels, drop_first, a.X.rows);
  check_codes(cats, resolve_threads(n_threads));
  const index_t D = a.X.cols + cats.expanded_width();
  const ProbeList p = probe_list(probes, D, a.y != nullptr);
  const int threads = resolve_threads(n_threads);
  const ProbeSums s =
      run_released([&] { return mixed_probe_sums<T>(a.X, cats, a.y, a.sw, p.list, n_shards, threads); });
  return probe_sums_dict(s, p.list.size(), D);
}

template <class T>
py::dict mixed_moments_impl(const py::array& X, const py::object& codes, const py::object& n_levels,
                            const py::object& drop_first, const py::object& sw, index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, py::none(), sw);
  const CategoricalView cats = categorical_view(codes, n_levels, drop_first, a.X.rows);
  const int threads = resolve_threads(n_threads);
  check_codes(cats, threads);
  return moments_dict(run_released([&] { return mixed_column_moments<T>(a.X, cats, a.sw, n_shards, threads); }));
}

template <class T>
FitResult fit_mixed_impl(const py::array& X, const py::object& codes, const py::object& n_levels,
                         const py::object& drop_first, const py::object& y, const py::object& sw,
                         const std::string& solver, const FitOptions& opt) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  if (!a.y) throw py::value_error("y is required");
  const CategoricalView cats = categorical_view(codes, n_levels, drop_first, a.X.rows);
  check_fit_options(opt, a.X.cols + cats.expanded_width());
  check_positive_solver(opt, solver);
  if (a.X.rows == 0) throw py::value_error("X has no rows");
  if (solver == "lbfgs") return run_released([&] { return fit_mixed_lbfgs<T>(a.X, cats, a.y, a.sw, opt); });
  if (solver == "gd") return run_released([&] { return fit_mixed_gd<T>(a.X, cats, a.y, a.sw, opt); });
  if (solver == "sgd") return run_released([&] { return fit_mixed_sgd<T>(a.X, cats, a.y, a.sw, opt); });
  throw py::value_error("unknown solver '" + solver +
                        "' for fit_mixed (lbfgs, gd, sgd; newton: solve_stats on mixed_gram_stats)");
}

}  // namespace

void bind_categorical(py::module_& m) {
  m.def("mixed_gram_stats", [](const py::array& X, const py::object& codes, const py::object& n_levels,
                               const py::object& drop_first, const py::object& y, const py::object& sample_weight,
                               const py::object& shift, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? mixed_gram_impl<double>(X, codes, n_levels, drop_first, y, sample_weight, shift, n_shards, n_threads)
               : mixed_gram_impl<float>(X, codes, n_levels, drop_first, y, sample_weight, shift, n_shards, n_threads);
  }, py::arg("X"), py::arg("codes"), py::arg("n_levels"), py::arg("drop_first"), py::arg("y") = py::none(),
     py::arg("sample_weight") = py::none(), py::arg("shift") = py::none(), py::arg("n_shards") = 0,
     py::arg("n_threads") = 0,
     "gram_stats of the expanded design [X, one-hot(codes)] without forming it: codes int32 (K, n),\n"
     "n_levels (K,), drop_first (K,) (level 0 has no column). Columns: X's, then each categorical's\n"
     "levels; shift (D + 1) defaults to X's first row and y[0], 0 for the categorical columns.\n"
     "Returns dict(gram, shift, n_rows, n_shards) for solve_stats.");

  m.def("mixed_arrow_stats", [](const py::array& X, const py::object& codes, const py::object& n_levels,
                                const py::object& drop_first, index_t arrow, const py::object& y,
                                const py::object& sample_weight, const py::object& shift, index_t n_shards,
                                int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? mixed_arrow_impl<double>(X, codes, n_levels, drop_first, arrow, y, sample_weight, shift, n_shards,
                                          n_threads)
               : mixed_arrow_impl<float>(X, codes, n_levels, drop_first, arrow, y, sample_weight, shift, n_shards,
                                         n_threads);
  }, py::arg("X"), py::arg("codes"), py::arg("n_levels"), py::arg("drop_first"), py::arg("arrow"),
     py::arg("y") = py::none(), py::arg("sample_weight") = py::none(), py::arg("shift") = py::none(),
     py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Block-arrow statistics of categorical `arrow` against the rest of the design: gram and shift\n"
     "as mixed_gram_stats gives them for the design without `arrow`, and cross (La, Dr + 2):\n"
     "cross[l] = sum over rows with code l + drop_first[arrow] of s [rest - shift, y - shift_y, 1].\n"
     "Returns dict(gram, shift, cross, n_rows, n_shards).");

  m.def("mixed_probe_sums", [](const py::array& X, const py::object& codes, const py::object& n_levels,
                               const py::object& drop_first, const py::object& y, const py::sequence& probes,
                               const py::object& sample_weight, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? mixed_probe_impl<double>(X, codes, n_levels, drop_first, y, sample_weight, probes, n_shards,
                                          n_threads)
               : mixed_probe_impl<float>(X, codes, n_levels, drop_first, y, sample_weight, probes, n_shards,
                                         n_threads);
  }, py::arg("X"), py::arg("codes"), py::arg("n_levels"), py::arg("drop_first"), py::arg("y"), py::arg("probes"),
     py::arg("sample_weight") = py::none(), py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "probe_sums on the expanded design [X, one-hot(codes)] without forming it: probes'\n"
     "w have its D columns. Returns dict(sum_w, sum_ux (k x D), sum_u (k), sum_uu (k x k)).");

  m.def("mixed_column_moments", [](const py::array& X, const py::object& codes, const py::object& n_levels,
                                   const py::object& drop_first, const py::object& sample_weight, index_t n_shards,
                                   int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? mixed_moments_impl<double>(X, codes, n_levels, drop_first, sample_weight, n_shards, n_threads)
               : mixed_moments_impl<float>(X, codes, n_levels, drop_first, sample_weight, n_shards, n_threads);
  }, py::arg("X"), py::arg("codes"), py::arg("n_levels"), py::arg("drop_first"),
     py::arg("sample_weight") = py::none(), py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "column_moments of the expanded design [X, one-hot(codes)] (D columns): a level's mean is its\n"
     "weighted frequency f, its m2 S f (1 - f). Returns dict(sum_weights, mean, m2, finite).");

  m.def("mixed_takes_row_sample", [](index_t n_dense, const py::object& n_levels, const py::object& drop_first,
                                     bool fit_intercept) {
    const auto lv = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(n_levels);
    const auto dr = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(drop_first);
    if (!lv || !dr || lv.ndim() != 1 || dr.ndim() != 1 || lv.shape(0) != dr.shape(0)) {
      throw py::value_error("n_levels and drop_first must be 1-D arrays of the same length");
    }
    CategoricalView cats;
    for (py::ssize_t k = 0; k < lv.shape(0); ++k) {
      cats.levels.push_back(static_cast<index_t>(lv.data()[k]));
      cats.drop.push_back(dr.data()[k] ? 1 : 0);
    }
    return mixed_takes_row_sample(n_dense + cats.expanded_width(), cats, fit_intercept);
  }, py::arg("n_dense"), py::arg("n_levels"), py::arg("drop_first"), py::arg("fit_intercept"),
     "Whether lbfgs over this mixed design takes its row sample (the rule of the local fit's pass).");

  m.def("fit_mixed", [](const py::array& X, const py::object& codes, const py::object& n_levels,
                        const py::object& drop_first, const py::object& y, const py::object& sample_weight,
                        const std::string& solver, const FitOptions& options) {
    return dtype_of(X, "X") == Dtype::F64
               ? fit_mixed_impl<double>(X, codes, n_levels, drop_first, y, sample_weight, solver, options)
               : fit_mixed_impl<float>(X, codes, n_levels, drop_first, y, sample_weight, solver, options);
  }, py::arg("X"), py::arg("codes"), py::arg("n_levels"), py::arg("drop_first"), py::arg("y"),
     py::arg("sample_weight"), py::arg("solver"), py::arg("options"),
     "fit() on the expanded design [X, one-hot(codes)] for solver lbfgs, gd or sgd (GIL released);\n"
     "coefficients (and coef_init, frozen) have the expanded design's D columns.");
}

}  // namespace fastcost::bindings
