// Binding of the robust-covariance pass (sandwich.hpp): the HC meat or the
// cluster score sums of a fitted model in one read of X.
#include "bindings.hpp"

#include <cstdint>

#include "fastcost/sandwich.hpp"

namespace fastcost::bindings {

namespace {

MeatKind meat_kind(const std::string& kind) {
  if (kind == "HC0") return MeatKind::HC0;
  if (kind == "HC2") return MeatKind::HC2;
  if (kind == "HC3") return MeatKind::HC3;
  if (kind == "cluster") return MeatKind::Cluster;
  throw py::value_error("kind must be 'HC0', 'HC2', 'HC3' or 'cluster', got '" + kind + "'");
}

using DoubleMatrix = py::array_t<double, py::array::c_style | py::array::forcecast>;

template <class T>
py::dict sandwich_impl(const py::array& X, const py::object& y, const py::object& w, double b, const DoubleMatrix& K,
                       const py::object& sw, const py::object& shift, bool fit_intercept, const std::string& kind,
                       const py::object& codes, index_t n_groups, index_t n_shards, int n_threads) {
  const RowsArgs<T> a = rows_args<T>(X, y, sw);
  if (a.y == nullptr) throw py::value_error("y is required");
  const index_t d = a.X.cols;
  const index_t p = d + (fit_intercept ? 1 : 0);
  const std::vector<double> wv = double_vector(w, d, "w");
  const std::vector<double> sh = shift.is_none() ? std::vector<double>{} : double_vector(shift, d, "shift");
  if (K.ndim() != 2 || K.shape(0) != p || K.shape(1) != p) {
    throw py::value_error("K must be " + std::to_string(p) + " x " + std::to_string(p));
  }
  SandwichModel mdl;
  mdl.w = wv.data();
  mdl.b = b;
  mdl.shift = sh.empty() ? nullptr : sh.data();
  mdl.intercept = fit_intercept;
  mdl.K = K.data();
  mdl.K_upper = true;
  for (index_t i = 1; i < p && mdl.K_upper; ++i) {
    for (index_t j = 0; j < i; ++j) {
      if (K.data()[i * p + j] != 0.0) {
        mdl.K_upper = false;
        break;
      }
    }
  }
  mdl.kind = meat_kind(kind);
  py::array_t<std::int32_t, py::array::c_style> code_array;
  if (mdl.kind == MeatKind::Cluster) {
    if (codes.is_none()) throw py::value_error("kind='cluster' needs codes");
    if (!py::isinstance<py::array_t<std::int32_t>>(codes)) throw py::type_error("codes must be an int32 array");
    code_array = py::array_t<std::int32_t, py::array::c_style>::ensure(codes);
    if (!code_array || code_array.ndim() != 1 || code_array.shape(0) != a.X.rows) {
      throw py::value_error("codes must be a 1-D int32 array with one entry per row of X");
    }
    if (n_groups < 1) throw py::value_error("n_groups must be >= 1");
    mdl.codes = code_array.data();
    mdl.n_groups = n_groups;
  }
  const int threads = resolve_threads(n_threads);
  const SandwichSums s = run_released([&] { return sandwich_sums<T>(a.X, a.y, a.sw, mdl, n_shards, threads); });
  py::dict out;
  out["meat"] = square_array(s.meat, p);
  py::array_t<double> scores({static_cast<py::ssize_t>(mdl.n_groups), static_cast<py::ssize_t>(p)});
  std::copy(s.scores.begin(), s.scores.end(), scores.mutable_data());
  out["scores"] = scores;
  out["n_shards"] = s.n_shards;
  out["block_rows"] = kSandwichBlock;
  return out;
}

}  // namespace

void bind_sandwich(py::module_& m) {
  m.def("sandwich_sums", [](const py::array& X, const py::object& y, const py::object& w, double b,
                            const DoubleMatrix& K, const py::object& sample_weight, const py::object& shift,
                            bool fit_intercept, const std::string& kind, const py::object& codes, index_t n_groups,
                            index_t n_shards, int n_threads) {
    return dtype_of(X, "X") == Dtype::F64
               ? sandwich_impl<double>(X, y, w, b, K, sample_weight, shift, fit_intercept, kind, codes, n_groups,
                                       n_shards, n_threads)
               : sandwich_impl<float>(X, y, w, b, K, sample_weight, shift, fit_intercept, kind, codes, n_groups,
                                      n_shards, n_threads);
  }, py::arg("X"), py::arg("y"), py::arg("w"), py::arg("b"), py::arg("K"), py::arg("sample_weight") = py::none(),
     py::arg("shift") = py::none(), py::arg("fit_intercept") = true, py::arg("kind") = "HC0",
     py::arg("codes") = py::none(), py::arg("n_groups") = 0, py::arg("n_shards") = 0, py::arg("n_threads") = 0,
     "Robust-covariance sums of a fitted model in one sharded pass over X.\n"
     "z = [1, x - shift] (x - shift without an intercept), e = y - z^T [b, w], v = K^T z with\n"
     "K K^T the inverse bread, h = s ||v||^2. kind 'HC0', 'HC2', 'HC3': meat = sum s^2 e^2 f(h) v v^T\n"
     "(f = 1, 1/(1-h), 1/(1-h)^2); 'cluster': scores[g] = sum over rows of cluster codes[i] == g\n"
     "of s e v (codes int32 in [0, n_groups)). Returns dict(meat (p x p), scores (n_groups x p),\n"
     "n_shards, block_rows (rows per block of the pass: block boundaries are at each shard's first\n"
     "row plus multiples of it)).");
}

}  // namespace fastcost::bindings
