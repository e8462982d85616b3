// The fastcost._core extension module: build information and registration of
// the kernel and solver bindings.
#include "bindings.hpp"

#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/solvers.hpp"

namespace py = pybind11;
using namespace fastcost;

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastcost compiled core: sharded least-squares kernels and solvers";
  py::register_exception<Cancelled>(m, "Cancelled", PyExc_KeyboardInterrupt);
  bindings::register_errors();
  bindings::bind_types(m);

  m.def("build_info", [] {
    py::dict info;
    info["compiler"] = FASTCOST_COMPILER;
    info["openmp"] = has_openmp();
#if FASTCOST_HAS_OPENMP
    info["openmp_version"] = _OPENMP;
#endif
    info["cuda"] = false;
    info["max_threads"] = max_threads();
    info["isa_best"] = isa_name(best_supported_isa());
    info["isa_active"] = isa_name(active_isa());
    info["isa_compiled"] = py::make_tuple("baseline", "avx2+fma", "avx512f");
    return info;
  }, "How the module was built and what it will use now.");
  m.def("max_threads", &max_threads, "Threads OpenMP would use now (OMP_NUM_THREADS, threadpoolctl).");
  m.def("set_isa", &set_isa, py::arg("name"),
        "Select the kernel instruction set: 'auto', 'baseline', 'avx2' or 'avx512'.");
  m.def("get_isa", [] { return std::string(isa_name(active_isa())); }, "The instruction set in use.");
  m.def("default_shard_count", &default_shard_count, py::arg("rows"), py::arg("cols"),
        py::arg("partial_doubles"), py::arg("min_rows") = 2048);

  bindings::bind_kernels(m);
  bindings::bind_solvers(m);
  bindings::bind_qr(m);
  bindings::bind_preprocess(m);
  bindings::bind_categorical(m);
  bindings::bind_sparse(m);
  bindings::bind_sandwich(m);
  bindings::bind_lapack(m);
}
