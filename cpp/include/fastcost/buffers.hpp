// Zeroed scratch buffers of doubles that ask Linux for transparent huge pages.
//
// On machines where huge pages are given on request only (THP "madvise", the
// common default), every 4 KB page of a fresh buffer costs a page fault on its
// first touch: a 128 MB Gram partial took 0.1 s of faults at d = 4,000, more
// than its arithmetic on a short pass. Buffers from MiB upward are mapped
// 2 MB aligned and marked MADV_HUGEPAGE (512 times fewer faults); fresh
// mappings are zero already, so they are not written until used, and pages
// that are never used (the Gram partials' lower triangles) cost nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "fastcost/matrix.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fastcost {

constexpr std::size_t kHugeBufferBytes = std::size_t(4) << 20;
constexpr std::size_t kHugePage = std::size_t(2) << 20;

// Asks for huge pages on the 2 MB aligned part of [p, p + bytes): a hint,
// whose failure only costs speed. For memory about to be written for the
// first time (e.g. a std::vector's storage after reserve()).
inline void advise_huge_pages(void* p, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (a + kHugePage - 1) / kHugePage * kHugePage, last = (a + bytes) / kHugePage * kHugePage;
  if (bytes >= kHugeBufferBytes && last > first)
    madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

// A zeroed buffer of n doubles; resize() drops the contents.
class ZeroedBuffer {
 public:
  ZeroedBuffer() = default;
  explicit ZeroedBuffer(index_t n) { resize(n); }
  ZeroedBuffer(const ZeroedBuffer&) = delete;
  ZeroedBuffer& operator=(const ZeroedBuffer&) = delete;
  ZeroedBuffer(ZeroedBuffer&& o) noexcept : base_(o.base_), p_(o.p_), bytes_(o.bytes_), mapped_(o.mapped_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = -1;
  }
  ZeroedBuffer& operator=(ZeroedBuffer&& o) noexcept {
    if (this != &o) {
      release();
      base_ = o.base_;
      p_ = o.p_;
      bytes_ = o.bytes_;
      mapped_ = o.mapped_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = -1;
    }
    return *this;
  }
  ~ZeroedBuffer() { release(); }

  void resize(index_t n) {
    if (n == n_) return;
    release();
    const std::size_t bytes = static_cast<std::size_t>(std::max<index_t>(n, 1)) * sizeof(double);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= kHugeBufferBytes) {
      // Over-map by one huge page and use its 2 MB aligned part.
      const std::size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
      void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) throw std::bad_alloc();
      const auto a = reinterpret_cast<std::uintptr_t>(m);
      const std::uintptr_t aligned = (a + kHugePage - 1) / kHugePage * kHugePage;
      madvise(reinterpret_cast<void*>(aligned), size - (aligned - a), MADV_HUGEPAGE);
      base_ = m;
      bytes_ = size;
      mapped_ = true;
      p_ = reinterpret_cast<double*>(aligned);
      n_ = n;
      return;
    }
#endif
    void* p = std::calloc(bytes / sizeof(double), sizeof(double));
    if (!p) throw std::bad_alloc();
    base_ = p;
    bytes_ = bytes;
    mapped_ = false;
    p_ = static_cast<double*>(p);
    n_ = n;
  }
  void zero() { std::memset(static_cast<void*>(p_), 0, static_cast<std::size_t>(n_) * sizeof(double)); }
  double* data() { return p_; }
  const double* data() const { return p_; }
  index_t size() const { return n_; }

 private:
  void release() {
    if (!p_) return;
#if defined(__linux__)
    if (mapped_) {
      munmap(base_, bytes_);
    } else {
      std::free(base_);
    }
#else
    std::free(base_);
#endif
    p_ = nullptr;
    n_ = -1;
  }
  void* base_ = nullptr;
  double* p_ = nullptr;
  std::size_t bytes_ = 0;
  bool mapped_ = false;
  index_t n_ = -1;
};

}  // namespace fastcost
