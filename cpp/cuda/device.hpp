// Device memory and errors for the CUDA backend: RAII buffers, a device guard,
// and CUDA status codes turned into C++ exceptions. Needs only the CUDA runtime
// API header, so the host compiler and nvcc both include it; no pybind11.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

namespace fastcost::cuda {

// cudaMalloc found too little free memory. The bindings map it to a MemoryError;
// nothing is left allocated (every buffer is RAII), so the process goes on.
class DeviceOutOfMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// No usable CUDA device (no driver, no GPU, or CUDA_VISIBLE_DEVICES hides them all).
class NoDevice : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string format_bytes(double bytes) {
  char buf[64];
  if (bytes >= 1024.0 * 1024.0 * 1024.0) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }
  return buf;
}

inline void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();  // clear a non-sticky error so later calls start clean
  if (status == cudaErrorMemoryAllocation) throw DeviceOutOfMemory(std::string("CUDA out of memory in ") + what);
  throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(status) + " (" +
                           cudaGetErrorString(status) + ")");
}

// Number of visible devices; 0 with the reason in `why` when there is none.
inline int device_count(std::string* why = nullptr) {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    return 0;
  }
  if (n == 0 && why) *why = "cudaGetDeviceCount returned 0";
  return n;
}

inline void require_device() {
  std::string why;
  if (device_count(&why) == 0) {
    throw NoDevice("no CUDA device: fastcost._cuda is built but the CUDA runtime sees no GPU (" + why + ")");
  }
}

// Makes `device` current for a scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check(cudaGetDevice(&previous_), "cudaGetDevice");
    if (device != previous_) check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() { (void)cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

// An owned device array of n values of T, freed on scope exit (also when an
// exception unwinds, which is what keeps an out-of-memory fit from leaking).
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t n, const char* what) : n_(n) {
    if (n == 0) return;
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, n * sizeof(T));
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      std::size_t free_b = 0, total_b = 0;
      (void)cudaMemGetInfo(&free_b, &total_b);
      (void)cudaGetLastError();
      throw DeviceOutOfMemory("CUDA out of memory: cannot allocate " + format_bytes(static_cast<double>(n * sizeof(T))) +
                              " for " + what + " (" + format_bytes(static_cast<double>(free_b)) + " free of " +
                              format_bytes(static_cast<double>(total_b)) + " on the device)");
    }
    check(status, what);
    p_ = static_cast<T*>(p);
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  void reset() {
    if (p_) (void)cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

template <class T>
void to_device(T* dst, const T* src, std::size_t n, const char* what) {
  if (n) check(cudaMemcpy(dst, src, n * sizeof(T), cudaMemcpyHostToDevice), what);
}

template <class T>
void to_host(T* dst, const T* src, std::size_t n, const char* what) {
  if (n) check(cudaMemcpy(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost), what);
}

}  // namespace fastcost::cuda
