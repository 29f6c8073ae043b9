"""``azsweep plot NAME``: the charts of a recorded sweep as PNG files and one HTML page, also logged to its
MLflow parent run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from azsweep.runner.layout import Settings

ARTIFACT_PATH = "plots"


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
    from azsweep.report import load_view, metric_curves
    from azsweep.report.charts import render_report
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
