// Bindings of the sparse kernels (sparse.hpp): scipy.sparse CSR arrays (data,
// indices, indptr, shape) read in place, float32/float64 data with int32 or
// int64 indices; checked with the GIL held, run without it.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "fastcost/sparse.hpp"

namespace fastcost::bindings {

namespace {

enum class Index { I32, I64 };

// A contiguous 1-D array; its element kind and size are checked by the callers.
py::array flat_array(const py::object& o, const char* name) {
  if (!py::isinstance<py::array>(o)) throw py::type_error(std::string(name) + " must be a numpy array");
  const auto a = py::reinterpret_borrow<py::array>(o);
  if (a.ndim() != 1) throw py::value_error(std::string(name) + " must be 1-D");
  if (a.shape(0) > 1 && a.strides(0) != a.itemsize()) throw py::value_error(std::string(name) + " must be contiguous");
  return a;
}

Index index_kind(const py::array& indices, const py::array& indptr) {
  auto kind = [](const py::array& a, const char* name) {
    const py::dtype dt = a.dtype();
    if (dt.kind() == 'i' && dt.itemsize() == 4) return Index::I32;
    if (dt.kind() == 'i' && dt.itemsize() == 8) return Index::I64;
    throw py::type_error(std::string(name) + " must be int32 or int64, got " + std::string(py::str(dt)));
  };
  const Index a = kind(indices, "indices"), b = kind(indptr, "indptr");
  if (a != b) throw py::type_error("indices and indptr must have the same integer dtype");
  return a;
}

// The CSR arrays of one call with y and sample_weight (None: null), checked.
template <class T, class I>
struct SparseArgs {
  CsrView<T, I> X;
  const T* y = nullptr;
  const T* sw = nullptr;
};

template <class T, class I>
SparseArgs<T, I> sparse_args(const py::array& data, const py::array& indices, const py::array& indptr,
                             const py::tuple& shape, const py::object& y, const py::object& sw) {
  if (py::len(shape) != 2) throw py::value_error("shape must be (n_rows, n_columns)");
  SparseArgs<T, I> a;
  a.X.rows = shape[0].cast<index_t>();
  a.X.cols = shape[1].cast<index_t>();
  if (a.X.rows < 0 || a.X.cols < 0) throw py::value_error("shape must be non-negative");
  if (indices.shape(0) != data.shape(0)) throw py::value_error("data and indices must have the same length");
  if (indptr.shape(0) != a.X.rows + 1) {
    throw py::value_error("indptr has " + std::to_string(indptr.shape(0)) + " entries, expected n_rows + 1 = " +
                          std::to_string(a.X.rows + 1));
  }
  a.X.data = static_cast<const T*>(data.data());
  a.X.indices = static_cast<const I*>(indices.data());
  a.X.indptr = static_cast<const I*>(indptr.data());
  a.X.validate(data.shape(0));
  a.y = vector_ptr<T>(y, a.X.rows, "y");
  a.sw = vector_ptr<T>(sw, a.X.rows, "sample_weight");
  return a;
}

// Calls fn.template operator()<T, I>() for the dtypes of data and the indices.
template <class Fn>
auto dispatch(const py::object& data_obj, const py::object& indices_obj, const py::object& indptr_obj, Fn&& fn) {
  const py::array data = flat_array(data_obj, "data");
  const py::array indices = flat_array(indices_obj, "indices");
  const py::array indptr = flat_array(indptr_obj, "indptr");
  const Index ik = index_kind(indices, indptr);
  if (dtype_of(data, "data") == Dtype::F64) {
    return ik == Index::I32 ? fn.template operator()<double, std::int32_t>(data, indices, indptr)
                            : fn.template operator()<double, std::int64_t>(data, indices, indptr);
  }
  return ik == Index::I32 ? fn.template operator()<float, std::int32_t>(data, indices, indptr)
                          : fn.template operator()<float, std::int64_t>(data, indices, indptr);
}

struct GramCall {
  const py::tuple& shape;
  const py::object& y;
  const py::object& sw;
  const py::object& shift;
  int n_threads;

  template <class T, class I>
  py::dict operator()(const py::array& data, const py::array& indices, const py::array& indptr) const {
    const SparseArgs<T, I> a = sparse_args<T, I>(data, indices, indptr, shape, y, sw);
    const std::vector<double> sh = optional_shift(shift, a.X.cols);
    const int threads = resolve_threads(n_threads);
    GramStats st = run_released(
        [&] { return sparse_gram_stats<T, I>(a.X, a.y, a.sw, sh.empty() ? nullptr : sh.data(), threads); });
    return gram_stats_dict(std::move(st));
  }
};

struct ProbeCall {
  const py::tuple& shape;
  const py::object& y;
  const py::object& sw;
  const py::sequence& probes;
  index_t n_shards;
  int n_threads;

  template <class T, class I>
  py::dict operator()(const py::array& data, const py::array& indices, const py::array& indptr) const {
    const SparseArgs<T, I> a = sparse_args<T, I>(data, indices, indptr, shape, y, sw);
    const ProbeList p = probe_list(probes, a.X.cols, a.y != nullptr);
    const int threads = resolve_threads(n_threads);
    const ProbeSums s =
        run_released([&] { return sparse_probe_sums<T, I>(a.X, a.y, a.sw, p.list, n_shards, threads); });
    return probe_sums_dict(s, p.list.size(), a.X.cols);
  }
};

struct FitCall {
  const py::tuple& shape;
  const py::object& y;
  const py::object& sw;
  const std::string& solver;
  const FitOptions& opt;

  template <class T, class I>
  FitResult operator()(const py::array& data, const py::array& indices, const py::array& indptr) const {
    const SparseArgs<T, I> a = sparse_args<T, I>(data, indices, indptr, shape, y, sw);
    if (!a.y) throw py::value_error("y is required");
    check_fit_options(opt, a.X.cols);
    if (a.X.rows == 0) throw py::value_error("X has no rows");
    if (solver == "lbfgs") return run_released([&] { return fit_sparse_lbfgs<T, I>(a.X, a.y, a.sw, opt); });
    if (solver == "gd") return run_released([&] { return fit_sparse_gd<T, I>(a.X, a.y, a.sw, opt); });
    if (solver == "sgd") return run_released([&] { return fit_sparse_sgd<T, I>(a.X, a.y, a.sw, opt); });
    throw py::value_error("unknown solver '" + solver +
                          "' for fit_sparse (lbfgs, gd, sgd; newton: solve_stats on sparse_gram_stats)");
  }
};

}  // namespace

void bind_sparse(py::module_& m) {
  m.def("sparse_gram_stats", [](const py::object& data, const py::object& indices, const py::object& indptr,
                                const py::tuple& shape, const py::object& y, const py::object& sample_weight,
                                const py::object& shift, int n_threads) {
    return dispatch(data, indices, indptr, GramCall{shape, y, sample_weight, shift, n_threads});
  }, py::arg("data"), py::arg("indices"), py::arg("indptr"), py::arg("shape"), py::arg("y") = py::none(),
     py::arg("sample_weight") = py::none(), py::arg("shift") = py::none(), py::arg("n_threads") = 0,
     "gram_stats of a CSR matrix (data, indices, indptr, shape; sorted unique column indices per\n"
     "row) without densifying it. The shift defaults to 0 for X and y[0] for y. Returns\n"
     "dict(gram, shift, n_rows, n_shards) for solve_stats.");

  m.def("sparse_probe_sums", [](const py::object& data, const py::object& indices, const py::object& indptr,
                                const py::tuple& shape, const py::object& y, const py::sequence& probes,
                                const py::object& sample_weight, index_t n_shards, int n_threads) {
    return dispatch(data, indices, indptr, ProbeCall{shape, y, sample_weight, probes, n_shards, n_threads});
  }, py::arg("data"), py::arg("indices"), py::arg("indptr"), py::arg("shape"), py::arg("y"), py::arg("probes"),
     py::arg("sample_weight") = py::none(), py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "probe_sums of a CSR matrix: dict(sum_w, sum_ux (k x d), sum_u (k), sum_uu (k x k)).");

  m.def("fit_sparse", [](const py::object& data, const py::object& indices, const py::object& indptr,
                         const py::tuple& shape, const py::object& y, const py::object& sample_weight,
                         const std::string& solver, const FitOptions& options) {
    return dispatch(data, indices, indptr, FitCall{shape, y, sample_weight, solver, options});
  }, py::arg("data"), py::arg("indices"), py::arg("indptr"), py::arg("shape"), py::arg("y"),
     py::arg("sample_weight"), py::arg("solver"), py::arg("options"),
     "fit() on a CSR matrix for solver lbfgs, gd or sgd (GIL released); returns a FitResult.");
}

}  // namespace fastcost::bindings
