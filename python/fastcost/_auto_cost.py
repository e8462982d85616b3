"""``solver="auto"`` on arrays in host memory: newton or lbfgs from predicted cost.

newton costs one Gram pass, ``n (d + 2)^2 / 2`` multiply-adds, and a d x d
Cholesky solve, ``d^3 / 3`` flops; lbfgs costs a number of memory-bound passes
over X, each reading ``n d`` values. Which is cheaper depends on the machine
(the Gram kernel's rate against the memory bandwidth) and, for lbfgs, on the
conditioning of the problem. This module predicts both times:

* the machine's rates are measured once per process and thread count
  (:func:`machine_rates`, about 30 ms): a small ``_core.gram_stats``, a SciPy
  ``cho_factor`` and the fused loss/gradient pass (``_core.loss_grad``) over
  64 MiB from memory and over 4 MiB from the cache (a pass over a few MB stays
  in a 32 MiB last-level cache and runs about 4 times faster than one over a
  large X: :func:`pass_bandwidth` takes the rate that fits X's size);
* lbfgs' passes follow conjugate gradients' rate on the condition number kappa
  of the centered Hessian (:func:`lbfgs_passes`, calibrated against measured
  ``n_passes_``) to the tolerance auto's lbfgs runs to
  (``_pipeline.AUTO_LBFGS_TOL``, 1e-10). kappa comes from where the data allow: when lbfgs will take
  its own row sample (``n`` of about ``4 d^2`` rows or more) it is preconditioned
  and warm-started from it and kappa is at most the sampling distortion squared;
  when a row sample of ``8 (d + 2)`` rows costs at most ``SAMPLE_BUDGET`` of the
  cheaper prediction, its condition (``_core.sample_preconditioner``) is
  measured; otherwise kappa is that of isotropic data of X's shape
  (Marchenko-Pastur), a best case.

Because that last kappa is a best case, an lbfgs pick is guarded: lbfgs runs at
most ``CostPrediction.guard`` iterations (its prediction plus
``GUARD_SLACK`` of newton's time), and stops sooner once its rate so far
projects past them (the compiled loop's ``guard_projection``). If it has not
converged, a small sample of X (:func:`condition_floor`) tells whether
newton's normal equations would be past its limit: then the fit is done with
qr at once, else with newton (the pipeline does this, see ``_pipeline.run_fit``).

Obvious cases never measure anything: n <= d, at most
``OBVIOUS_NEWTON_FEATURES`` features (newton's Gram costs about one pass there,
lbfgs several) or at most ``OBVIOUS_NEWTON_WORK`` multiply-adds of newton work.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._pipeline import auto_lbfgs_tol

#: lbfgs' passes are ``1 + LBFGS_PASS_FACTOR * log(2 / tol) * f(kappa)`` with
#: ``f(kappa) = 1 / log((sqrt(kappa) + 1) / (sqrt(kappa) - 1))``, conjugate
#: gradients' rate (about ``sqrt(kappa) / 2``). Measured on 2-core x86-64 with
#: tol=1e-6: random normal, AR(1)-correlated, column-scaled and log-spaced
#: singular value designs with kappa from 1.3 to 1e4 (n_passes_ / formula with
#: factor 1: 1.09 at kappa 1.3, 0.95 at 3.7, 0.92 at 8.8, 0.84 at 34, 0.82 at
#: 100, 0.69 at 319, 0.67 at 1e3, 0.4 at 1e4): 0.9 fits the range where the
#: choice is close (kappa 3 to 500) within 25 % and overestimates the very
#: ill-conditioned problems, which newton wins anyway.
LBFGS_PASS_FACTOR = 0.9

#: lbfgs makes at least this many passes (its first pass and three iterations
#: were the fewest measured, on warm-started isotropic data).
MIN_LBFGS_PASSES = 4.0

#: A warm start from a row sample's exact solution leaves a gradient of about
#: this fraction of the gradient at zero: the tolerance is that much nearer.
WARM_START_GAIN = 1e-3

#: newton's d x d step reads and writes the (d + 2)^2 matrix about this many
#: times besides the factorization (copy, equilibration, condition estimate, solve).
NEWTON_DD_PASSES = 6

#: At most this many features: newton (its Gram pass costs about one pass over X).
OBVIOUS_NEWTON_FEATURES = 64

#: At most this many multiply-adds of newton work (n (d + 2)^2 / 2 + d^3 / 3)
#: newton without measuring anything. That is 25 to 50 ms on 2 cores, where
#: lbfgs could save a few ms at best.
OBVIOUS_NEWTON_WORK = 1e9

#: A row sample to measure kappa is taken when it costs at most this fraction
#: of the cheaper of the two predictions made without it.
SAMPLE_BUDGET = 0.05

#: lbfgs is picked when its predicted time times this margin is below newton's:
#: 1.5 when kappa is assumed (isotropic columns are lbfgs' best case; columns
#: of unequal scales or correlated ones need more passes, and a guarded lbfgs
#: that stops is time lost), 1.1 when kappa was measured or is bounded by
#: lbfgs' own preconditioner. Close calls go to newton, whose time is certain.
LBFGS_MARGIN = {"assumed": 1.5, "sample": 1.1, "preconditioned": 1.1}

#: lbfgs picked by ``auto`` may run its predicted passes plus this fraction of
#: newton's predicted time (and at least 1.5 times its prediction) before the
#: fit turns to newton or qr (sooner where its rate projects past that).
GUARD_SLACK = 0.1

#: When a guarded lbfgs pick stops, a sample of X estimates newton's condition
#: from below (:func:`condition_floor`): past newton's limit the fit
#: goes to qr at once instead of a newton fit that would be redone with qr. The
#: sample takes every ``FALLBACK_COLUMN_STEP``-th column (a principal
#: submatrix: a lower bound, at an eighth of the work with every other column)
#: and ``FALLBACK_SAMPLE_ROWS`` rows per column it keeps (a row sample's
#: distortion of the condition is divided out: about 260 at 1.25 rows per
#: column, 9 at 4). The check is there to tell a numerically singular design.
FALLBACK_COLUMN_STEP = 2
FALLBACK_SAMPLE_ROWS = 1.25

#: ... of those columns, the ones that differ from their median on at least
#: this many of the sample's rows (a rare category's indicator is constant on
#: nearly all of them, and a few such columns sharing their rows are singular
#: on the sample, not on X).
FALLBACK_MIN_VARYING_ROWS = 16

#: ... when that sample's Gram and factorization cost at most this fraction of
#: newton's Gram pass (the pass it saves where newton would be redone).
FALLBACK_SAMPLE_BUDGET = 0.5

#: The calibration's memory pass reads this many bytes (twice a 32 MiB
#: last-level cache, so that its rate is the rate from memory).
BANDWIDTH_PROBE_BYTES = 64 << 20

#: Data of at most this many bytes (half a 32 MiB last-level cache) are taken
#: to stay in the cache between lbfgs' passes.
CACHE_RESIDENT_BYTES = 16 << 20

#: The order of the Cholesky factorization the calibration times.
CALIBRATION_ORDER = 320

#: The calibration's Gram: this many rows per thread (one shard of the
#: kernel each) of this many columns.
CALIBRATION_GRAM_ROWS = 2048
CALIBRATION_GRAM_COLS = 254

#: Rows per block of the row samples (lbfgs' kSampleBlock).
SAMPLE_BLOCK = 256


@dataclass(frozen=True)
class MachineRates:
    """Rates measured by :func:`measure_rates`.

    Attributes
    ----------
    gram : float
        Multiply-adds per second of ``_core.gram_stats`` (``n (d + 2)^2 / 2`` per Gram).
    factor : float
        Flops per second of LAPACK's Cholesky factorization (``d^3 / 3`` per
        factor) on one thread.
    memory : float
        Bytes per second of a fused loss/gradient pass (``_core.loss_grad``) over
        data read from memory.
    cache : float
        The same over data that stay in the cache between passes.
    """

    gram: float
    factor: float
    memory: float
    cache: float


_RATES: dict[int, MachineRates] = {}
_LOCK = threading.Lock()
#: How many calibrations this process ran (tests check that it is cached).
calibrations = 0


def _best_time(fn: Any, repeats: int, budget_s: float) -> float:
    """The shortest of up to ``repeats`` timed calls of ``fn`` (at least two: the
    first may start a thread pool), fewer once they have taken ``budget_s``."""
    best, spent = math.inf, 0.0
    for k in range(repeats):
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best, spent = min(best, t), spent + t
        if k >= 1 and spent > budget_s:
            break
    return best


def measure_rates(n_threads: int = 0) -> MachineRates:
    """Time a small Gram, a small Cholesky factorization and loss/gradient passes.

    The Gram is ``CALIBRATION_GRAM_ROWS`` rows per thread of
    ``CALIBRATION_GRAM_COLS`` columns (about 2 ms), the factorization of order
    ``CALIBRATION_ORDER`` (under 1 ms) on one BLAS thread, the memory pass over a buffer of
    ``BANDWIDTH_PROBE_BYTES`` (twice a 32 MiB last-level cache: a pass over a few
    MB stays in the cache and runs about 4 times faster than one from memory;
    its allocation and passes take about 25 ms) and the cache pass over its
    first 4 MiB. Each is the best of a few runs. The factorization runs on one
    thread: a threaded BLAS's small factorizations are erratic on a loaded
    machine (order 320 took from 0.3 ms to 0.5 s with OpenBLAS' 2 threads on
    the 2-core test machine while other processes ran), and newton's large ones
    gain at most the thread count, so newton's prediction errs slow at large d.

    Parameters
    ----------
    n_threads : int, default=0
        Threads of the fastcost kernels (0: all).

    Returns
    -------
    MachineRates
        The measured rates.
    """
    from scipy.linalg import cho_factor
    from threadpoolctl import threadpool_limits

    from . import _core

    rows = BANDWIDTH_PROBE_BYTES // (8 * 64)
    B = np.empty((rows, 64))
    B.fill(0.5)
    yb, w = np.ones(rows), np.zeros(64)
    # The Gram: CALIBRATION_GRAM_ROWS rows per thread (the kernel's shards are at
    # least 2,048 rows: fewer rows leave threads idle), from B's memory.
    threads = n_threads if n_threads > 0 else int(_core.max_threads())
    d = CALIBRATION_GRAM_COLS
    n = min(CALIBRATION_GRAM_ROWS * max(2, threads), B.size // d)
    X = B.reshape(-1)[: n * d].reshape(n, d)
    y = yb[:n]
    t_gram = _best_time(lambda: _core.gram_stats(X, y, None, None, 0, n_threads), 4, 0.02)
    k = CALIBRATION_ORDER
    a = np.full((k, k), 1.0) + k * np.eye(k)
    with threadpool_limits(1, user_api="blas"):
        t_factor = _best_time(lambda: cho_factor(a, check_finite=False), 5, 0.01)
    t_mem = _best_time(lambda: _core.loss_grad(B, yb, w, 0.0, None, 0, n_threads), 3, 0.03)
    small = (4 << 20) // (8 * 64)
    Bs, ys = B[:small], yb[:small]
    t_cache = _best_time(lambda: _core.loss_grad(Bs, ys, w, 0.0, None, 0, n_threads), 5, 0.004)
    return MachineRates(
        gram=n * (d + 2) ** 2 / 2 / max(t_gram, 1e-9),
        factor=k**3 / 3 / max(t_factor, 1e-9),
        memory=B.nbytes / max(t_mem, 1e-9),
        cache=Bs.nbytes / max(t_cache, 1e-9),
    )


def machine_rates(n_threads: int = 0) -> MachineRates:
    """The rates of :func:`measure_rates`, measured once per process and thread count."""
    global calibrations
    with _LOCK:
        rates = _RATES.get(n_threads)
        if rates is None:
            rates = _RATES[n_threads] = measure_rates(n_threads)
            calibrations += 1
        return rates


def pass_bandwidth(rates: MachineRates, nbytes: int) -> float:
    """Bytes per second of lbfgs' passes over ``nbytes`` of data: the cache's rate
    up to ``CACHE_RESIDENT_BYTES``, the memory's above."""
    return rates.cache if nbytes <= CACHE_RESIDENT_BYTES else rates.memory


def reset_calibration() -> None:
    """Forget the measured rates (the next prediction measures them again)."""
    with _LOCK:
        _RATES.clear()


# -- the model ----------------------------------------------------------------------


def isotropic_kappa(n: int, d: int) -> float:
    """The condition number of the Gram of n x d isotropic random data,
    ``((1 + sqrt(d / n)) / (1 - sqrt(d / n)))^2`` (Marchenko-Pastur); inf for n <= d."""
    if n <= d:
        return math.inf
    r = math.sqrt(d / n)
    return ((1.0 + r) / (1.0 - r)) ** 2


def lbfgs_passes(kappa: float, tol: float, warm: bool = False) -> float:
    """Predicted ``n_passes_`` of lbfgs on a problem of condition ``kappa``.

    Parameters
    ----------
    kappa : float
        Condition number of the (preconditioned) Hessian, >= 1.
    tol : float
        lbfgs' relative gradient tolerance.
    warm : bool, default=False
        Whether lbfgs starts from a row sample's solution (the gradient to
        reduce is then ``WARM_START_GAIN`` of the gradient at zero).

    Returns
    -------
    float
        ``1 + LBFGS_PASS_FACTOR * log(2 / tol') * f(kappa)``, at least
        ``MIN_LBFGS_PASSES``; inf for infinite kappa.
    """
    if not math.isfinite(kappa):
        return math.inf
    reduction = 2.0 / max(tol, 1e-16)
    if warm:
        reduction = max(math.e, reduction * WARM_START_GAIN)
    s = math.sqrt(max(kappa, 1.0 + 1e-12))
    rate = 1.0 / math.log((s + 1.0) / (s - 1.0))
    return max(MIN_LBFGS_PASSES, 1.0 + LBFGS_PASS_FACTOR * math.log(reduction) * rate)


def sample_rows(n: int, d: int) -> int:
    """Rows of lbfgs' own row sample (``sample_rows`` and ``sample_blocks`` in
    lbfgs.hpp): about ``2 n / d`` in whole blocks, 0 when that leaves fewer than
    ``8 (d + 2)`` rows."""
    m = min(n // 4, 2 * n // max(d, 1))
    if m < 8 * (d + 2):
        return 0
    return max(1, m // SAMPLE_BLOCK) * min(SAMPLE_BLOCK, n)


def sampling_kappa(rows: int, d: int) -> float:
    """A row sample's distortion of the condition, ``((1 + r) / (1 - r))^2`` with
    ``r = sqrt(d / rows)`` (lbfgs' ``kappa_sampling``)."""
    return isotropic_kappa(rows, d)


@dataclass(frozen=True)
class CostPrediction:
    """What ``solver="auto"`` predicted and picked.

    Attributes
    ----------
    solver : str
        ``"newton"`` or ``"lbfgs"``.
    newton_s, lbfgs_s : float
        Predicted seconds of each (lbfgs' includes its row-sample setup).
    passes : float
        Predicted passes of lbfgs.
    kappa : float
        The condition number the passes are predicted from.
    kappa_source : str
        ``"assumed"`` (isotropic data of this shape), ``"sample"`` (measured on a
        row sample) or ``"preconditioned"`` (lbfgs' own sample bounds it).
    guard : int
        Iterations lbfgs may take before the fit turns to newton or qr.
    tol : float
        The relative gradient the passes are predicted for.
    """

    solver: str
    newton_s: float
    lbfgs_s: float
    passes: float
    kappa: float
    kappa_source: str
    guard: int
    tol: float

    def describe(self) -> str:
        """``fit_info_``'s account of the choice, after ``"<solver> (solver='auto')"``."""
        passes = f"(~{_count(self.passes)} passes to tol {self.tol:.0e}, {self._kappa()})"
        if self.solver == "lbfgs":
            return (
                f": predicted {_seconds(self.lbfgs_s)} {passes} against newton "
                f"{_seconds(self.newton_s)}"
            )
        return (
            f": predicted {_seconds(self.newton_s)} against lbfgs {_seconds(self.lbfgs_s)} {passes}"
        )

    def describe_fallback(self, passes: int, solver: str = "newton", floor: float = math.nan,
                          rows: int = 0, columns: int = 0) -> str:  # fmt: skip
        """The account when the guarded lbfgs did not converge and ``solver`` took
        over; ``floor``: the condition estimate of :func:`condition_floor` on a
        sample of ``rows`` rows and ``columns`` columns."""
        text = (
            f": predicted lbfgs {_seconds(self.lbfgs_s)} (~{_count(self.passes)} passes to tol "
            f"{self.tol:.0e}, "
            f"{self._kappa()}) against newton {_seconds(self.newton_s)}, but lbfgs had not "
            f"converged after {passes} passes"
        )
        if rows:
            cond = (
                "singular" if math.isinf(floor) else f"of condition ~{max(floor, 1.0):.3g} or more"
            )
            text += (
                f", and a sample of {rows} rows and {columns} columns shows the normal "
                f"equations {cond}"
            )
        return f"{text}, so {solver}"

    def _kappa(self) -> str:
        what = {
            "assumed": "assumed for isotropic columns",
            "sample": "measured on a row sample",
            "preconditioned": "at most, preconditioned by its row sample",
        }[self.kappa_source]
        return f"condition ~{self.kappa:.3g} {what}"


def _seconds(t: float) -> str:
    return f"{t:.2g} s" if math.isfinite(t) else "inf s"


def _count(p: float) -> str:
    return f"{p:.0f}" if math.isfinite(p) else "inf"


def newton_seconds(
    n: int, d: int, itemsize: int, rates: MachineRates, bandwidth: float
) -> float:  # fmt: skip
    """Predicted seconds of a newton fit: the Gram pass (compute- or
    memory-bound, whichever is slower), the Cholesky factorization and the
    d x d matrix's other memory passes."""
    gram = max(n * (d + 2) ** 2 / 2 / rates.gram, n * (d + 2) * itemsize / bandwidth)
    factor = (d + 1) ** 3 / 3 / rates.factor
    return gram + factor + NEWTON_DD_PASSES * 8 * (d + 2) ** 2 / bandwidth


def pass_seconds(n: int, d: int, itemsize: int, bandwidth: float) -> float:
    """Predicted seconds of one lbfgs pass: X, y and the weights read once."""
    return n * (d + 2) * itemsize / bandwidth


def sample_setup_seconds(m: int, d: int, rates: MachineRates, bandwidth: float) -> float:
    """Predicted seconds of a row sample's statistics and condition: its Gram,
    two factorizations (preconditioner and warm start) and the power
    iterations' 40 products and 40 solves with d x d matrices (counted as 480 d^2
    flops: matrix-vector work runs at about a quarter of the factorization's rate)."""
    return (
        m * (d + 2) ** 2 / 2 / rates.gram
        + 2 * (d + 1) ** 3 / 3 / rates.factor
        + 480 * (d + 1) ** 2 / rates.factor
    )


def predict(
    n: int, d: int, itemsize: int, tol: float, rates: MachineRates, bandwidth: float,
    kappa: float | None = None, warm: bool = True,
) -> CostPrediction:  # fmt: skip
    """Predicted newton and lbfgs times of an ``n x d`` fit, and the cheaper one.

    Parameters
    ----------
    n, d : int
        X's shape.
    itemsize : int
        Bytes per value of X (8 for float64, 4 for float32).
    tol : float
        lbfgs' tolerance.
    rates : MachineRates
        The compute rates (:func:`machine_rates`, or given: the prediction is
        then independent of the machine).
    bandwidth : float
        Bytes per second of a loss/gradient pass (:func:`pass_bandwidth`).
    kappa : float or None, default=None
        A measured condition number (:func:`sample_kappa`); None: lbfgs' own
        sample bounds it (when it takes one) or isotropic data's is assumed.
    warm : bool, default=True
        Whether lbfgs may warm-start from its own sample (a uniform penalty,
        no coefficients given).

    Returns
    -------
    CostPrediction
        Both predictions, the pick (lbfgs when its time times ``LBFGS_MARGIN``
        is below newton's) and lbfgs' guard.
    """
    newton_s = newton_seconds(n, d, itemsize, rates, bandwidth)
    one_pass = pass_seconds(n, d, itemsize, bandwidth)
    m = sample_rows(n, d)
    setup = sample_setup_seconds(m, d, rates, bandwidth) if m else 0.0
    if m:  # lbfgs' own sample: preconditioned when kappa > kappa_s^2, so at most that
        source, k = "preconditioned", sampling_kappa(m, d) ** 2
        passes = lbfgs_passes(k, tol, warm=warm)
    else:
        source = "assumed" if kappa is None else "sample"
        k = isotropic_kappa(n, d) if kappa is None else kappa
        passes = lbfgs_passes(k, tol)
    lbfgs_s = setup + passes * one_pass
    solver = "lbfgs" if lbfgs_s * LBFGS_MARGIN[source] < newton_s else "newton"
    affordable = max(0.0, newton_s - setup) / one_pass
    guard = max(1.5 * passes, passes + GUARD_SLACK * affordable) + 2
    return CostPrediction(
        solver=solver, newton_s=newton_s, lbfgs_s=lbfgs_s, passes=passes, kappa=k,
        kappa_source=source, guard=int(min(guard, 1e9)), tol=tol,
    )  # fmt: skip


def obvious_newton(n: int, d: int) -> bool:
    """Whether newton wins without measuring anything: n <= d (the exact
    minimum-norm solution), at most ``OBVIOUS_NEWTON_FEATURES`` features or at
    most ``OBVIOUS_NEWTON_WORK`` multiply-adds."""
    work = n * (d + 2) ** 2 / 2 + d**3 / 3
    return n <= d or d <= OBVIOUS_NEWTON_FEATURES or work <= OBVIOUS_NEWTON_WORK


# -- the measured kappa ---------------------------------------------------------------


def sample_blocks(n: int, rows: int) -> list[tuple[int, int]]:
    """``[begin, end)`` blocks of ``SAMPLE_BLOCK`` rows spread evenly over n,
    about ``rows`` rows in all (lbfgs.hpp's ``sample_blocks``)."""
    blocks = max(1, rows // SAMPLE_BLOCK)
    size = min(SAMPLE_BLOCK, n)
    out = []
    for k in range(blocks):
        i0 = min(k * n // blocks, n - size)
        out.append((i0, i0 + size))
    return out


def sample_kappa(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, rows: int, *, alpha: float,
    fit_intercept: bool, standardize: bool, n_threads: int = 0,
) -> float:  # fmt: skip
    """The condition of the full problem's Hessian estimated from a row sample.

    The sample's condition (``_core.sample_preconditioner``, in lbfgs'
    coordinates) carries the row sampling's own distortion, about
    ``sampling_kappa(rows, d)``; it is divided out and isotropic data's
    condition at X's shape put back, so that isotropic X gives its own
    condition and an ill-conditioned X about its condition. inf when the
    sample's Hessian is singular.
    """
    from . import _core

    n, d = X.shape
    parts = sample_blocks(n, rows)
    Xs = np.concatenate([X[a:b] for a, b in parts])
    ys = np.concatenate([y[a:b] for a, b in parts])
    ws = None if sw is None else np.concatenate([sw[a:b] for a, b in parts])
    st = _core.gram_stats(Xs, ys, ws, None, 0, n_threads)
    sigma = np.ones(d)
    if standardize:
        sigma = Xs.std(axis=0)
        sigma[~(sigma > 0)] = 1.0
    pc = _core.sample_preconditioner(
        np.asarray(st["gram"]), np.asarray(st["shift"]), len(Xs), fit_intercept, sigma,
        np.full(d, float(alpha)),
    )  # fmt: skip
    if not pc["kappa_sampling"] > 1.0:  # its Cholesky failed: a singular sample
        return math.inf
    excess = max(1.0, float(pc["kappa"]) / float(pc["kappa_sampling"]))
    return excess * isotropic_kappa(n, d)


def condition_floor(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, *, alpha: float,
    fit_intercept: bool, n_threads: int = 0,
) -> tuple[float, int, int]:  # fmt: skip
    """An estimate from below of newton's condition estimate (of its
    equilibrated normal equations): the same estimate on a sample of X over
    the row sampling's typical distortion; and the sample's rows and columns.
    ``(nan, 0, 0)`` when the sample would cost more than
    ``FALLBACK_SAMPLE_BUDGET`` of newton's Gram pass or take more than a
    quarter of the rows of nonzero weight.

    The sample keeps every ``FALLBACK_COLUMN_STEP``-th column: their normal
    equations are a principal submatrix of the full ones, whose condition is
    at most the full one's (the eigenvalues interlace). Of those columns it
    keeps ``FALLBACK_SAMPLE_ROWS`` rows per column, evenly strided over X (rows
    of zero weight left out): such a sample's normal equations have about the
    full ones' condition times the distortion ``sampling_kappa(rows, columns)``
    of rows drawn at random (its rows are a subset of X's, mixed by a
    near-orthonormal factor), which is divided out. Columns that vary on fewer
    than ``FALLBACK_MIN_VARYING_ROWS`` of the sampled rows are left out (the
    rest are still a subset of X's). inf when the sample's normal equations
    are singular. Not a guaranteed bound (rows far from random, or the 1-norm
    estimates, can put it above the full one's): a wrong call costs time (qr
    instead of newton), never digits.
    """
    from . import _core

    n, d = X.shape
    k = -(-d // FALLBACK_COLUMN_STEP)
    rows = math.ceil(FALLBACK_SAMPLE_ROWS * (k + 2))
    rates = machine_rates(n_threads)
    cost = rows * (k + 2) ** 2 / 2 / rates.gram + (k + 1) ** 3 / 3 / rates.factor
    if cost > FALLBACK_SAMPLE_BUDGET * n * (d + 2) ** 2 / 2 / rates.gram:
        return math.nan, 0, 0
    pos = np.arange(n) if sw is None else np.flatnonzero(sw > 0)
    if len(pos) < 4 * rows:
        return math.nan, 0, 0
    idx = pos[np.linspace(0, len(pos) - 1, rows).astype(np.intp)]
    Xs = X[idx, ::FALLBACK_COLUMN_STEP]
    # Columns that are constant on all but a few of the sample's rows (a rare
    # category's indicator, say) can make the sample singular where X is not:
    # left out, the rest is still a subset of X's columns.
    varies = (Xs != np.median(Xs, axis=0)).sum(axis=0) >= FALLBACK_MIN_VARYING_ROWS
    Xs = np.ascontiguousarray(Xs[:, varies])
    k = Xs.shape[1]
    if k == 0:
        return math.nan, 0, 0
    st = _core.gram_stats(Xs, y[idx], None if sw is None else sw[idx], None, 0, n_threads)
    res = _core.solve_stats(st["gram"], st["shift"], alpha, fit_intercept, minimum_norm=False)
    if res.singular or not math.isfinite(res.condition_estimate):
        return math.inf, len(idx), k
    return float(res.condition_estimate) / sampling_kappa(len(idx), k), len(idx), k


def choose(
    X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, *, tol: float, alpha: float,
    fit_intercept: bool, standardize: bool, warm: bool, n_threads: int = 0,
) -> CostPrediction | None:  # fmt: skip
    """The cost-model pick for a fit of X (n x d) in host memory; None when
    newton is obvious (:func:`obvious_newton`), without measuring anything."""
    n, d = X.shape
    if obvious_newton(n, d):
        return None
    rates = machine_rates(n_threads)
    bandwidth = pass_bandwidth(rates, X.nbytes)
    plan = predict(n, d, X.itemsize, tol, rates, bandwidth, warm=warm)
    if plan.kappa_source == "preconditioned":
        return plan
    rows = 8 * (d + 2)
    rows = -(-rows // SAMPLE_BLOCK) * SAMPLE_BLOCK
    cost = sample_setup_seconds(rows, d, rates, bandwidth)
    if rows > n // 4 or cost > SAMPLE_BUDGET * min(plan.newton_s, plan.lbfgs_s):
        return plan
    kappa = sample_kappa(
        X, y, sw, rows, alpha=alpha, fit_intercept=fit_intercept, standardize=standardize,
        n_threads=n_threads,
    )  # fmt: skip
    return predict(n, d, X.itemsize, tol, rates, bandwidth, kappa=kappa, warm=warm)


def uniform_penalty(est: Any) -> bool:
    """Whether the fit's L2 penalty is one number for every column: not with
    noise_augmentation, nor with standardize and a penalty (per-column terms
    then, which a row sample's closed-form solution and its normal equations
    alone do not carry)."""
    return not (
        float(est.noise_augmentation) > 0.0 or (bool(est.standardize) and float(est.alpha) != 0.0)
    )


def auto_plan(
    est: Any, X: np.ndarray, y: np.ndarray, sw: np.ndarray | None, n_threads: int = 0
) -> CostPrediction | None:  # fmt: skip
    """:func:`choose` for the estimator ``est``'s parameters; None where the cost
    model does not apply (the fixed rule of ``_pipeline.choose_solver`` then
    decides): obvious cases, ``positive`` (newton is Lawson-Hanson there),
    ``compute_statistics`` (lbfgs would need a qr pass more) and ``prune``
    (lbfgs would need newton's Gram pass first)."""
    if obvious_newton(*X.shape) or np.ndim(est.alpha) > 0:  # alpha: solver_options says
        return None
    if getattr(est, "positive", False) or est.compute_statistics or est.prune:
        return None
    alpha = float(est.alpha)
    standardize = bool(est.standardize)
    return choose(
        X, y, sw, tol=max(auto_lbfgs_tol(est.tol), 1000.0 * float(np.finfo(X.dtype).eps)),
        alpha=alpha,
        fit_intercept=bool(est.fit_intercept), standardize=standardize,
        warm=uniform_penalty(est), n_threads=n_threads,
    )  # fmt: skip
