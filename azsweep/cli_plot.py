"""``azsweep plot NAME``: charts of a local sweep as PNG files and one HTML page, also logged to its MLflow parent run."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azsweep import cli
from azsweep.runner.layout import Settings

ARTIFACT_PATH = "plots"


def _add_commands(sub: Any) -> None:
    p = sub.add_parser("plot", help="charts of a local sweep (PNG + an HTML page), also logged to its MLflow run")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--out", metavar="DIR", help="where to write them (default: the sweep's folder plots/, "
                   "else ./azsweep-plots/NAME)")


cli._EXTENSIONS.append(_add_commands)


@dataclass
class PlotResult:
    paths: list[Path]  # the PNG files, then the HTML page
    logged: bool  # the files were logged as artifacts of the parent run
    error: str = ""  # why logging them failed


def default_out(name: str, settings: Settings | None = None) -> Path:
    """``$AZSWEEP_HOME/sweeps/NAME/plots`` when the sweep's folder exists, else ``./azsweep-plots/NAME``."""
    folder = (settings or Settings.resolve()).folder(name)
    return folder.plots if folder.exists() else Path("azsweep-plots").resolve() / name


def plot_sweep(name: str, out: Path | str | None = None, *, log_artifacts: bool = True) -> PlotResult:
    """Write the charts and the page for the recorded sweep ``name`` and log them to its parent run."""
    from azsweep.plots import render_report
    from azsweep.report import load_view, metric_curves
    from azsweep.runner import Tracker

    settings = Settings.resolve()
    tracker = Tracker.for_settings(settings)
    view = load_view(name, tracker, settings=settings)
    charts, page = render_report(view, metric_curves(view, tracker), Path(out) if out else default_out(name, settings))
    paths = [c.path for c in charts] + [page]
    if not log_artifacts:
        return PlotResult(paths, logged=False)
    try:
        tracker.log_artifacts(view.parent_run_id, paths, ARTIFACT_PATH)
    except Exception as exc:  # the files are what matter; the artifact copy is a convenience
        return PlotResult(paths, logged=False, error=f"{type(exc).__name__}: {exc}")
    return PlotResult(paths, logged=True)


@cli.command("plot")
def _plot(args: argparse.Namespace) -> int:
    result = plot_sweep(args.name, args.out)
    for path in result.paths:
        print(path)
    if result.logged:
        print(f"logged to the sweep's MLflow run under {ARTIFACT_PATH}/ (open it with mlflow ui)", file=sys.stderr)
    else:
        first_line = result.error.splitlines()[0] if result.error else "unknown error"
        print(f"note: could not log the plots to the sweep's MLflow run ({first_line}); the files above are kept",
              file=sys.stderr)
    return cli.EXIT_OK
