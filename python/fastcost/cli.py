"""The ``fastcost`` command line: ``fastcost compare`` and ``fastcost --version``.

This module parses the arguments; :func:`fastcost.compare.run.compare` runs the
comparison and reports it.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from fastcost._version import __version__

__all__ = ["main", "build_parser"]


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
            "the same thread count and warm-ups excluded. fastcost's sgd runs the Keras "
            "recipe from TensorFlow's initial weights. Default data: "
            "make_regression(n_samples=10000, n_features=20, noise=0.1); X is "
            "standardized on the training rows, y is not scaled."
        ),
    )
    data = cmp.add_argument_group("data")
    data.add_argument("--data", metavar="FILE", help="CSV, Parquet, .npy or .npz file")
    data.add_argument(
        "--target", metavar="COLUMN",
        help="target column name (CSV/Parquet), index (.npy) or array name (.npz); "
        "default: last column / 'y'",
    )  # fmt: skip
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
    run.add_argument("--epochs", type=_positive_int, default=10)
    run.add_argument("--batch-size", type=_positive_int, default=100)
    run.add_argument("--learning-rate", type=_positive_float, default=0.01)
    run.add_argument(
        "--repeat", type=_positive_int, default=1, metavar="N",
        help="measured fits per solver; the median wall time is reported",
    )  # fmt: skip
    run.add_argument(
        "--price-per-hour", type=_nonnegative_float, metavar="PRICE", help="adds a cost column"
    )
    run.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://host:8786: fastcost's newton and lbfgs also run "
        "through fastcost.dask on that cluster (rows fastcost-dask-<solver>; needs "
        "pip install 'fastcost[dask]')",
    )  # fmt: skip

    out = cmp.add_argument_group("output")
    out.add_argument("--json", metavar="FILE", help="write all results as JSON")
    out.add_argument("--plot", metavar="FILE.png", help="chart of wall time and peak memory")
    out.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastcost`` command; return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a run, the data or an output failed, 2 on usage errors.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from fastcost.compare.run import compare
    from fastcost.compare.runners import select

    try:
        names = select(args.solvers, scheduler=bool(args.scheduler))
    except ValueError as exc:
        parser.error(str(exc))
    return compare(names, args, ["fastcost", *(sys.argv[1:] if argv is None else argv)])
