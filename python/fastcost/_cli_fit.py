"""``fastcost fit``: fit a dataset of files in bounded memory; write the model and a receipt."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._version import __version__


def add_parser(sub: Any, columns: Any, positive_int: Any, nonnegative_float: Any) -> None:
    """The ``fit`` subcommand of the ``fastcost`` parser."""
    fit = sub.add_parser(
        "fit",
        help="fit a Parquet/CSV/Arrow dataset larger than memory; write the model and a receipt",
        description=(
            "Fit fastcost's LinearRegression on a dataset of files read through "
            "pyarrow.dataset in record batches (bounded memory, progress on stderr). "
            "newton and qr read the data once; lbfgs and gd once per pass. Writes the "
            "model (fastcost.load reads it) and a JSON receipt of the fit and its cost."
        ),
    )
    fit.add_argument(
        "--data", required=True, metavar="PATH",
        help="a file, a glob pattern in quotes ('data/*.parquet') or a directory",
    )  # fmt: skip
    fit.add_argument("--target", required=True, metavar="COLUMN")
    fit.add_argument(
        "--features", type=columns, metavar="COLS",
        help="comma-separated feature columns (default: all but the target and weights)",
    )  # fmt: skip
    fit.add_argument("--weights", metavar="COLUMN", help="a column of sample weights")
    fit.add_argument(
        "--categorical", type=columns, metavar="COLS",
        help="comma-separated columns to fit as categorical features besides the text ones "
        "(integer codes, or a text column with many distinct values)",
    )  # fmt: skip
    fit.add_argument("--format", choices=("parquet", "csv", "ipc"), help="default: from extensions")
    fit.add_argument(
        "--solver", choices=("auto", "newton", "qr", "lbfgs", "gd"), default="auto",
        help="default: auto (newton up to 1000 features, else lbfgs)",
    )  # fmt: skip
    fit.add_argument("--alpha", type=nonnegative_float, default=0.0, help="L2 penalty")
    fit.add_argument("--no-intercept", dest="fit_intercept", action="store_false")
    fit.add_argument("--standardize", action="store_true")
    fit.add_argument("--threads", type=positive_int, metavar="N", help="default: all cores")
    fit.add_argument("--batch-rows", type=positive_int, metavar="N", help="rows per record batch")
    fit.add_argument("--model", default="model.json", metavar="FILE", help="default: model.json")
    fit.add_argument(
        "--receipt", default="receipt.json", metavar="FILE", help="default: receipt.json"
    )
    fit.add_argument("--quiet", action="store_true", help="no progress on stderr")


#: How ``fastcost fit``'s messages name what fixes a problem (fit_dataset's
#: messages name its Python arguments: ``_stream_source.ARGUMENTS``).
OPTIONS = {"columns": "--features COLS", "format": "--format",
           "categorical_features": "--categorical COLS"}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Fit, then write the model and the receipt (nothing is written if the fit fails).
    The warnings of the fit are one line each on stderr, ``warning: <category>: <message>``."""
    from ._streaming import fit_files
    from .cli import check_writable
    from .compare.status import one_line, record_warnings

    for path in (args.model, args.receipt):
        why = check_writable(path)
        if why is not None:
            print(f"fastcost fit: {why}", file=sys.stderr)
            return 1
    params = {"solver": args.solver, "alpha": args.alpha, "fit_intercept": args.fit_intercept,
              "standardize": args.standardize, "n_threads": args.threads}  # fmt: skip
    if args.categorical:
        params["categorical_features"] = list(args.categorical)
    error = None
    with record_warnings() as notes:
        try:
            model = fit_files(args.data, args.target, args.features, args.weights, args.format,
                              args.batch_rows, not args.quiet, params, OPTIONS)  # fmt: skip
        except (OSError, ValueError, TypeError, NotImplementedError) as exc:
            error = exc
    for note in notes:
        print(f"fastcost fit: warning: {note}", file=sys.stderr)
    if error is not None:
        print(f"fastcost fit: {one_line(str(error))}", file=sys.stderr)
        return 1
    try:
        model.save(args.model)
        with open(args.receipt, "w", encoding="utf-8") as fh:
            json.dump(receipt(model, args, notes), fh, indent=1)
    except (OSError, TypeError, ValueError) as exc:
        print(f"fastcost fit: fitted, but not written: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        r = model.fit_report_
        print(
            f"fastcost fit: {model.n_samples_seen_:,} rows, {model.n_features_in_} features, {model.fit_info_}; "
            f"{r.wall_time_s:.2f} s wall, peak RSS {r.peak_rss_bytes / 2**20:.0f} MB; "
            f"model -> {args.model}, receipt -> {args.receipt}",
            file=sys.stderr,
        )
    return 0


def receipt(model: Any, args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    """What was fitted, how, what it cost, and the warnings of the fit."""
    return {
        "fastcost_version": __version__,
        "command": ["fastcost", *sys.argv[1:]],
        "data": args.data,
        "target": args.target,
        "features": [str(c) for c in model.feature_names_in_],
        "rows": int(model.n_samples_seen_),
        "solver": model.solver_,
        "fit_info": model.fit_info_,
        "n_passes": int(model.n_passes_),
        "coef": [float(c) for c in model.coef_],
        "coef_names": [
            str(c) for c in getattr(model, "feature_names_out_", model.feature_names_in_)
        ],
        "intercept": float(model.intercept_),
        "model": args.model,
        "warnings": list(notes),
        "report": model.fit_report_.to_dict(),
    }
