// Dense symmetric algebra on the d x d normal equations: Cholesky, its solves
// and condition estimate, the symmetric eigendecomposition. Through LAPACK
// (lapack.hpp) from order lapack::kMinOrder on, where blocking and threads
// matter (d = 4,000: seconds against tenths); built-in loops below it or when
// no LAPACK was registered. Matrices are row-major; a row-major lower factor
// is LAPACK's column-major upper one, so no copy crosses the call.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "fastcost/lapack.hpp"
#include "fastcost/matrix.hpp"

namespace fastcost::linalg {

// In-place lower Cholesky of the d x d row-major matrix a. False if a pivot is
// not positive (matrix not numerically positive definite).
// The strict upper triangle is left as it was.
inline bool cholesky(std::vector<double>& a, index_t d) {
  if (const lapack::Table* t = lapack::get(d)) {
    char uplo = 'U';
    int n = lapack::as_int(d), info = 0;
    t->dpotrf(&uplo, &n, a.data(), &n, &info);
    return info == 0;
  }
  for (index_t j = 0; j < d; ++j) {
    double diag = a[j * d + j];
    for (index_t k = 0; k < j; ++k) diag -= a[j * d + k] * a[j * d + k];
    if (!(diag > 0.0) || !std::isfinite(diag)) return false;
    const double l = std::sqrt(diag);
    a[j * d + j] = l;
    for (index_t i = j + 1; i < d; ++i) {
      double v = a[i * d + j];
      const double* ai = a.data() + i * d;
      const double* aj = a.data() + j * d;
      for (index_t k = 0; k < j; ++k) v -= ai[k] * aj[k];
      a[i * d + j] = v / l;
    }
  }
  return true;
}

// Solves (L L^T) x = b in place for the factor from cholesky().
inline void cholesky_solve(const std::vector<double>& l, index_t d, std::vector<double>& b) {
  if (const lapack::Table* t = lapack::get(d)) {
    char uplo = 'U';
    int n = lapack::as_int(d), nrhs = 1, info = 0;
    t->dpotrs(&uplo, &n, &nrhs, const_cast<double*>(l.data()), &n, b.data(), &n, &info);
    return;
  }
  for (index_t i = 0; i < d; ++i) {
    double v = b[i];
    for (index_t k = 0; k < i; ++k) v -= l[i * d + k] * b[k];
    b[i] = v / l[i * d + i];
  }
  for (index_t i = d - 1; i >= 0; --i) {
    double v = b[i];
    for (index_t k = i + 1; k < d; ++k) v -= l[k * d + i] * b[k];
    b[i] = v / l[i * d + i];
  }
}

// Cyclic Jacobi eigen-decomposition of a symmetric matrix: a is overwritten,
// eigenvalues in `values`, eigenvectors as columns of `vectors` (row-major).
// Accurate to the last digits even for singular matrices, which is why the
// rank-deficient path uses it.
inline void symmetric_eigen(std::vector<double> a, index_t d, std::vector<double>& values,
                            std::vector<double>& vectors) {
  if (const lapack::Table* t = lapack::get(d)) {
    char jobz = 'V', uplo = 'U';
    int n = lapack::as_int(d), lwork = -1, liwork = -1, info = 0, iwork_size = 0;
    double work_size = 0.0;
    values.resize(static_cast<std::size_t>(d));
    t->dsyevd(&jobz, &uplo, &n, a.data(), &n, values.data(), &work_size, &lwork, &iwork_size, &liwork, &info);
    lwork = static_cast<int>(work_size) + 1;
    liwork = iwork_size;
    std::vector<double> work(static_cast<std::size_t>(lwork));
    std::vector<int> iwork(static_cast<std::size_t>(std::max(liwork, 1)));
    t->dsyevd(&jobz, &uplo, &n, a.data(), &n, values.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
    if (info == 0) {  // column-major eigenvectors: transpose into the row-major layout
      vectors.resize(static_cast<std::size_t>(d * d));
      for (index_t k = 0; k < d; ++k)
        for (index_t p = 0; p < d; ++p) vectors[k * d + p] = a[p * d + k];
      return;
    }
    throw std::runtime_error("LAPACK dsyevd did not converge");
  }
  vectors.assign(static_cast<std::size_t>(d * d), 0.0);
  for (index_t i = 0; i < d; ++i) vectors[i * d + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, total = 0.0;
    for (index_t i = 0; i < d; ++i) {
      for (index_t j = 0; j < d; ++j) {
        const double v = a[i * d + j] * a[i * d + j];
        total += v;
        if (i != j) off += v;
      }
    }
    if (off <= 1e-32 * total || off == 0.0) break;
    for (index_t p = 0; p < d - 1; ++p) {
      for (index_t q = p + 1; q < d; ++q) {
        const double apq = a[p * d + q];
        if (apq == 0.0) continue;
        const double app = a[p * d + p], aqq = a[q * d + q];
        const double theta = (aqq - app) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (index_t k = 0; k < d; ++k) {  // rotate columns p, q
          const double akp = a[k * d + p], akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (index_t k = 0; k < d; ++k) {  // rotate rows p, q
          const double apk = a[p * d + k], aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (index_t k = 0; k < d; ++k) {
          const double vkp = vectors[k * d + p], vkq = vectors[k * d + q];
          vectors[k * d + p] = c * vkp - s * vkq;
          vectors[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  values.resize(static_cast<std::size_t>(d));
  for (index_t i = 0; i < d; ++i) values[i] = a[i * d + i];
}

}  // namespace fastcost::linalg
