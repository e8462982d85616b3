// sgd: the Keras recipe (mini-batches, constant learning rate, a reshuffle per
// epoch) with the same math, on raw or standardized rows.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "fastcost/fit_types.hpp"
#include "fastcost/isa.hpp"
#include "fastcost/matrix.hpp"
#include "fastcost/parallel.hpp"
#include "fastcost/preprocess.hpp"
#include "fastcost/simd.hpp"

namespace fastcost {

// ---- SGD: the Keras recipe --------------------------------------------------------

// A small, fully specified generator (splitmix64) so that shuffles are the
// same on every platform for a given seed.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform integer in [0, bound) without modulo bias.
  std::uint64_t below(std::uint64_t bound) {
    const std::uint64_t limit = (~bound + 1) % bound;  // 2^64 mod bound
    for (;;) {
      const std::uint64_t r = next();
      const unsigned __int128 m = static_cast<unsigned __int128>(r) * bound;
      if (static_cast<std::uint64_t>(m) >= limit) return static_cast<std::uint64_t>(m >> 64);
    }
  }
};

namespace detail {

// The rows of a dense X as sgd_epoch_rows reads them: x_i^T w and g += a x_i.
template <class T, int W>
struct DenseSgdRows {
  MatrixView<T> X;
  FASTCOST_INLINE T dot(index_t i, const T* w) const {
    if (X.layout == Layout::RowMajor) return simd::dot<T, W>(X.row(i), w, X.cols);
    T r = 0;
    for (index_t j = 0; j < X.cols; ++j) r += X(i, j) * w[j];
    return r;
  }
  FASTCOST_INLINE void axpy(T* g, T a, index_t i) const {
    if (X.layout == Layout::RowMajor) {
      simd::axpy<T, W>(g, a, X.row(i), X.cols);
    } else {
      for (index_t j = 0; j < X.cols; ++j) g[j] += a * X(i, j);
    }
  }
};

// One epoch of mini-batch SGD over n rows of d columns in `order`, whatever
// holds the rows (DenseSgdRows here; sparse.hpp's CSR rows). Per batch:
// gradient of mean_batch(s r^2) + alpha |w|^2, then w -= lr * grad (Keras' SGD
// without momentum). Returns sum over batches of (batch size * batch loss).
template <class T, class Rows>
FASTCOST_INLINE void sgd_epoch_rows(const Rows& X, index_t n, index_t d, const T* y, const T* sw,
                                    const std::uint32_t* order, index_t batch, T lr, T alpha, T* w, T* b,
                                    bool fit_intercept, T* g, double* epoch_loss) {
  double total = 0.0;
  for (index_t k0 = 0; k0 < n; k0 += batch) {
    // An epoch over a large X takes a while: honour Ctrl-C between batches.
    if ((k0 / batch) % 256 == 255 && cancel_requested()) return;
    const index_t nb = std::min(batch, n - k0);
    std::fill(g, g + d, T(0));
    T gb = 0, loss = 0;
    for (index_t k = k0; k < k0 + nb; ++k) {
      const auto i = static_cast<index_t>(order[k]);
      T r = X.dot(i, w);
      r += *b - y[i];
      const T s = sw ? sw[i] : T(1);
      const T sr = s * r;
      loss += sr * r;
      gb += sr;
      X.axpy(g, sr, i);
    }
    const T inv = T(1) / static_cast<T>(nb);
    T pen = 0;
    for (index_t j = 0; j < d; ++j) pen += w[j] * w[j];
    total += static_cast<double>(nb) * static_cast<double>(loss * inv + alpha * pen);
    for (index_t j = 0; j < d; ++j) w[j] -= lr * (T(2) * g[j] * inv + T(2) * alpha * w[j]);
    if (fit_intercept) *b -= lr * T(2) * gb * inv;
  }
  *epoch_loss = total;
}

template <class T, int W>
FASTCOST_INLINE void sgd_epoch_body(MatrixView<T> X, const T* y, const T* sw, const std::uint32_t* order, index_t batch,
                                    T lr, T alpha, T* w, T* b, bool fit_intercept, T* g, double* epoch_loss) {
  sgd_epoch_rows<T>(DenseSgdRows<T, W>{X}, X.rows, X.cols, y, sw, order, batch, lr, alpha, w, b, fit_intercept, g,
                    epoch_loss);
}

FASTCOST_MULTIVERSION(sgd_epoch, sgd_epoch_body)

// What the standardized / penalized / pruned epoch needs besides the plain one.
template <class T>
struct SgdPrep {
  const double* mu;     // column offsets (zeros unless standardizing with an intercept)
  const double* sigma;  // column scales (ones unless standardizing)
  const T* lam;         // per-column penalty on v
  const char* frozen;   // null, or 1 for columns held at zero
  T* xt;                // d values: the current row, standardized on the fly
};

// The same epoch on x~ = (x - mu) / sigma, formed one row at a time in a
// d-sized buffer (never a copy of X), with the arithmetic of
// StandardScaler.transform so that it trains exactly the Keras recipe on
// standardized inputs. v and b are the standardized model's parameters.
template <class T, int W>
FASTCOST_INLINE void sgd_epoch_prep_body(MatrixView<T> X, const T* y, const T* sw, const std::uint32_t* order,
                                         index_t batch, T lr, const SgdPrep<T>* prep, T* v, T* b,
                                         bool fit_intercept, T* g, double* epoch_loss) {
  const index_t n = X.rows, d = X.cols;
  T* xt = prep->xt;
  double total = 0.0;
  for (index_t k0 = 0; k0 < n; k0 += batch) {
    const index_t nb = std::min(batch, n - k0);
    std::fill(g, g + d, T(0));
    T gb = 0, loss = 0;
    for (index_t k = k0; k < k0 + nb; ++k) {
      const auto i = static_cast<index_t>(order[k]);
      for (index_t j = 0; j < d; ++j) {
        const T c = static_cast<T>(static_cast<double>(X(i, j)) - prep->mu[j]);
        xt[j] = static_cast<T>(static_cast<double>(c) / prep->sigma[j]);
      }
      const T r = simd::dot<T, W>(xt, v, d) + *b - y[i];
      const T s = sw ? sw[i] : T(1);
      const T sr = s * r;
      loss += sr * r;
      gb += sr;
      simd::axpy<T, W>(g, sr, xt, d);
    }
    const T inv = T(1) / static_cast<T>(nb);
    T pen = 0;
    for (index_t j = 0; j < d; ++j) pen += prep->lam[j] * v[j] * v[j];
    total += static_cast<double>(nb) * static_cast<double>(loss * inv + pen);
    for (index_t j = 0; j < d; ++j) {
      if (prep->frozen && prep->frozen[j]) continue;
      v[j] -= lr * (T(2) * g[j] * inv + T(2) * prep->lam[j] * v[j]);
    }
    if (fit_intercept) *b -= lr * T(2) * gb * inv;
  }
  *epoch_loss = total;
}

FASTCOST_MULTIVERSION(sgd_epoch_prep, sgd_epoch_prep_body)

}  // namespace detail

namespace detail {

// Where the recipe starts: w and b from coef_init (zeros without) and, when
// standardizing, adding noise or pruning (`prepped`), the column offsets mu,
// scales sigma and penalties lam of the model v = sigma w it then trains on
// x~ = (x - mu) / sigma (w holding v). The first X.cols of the d columns are
// X's; the others are indicator columns (a categorical's levels,
// categorical_sgd.hpp): never centered or scaled, and without a noise term.
template <class T>
struct SgdStart {
  bool prepped = false;
  std::vector<double> mu, sigma;
  std::vector<T> lam;
  std::vector<T> w;
  T b = 0;
  index_t passes = 0;  // reads of X (the moments)
};

template <class T>
SgdStart<T> sgd_start(const MatrixView<T>& X, const T* sw, const FitOptions& opt, index_t d) {
  const index_t dx = X.cols;
  SgdStart<T> st;
  st.w.assign(static_cast<std::size_t>(d), T(0));
  if (opt.has_init) {
    for (index_t j = 0; j < d; ++j) st.w[j] = static_cast<T>(opt.coef_init[j]);
    st.b = opt.fit_intercept ? static_cast<T>(opt.intercept_init) : T(0);
  }
  // Standardizing, noise or pruning: train v = sigma * w on x~ = (x - mu) / sigma.
  st.prepped = opt.standardize || opt.noise_var > 0.0 || !opt.frozen.empty();
  st.mu.assign(static_cast<std::size_t>(d), 0.0);
  st.sigma.assign(static_cast<std::size_t>(d), 1.0);
  st.lam.resize(static_cast<std::size_t>(d));
  if (!st.prepped) return st;
  if (!opt.frozen.empty() && static_cast<index_t>(opt.frozen.size()) != d) {
    throw std::invalid_argument("frozen has the wrong length");
  }
  if (opt.standardize) {
    const ColumnMoments m = compute_column_moments(X, sw, opt.n_shards, opt.n_threads);
    if (!m.finite) throw NonFiniteError("non-finite column means");
    if (opt.fit_intercept) std::copy(m.mean.begin(), m.mean.end(), st.mu.begin());
    const std::vector<double> scale = scale_from_moments(m);
    std::copy(scale.begin(), scale.end(), st.sigma.begin());
    st.passes = 1;
  }
  double beta = static_cast<double>(st.b);
  for (index_t j = 0; j < d; ++j) {
    const double noise = j < dx ? opt.noise_var / (st.sigma[j] * st.sigma[j]) : 0.0;
    st.lam[j] = static_cast<T>(opt.alpha + noise);
    if (opt.has_init && !opt.init_standardized) {  // (w, b) on X's scale -> (v, b~)
      beta += st.mu[j] * static_cast<double>(st.w[j]);
      st.w[j] = static_cast<T>(static_cast<double>(st.w[j]) * st.sigma[j]);
    }
    if (!opt.frozen.empty() && opt.frozen[j]) st.w[j] = T(0);
  }
  if (opt.fit_intercept) st.b = static_cast<T>(beta);
  return st;
}

// The recipe's epochs: before each, the row order reshuffled (Fisher-Yates
// with SplitMix64 from opt.seed, the same on every platform); then
// epoch(order, &total) runs the mini-batches and gives the sum over batches
// of (batch size * batch loss). Fills the loss history and the counts.
template <class Epoch>
void sgd_epochs(index_t n, const FitOptions& opt, FitResult& res, Epoch&& epoch) {
  // The epoch's row order is the one array of length n the recipe needs (Keras
  // keeps one too); 32-bit indices keep it at 4 bytes a row.
  if (static_cast<std::uint64_t>(n) > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("sgd shuffles at most 2^32 - 1 rows; use lbfgs or newton for more");
  }
  std::vector<std::uint32_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::uint32_t(0));
  SplitMix64 rng{opt.seed};
  for (int e = 0; e < opt.max_iter; ++e) {
    if (cancel_requested()) throw Cancelled();
    for (index_t i = n - 1; i > 0; --i) {  // Fisher-Yates
      const auto j = static_cast<index_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
      std::swap(order[i], order[j]);
    }
    double total = 0.0;
    epoch(static_cast<const std::uint32_t*>(order.data()), &total);
    if (cancel_requested()) throw Cancelled();
    res.loss_history.push_back(total / static_cast<double>(n));
    if (!std::isfinite(res.loss_history.back())) {
      throw DivergenceError("sgd diverged (the loss is no longer finite): lower learning_rate");
    }
  }
  res.n_iter = opt.max_iter;
  res.n_passes += opt.max_iter;
  res.converged = true;  // a fixed number of epochs is the recipe, not a tolerance
}

// The trained (w, b), back on X's scale: w = v / sigma, b = b~ - mu^T w.
template <class T>
void sgd_finish(const SgdStart<T>& st, const std::vector<T>& w, T b, FitResult& res) {
  const auto d = static_cast<index_t>(w.size());
  res.coef.assign(w.begin(), w.end());
  res.intercept = static_cast<double>(b);
  if (st.prepped) {
    for (index_t j = 0; j < d; ++j) {
      res.coef[j] /= st.sigma[j];
      res.intercept -= st.mu[j] * res.coef[j];
    }
  }
  res.rank = d;
}

}  // namespace detail

// The Keras recipe with the same math: mini-batches of batch_size rows in an
// order reshuffled every epoch, constant learning rate, max_iter epochs. The
// parameters live in X's precision, like a Keras model's. Initial weights come
// from the caller (Keras' Glorot-uniform draw is done in Python).
template <class T>
FitResult fit_sgd(const MatrixView<T>& X, const T* y, const T* sw, const FitOptions& opt) {
  X.validate();
  const index_t d = X.cols;
  if (opt.batch_size < 1) throw std::invalid_argument("batch_size must be at least 1");
  detail::SgdStart<T> st = detail::sgd_start(X, sw, opt, d);
  std::vector<T>& w = st.w;
  T b = st.b;
  std::vector<T> g(static_cast<std::size_t>(d)), xt(static_cast<std::size_t>(d));
  FitResult res;
  res.n_passes = st.passes;
  const detail::SgdPrep<T> prep{st.mu.data(), st.sigma.data(), st.lam.data(),
                                opt.frozen.empty() ? nullptr : opt.frozen.data(), xt.data()};
  const Isa isa = active_isa();
  detail::sgd_epochs(X.rows, opt, res, [&](const std::uint32_t* order, double* total) {
    if (st.prepped) {
      detail::sgd_epoch_prep<T>(isa, X, y, sw, order, opt.batch_size, static_cast<T>(opt.learning_rate), &prep,
                                w.data(), &b, opt.fit_intercept, g.data(), total);
    } else {
      detail::sgd_epoch<T>(isa, X, y, sw, order, opt.batch_size, static_cast<T>(opt.learning_rate),
                           static_cast<T>(opt.alpha), w.data(), &b, opt.fit_intercept, g.data(), total);
    }
  });
  detail::sgd_finish(st, w, b, res);
  return res;
}

}  // namespace fastcost
