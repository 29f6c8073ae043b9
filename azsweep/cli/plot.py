"""``azsweep plot NAME`` (the work is ``report.plot.plot_sweep``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from azsweep.cli import _common as cli


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("plot", help="charts of a local sweep (PNG + an HTML page), also logged to its MLflow run")
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--out", metavar="DIR", help="where to write them (default: the sweep's folder plots/, else ./azsweep-plots/NAME)"
    )
    p.add_argument(
        "--all-params",
        action="store_true",
        help="an axis for every param the trials logged (default: the swept parameters only)",
    )


def plot(args: argparse.Namespace) -> int:
    from azsweep.report.plot import ARTIFACT_PATH, plot_sweep  # on use: the CLI starts without the runner

    result = plot_sweep(args.name, args.out, all_params=args.all_params)
    for path in result.paths:
        print(path)
    for note in result.notes:  # a chart skipped, params not shown: beside the list of files, not in it
        print(f"note: {note}", file=sys.stderr)
    if result.logged:
        print(f"logged to the sweep's MLflow run under {ARTIFACT_PATH}/ (open it with mlflow ui)", file=sys.stderr)
    else:
        first_line = result.error.splitlines()[0] if result.error else "unknown error"
        print(
            f"note: could not log the plots to the sweep's MLflow run ({first_line}); the files above are kept", file=sys.stderr
        )
    return cli.EXIT_OK
