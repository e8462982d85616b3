// The fastcost._cuda extension module (built with FASTCOST_CUDA=ON): runtime
// and device information, and the solvers, Gram and loss/gradient passes on a
// GPU. Arrays come as numpy arrays (copied to the device once per call, timed
// apart from the compute) or as dicts describing device memory that the caller
// owns (from __cuda_array_interface__: CuPy, PyTorch), used in place.
#include <cuda_runtime_api.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "device.hpp"
#include "solvers_cuda.hpp"

namespace py = pybind11;
using namespace fastcost;
using namespace fastcost::cuda;

namespace {

int current_device() {
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  return dev;
}

struct Transfer {
  double seconds = 0.0;
  std::size_t bytes = 0;
};

bool is_device_desc(const py::object& o) { return py::isinstance<py::dict>(o); }

int dtype_size_of(const py::object& o, const char* name) {
  if (is_device_desc(o)) {
    const auto ts = py::cast<std::string>(py::dict(o)["typestr"]);
    if (ts == "<f8") return 8;
    if (ts == "<f4") return 4;
    throw py::type_error(std::string(name) + " must be float32 or float64 on the device, got typestr " + ts);
  }
  return bindings::dtype_of(py::array(o), name) == bindings::Dtype::F64 ? 8 : 4;
}

// The device of a pointer into GPU memory (device or managed), or an error.
int device_of(std::uintptr_t ptr, const char* name) {
  cudaPointerAttributes attr{};
  check(cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(ptr)), "cudaPointerGetAttributes");
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) {
    throw py::value_error(std::string(name) + " does not point to GPU memory");
  }
  return attr.device;
}

void sync_producer_stream(const py::dict& desc) {
  // __cuda_array_interface__ v3: the producer's stream must be synchronized
  // before reading (1 and 2 are the legacy and per-thread default streams).
  if (!desc.contains("stream") || desc["stream"].is_none()) return;
  const auto s = py::cast<std::uintptr_t>(desc["stream"]);
  if (s > 2) check(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(s)), "synchronizing the producer's stream");
}

struct Desc {
  std::uintptr_t ptr = 0;
  std::vector<index_t> shape, strides;  // strides in elements; empty: C-contiguous
};

Desc read_desc(const py::dict& d, std::size_t item) {
  Desc out;
  out.ptr = py::cast<std::uintptr_t>(d["ptr"]);
  for (auto v : py::tuple(d["shape"])) out.shape.push_back(py::cast<index_t>(v));
  if (d.contains("strides") && !d["strides"].is_none()) {
    for (auto v : py::tuple(d["strides"])) {
      const auto s = py::cast<index_t>(v);
      if (s % static_cast<index_t>(item) != 0) throw py::value_error("device array strides are not whole elements");
      out.strides.push_back(s / static_cast<index_t>(item));
    }
  }
  sync_producer_stream(d);
  return out;
}

template <class T>
MatrixView<T> device_matrix(const Desc& desc, const char* name) {
  if (desc.shape.size() != 2) throw py::value_error(std::string(name) + " must be 2-D");
  MatrixView<T> v;
  v.data = reinterpret_cast<const T*>(desc.ptr);
  v.rows = desc.shape[0];
  v.cols = desc.shape[1];
  const index_t s0 = desc.strides.empty() ? v.cols : desc.strides[0];
  const index_t s1 = desc.strides.empty() ? 1 : desc.strides[1];
  if (s1 == 1 && s0 >= v.cols) {
    v.layout = Layout::RowMajor;
    v.ld = std::max<index_t>(s0, 1);
  } else if (s0 == 1 && s1 >= v.rows) {
    v.layout = Layout::ColMajor;
    v.ld = std::max<index_t>(s1, 1);
  } else {
    throw py::value_error(std::string(name) + " must have unit stride along rows or columns (copy it first)");
  }
  v.validate();
  return v;
}

// The inputs of one call as read from Python (GIL held), before anything is
// copied: device views for GPU memory, host pointers for numpy arrays. Reading
// them first lets a call check its shape and options before it pays for the
// copy of X.
template <class T>
struct ProblemInputs {
  MatrixView<T> X;       // device memory, or the host array when copy_x
  bool copy_x = false;
  const T* host_v[2] = {nullptr, nullptr};  // y, sample_weight on the host
  const T* dev_v[2] = {nullptr, nullptr};   // y, sample_weight on the device
};

template <class T>
ProblemInputs<T> read_inputs(const py::object& X, const py::object& y, const py::object& sw) {
  ProblemInputs<T> in;
  const std::size_t item = sizeof(T);
  if (is_device_desc(X)) {
    in.X = device_matrix<T>(read_desc(py::dict(X), item), "X");
  } else {
    in.X = bindings::matrix_view<T>(py::array(X), "X");
    in.copy_x = true;
  }
  const index_t n = in.X.rows;
  const py::object* objs[2] = {&y, &sw};
  const char* names[2] = {"y", "sample_weight"};
  for (int k = 0; k < 2; ++k) {
    const py::object& o = *objs[k];
    if (o.is_none()) continue;
    if (is_device_desc(o)) {
      const Desc desc = read_desc(py::dict(o), item);
      if (desc.shape.size() != 1 || desc.shape[0] != n) {
        throw py::value_error(std::string(names[k]) + " must be 1-D with " + std::to_string(n) + " entries");
      }
      if (n > 1 && !desc.strides.empty() && desc.strides[0] != 1) {
        throw py::value_error(std::string(names[k]) + " must be contiguous");
      }
      in.dev_v[k] = reinterpret_cast<const T*>(desc.ptr);
    } else {
      in.host_v[k] = bindings::vector_ptr<T>(o, n, names[k]);
    }
  }
  return in;
}

// `height` lines of `width` values, `src_ld` apart on the host, to `dst` packed
// (ld = width) on the device. A contiguous source is one cudaMemcpy. Otherwise
// cudaMemcpy2D, except where the source pitch exceeds its limit
// (cudaDevAttrMaxPitch, 2^31 - 1 bytes: a column-major float64 block of more than
// 2^28 rows): then one copy per line.
template <class T>
void copy_lines(T* dst, std::size_t width, const T* src, std::size_t src_ld, std::size_t height) {
  const std::size_t item = sizeof(T);
  if (src_ld == width || height == 1) {
    check(cudaMemcpy(dst, src, width * height * item, cudaMemcpyHostToDevice), "copying X to the device");
    return;
  }
  int dev = 0, max_pitch = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&max_pitch, cudaDevAttrMaxPitch, dev), "cudaDeviceGetAttribute (max pitch)");
  if (src_ld * item <= static_cast<std::size_t>(max_pitch)) {
    check(cudaMemcpy2D(dst, width * item, src, src_ld * item, width * item, height, cudaMemcpyHostToDevice),
          "copying X to the device");
    return;
  }
  for (std::size_t k = 0; k < height; ++k) {
    check(cudaMemcpy(dst + k * width, src + k * src_ld, width * item, cudaMemcpyHostToDevice),
          "copying X to the device");
  }
}

// Device-resident sample weights get the checks numpy weights get in Python
// (_validation.check_weights): finite, non-negative, a positive sum. They are
// read back once (n values, 1/d of X's bytes), before the timed transfer.
template <class T>
void check_device_weights(const T* sw, index_t n) {
  std::vector<T> host(static_cast<std::size_t>(n));
  to_host(host.data(), sw, host.size(), "reading sample_weight back for its checks");
  double total = 0.0;
  for (const T v : host) {
    if (!std::isfinite(v)) throw std::invalid_argument("sample_weight contains NaN or infinity");
    if (v < T(0)) throw std::invalid_argument("sample_weight contains negative values");
    total += static_cast<double>(v);
  }
  if (!(total > 0.0)) throw std::invalid_argument("sample_weight sums to zero: nothing to fit");
}

// The device problem of read_inputs: borrows device memory, copies host
// arrays, without the GIL.
template <class T>
DeviceProblem<T> upload(const ProblemInputs<T>& in, Transfer& tr) {
  py::gil_scoped_release release;
  DeviceProblem<T> p;
  const std::size_t item = sizeof(T);
  const MatrixView<T>& host_x = in.X;
  p.X = in.X;
  const index_t n = in.X.rows;
  const char* names[2] = {"y", "sample_weight"};
  const T* dev_v[2] = {in.dev_v[0], in.dev_v[1]};
  if (dev_v[1]) check_device_weights(dev_v[1], n);
  const auto t0 = std::chrono::steady_clock::now();
  if (in.copy_x) {
    const auto rows = static_cast<std::size_t>(host_x.rows), cols = static_cast<std::size_t>(host_x.cols);
    p.own_x = DeviceBuffer<T>(rows * cols, "X");
    p.X.data = p.own_x.data();
    const bool row_major = host_x.layout == Layout::RowMajor;
    const std::size_t width = row_major ? cols : rows, height = row_major ? rows : cols;
    p.X.ld = static_cast<index_t>(std::max<std::size_t>(width, 1));
    if (rows * cols > 0) copy_lines(p.own_x.data(), width, host_x.data, static_cast<std::size_t>(host_x.ld), height);
    tr.bytes += rows * cols * item;
  }
  DeviceBuffer<T>* own[2] = {&p.own_y, &p.own_sw};
  for (int k = 0; k < 2; ++k) {
    if (in.host_v[k]) {
      *own[k] = DeviceBuffer<T>(static_cast<std::size_t>(n), names[k]);
      to_device(own[k]->data(), in.host_v[k], static_cast<std::size_t>(n), names[k]);
      tr.bytes += static_cast<std::size_t>(n) * item;
      dev_v[k] = own[k]->data();
    }
  }
  p.y = dev_v[0];
  p.sw = dev_v[1];
  // A copy from pageable memory may return before its DMA ends: wait, so that
  // the transfer time is the copy's and not the first kernel's.
  synchronize("copying inputs to the device");
  tr.seconds = seconds_since(t0);
  return p;
}

template <class T>
DeviceProblem<T> make_problem(const py::object& X, const py::object& y, const py::object& sw, Transfer& tr) {
  return upload(read_inputs<T>(X, y, sw), tr);
}

// The device to run on: that of X when X is GPU memory, else the current one.
int pick_device(const py::object& X, const py::object& y, const py::object& sw) {
  require_device();
  int dev = -1;
  for (const py::object* o : {&X, &y, &sw}) {
    if (!o->is_none() && is_device_desc(*o)) {
      const int d = device_of(py::cast<std::uintptr_t>(py::dict(*o)["ptr"]), "array");
      if (dev >= 0 && d != dev) throw py::value_error("X, y and sample_weight are on different GPUs");
      dev = d;
    }
  }
  if (dev < 0) check(cudaGetDevice(&dev), "cudaGetDevice");
  return dev;
}

// What FitOptions accepts but the device solvers do not do: refused before
// X is copied, rather than ignored (newton and sgd here read neither the
// penalty noise_var adds nor frozen columns; lbfgs and gd share the CPU's
// objective, which does).
void check_device_options(const FitOptions& opt, const std::string& solver) {
  if (opt.standardize) throw py::value_error("standardize is not available on the CUDA device");
  bindings::check_positive_solver(opt, solver);
  if ((solver == "newton" || solver == "sgd") && (opt.noise_var != 0.0 || !opt.frozen.empty())) {
    throw py::value_error("noise_var and frozen are not available with solver='" + solver + "' on the CUDA device");
  }
}

py::dict timings_dict(const Transfer& tr, double compute_s, int device) {
  py::dict t;
  t["transfer_s"] = tr.seconds;
  t["transfer_bytes"] = tr.bytes;
  t["compute_s"] = compute_s;
  t["device_index"] = device;
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) t["device"] = std::string(prop.name);
  return t;
}

template <class T>
py::tuple fit_impl(const py::object& X, const py::object& y, const py::object& sw, const std::string& solver,
                   const FitOptions& opt) {
  if (y.is_none()) throw py::value_error("y is required");
  if (solver != "newton" && solver != "lbfgs" && solver != "gd" && solver != "sgd") {
    throw py::value_error("unknown solver '" + solver + "' for the CUDA backend (newton, lbfgs, gd, sgd)");
  }
  const DeviceGuard guard(pick_device(X, y, sw));
  Transfer tr;
  double compute_s = 0.0;
  FitResult r;
  {
    // Shapes and options are checked with the GIL held and before X is copied
    // (a bad option should not cost a transfer of X); the copies and the solve
    // run without the GIL.
    const ProblemInputs<T> in = read_inputs<T>(X, y, sw);
    if (in.X.rows == 0) throw py::value_error("X has no rows");
    if (in.X.cols == 0) throw py::value_error("X has no columns");
    bindings::check_fit_options(opt, in.X.cols);
    check_device_options(opt, solver);
    DeviceProblem<T> p = upload(in, tr);
    r = bindings::run_released([&] {
      const auto t0 = std::chrono::steady_clock::now();
      FitResult res = solver == "newton" ? cuda::fit_newton<T>(p, opt)
                      : solver == "lbfgs" ? cuda::fit_lbfgs<T>(p, opt)
                      : solver == "gd"    ? cuda::fit_gd<T>(p, opt)
                                          : cuda::fit_sgd<T>(p, opt);
      synchronize("finishing the fit");
      compute_s = seconds_since(t0);
      return res;
    });
  }
  return py::make_tuple(r, timings_dict(tr, compute_s, current_device()));
}

template <class T>
py::dict gram_stats_impl(const py::object& X, const py::object& y, const py::object& sw) {
  const DeviceGuard guard(pick_device(X, y, sw));
  Transfer tr;
  DeviceProblem<T> p = make_problem<T>(X, y, sw, tr);
  if (p.X.rows == 0 || p.X.cols == 0) throw py::value_error("X must have at least one row and one column");
  double compute_s = 0.0;
  const GramStats st = bindings::run_released([&] {
    const auto t0 = std::chrono::steady_clock::now();
    GramStats s = device_gram_stats(p);
    compute_s = seconds_since(t0);
    return s;
  });
  py::dict out = bindings::gram_stats_dict(st);
  out["timings"] = timings_dict(tr, compute_s, current_device());
  return out;
}

template <class T>
py::tuple loss_grad_impl(const py::object& X, const py::object& y, const py::object& w, double b,
                         const py::object& sw) {
  const DeviceGuard guard(pick_device(X, y, sw));
  Transfer tr;
  DeviceProblem<T> p = make_problem<T>(X, y, sw, tr);
  if (p.X.rows == 0 || p.X.cols == 0) throw py::value_error("X must have at least one row and one column");
  const std::vector<double> wv = bindings::double_vector(w, p.X.cols, "w");
  const LossGradSums s = bindings::run_released([&] {
    DeviceLossGrad<T> pass(p);
    return pass(wv.data(), b, p.y != nullptr);
  });
  return bindings::loss_grad_tuple(s);
}

// A pair of CUDA events on the legacy default stream, where every launch of
// this module goes: the time between them is the device's, without the host's
// allocations, copies or Python calls.
class EventTimer {
 public:
  EventTimer() {
    check(cudaEventCreate(&start_), "cudaEventCreate");
    const cudaError_t status = cudaEventCreate(&stop_);
    if (status != cudaSuccess) {
      (void)cudaEventDestroy(start_);
      check(status, "cudaEventCreate");
    }
  }
  ~EventTimer() {
    (void)cudaEventDestroy(start_);
    (void)cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  template <class Fn>
  double seconds(Fn&& launch) {
    check(cudaEventRecord(start_, cudaStreamLegacy), "cudaEventRecord");
    launch();
    check(cudaEventRecord(stop_, cudaStreamLegacy), "cudaEventRecord");
    check(cudaEventSynchronize(stop_), "cudaEventSynchronize");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
    return static_cast<double>(ms) * 1e-3;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// The device time of `repeats` passes of one kernel (the fused loss+gradient
// pass or the Gram pass with its reduction), each timed alone with CUDA
// events after one untimed warm-up; workspaces are allocated and inputs
// copied before the first event, so the figures are the passes' alone.
template <class T>
py::dict time_passes_impl(const py::object& X, const py::object& y, const py::object& sw, const std::string& kind,
                          int repeats) {
  if (kind != "loss_grad" && kind != "gram") throw py::value_error("kind must be 'loss_grad' or 'gram'");
  if (repeats < 1) throw py::value_error("repeats must be at least 1");
  const DeviceGuard guard(pick_device(X, y, sw));
  Transfer tr;
  DeviceProblem<T> p = make_problem<T>(X, y, sw, tr);
  const index_t n = p.X.rows, d = p.X.cols;
  if (n == 0 || d == 0) throw py::value_error("X must have at least one row and one column");
  std::vector<double> seconds;
  bindings::run_released([&] {
    EventTimer timer;
    auto time_all = [&](auto&& launch) {
      launch();  // warm-up: first-launch costs (module load, attribute setting) are not the pass's
      synchronize("the warm-up pass");
      for (int r = 0; r < repeats; ++r) seconds.push_back(timer.seconds(launch));
    };
    if (kind == "loss_grad") {
      const LossGradPlan plan = plan_loss_grad<T>(n, d);
      DeviceBuffer<double> partial(static_cast<std::size_t>(plan.blocks) * static_cast<std::size_t>(plan.width),
                                   "loss/gradient partial sums");
      DeviceBuffer<double> out(static_cast<std::size_t>(plan.width), "loss/gradient sums");
      const std::vector<T> host_w(static_cast<std::size_t>(d), T(1) / static_cast<T>(d));
      DeviceBuffer<T> w(host_w.size(), "coefficients");
      to_device(w.data(), host_w.data(), host_w.size(), "copying coefficients to the device");
      time_all([&] { loss_grad<T>(p.X, p.y, p.sw, w.data(), T(0), plan, partial.data(), out.data()); });
    } else {
      const std::vector<T> row = first_row(p);
      DeviceBuffer<T> shift(row.size(), "the Gram shift");
      to_device(shift.data(), row.data(), row.size(), "copying the Gram shift");
      const GramPlan plan = plan_gram(n, d);
      DeviceBuffer<double> partial(plan.partial_doubles(), "the Gram's per-block partial tiles");
      DeviceBuffer<double> out(static_cast<std::size_t>((d + 2) * (d + 2)), "the Gram matrix");
      time_all([&] { gram<T>(p.X, p.y, p.sw, shift.data(), plan, partial.data(), out.data()); });
    }
    return 0;
  });
  const auto vec_bytes = static_cast<std::size_t>(n) * sizeof(T);
  py::dict out;
  out["kind"] = kind;
  out["seconds"] = py::cast(seconds);
  out["bytes_read"] = static_cast<std::size_t>(n) * static_cast<std::size_t>(d) * sizeof(T) +
                      (p.y ? vec_bytes : 0) + (p.sw ? vec_bytes : 0);
  out["timings"] = timings_dict(tr, 0.0, current_device());
  return out;
}

// A numpy array copied to GPU memory that exposes __cuda_array_interface__:
// lets the tests exercise the zero-copy path without CuPy or PyTorch.
class DeviceArray {
 public:
  explicit DeviceArray(const py::array& a) : dtype_(a.dtype()) {
    require_device();
    for (py::ssize_t k = 0; k < a.ndim(); ++k) {
      shape_.append(a.shape(k));
      strides_.append(a.strides(k));
    }
    // Keep numpy's strides (C, Fortran or a block of either): copy the whole span.
    std::size_t span = static_cast<std::size_t>(a.itemsize());
    for (py::ssize_t k = 0; k < a.ndim(); ++k) {
      if (a.shape(k) == 0) span = 0;
      else if (a.strides(k) < 0) throw py::value_error("negative strides are not supported");
      else span += static_cast<std::size_t>((a.shape(k) - 1) * a.strides(k));
    }
    buf_ = DeviceBuffer<unsigned char>(std::max<std::size_t>(span, 1), "a test device array");
    to_device(buf_.data(), static_cast<const unsigned char*>(a.data()), span, "copying a test array");
  }
  py::dict interface() const {
    py::dict d;
    d["shape"] = py::tuple(shape_);
    d["strides"] = py::tuple(strides_);
    d["typestr"] = py::str(dtype_.attr("str"));
    d["data"] = py::make_tuple(reinterpret_cast<std::uintptr_t>(buf_.data()), false);
    d["version"] = 3;
    d["stream"] = py::none();
    return d;
  }

 private:
  py::dtype dtype_;
  py::list shape_, strides_;
  DeviceBuffer<unsigned char> buf_;
};

}  // namespace

#ifndef FASTCOST_CUDA_ARCHITECTURES
#define FASTCOST_CUDA_ARCHITECTURES "unknown"
#endif
#ifndef FASTCOST_CUDA_COMPILER
#define FASTCOST_CUDA_COMPILER "unknown"
#endif

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "fastcost CUDA backend: the least-squares solvers on an NVIDIA GPU";
  py::register_exception<Cancelled>(m, "Cancelled", PyExc_KeyboardInterrupt);
  bindings::register_errors();
  // FitOptions and FitResult are _core's types: registered once, shared.
  py::module_::import("fastcost._core");
  py::register_exception<DeviceOutOfMemory>(m, "CudaOutOfMemoryError", PyExc_MemoryError);
  py::register_exception<NoDevice>(m, "NoCudaDeviceError", PyExc_RuntimeError);

  py::class_<DeviceArray>(m, "_DeviceArray", "Test helper: a numpy array copied to the GPU, with its strides.")
      .def(py::init<const py::array&>())
      .def_property_readonly("__cuda_array_interface__", &DeviceArray::interface);

  m.def("_try_allocate", [](std::size_t nbytes) {
    require_device();
    const DeviceBuffer<unsigned char> probe(nbytes, "a test allocation");
  }, py::arg("nbytes"), "Test helper: allocate and free nbytes of device memory (MemoryError if it cannot).");

  m.def("build_info", [] {
    py::dict info;
    info["cuda_architectures"] = FASTCOST_CUDA_ARCHITECTURES;
    info["cuda_compiler"] = FASTCOST_CUDA_COMPILER;
    info["cudart_built"] = CUDART_VERSION;
    return info;
  }, "How the CUDA module was built: target architectures, nvcc version, CUDA runtime version.");

  m.def("runtime_info", [] {
    py::dict info;
    int rt = 0, drv = 0;
    (void)cudaRuntimeGetVersion(&rt);
    (void)cudaDriverGetVersion(&drv);
    (void)cudaGetLastError();
    info["runtime_version"] = rt;
    info["driver_version"] = drv;
    std::string why;
    const int n = device_count(&why);
    py::list devices;
    for (int i = 0; i < n; ++i) {
      cudaDeviceProp prop{};
      if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
        (void)cudaGetLastError();
        continue;
      }
      py::dict d;
      d["index"] = i;
      d["name"] = std::string(prop.name);
      d["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
      d["total_memory"] = prop.totalGlobalMem;
      d["multiprocessors"] = prop.multiProcessorCount;
      devices.append(d);
    }
    info["devices"] = devices;
    info["error"] = n == 0 ? py::object(py::str(why)) : py::object(py::none());
    return info;
  }, "CUDA runtime and driver versions (1000 * major + 10 * minor) and the visible devices.");

  m.def("fit", [](const py::object& X, const py::object& y, const py::object& sample_weight, const std::string& solver,
                  const FitOptions& options) {
    return dtype_size_of(X, "X") == 8 ? fit_impl<double>(X, y, sample_weight, solver, options)
                                      : fit_impl<float>(X, y, sample_weight, solver, options);
  }, py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("solver"), py::arg("options"),
     "One solver's whole fit on the GPU (GIL released). X, y, sample_weight: numpy arrays (copied\n"
     "to the device) or dicts {ptr, shape, strides, typestr, stream} describing device memory.\n"
     "Returns (FitResult, timings {transfer_s, transfer_bytes, compute_s, device}).");

  m.def("gram_stats", [](const py::object& X, const py::object& y, const py::object& sample_weight) {
    return dtype_size_of(X, "X") == 8 ? gram_stats_impl<double>(X, y, sample_weight)
                                      : gram_stats_impl<float>(X, y, sample_weight);
  }, py::arg("X"), py::arg("y") = py::none(), py::arg("sample_weight") = py::none(),
     "The augmented weighted Gram of _core.gram_stats (shift = first row), formed on the GPU.");

  m.def("_time_passes", [](const py::object& X, const py::object& y, const py::object& sample_weight,
                           const std::string& kind, int repeats) {
    return dtype_size_of(X, "X") == 8 ? time_passes_impl<double>(X, y, sample_weight, kind, repeats)
                                      : time_passes_impl<float>(X, y, sample_weight, kind, repeats);
  }, py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("kind"), py::arg("repeats"),
     "Benchmark helper: the device time of each of `repeats` passes ('loss_grad' or 'gram'), timed with\n"
     "CUDA events after a warm-up, without allocations or copies. Returns {kind, seconds, bytes_read, timings}.");

  m.def("loss_grad", [](const py::object& X, const py::object& y, const py::object& w, double b,
                        const py::object& sample_weight) {
    return dtype_size_of(X, "X") == 8 ? loss_grad_impl<double>(X, y, w, b, sample_weight)
                                      : loss_grad_impl<float>(X, y, w, b, sample_weight);
  }, py::arg("X"), py::arg("y"), py::arg("w"), py::arg("b") = 0.0, py::arg("sample_weight") = py::none(),
     "The fused pass of _core.loss_grad on the GPU: (sum s, sum s r^2, sum s r, sum s r x).");
}
