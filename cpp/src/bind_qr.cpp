// Bindings of the tall-skinny QR: the shard kernel (one block of rows -> R
// factor), the exact merge of two factors and the solve from a factor, which
// is all a Dask job needs, plus the whole qr fit in one GIL-free call.
// X may be numpy.longdouble here (and only here): the extended pass reads it
// in place. An extended-precision factor crosses the boundary as two float64 arrays,
// r (the rounded values) and r_lo (the rest), so merges and solves of Dask
// chunks keep its digits; a dict without r_lo is a double factor.
#include "bindings.hpp"

#include <string>

#include "fastcost/qr_solve.hpp"

namespace fastcost::bindings {

namespace {

using RArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// The factor's keys of tsqr_stats' and fit_qr's dicts: r (and r_lo when
// extended), shift, n_rows, n_nonzero.
void add_factor(py::dict& out, const TsqrStats& st) {
  out["r"] = square_array(st.r, st.dim());
  if (st.extended()) out["r_lo"] = square_array(st.r_lo, st.dim());
  out["shift"] = vector_array(st.shift);
  out["n_rows"] = st.n_rows;
  out["n_nonzero"] = st.n_nonzero;
}

py::dict stats_dict(const TsqrStats& st) {
  py::dict out;
  add_factor(out, st);
  out["n_shards"] = st.n_shards;
  out["n_targets"] = st.n_targets;
  return out;
}

// Accepts what stats_dict returns (counts optional), validating the shapes: r
// is (d + k + 1) square for k targets, the shift d + k long.
TsqrStats stats_from(const py::object& r, const py::object& shift, const py::object& r_lo = py::none(),
                     index_t k = 1) {
  const auto a = RArray::ensure(r);
  if (k < 1) throw py::value_error("n_targets must be >= 1");
  if (!a || a.ndim() != 2 || a.shape(0) != a.shape(1) || a.shape(0) < k + 1) {
    throw py::value_error("r must be a square (d + " + std::to_string(k + 1) + ") x (d + " + std::to_string(k + 1) +
                          ") array");
  }
  TsqrStats st;
  const index_t p = a.shape(0);
  st.d = p - k - 1;
  st.n_targets = k;
  st.r.assign(a.data(), a.data() + p * p);
  for (index_t i = 1; i < p; ++i)
    for (index_t j = 0; j < i; ++j) st.r[i * p + j] = 0.0;  // only the upper triangle is meaningful
  if (!r_lo.is_none()) {
    const auto lo = RArray::ensure(r_lo);
    if (!lo || lo.ndim() != 2 || lo.shape(0) != p || lo.shape(1) != p) throw py::value_error("r_lo must have r's shape");
    st.r_lo.assign(lo.data(), lo.data() + p * p);
    for (index_t i = 1; i < p; ++i)
      for (index_t j = 0; j < i; ++j) st.r_lo[i * p + j] = 0.0;
  }
  st.shift = double_vector(shift, p - 1, "shift");
  return st;
}

TsqrStats stats_from_dict(const py::dict& o) {
  if (!o.contains("r") || !o.contains("shift")) throw py::value_error("a factor needs the keys 'r' and 'shift'");
  const index_t k = o.contains("n_targets") ? o["n_targets"].cast<index_t>() : 1;
  TsqrStats st = stats_from(o["r"], o["shift"], o.contains("r_lo") ? py::object(o["r_lo"]) : py::object(py::none()), k);
  if (o.contains("n_rows")) st.n_rows = o["n_rows"].cast<index_t>();
  if (o.contains("n_nonzero")) st.n_nonzero = o["n_nonzero"].cast<index_t>();
  if (o.contains("n_shards")) st.n_shards = o["n_shards"].cast<index_t>();
  return st;
}

QrPrecision precision_from(const std::string& s, bool allow_auto) {
  if (s == "double") return QrPrecision::Double;
  if (s == "extended") return QrPrecision::Extended;
  if (s == "auto" && allow_auto) return QrPrecision::Auto;
  throw py::value_error("precision must be " + std::string(allow_auto ? "'auto', " : "") + "'double' or 'extended', got '" + s + "'");
}

template <class T>
py::dict tsqr_stats_impl(const py::array& X, const py::object& y, const py::object& sw, const py::object& shift,
                         index_t n_shards, int n_threads, QrPrecision precision) {
  const RowsArgs<T> a = rows_args<T>(X, py::none(), sw);
  const MatrixView<T> Y = targets_view<T>(y, a.X.rows);
  const std::vector<double> sh = optional_shift(shift, a.X.cols, Y.cols);
  const int threads = resolve_threads(n_threads);
  const TsqrStats st = run_released([&] {
    return compute_tsqr_stats<T>(a.X, Y, a.sw, sh.empty() ? nullptr : sh.data(), n_shards, threads, precision);
  });
  return stats_dict(st);
}

template <class T>
py::tuple fit_qr_impl(const py::array& X, const py::object& y, const py::object& sw, const FitOptions& opt,
                      const std::string& precision_name) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  if (!a.y) throw py::value_error("y is required");
  const MatrixView<T>& v = a.X;
  const T *yp = a.y, *sp = a.sw;
  if (v.rows == 0) throw py::value_error("X has no rows");
  check_fit_options(opt, v.cols);
  check_positive_solver(opt, "qr");
  const QrPrecision precision = precision_from(precision_name, true);
  TsqrStats st;
  QrPrecisionChoice choice;
  FitResult r = run_released([&] { return fit_qr<T>(v, yp, sp, opt, &st, precision, &choice); });
  r.precision = choice.extended ? "extended" : "double";
  r.precision_reason = choice.reason;
  r.digits_estimate = choice.digits_estimate;
  r.extended_skipped = choice.extended_skipped;
  py::dict factor;
  add_factor(factor, st);
  return py::make_tuple(r, factor);
}

}  // namespace

void bind_qr(py::module_& m) {
  m.def("tsqr_stats", [](const py::array& X, const py::object& y, const py::object& sample_weight,
                         const py::object& shift, index_t n_shards, int n_threads, const std::string& precision) {
    const QrPrecision prec = precision_from(precision, false);
    if (is_long_double(X)) return tsqr_stats_impl<long double>(X, y, sample_weight, shift, n_shards, n_threads, prec);
    return dtype_of(X, "X") == Dtype::F64 ? tsqr_stats_impl<double>(X, y, sample_weight, shift, n_shards, n_threads, prec)
                                          : tsqr_stats_impl<float>(X, y, sample_weight, shift, n_shards, n_threads, prec);
  }, py::arg("X"), py::arg("y") = py::none(), py::arg("sample_weight") = py::none(), py::arg("shift") = py::none(),
     py::arg("n_shards") = 0, py::arg("n_threads") = 0, py::kw_only(), py::arg("precision") = "double",
     "R factor of the weighted augmented design sqrt(s) [1, x - c, y - c_y] in one sharded pass.\n"
     "y: None, 1-D (one target) or 2-D (n, k) in X's dtype (C or F order): the design is then\n"
     "sqrt(s) [1, x - c, y_1 - c_y1, ..., y_k - c_yk].\n"
     "Returns dict(r, shift, n_rows, n_nonzero, n_shards, n_targets); shift (d + k values)\n"
     "defaults to the first row of X and of y (pass zeros for a model without intercept).\n"
     "r is (d + k + 1) square, upper triangular.\n"
     "precision='extended' works in long double and adds r_lo: r + r_lo is the factor.\n"
     "X may be float32, float64 or longdouble (read in place; y and sample_weight must have\n"
     "X's dtype); for longdouble X use precision='extended' to keep its digits.");

  m.def("tsqr_merge", [](const py::dict& a, const py::dict& b) {
    const TsqrStats sa = stats_from_dict(a), sb = stats_from_dict(b);
    return stats_dict(tsqr_merge(sa, sb));
  }, py::arg("a"), py::arg("b"),
     "Factor of the union of two row sets, each a dict as tsqr_stats returns; b is moved\n"
     "to a's shift exactly. Merge chunks in a fixed order for reproducible results. Both\n"
     "need the same n_targets (a dict without the key has one target).\n"
     "Merges in extended precision (and returns r_lo) if either factor has r_lo.");

  m.def("solve_r", [](const py::object& r, const py::object& shift, double alpha, bool fit_intercept,
                      const py::object& r_lo) {
    if (!(alpha >= 0.0)) throw py::value_error("alpha must be >= 0");
    const TsqrStats st = stats_from(r, shift, r_lo);
    FitResult res = solve_from_r(st, alpha, fit_intercept);
    res.precision = st.extended() ? "extended" : "double";
    res.digits_estimate = qr_digits_estimate(st, res, fit_intercept);
    return res;
  }, py::arg("r"), py::arg("shift"), py::arg("alpha") = 0.0, py::arg("fit_intercept") = true,
     py::arg("r_lo") = py::none(),
     "The qr solve from a (possibly merged) factor of tsqr_stats, in extended precision when\n"
     "r_lo is given. A FitResult with precision and digits_estimate (correct digits a double\n"
     "factor keeps on the least accurate parameter; below EXTENDED_MIN_DIGITS redo the\n"
     "chunks with precision='extended').");
  m.attr("EXTENDED_MIN_DIGITS") = kExtendedMinDigits;
  m.attr("EXTENDED_MAX_FLOPS") = kExtendedMaxFlops;
  m.attr("QR_WIDE_MIN_COLS") = kWideQrMinCols;
  m.def("set_qr_wide_min_cols", &set_wide_qr_min_cols, py::arg("cols"),
        "Augmented width (d + k + 1) from which double qr passes, merges and ridge solves take the\n"
        "blocked wide kernel (default QR_WIDE_MIN_COLS); returns the previous value. For tests:\n"
        "1 runs the blocked kernel everywhere, a huge value never.");
  m.attr("EXTENDED_IS_WIDER") = kExtendedIsWider;

  m.def("fit_qr", [](const py::array& X, const py::object& y, const py::object& sample_weight,
                     const FitOptions& options, const std::string& precision) {
    if (is_long_double(X)) return fit_qr_impl<long double>(X, y, sample_weight, options, precision);
    return dtype_of(X, "X") == Dtype::F64 ? fit_qr_impl<double>(X, y, sample_weight, options, precision)
                                          : fit_qr_impl<float>(X, y, sample_weight, options, precision);
  }, py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("options"), py::arg("precision") = "auto",
     "The qr solver in one GIL-free call: (FitResult with precision ('double' or 'extended'),\n"
     "precision_reason and digits_estimate; the factor dict (r, shift, n_rows, n_nonzero;\n"
     "r_lo when extended) for regression statistics). precision: 'auto', 'double', 'extended'.\n"
     "X may be float32, float64 or longdouble (y and sample_weight in X's dtype); for\n"
     "longdouble X, 'auto' means 'extended' (a double pass would round its digits away).\n"
     "Where long double is double (MSVC), numpy.longdouble is float64 and gains nothing.");
}

}  // namespace fastcost::bindings
