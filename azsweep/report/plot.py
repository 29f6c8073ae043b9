"""``azsweep plot NAME``: the charts of a recorded sweep as PNG files and one HTML page, also logged to its
MLflow parent run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from azsweep.runner.layout import Settings

ARTIFACT_PATH = "plots"


@dataclass
class PlotResult:
    paths: list[Path]  # the PNG files, then the HTML page
    logged: bool  # the files were logged as artifacts of the parent run
    error: str = ""  # why logging them failed
    notes: list[str] = field(default_factory=list)  # one line each: a chart skipped, params not shown


def default_out(name: str, settings: Settings | None = None) -> Path:
    """``$AZSWEEP_HOME/sweeps/NAME/plots`` when the sweep's folder exists, else ``./azsweep-plots/NAME``."""
    folder = (settings or Settings.resolve()).folder(name)
    return folder.plots if folder.exists() else Path("azsweep-plots").resolve() / name


def plot_sweep(name: str, out: Path | str | None = None, *, log_artifacts: bool = True, all_params: bool = False) -> PlotResult:
    """Write the charts and the page for the recorded sweep ``name`` and log them to its parent run.

    The parallel coordinates show the swept parameters (``all_params``: every param the trials logged);
    ``curves.png`` is skipped when no trial logged more than one value of the primary metric (see ``notes``).
    """
    from azsweep.report import load_view, metric_curves
    from azsweep.report.charts import render_report, report_notes
    from azsweep.runner import Tracker

    settings = Settings.resolve()
    tracker = Tracker.for_settings(settings)
    view = load_view(name, tracker, settings=settings)
    curves = metric_curves(view, tracker)
    out_dir = Path(out) if out else default_out(name, settings)
    charts, page = render_report(view, curves, out_dir, all_params=all_params)
    paths = [c.path for c in charts] + [page]
    notes = report_notes(view, curves, all_params)
    if not log_artifacts:
        return PlotResult(paths, logged=False, notes=notes)
    try:
        tracker.log_artifacts(view.parent_run_id, paths, ARTIFACT_PATH)
    except Exception as exc:  # the files are what matter; the artifact copy is a convenience
        return PlotResult(paths, logged=False, error=f"{type(exc).__name__}: {exc}", notes=notes)
    return PlotResult(paths, logged=True, notes=notes)
