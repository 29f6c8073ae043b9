"""azsweep plot: charts of a real finished sweep (a stopped, a failed and an unscored trial), and the scales behind them."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from _e2e import cli_sweep_in_own_store, use_store
from _fakes import make_trial, make_view

from azsweep.cli import main
from azsweep.report import SweepView, load_view, metric_curves
from azsweep.report.charts import (
    best_so_far,
    category_axis,
    looks_log_distributed,
    metric_log,
    numeric_axis,
    plot_curves,
    plot_metric_by_trial,
    plot_parallel_coordinates,
    render_report,
)
from azsweep.runner import Tracker
from azsweep.runner.record import Trial

# Trial 0 logs four decreasing values; 1 logs two and crashes (Failed, with a score); 2 logs a far worse value for a
# long time and is stopped by Bandit at interval 5 (the only trial that reaches it); 3 never logs the metric.
SCRIPT = """
import math, os, sys, time
import mlflow

i = int(os.environ["AZSWEEP_TRIAL_INDEX"])
x, lr, opt = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
base = x + (0.3 if opt == "sgd" else 0.0) + 0.1 * abs(math.log10(lr) + 3)
if i == 3:
    mlflow.log_metric("other", 1.0)
    raise SystemExit(0)
if i == 2:
    for k in range(80):
        mlflow.log_metric("loss", 50.0 - 0.1 * k)
        time.sleep(0.1)
    raise SystemExit(0)
for k in range(4):
    mlflow.log_metric("loss", base * (1 + 1.0 / (k + 1)))
    if i == 1 and k == 1:
        raise SystemExit(1)
"""
NAME = "charts-e2e"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk; fails unless the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def assert_sensible_png(path: Path) -> None:
    width, height = png_size(path)
    assert 400 <= width <= 4000 and 300 <= height <= 3000, (path, width, height)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real sweep through ``azsweep run``, into a store of its own."""
    return cli_sweep_in_own_store(
        tmp_path_factory,
        "plots",
        SCRIPT,
        {
            "type": "sweep",
            "trial": {
                "code": "src",
                "command": "python train.py ${{search_space.x}} ${{search_space.lr}} ${{search_space.opt}}",
                "environment": "azureml:env@latest",
            },
            "sampling_algorithm": {"type": "random", "seed": 3},
            "search_space": {
                "x": {"type": "uniform", "min_value": 0, "max_value": 1},
                "lr": {"type": "loguniform", "min_value": -11.5, "max_value": -2.3},
                "opt": {"type": "choice", "values": ["adam", "sgd"]},
            },
            "objective": {"goal": "minimize", "primary_metric": "loss"},
            "early_termination": {"type": "bandit", "slack_factor": 0.2, "evaluation_interval": 1, "delay_evaluation": 5},
            "limits": {"max_total_trials": 4, "max_concurrent_trials": 2},
            "experiment_name": "plots-e2e",
        },
        NAME,
    )


@pytest.fixture
def in_store(sweep: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    return use_store(sweep, monkeypatch, tmp_path)


@pytest.mark.slow
def test_the_sweep_has_what_the_charts_must_show(in_store: dict[str, Any]) -> None:
    view = load_view(NAME)
    statuses = {t.index: (t.status, t.score is not None, t.stopped_by) for t in view.trials}
    assert statuses == {
        0: ("Completed", True, None),
        1: ("Failed", True, None),
        2: ("Canceled", True, "Bandit"),
        3: ("Completed", False, None),
    }
    assert view.trials[2].stopped_at == 5


@pytest.mark.slow
def test_each_chart_is_a_sensible_png_with_one_series_per_trial(in_store: dict[str, Any], tmp_path: Path) -> None:
    view = load_view(NAME)
    curves = metric_curves(view)
    with_values = sum(1 for v in curves.values() if v)
    assert with_values == 3

    chart = plot_parallel_coordinates(view, tmp_path / "pc.png")
    assert_sensible_png(chart.path)
    assert chart.counts["scored"] == 3 and chart.counts["unscored"] == 1  # trial 3 grey, the others coloured
    assert chart.counts["axes"] == 4  # x, lr, opt and the metric

    chart = plot_metric_by_trial(view, tmp_path / "history.png")
    assert_sensible_png(chart.path)
    assert chart.counts == {"completed": 1, "stopped": 1, "failed": 1, "canceled": 0, "scored": 3, "unscored": 1}

    chart = plot_curves(view, curves, tmp_path / "curves.png")
    assert_sensible_png(chart.path)
    assert chart.series == with_values
    assert chart.counts["stopped"] == 1 and chart.counts["stop_markers"] == 1 and chart.counts["failed"] == 1


@pytest.mark.slow
def test_plot_command_writes_pngs_and_a_page_and_logs_them_to_the_parent_run(
    in_store: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", NAME]) == 0
    out, err = capsys.readouterr()
    folder = in_store["home"] / "sweeps" / NAME / "plots"  # the default: the sweep's own folder
    written = [Path(line) for line in out.splitlines()]
    assert [p.name for p in written] == ["parallel_coordinates.png", "metric_by_trial.png", "curves.png", "index.html"]
    assert all(p.parent == folder and p.is_file() for p in written)
    for png in written[:3]:
        assert_sensible_png(png)
    page = written[3].read_text()
    for png in written[:3]:
        assert f'href="{png.name}"' in page  # linked by relative name ...
        assert page.count("data:image/png;base64,") == 3  # ... and embedded, so the page opens anywhere offline
    assert "best configuration" in page and "python train.py" in page
    assert "logged to the sweep's MLflow run" in err
    view = load_view(NAME)
    artifacts = Tracker().client.list_artifacts(view.parent_run_id, "plots")
    assert sorted(Path(a.path).name for a in artifacts) == sorted(p.name for p in written)


@pytest.mark.slow
def test_plot_out_dir_and_a_failed_artifact_upload_keeps_the_files(
    in_store: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.tracking import MlflowClient

    def refuse(*_: Any, **__: Any) -> None:
        raise PermissionError("artifact store is read-only\nsecond line")

    monkeypatch.setattr(MlflowClient, "log_artifact", refuse)
    assert main(["plot", NAME, "--out", str(tmp_path / "charts")]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 4 and all(Path(p).is_file() for p in out.splitlines())
    assert all(Path(p).parent == tmp_path / "charts" for p in out.splitlines())
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "could not log the plots" in lines[0] and "read-only" in lines[0]


@pytest.mark.slow
def test_plot_of_an_unknown_sweep_is_one_error_line(in_store: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", "nope"]) == 1
    assert "no local sweep named 'nope'" in capsys.readouterr().err


def test_default_out_is_the_sweep_folder_else_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azsweep.report.plot import default_out

    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert default_out("a") == tmp_path / "azsweep-plots" / "a"
    (tmp_path / "home" / "sweeps" / "a").mkdir(parents=True)
    assert default_out("a") == tmp_path / "home" / "sweeps" / "a" / "plots"


# ---- scales, axes and edge cases, without processes


def test_log_axes_for_log_distributed_values_only() -> None:
    assert looks_log_distributed([1e-5, 3e-4, 1e-3, 2e-2, 0.1])
    assert not looks_log_distributed([0.004, 0.1, 0.2, 0.3, 0.45])  # uniform near zero spans decades too
    assert not looks_log_distributed([1e-3, 5e-3, 1e-2])  # one decade: linear is fine
    assert not looks_log_distributed([-1.0, 1.0, 100.0])
    axis = numeric_axis("lr", [1e-5, 1e-3, 1e-1])
    assert axis.kind == "log" and axis.positions == pytest.approx([0.0, 0.5, 1.0])
    labels = [label for _, label in axis.ticks]
    assert labels[0] == "1e-05" and labels[-1] == "0.1" and "0.001" in labels
    assert numeric_axis("x", [0.5, 1e-3, 0.2], log=True).kind == "log"  # the distribution says so
    assert numeric_axis("x", [0.0, 1.0, 1e-3], log=True).kind == "linear"  # a zero cannot go on a log axis
    assert metric_log([0.5, 7.0], maximize=False) and not metric_log([0.05, 0.9], maximize=True)


def test_numeric_ticks_are_real_values_and_ends_are_always_labelled() -> None:
    axis = numeric_axis("x", [0.189, 0.2009, None])
    assert axis.positions[2] is None and axis.positions[:2] == [0.0, 1.0]
    assert axis.ticks[0] == (0.0, "0.189") and axis.ticks[-1] == (1.0, "0.201")
    assert all(0.1 <= pos <= 0.9 for pos, _ in axis.ticks[1:-1])
    assert "0.1925" in [label for _, label in axis.ticks]  # as many digits as the round value has
    assert numeric_axis("c", [3.0, 3.0]).ticks == [(0.5, "3")]


def test_categories_are_evenly_spaced_in_the_choice_order() -> None:
    axis = category_axis("opt", ["sgd", "adam", None, "lamb"], declared=["sgd", "adam", "lamb", "unused"])
    assert axis.positions == [0.0, 0.5, None, 1.0]
    assert [label for _, label in axis.ticks] == ["sgd", "adam", "lamb"]
    many = category_axis("c", [f"value_{i:02d}_with_a_long_name" for i in range(30)])
    assert len(many.ticks) <= 13 and all(len(label) <= 14 for _, label in many.ticks)


def test_best_so_far_is_goal_aware() -> None:
    assert best_so_far([None, 3.0, 1.0, 2.0, None], maximize=False) == [None, 3.0, 1.0, 1.0, 1.0]
    assert best_so_far([2.0, 1.0, 5.0], maximize=True) == [2.0, 2.0, 5.0]


def _view(trials: list[Trial], best: str | None, goal: str = "minimize") -> SweepView:
    return make_view(trials, best, goal=goal)


def test_charts_of_a_sweep_without_any_score_still_render(tmp_path: Path) -> None:
    trials = [make_trial(i, None, {"x": str(i)}, status="Failed", intervals=0, reason="crashed") for i in range(3)]
    view, curves = _view(trials, None), {t.name: [] for t in trials}
    charts, page = render_report(view, curves, tmp_path)
    for chart in charts:
        assert_sensible_png(chart.path)
    # no trial logged a value: curves.png is skipped (issue 13), with a note on the page; the other charts render
    assert [c.name for c in charts] == ["parallel_coordinates", "metric_by_trial"]
    assert [c.counts.get("scored", 0) for c in charts] == [0, 0]
    assert charts[0].counts["unscored"] == 3 and charts[1].counts["unscored"] == 3
    assert page.is_file() and "curves.png skipped" in page.read_text()
    empty = plot_curves(view, curves, tmp_path / "curves.png")  # drawn anyway, it renders, empty
    assert_sensible_png(empty.path)
    assert empty.series == 0


def test_nan_and_inf_values_do_not_break_the_curves(tmp_path: Path) -> None:
    trials = [make_trial(0, 0.5, {"x": "1"}, intervals=4), make_trial(1, float("inf"), {"x": "2"}, intervals=1)]
    curves = {"v_0": [1.0, float("nan"), 0.5, float("inf")], "v_1": [float("inf")]}
    chart = plot_curves(_view(trials, "v_0"), curves, tmp_path / "c.png")
    assert_sensible_png(chart.path)
    assert chart.series == 1  # v_1 has no finite value to draw


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), 1.7976931348623157e308, -1.7976931348623157e308])
@pytest.mark.parametrize("goal", ["minimize", "maximize"])
def test_a_trial_that_logged_inf_renders_and_is_not_scored(tmp_path: Path, bad: float, goal: str) -> None:
    # MLflow's database stores +-inf as +-1.7976931348623157e308: `azsweep plot` crashed on it (arange: cannot
    # compute length). Non-finite values are not scores (azsweep.spec.finite_score), so the trial is unscored.
    trials = [make_trial(0, 0.5, {"x": "1"}, intervals=2), make_trial(1, bad, {"x": "2"}, intervals=2)]
    curves = {"v_0": [1.0, 0.5], "v_1": [1.0, bad]}
    charts, page = render_report(_view(trials, "v_0", goal=goal), curves, tmp_path)
    for chart in charts:
        assert_sensible_png(chart.path)
    assert [c.counts.get("unscored") for c in charts[:2]] == [1, 1]
    assert page.is_file()
