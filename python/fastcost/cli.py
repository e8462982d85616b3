"""The ``fastcost`` command line: ``fastcost compare`` and ``fastcost --version``.

This module parses and checks the arguments (everything that can be checked
before a fit: ``--target`` needs ``--data``, the ``--solvers`` names, that
``--json`` and ``--plot`` can be written, that ``--scheduler`` answers);
:func:`fastcost.compare.run.compare` runs the comparison and reports it.

Exit status: 0 on success; 1 when the data, a row (status ``failed``), an
output or the scheduler failed; 2 on usage errors. Every error is one line on
stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence

from fastcost._version import __version__

__all__ = ["build_parser", "check_writable", "main", "preflight"]


def _columns(text: str) -> list[str]:
    """A comma-separated list of column names."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated column names")
    return names


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fastcost`` command."""
    parser = argparse.ArgumentParser(
        prog="fastcost", description="Fast linear models and what they cost to fit."
    )
    parser.add_argument("--version", action="version", version=f"fastcost {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cmp = sub.add_parser(
        "compare",
        help="fit one regression with TensorFlow, scikit-learn and fastcost; compare costs",
        description=(
            "Fit the same linear regression with TensorFlow's Keras recipe (Dense(1), SGD "
            "lr 0.01, MSE, batch 100, 10 epochs), scikit-learn (LinearRegression, "
            "SGDRegressor) and fastcost's solvers on one standardized 80/20 split, with "
            "the same thread count; each row's warm-up, one unmeasured fit on the whole "
            "training set (one epoch for TensorFlow), is excluded. Every SGD row (TensorFlow, "
            "scikit-learn's, fastcost's sgd) starts from the same Glorot-uniform weights, "
            "drawn with NumPy from --seed; each row gets its own copy of the data and of "
            "that start. Each row reports a status: ok, not converged, diverged or failed "
            "(with the reason); warnings go to the notes under the table. Default data: "
            "make_regression(n_samples=10000, n_features=20, noise=0.1); X is "
            "standardized on the training rows, y is not scaled."
        ),
    )
    data = cmp.add_argument_group("data")
    data.add_argument(
        "--data", metavar="FILE",
        help="a table (CSV/TSV/TXT, optionally .gz/.bz2/.xz; Parquet; Feather/Arrow) or .npy/.npz",
    )  # fmt: skip
    data.add_argument(
        "--target", metavar="COLUMN",
        help="target column name (CSV/Parquet), index (.npy) or array name (.npz); "
        "default: last column / 'y'",
    )  # fmt: skip
    data.add_argument(
        "--features", type=_columns, metavar="COLS",
        help="comma-separated columns to use (default: all but the target)",
    )  # fmt: skip
    data.add_argument(
        "--drop", type=_columns, metavar="COLS", help="comma-separated columns to leave out"
    )
    data.add_argument(
        "--categorical", type=_columns, metavar="COLS",
        help="comma-separated columns to treat as categorical (text and category columns are)",
    )  # fmt: skip
    data.add_argument(
        "--sep", metavar="CHAR", help="delimiter of a text table (default: sniffed from the file)"
    )
    data.add_argument("--n-samples", type=_positive_int, default=10_000, metavar="N")
    data.add_argument("--n-features", type=_positive_int, default=20, metavar="D")
    data.add_argument("--noise", type=_nonnegative_float, default=0.1, help="default: 0.1")
    data.add_argument(
        "--dtype", choices=("float64", "float32"), default="float64",
        help="dtype for scikit-learn and fastcost (TensorFlow always computes in float32)",
    )  # fmt: skip

    prep = cmp.add_argument_group(
        "preprocessing (fastcost.preprocessing; reported in the footer and JSON)"
    )
    prep.add_argument(
        "--clean", choices=("raise", "drop", "impute"), default="raise", metavar="POLICY",
        help="NaN/inf in the data: raise (default), drop rows, or impute column means",
    )  # fmt: skip
    prep.add_argument(
        "--no-standardize", dest="standardize", action="store_false",
        help="do not standardize X (default: fastcost's StandardScaler on the training rows)",
    )  # fmt: skip
    prep.add_argument(
        "--prune", action="store_true",
        help="fastcost solvers drop constant, duplicate and collinear columns (prune=True)",
    )  # fmt: skip

    run = cmp.add_argument_group("runs")
    run.add_argument(
        "--solvers", metavar="LIST",
        help="comma-separated subset, e.g. tensorflow,sklearn-lr,sklearn-sgd,newton,lbfgs,"
        "gd,sgd (default: all; fastcost names may carry a 'fastcost-' prefix)",
    )  # fmt: skip
    run.add_argument("--threads", type=_positive_int, metavar="N", help="default: all cores")
    run.add_argument("--seed", type=int, default=0, help="data, split, init and shuffles")
    run.add_argument(
        "--seeds", type=_positive_int, default=1, metavar="K",
        help="run the rows whose result moves with the seed (tensorflow, sklearn-sgd, "
        "fastcost-sgd) with K seeds (--seed, --seed + 1, ...: shuffles and start, same "
        "split) and show the test MSE's mean ± std over them (default: 1)",
    )  # fmt: skip
    run.add_argument("--epochs", type=_positive_int, default=10)
    run.add_argument("--batch-size", type=_positive_int, default=100)
    run.add_argument("--learning-rate", type=_positive_float, default=0.01)
    run.add_argument(
        "--repeat", type=_positive_int, default=1, metavar="N",
        help="measured fits per solver; the median wall time is reported",
    )  # fmt: skip
    run.add_argument(
        "--tune", action="store_true",
        help="also compare choosing alpha by 5-fold CV over 20 penalties: fastcost's "
        "LinearRegressionCV (one pass) against scikit-learn's GridSearchCV(Ridge) and "
        "RidgeCV, measured, and TensorFlow's cost of one training per fold and penalty, "
        "estimated from its measured fit (labelled so); table, JSON ('tuning') and chart",
    )  # fmt: skip
    run.add_argument(
        "--price-per-hour", type=_nonnegative_float, metavar="PRICE", help="adds a cost column"
    )
    run.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://host:8786: fastcost's newton and lbfgs also run "
        "through fastcost.dask on that cluster (rows fastcost-dask-<solver>; needs "
        "pip install 'fastcost[dask]'); checked before any fit, failing after 5 s "
        "without an answer",
    )  # fmt: skip

    out = cmp.add_argument_group("output")
    out.add_argument("--json", metavar="FILE", help="write all results as JSON")
    out.add_argument(
        "--plot", metavar="FILE.png",
        help="chart of wall time, peak memory, energy and test MSE, with each row's status",
    )  # fmt: skip
    out.add_argument("--quiet", action="store_true", help="no progress on stderr")

    from . import _cli_fit

    _cli_fit.add_parser(sub, _columns, _positive_int, _nonnegative_float)
    return parser


def _error(message: str, status: int) -> int:
    """Say ``message`` on stderr in one line; return ``status``."""
    print(f"fastcost compare: {' '.join(message.split())}", file=sys.stderr)
    return status


def check_writable(path: str) -> str | None:
    """Why ``path`` cannot be written, or None: it is a directory, its directory is
    missing, or a file cannot be created there (tried for real, then removed).
    An existing file is opened for appending, which leaves it as it is."""
    if os.path.isdir(path):
        return f"{path} is a directory"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"directory {folder} does not exist"
    try:
        if os.path.exists(path):
            with open(path, "a"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".fastcost-check-"):
                pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _check_plot_format(path: str) -> str | None:
    """Why matplotlib cannot write ``path``'s format (or is missing), or None."""
    from fastcost.compare.report import PLOT_HINT

    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return f"--plot needs matplotlib; install it with {PLOT_HINT}"
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if ext not in formats:
        return f"--plot {path}: unsupported format {ext!r}; use one of {', '.join(sorted(formats))}"
    return None


def _check_outputs(args: argparse.Namespace) -> str | None:
    """Why ``--json`` or ``--plot`` cannot be written, or None."""
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path:
            why = check_writable(path)
            if why is not None:
                return f"cannot write {option} {path}: {why}"
    return _check_plot_format(args.plot) if args.plot else None


def _check_scheduler(address: str) -> tuple[str, int] | None:
    """Why ``--scheduler`` cannot be used and the exit status (2: malformed, 1:
    no scheduler answers in time, dask missing), or None."""
    from fastcost.compare.runners import SCHEDULER_TIMEOUT_S

    try:
        from fastcost.dask import check_scheduler

        check_scheduler(address, SCHEDULER_TIMEOUT_S)
    except ValueError as exc:
        return f"--scheduler: {exc}", 2
    except (ConnectionError, ImportError) as exc:
        return f"--scheduler: {exc}", 1
    return None


def preflight(args: argparse.Namespace) -> tuple[list[str], tuple[str, int] | None]:
    """The rows to run, and what makes the command fail before any fit.

    Returns
    -------
    names, error : list of str, (str, int) or None
        The rows (:func:`~fastcost.compare.runners.select`); the first error's
        message and exit status, None when there is none.
    """
    from fastcost.compare.runners import select

    table_options = ("target", "features", "drop", "categorical", "sep")
    given = [f"--{o}" for o in table_options if getattr(args, o) is not None]
    if given and not args.data:
        verb = "needs" if len(given) == 1 else "need"
        return [], (f"{', '.join(given)} {verb} --data (the built-in problem is not a table)", 2)
    try:
        names = select(args.solvers, scheduler=bool(args.scheduler))
    except ValueError as exc:
        return [], (str(exc), 2)
    why = _check_outputs(args)
    if why is not None:
        return names, (why, 1)
    if args.scheduler:
        return names, _check_scheduler(args.scheduler)
    return names, None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastcost`` command; return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when the data, a row, an output or the scheduler failed, 2
        on usage errors (argparse's own exit with 2 through SystemExit).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "fit":
        from . import _cli_fit

        return _cli_fit.run(args)
    from fastcost.compare.run import compare

    names, error = preflight(args)
    if error is not None:
        return _error(*error)
    return compare(names, args, ["fastcost", *(sys.argv[1:] if argv is None else argv)])
