// Bindings of the shard kernels: one-pass statistics, fused loss+gradient and
// a finiteness scan. They work on any block of rows, which is how the Dask
// backend runs them on one chunk per task.
#include "bindings.hpp"

#include <cmath>

#include "fastcost/gram.hpp"
#include "fastcost/loss_grad.hpp"
#include "fastcost/solvers.hpp"

namespace fastcost::bindings {

namespace {

template <class T>
py::dict gram_stats_impl(const py::array& X, const py::object& y, const py::object& sw, const py::object& shift,
                         index_t n_shards, int n_threads) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  const T* yp = vector_ptr<T>(y, v.rows, "y");
  const T* sp = vector_ptr<T>(sw, v.rows, "sample_weight");
  std::vector<double> sh;
  if (!shift.is_none()) sh = double_vector(shift, v.cols + 1, "shift");
  const int threads = resolve_threads(n_threads);
  GramStats st = run_released([&] {
    return compute_gram_stats<T>(v, yp, sp, sh.empty() ? nullptr : sh.data(), n_shards, threads);
  });
  py::dict out;
  const auto da = static_cast<py::ssize_t>(st.dim());
  py::array_t<double> gram({da, da});
  std::copy(st.gram.begin(), st.gram.end(), gram.mutable_data());
  out["gram"] = gram;
  out["shift"] = py::array_t<double>(static_cast<py::ssize_t>(st.shift.size()), st.shift.data());
  out["n_rows"] = st.n_rows;
  out["n_shards"] = st.n_shards;
  return out;
}

template <class T>
py::tuple loss_grad_impl(const py::array& X, const py::object& y, const py::object& w, double b, const py::object& sw,
                         index_t n_shards, int n_threads) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  const T* yp = vector_ptr<T>(y, v.rows, "y");
  const T* sp = vector_ptr<T>(sw, v.rows, "sample_weight");
  const std::vector<double> wv = double_vector(w, v.cols, "w");
  const int threads = resolve_threads(n_threads);
  LossGradSums s = run_released([&] { return loss_grad_sums<T>(v, yp, sp, wv.data(), b, n_shards, threads); });
  py::array_t<double> g(static_cast<py::ssize_t>(s.sum_wrx.size()), s.sum_wrx.data());
  return py::make_tuple(s.sum_w, s.sum_wr2, s.sum_wr, g);
}

// First (row, column) holding NaN or +-inf in row order, or None.
template <class T>
py::object find_nonfinite_impl(const py::array& X) {
  const MatrixView<T> v = matrix_view<T>(X, "X");
  index_t bad_i = -1, bad_j = -1;
  {
    py::gil_scoped_release release;
    for (index_t i = 0; i < v.rows && bad_i < 0; ++i) {
      for (index_t j = 0; j < v.cols; ++j) {
        if (!std::isfinite(v(i, j))) {
          bad_i = i;
          bad_j = j;
          break;
        }
      }
    }
  }
  if (bad_i < 0) return py::none();
  return py::make_tuple(bad_i, bad_j);
}

}  // namespace

void bind_kernels(py::module_& m) {
  m.def("gram_stats", [](const py::array& X, const py::object& y, const py::object& sample_weight,
                         const py::object& shift, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64 ? gram_stats_impl<double>(X, y, sample_weight, shift, n_shards, n_threads)
                                          : gram_stats_impl<float>(X, y, sample_weight, shift, n_shards, n_threads);
  }, py::arg("X"), py::arg("y") = py::none(), py::arg("sample_weight") = py::none(), py::arg("shift") = py::none(),
     py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Weighted Gram of the augmented rows [x - c, y - c_y, 1] in one sharded pass.\n"
     "Returns dict(gram, shift, n_rows, n_shards); shift defaults to the first row.");

  m.def("loss_grad", [](const py::array& X, const py::object& y, const py::object& w, double b,
                        const py::object& sample_weight, index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64 ? loss_grad_impl<double>(X, y, w, b, sample_weight, n_shards, n_threads)
                                          : loss_grad_impl<float>(X, y, w, b, sample_weight, n_shards, n_threads);
  }, py::arg("X"), py::arg("y"), py::arg("w"), py::arg("b") = 0.0, py::arg("sample_weight") = py::none(),
     py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Fused pass: (sum s, sum s r^2, sum s r, sum s r x) for r = X w + b - y.");

  m.def("find_nonfinite", [](const py::array& X) {
    return dtype_of(X, "X") == Dtype::F64 ? find_nonfinite_impl<double>(X) : find_nonfinite_impl<float>(X);
  }, py::arg("X"), "First (row, column) of X holding NaN or inf, or None.");

  m.def("reshift_stats", [](const py::array_t<double, py::array::c_style | py::array::forcecast>& gram,
                            const py::object& shift, const py::object& new_shift) {
    GramStats st;
    const index_t da = gram.shape(0);
    if (gram.ndim() != 2 || gram.shape(1) != da || da < 2) throw py::value_error("gram must be square");
    st.d = da - 2;
    st.gram.assign(gram.data(), gram.data() + da * da);
    st.shift = double_vector(shift, st.d + 1, "shift");
    const GramStats out = reshift(st, double_vector(new_shift, st.d + 1, "new_shift"));
    py::array_t<double> g({static_cast<py::ssize_t>(da), static_cast<py::ssize_t>(da)});
    std::copy(out.gram.begin(), out.gram.end(), g.mutable_data());
    return g;
  }, py::arg("gram"), py::arg("shift"), py::arg("new_shift"),
     "Re-express augmented Gram statistics about another shift (exact; no data needed).");
}

}  // namespace fastcost::bindings
