// Where the core's BLAS/LAPACK table (fastcost/lapack.hpp) comes from: the
// function pointers SciPy exports from the LAPACK it loads
// (scipy.linalg.cython_lapack / cython_blas), looked up on first need so that
// a process fitting only narrow models never imports scipy.linalg.
#include <cstring>

#include "bindings.hpp"
#include "fastcost/gram_wide.hpp"
#include "fastcost/lapack.hpp"

namespace fastcost::bindings {

namespace {

template <class F>
void load(const py::dict& capi, const char* name, F*& out) {
  if (!capi.contains(name)) return;
  const py::object cap = capi[name];
  void* p = PyCapsule_GetPointer(cap.ptr(), PyCapsule_GetName(cap.ptr()));
  if (p == nullptr) {
    PyErr_Clear();
    return;
  }
  std::memcpy(&out, &p, sizeof p);  // object pointer to function pointer, as dlsym's users do
}

std::string& load_error() {
  static std::string e;
  return e;
}

void resolve_from_scipy(lapack::Table& t) {
  py::gil_scoped_acquire gil;
  try {
    const py::dict l = py::module_::import("scipy.linalg.cython_lapack").attr("__pyx_capi__");
    const py::dict b = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
    load(l, "dpotrf", t.dpotrf);
    load(l, "dpotrs", t.dpotrs);
    load(l, "dpocon", t.dpocon);
    load(l, "dsyevd", t.dsyevd);
    load(l, "dtrtrs", t.dtrtrs);
    load(l, "dtrcon", t.dtrcon);
    load(l, "dtpqrt", t.dtpqrt);
    load(l, "dgesdd", t.dgesdd);
    load(b, "dsyrk", t.dsyrk);
    load(b, "dgemm", t.dgemm);
    load(b, "ssyrk", t.ssyrk);
    if (!t.complete()) load_error() = "scipy.linalg.cython_lapack lacks a routine fastcost needs";
  } catch (py::error_already_set& e) {
    load_error() = e.what();
    return;
  }
  try {  // unknown kernels keep the tiles (gram_wide.hpp); the table stays usable
    t.avx512_kernels = py::module_::import("fastcost._threads").attr("blas_uses_avx512")().cast<bool>();
  } catch (py::error_already_set&) {
    t.avx512_kernels = false;
  }
}

}  // namespace

void bind_lapack(py::module_& m) {
  lapack::set_resolver(&resolve_from_scipy);
  m.def("lapack_info", [] {
    py::dict info;
    // Asking resolves the table, as the first solve of order >= min_order would.
    const lapack::Table* table = lapack::get(lapack::kMinOrder);
    const bool ready = table != nullptr;
    info["enabled"] = lapack::enabled();
    info["loaded"] = lapack::loaded();
    info["ready"] = ready;
    info["source"] = lapack::loaded() ? "scipy.linalg.cython_lapack" : "built-in loops";
    info["min_order"] = lapack::kMinOrder;
    info["blas_avx512"] = ready && table->avx512_kernels;
    info["error"] = load_error();
    return info;
  }, "Where the d x d algebra runs: SciPy's LAPACK from order min_order on, else built-in loops.");
  m.def("set_lapack", &lapack::set_enabled, py::arg("enabled"),
        "Use SciPy's LAPACK for the d x d algebra (True, the default) or the built-in loops everywhere.");
  m.def("set_wide_gram_min", &set_wide_gram_min, py::arg("width"),
        "Augmented width (d + k + 1) from which gram_stats goes through the BLAS's syrk, for both dtypes\n"
        "(0: the measured defaults per ISA and dtype). Returns the previous setting; for tests and benchmarks.");
  m.def("set_gram_regions", [](index_t region, index_t min_width) {
    const auto [r, w] = set_gram_regions(region, min_width);
    return py::make_tuple(r, w);
  }, py::arg("region"), py::arg("min_width"),
        "The wide Gram's region width (a multiple of 96) and the augmented width from which it sums by\n"
        "regions (0 for either: the defaults, 1056 and 3072). Returns the previous pair; for tests.");
  m.def("set_float_syrk", &set_float_syrk, py::arg("enabled"),
        "Let float32 Grams go through ssyrk on float blocks (off by default: OpenBLAS's float routines give\n"
        "different bits for different BLAS thread counts). Returns the previous setting.");
}

}  // namespace fastcost::bindings
