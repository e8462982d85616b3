// Run-time instruction-set (ISA) selection: what the CPU supports, the set in use
// (FASTCOST_ISA, set_isa), and the macros that compile a kernel body once per set
// and dispatch to the active one.
#pragma once

#include <atomic>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTCOST_X86_DISPATCH 1
#define FASTCOST_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FASTCOST_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define FASTCOST_X86_DISPATCH 0
#endif

namespace fastcost {

enum class Isa : int { Baseline = 0, Avx2Fma = 1, Avx512 = 2 };

inline const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512f";
    case Isa::Avx2Fma: return "avx2+fma";
    default: return "baseline";
  }
}

inline Isa best_supported_isa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2Fma;
#endif
  return Isa::Baseline;
}

inline Isa parse_isa(const std::string& name) {
  const Isa best = best_supported_isa();
  Isa want;
  if (name.empty() || name == "auto") return best;
  if (name == "baseline") want = Isa::Baseline;
  else if (name == "avx2" || name == "avx2+fma") want = Isa::Avx2Fma;
  else if (name == "avx512" || name == "avx512f") want = Isa::Avx512;
  else throw std::invalid_argument("unknown instruction set '" + name + "' (use auto, baseline, avx2 or avx512)");
  if (static_cast<int>(want) > static_cast<int>(best))
    throw std::invalid_argument("instruction set '" + name + "' is not supported by this CPU");
  return want;
}

inline std::atomic<int>& isa_state() {
  // Chosen once from the CPU and FASTCOST_ISA; set_isa() may change it later.
  static std::atomic<int> state{[] {
    const char* env = std::getenv("FASTCOST_ISA");
    try {
      return static_cast<int>(parse_isa(env ? env : "auto"));
    } catch (const std::exception&) {
      return static_cast<int>(Isa::Baseline);
    }
  }()};
  return state;
}

inline Isa active_isa() { return static_cast<Isa>(isa_state().load(std::memory_order_relaxed)); }
inline void set_isa(const std::string& name) { isa_state().store(static_cast<int>(parse_isa(name))); }

}  // namespace fastcost

// Defines NAME##_variant(Isa, ...) dispatching to BODY<T, W>(...) compiled for
// baseline (16-byte vectors), AVX2+FMA (32) and AVX-512 (64).
#if FASTCOST_X86_DISPATCH
#define FASTCOST_MULTIVERSION(NAME, BODY)                                                \
  template <class T, class... Args>                                                      \
  void NAME##_baseline(Args... args) { BODY<T, 16>(args...); }                           \
  template <class T, class... Args>                                                      \
  FASTCOST_TARGET_AVX2 void NAME##_avx2(Args... args) { BODY<T, 32>(args...); }          \
  template <class T, class... Args>                                                      \
  FASTCOST_TARGET_AVX512 void NAME##_avx512(Args... args) { BODY<T, 64>(args...); }      \
  template <class T, class... Args>                                                      \
  void NAME(::fastcost::Isa isa, Args... args) {                                         \
    switch (isa) {                                                                       \
      case ::fastcost::Isa::Avx512: NAME##_avx512<T>(args...); break;                    \
      case ::fastcost::Isa::Avx2Fma: NAME##_avx2<T>(args...); break;                     \
      default: NAME##_baseline<T>(args...); break;                                       \
    }                                                                                    \
  }
#else
#define FASTCOST_MULTIVERSION(NAME, BODY)                                                \
  template <class T, class... Args>                                                      \
  void NAME(::fastcost::Isa, Args... args) { BODY<T, 16>(args...); }
#endif
