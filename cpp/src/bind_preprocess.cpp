// Bindings of the preprocessing kernels (fastcost.preprocessing): column
// moments, the affine column map (in place or into a given array), and the
// NaN/inf scan and fill.
#include "bindings.hpp"

#include <cstdint>
#include <string>

#include "fastcost/preprocess.hpp"

namespace fastcost::bindings {

namespace {

// A writable view of `a` (same layout rules as matrix_view), for in-place kernels.
template <class T>
MutableMatrixView<T> mutable_view(py::array& a, const char* name) {
  if (!a.writeable()) throw py::value_error(std::string(name) + " is read-only");
  const MatrixView<T> v = matrix_view<T>(a, name);
  return MutableMatrixView<T>{static_cast<T*>(a.mutable_data()), v.rows, v.cols, v.ld, v.layout};
}

template <class T>
py::dict moments_impl(const py::array& X, const py::object& sw, index_t n_shards, int n_threads) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  const T* sp = vector_ptr<T>(sw, v.rows, "sample_weight");
  const int threads = resolve_threads(n_threads);
  const ColumnMoments m = run_released([&] { return compute_column_moments<T>(v, sp, n_shards, threads); });
  py::dict out = moments_dict(m);
  out["scale"] = vector_array(scale_from_moments(m));
  out["n_shards"] = m.n_shards;
  return out;
}

template <class T>
std::int64_t affine_impl(const py::array& X, py::array& out, const py::object& offset, const py::object& scale, bool inverse,
                 index_t n_shards, int n_threads) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  const MutableMatrixView<T> o = mutable_view<T>(out, "out");
  if (o.rows != v.rows || o.cols != v.cols || o.layout != v.layout) {
    throw py::value_error("out must have X's shape and memory order");
  }
  std::vector<double> off, sc;
  if (!offset.is_none()) off = double_vector(offset, v.cols, "offset");
  if (!scale.is_none()) sc = double_vector(scale, v.cols, "scale");
  const int threads = resolve_threads(n_threads);
  return run_released([&] {
    return affine_columns<T>(v, o, off.empty() ? nullptr : off.data(), sc.empty() ? nullptr : sc.data(), inverse,
                             n_shards, threads);
  });
}

template <class T>
py::dict scan_impl(const py::array& X, const py::object& y, bool row_mask, index_t n_shards, int n_threads) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  const T* yp = vector_ptr<T>(y, v.rows, "y");
  py::array_t<std::uint8_t> rows;
  std::uint8_t* rp = nullptr;
  if (row_mask) {
    rows = py::array_t<std::uint8_t>(static_cast<py::ssize_t>(v.rows));
    rp = rows.mutable_data();
  }
  const int threads = resolve_threads(n_threads);
  const NonfiniteScan s = run_released([&] { return scan_nonfinite<T>(v, yp, rp, n_shards, threads); });
  py::dict out;
  out["col_bad"] = py::array_t<std::int64_t>(static_cast<py::ssize_t>(s.col_bad.size()), s.col_bad.data());
  out["col_finite_sum"] =
      py::array_t<double>(static_cast<py::ssize_t>(s.col_finite_sum.size()), s.col_finite_sum.data());
  out["y_bad"] = s.y_bad;
  out["rows_bad"] = s.rows_bad;
  out["first"] = s.first_row < 0 ? py::object(py::none()) : py::object(py::make_tuple(s.first_row, s.first_col));
  out["row_bad"] = row_mask ? py::object(rows) : py::object(py::none());
  return out;
}

template <class T>
std::int64_t fill_impl(py::array& X, const py::object& values, index_t n_shards, int n_threads) {
  const MutableMatrixView<T> v = mutable_view<T>(X, "X");
  const std::vector<double> vals = double_vector(values, v.cols, "values");
  const int threads = resolve_threads(n_threads);
  return run_released([&] { return fill_nonfinite<T>(v, vals.data(), n_shards, threads); });
}

}  // namespace

void bind_preprocess(py::module_& m) {
  m.def("column_moments", [](const py::array& X, const py::object& sample_weight, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64 ? moments_impl<double>(X, sample_weight, n_shards, n_threads)
                                          : moments_impl<float>(X, sample_weight, n_shards, n_threads);
  }, py::arg("X"), py::arg("sample_weight") = py::none(), py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Weighted column means and M2 (corrected two-pass per block, Chan merge in shard order)\n"
     "in one pass. Returns dict(sum_weights, mean, m2, scale, finite, n_shards); scale is the\n"
     "standard deviation with scikit-learn's near-constant rule (1 for constant columns).");

  m.def("affine_columns", [](const py::array& X, py::array& out, const py::object& offset, const py::object& scale,
                             bool inverse, index_t n_shards, int n_threads) {
    if (dtype_of(X, "X") != dtype_of(out, "out")) throw py::type_error("out must have X's dtype");
    return dtype_of(X, "X") == Dtype::F64 ? affine_impl<double>(X, out, offset, scale, inverse, n_shards, n_threads)
                                          : affine_impl<float>(X, out, offset, scale, inverse, n_shards, n_threads);
  }, py::arg("X"), py::arg("out"), py::arg("offset") = py::none(), py::arg("scale") = py::none(),
     py::arg("inverse") = false, py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "out = (X - offset) / scale, or X * scale + offset with inverse=True; out may be X (in place).\n"
     "Returns the number of non-finite results.");

  m.def("scan_nonfinite", [](const py::array& X, const py::object& y, bool row_mask, index_t n_shards,
                             int n_threads) {
    return dtype_of(X, "X") == Dtype::F64 ? scan_impl<double>(X, y, row_mask, n_shards, n_threads)
                                          : scan_impl<float>(X, y, row_mask, n_shards, n_threads);
  }, py::arg("X"), py::arg("y") = py::none(), py::arg("row_mask") = false, py::arg("n_shards") = 0,
     py::arg("n_threads") = 0,
     "One sharded pass over X (and y): NaN/inf counts per column and of y, rows with any,\n"
     "the first bad cell (row, column; column d is y), sums of the finite values per column,\n"
     "and with row_mask=True a uint8 flag per row.");

  m.def("fill_nonfinite", [](py::array& X, const py::object& values, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64 ? fill_impl<double>(X, values, n_shards, n_threads)
                                          : fill_impl<float>(X, values, n_shards, n_threads);
  }, py::arg("X"), py::arg("values"), py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Replace X's NaN/inf cells with values[column], in place; returns how many.");
}

}  // namespace fastcost::bindings
