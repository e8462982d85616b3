// sgd (the Keras recipe of sgd.hpp) over a mixed design (categorical.hpp):
// the same shuffles, batches, initial point and on-the-fly standardization of
// the dense block, with each categorical contributing one coefficient per row.
// A batch's gradient touches only the coefficients of the levels in it; the
// L2 decay (alpha > 0) of all the others is applied lazily through a common
// scale, so an epoch costs O(n (p + K)) however many levels there are.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "fastcost/categorical.hpp"
#include "fastcost/fit_types.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/sgd.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

namespace detail {

// The state of a mixed epoch. The indicator coefficients are w = scale * v.
// Lazily (eager = false), a batch multiplies scale by the decay factor
// 1 - 2 lr lam and updates v only where the batch's gradient is nonzero; with
// lam = 0 the scale stays 1 and this is the recipe's arithmetic exactly.
// Eagerly (few levels, or a decay factor below 1/2) every coefficient takes the
// recipe's update each batch, as on the explicit one-hot matrix.
template <class T>
struct SgdMixed {
  MatrixView<T> X;
  const T* y = nullptr;
  const T* sw = nullptr;
  index_t batch = 1;
  T lr = 0;
  bool fit_intercept = true;
  T* b = nullptr;
  // The dense block: sgd_epoch's parameters, or sgd_epoch_prep's.
  bool prepped = false;
  const SgdPrep<T>* prep = nullptr;
  T alpha = 0;
  T* w = nullptr;
  T* g = nullptr;
  // The categoricals.
  index_t n_cats = 0;
  const std::int32_t* const* codes = nullptr;
  const index_t* first = nullptr;  // per categorical: v index of its first column
  const index_t* skip = nullptr;   // per categorical: 1 with drop_first
  index_t width = 0;               // indicator coefficients
  T lam = 0;                       // their penalty (alpha: noise_var is the dense block's)
  const char* frozen = nullptr;    // null, or width flags
  bool eager = false;
  T* v = nullptr;
  T* gc = nullptr;                 // width, zero between batches
  char* mark = nullptr;            // width, zero between batches
  index_t* touched = nullptr;      // batch * n_cats
  double* scale = nullptr;
  double* sum_v2 = nullptr;        // sum v^2 (lazy: the penalty's indicator part is lam scale^2 sum_v2)
};

// Below this scale the lazy coefficients are folded back (v = scale v, scale = 1).
constexpr double kMinLazyScale = 1.0 / 1048576.0;

template <class T, int W>
FASTCOST_INLINE void sgd_mixed_epoch_body(const SgdMixed<T>* a, const std::uint32_t* order, double* epoch_loss) {
  const MatrixView<T>& X = a->X;
  const index_t n = X.rows, d = X.cols, batch = a->batch;
  const T lr = a->lr;
  T* w = a->w;
  T* g = a->g;
  T* v = a->v;
  T* gc = a->gc;
  T* xt = a->prepped ? a->prep->xt : nullptr;
  double total = 0.0;
  for (index_t k0 = 0; k0 < n; k0 += batch) {
    if ((k0 / batch) % 256 == 255 && cancel_requested()) return;
    const index_t nb = std::min(batch, n - k0);
    const double scale = *a->scale;
    std::fill(g, g + d, T(0));
    index_t nt = 0;
    T gb = 0, loss = 0;
    for (index_t k = k0; k < k0 + nb; ++k) {
      const auto i = static_cast<index_t>(order[k]);
      T r;
      if (a->prepped) {
        for (index_t j = 0; j < d; ++j) {
          const T c = static_cast<T>(static_cast<double>(X(i, j)) - a->prep->mu[j]);
          xt[j] = static_cast<T>(static_cast<double>(c) / a->prep->sigma[j]);
        }
        r = simd::dot<T, W>(xt, w, d);
      } else if (X.layout == Layout::RowMajor) {
        r = simd::dot<T, W>(X.row(i), w, d);
      } else {
        r = 0;
        for (index_t j = 0; j < d; ++j) r += X(i, j) * w[j];
      }
      for (index_t c = 0; c < a->n_cats; ++c) {
        const index_t l = a->codes[c][i] - a->skip[c];
        if (l >= 0) r += a->eager ? v[a->first[c] + l] : static_cast<T>(scale * static_cast<double>(v[a->first[c] + l]));
      }
      r += *a->b - a->y[i];
      const T s = a->sw ? a->sw[i] : T(1);
      const T sr = s * r;
      loss += sr * r;
      gb += sr;
      if (a->prepped) {
        simd::axpy<T, W>(g, sr, xt, d);
      } else if (X.layout == Layout::RowMajor) {
        simd::axpy<T, W>(g, sr, X.row(i), d);
      } else {
        for (index_t j = 0; j < d; ++j) g[j] += sr * X(i, j);
      }
      for (index_t c = 0; c < a->n_cats; ++c) {
        const index_t l = a->codes[c][i] - a->skip[c];
        if (l < 0) continue;
        const index_t col = a->first[c] + l;
        if (!a->mark[col]) {
          a->mark[col] = 1;
          a->touched[nt++] = col;
        }
        gc[col] += sr;
      }
    }
    const T inv = T(1) / static_cast<T>(nb);
    // The penalty in the recipe's column order: the dense block, then the indicators.
    T pen = 0;
    if (a->prepped) {
      for (index_t j = 0; j < d; ++j) pen += a->prep->lam[j] * w[j] * w[j];
    } else {
      for (index_t j = 0; j < d; ++j) pen += w[j] * w[j];
    }
    const T lam_c = a->prepped ? a->lam : T(1);
    if (a->eager) {
      for (index_t j = 0; j < a->width; ++j) pen += lam_c * v[j] * v[j];
    } else {
      pen += lam_c * static_cast<T>(scale * scale * *a->sum_v2);
    }
    const T pen_term = a->prepped ? pen : a->alpha * pen;
    total += static_cast<double>(nb) * static_cast<double>(loss * inv + pen_term);
    if (a->prepped) {
      for (index_t j = 0; j < d; ++j) {
        if (a->prep->frozen && a->prep->frozen[j]) continue;
        w[j] -= lr * (T(2) * g[j] * inv + T(2) * a->prep->lam[j] * w[j]);
      }
    } else {
      for (index_t j = 0; j < d; ++j) w[j] -= lr * (T(2) * g[j] * inv + T(2) * a->alpha * w[j]);
    }
    const T lam = a->lam;
    if (a->eager) {
      for (index_t j = 0; j < a->width; ++j) {
        if (a->frozen && a->frozen[j]) continue;
        v[j] -= lr * (T(2) * gc[j] * inv + T(2) * lam * v[j]);
      }
    } else {
      // Untouched coefficients: w -= lr 2 lam w, i.e. scale *= 1 - 2 lr lam.
      const double next = scale * (1.0 - 2.0 * static_cast<double>(lr) * static_cast<double>(lam));
      for (index_t t = 0; t < nt; ++t) {
        const index_t j = a->touched[t];
        if (a->frozen && a->frozen[j]) continue;
        const T wj = static_cast<T>(scale * static_cast<double>(v[j]));
        const T wn = wj - lr * (T(2) * gc[j] * inv + T(2) * lam * wj);
        const T vn = static_cast<T>(static_cast<double>(wn) / next);
        *a->sum_v2 += static_cast<double>(vn) * static_cast<double>(vn) - static_cast<double>(v[j]) * static_cast<double>(v[j]);
        v[j] = vn;
      }
      *a->scale = next;
      if (next < kMinLazyScale) {
        double s2 = 0.0;
        for (index_t j = 0; j < a->width; ++j) {
          v[j] = static_cast<T>(next * static_cast<double>(v[j]));
          s2 += static_cast<double>(v[j]) * static_cast<double>(v[j]);
        }
        *a->scale = 1.0;
        *a->sum_v2 = s2;
      }
    }
    for (index_t t = 0; t < nt; ++t) {
      gc[a->touched[t]] = T(0);
      a->mark[a->touched[t]] = 0;
    }
    if (a->fit_intercept) *a->b -= lr * T(2) * gb * inv;
  }
  *epoch_loss = total;
}

FASTCOST_MULTIVERSION(sgd_mixed_epoch, sgd_mixed_epoch_body)

}  // namespace detail

// The Keras recipe (fit_sgd) on a mixed design: coefficients of the expanded
// design's D columns. Standardize, noise_var and frozen act as in fit_sgd on the
// dense block; the indicator columns are neither centered nor scaled, take the
// penalty alpha and no noise term, and frozen holds any of the D columns at 0.
// With no categorical it is fit_sgd.
template <class T>
FitResult fit_mixed_sgd(const MatrixView<T>& X, const CategoricalView& cats, const T* y, const T* sw,
                        const FitOptions& opt) {
  if (cats.count() == 0) return fit_sgd(X, y, sw, opt);
  X.validate();
  if (opt.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1");
  if (cats.n != X.rows) throw std::invalid_argument("the codes and X have different row counts");
  check_codes(cats, opt.n_threads);
  const index_t n = X.rows, p = X.cols, nc = cats.count(), wc = cats.expanded_width();
  detail::SgdStart<T> st = detail::sgd_start(X, sw, opt, p + wc);
  std::vector<T> w(st.w.begin(), st.w.begin() + p), v(st.w.begin() + p, st.w.end());
  T b = st.b;
  std::vector<T> g(static_cast<std::size_t>(p)), xt(static_cast<std::size_t>(p)), gc(static_cast<std::size_t>(wc), T(0));
  std::vector<char> mark(static_cast<std::size_t>(wc), 0);
  const index_t per_batch = std::min(opt.batch_size, std::max<index_t>(n, 1));
  std::vector<index_t> touched(static_cast<std::size_t>(per_batch * nc));
  std::vector<const std::int32_t*> codes(static_cast<std::size_t>(nc));
  std::vector<index_t> first(static_cast<std::size_t>(nc)), skip(static_cast<std::size_t>(nc));
  const std::vector<index_t> offs = categorical_offsets(cats, all_categoricals(cats), 0);
  for (index_t c = 0; c < nc; ++c) {
    codes[c] = cats.col(c);
    first[c] = offs[c];
    skip[c] = cats.drop[c] ? 1 : 0;
  }
  const char* frozen = opt.frozen.empty() ? nullptr : opt.frozen.data();
  const detail::SgdPrep<T> prep{st.mu.data(), st.sigma.data(), st.lam.data(), frozen, xt.data()};
  double scale = 1.0, sum_v2 = 0.0;
  detail::SgdMixed<T> a;
  a.X = X;
  a.y = y;
  a.sw = sw;
  a.batch = opt.batch_size;
  a.lr = static_cast<T>(opt.learning_rate);
  a.fit_intercept = opt.fit_intercept;
  a.b = &b;
  a.prepped = st.prepped;
  a.prep = &prep;
  a.alpha = static_cast<T>(opt.alpha);
  a.w = w.data();
  a.g = g.data();
  a.n_cats = nc;
  a.codes = codes.data();
  a.first = first.data();
  a.skip = skip.data();
  a.width = wc;
  a.lam = static_cast<T>(opt.alpha);
  a.frozen = frozen ? frozen + p : nullptr;
  // Eager when a batch's decay of every level costs little next to its rows
  // (at most 4 batch K levels), or when the decay factor is too small for a
  // common scale; lazy otherwise. A choice from the shape and options only.
  const double decay = 1.0 - 2.0 * static_cast<double>(a.lr) * static_cast<double>(a.lam);
  a.eager = opt.alpha > 0.0 && (wc <= 4 * per_batch * nc || !(decay > 0.5));
  a.v = v.data();
  a.gc = gc.data();
  a.mark = mark.data();
  a.touched = touched.data();
  a.scale = &scale;
  a.sum_v2 = &sum_v2;
  FitResult res;
  res.n_passes = st.passes;
  const Isa isa = active_isa();
  detail::sgd_epochs(n, opt, res, [&](const std::uint32_t* order, double* total) {
    sum_v2 = 0.0;  // exact again at every epoch, so rounding cannot accumulate
    for (T e : v) sum_v2 += static_cast<double>(e) * static_cast<double>(e);
    detail::sgd_mixed_epoch<T>(isa, static_cast<const detail::SgdMixed<T>*>(&a), order, total);
  });
  std::vector<T> full(w);
  for (T e : v) full.push_back(a.eager ? e : static_cast<T>(scale * static_cast<double>(e)));
  detail::sgd_finish(st, full, b, res);
  return res;
}

}  // namespace fastcost
