"""azsweep show: the best configuration as a ready-to-paste command line, and how the score varied with each parameter."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path
from typing import Any

import pytest
from _e2e import cli_sweep_in_own_store, use_store
from _fakes import make_trial, make_view

from azsweep.cli import main
from azsweep.report import SweepView, best_command, extras_lines, load_view, parameter_notes, spearman
from azsweep.runner.command import render_command
from azsweep.runner.record import RecordedDefinition, Trial

# loss = x, plus 0.05 with sgd: lower x is better, adam is better (grid, so both are known exactly).
SCRIPT = """
import shlex
import sys
import mlflow

print("argv:", shlex.join(sys.argv))
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
assert args["--bs"] == "32" and args["--tag"] == "a b; c"
mlflow.log_metric("loss", float(args["--x"]) + (0.05 if args["--opt"] == "sgd" else 0.0))
"""
NAME = "show-extras-e2e"
COMMAND = (
    "python train.py --x ${{search_space.x}} --opt ${{search_space.opt}} --bs ${{inputs.bs}} "
    "--tag ${{inputs.tag}} --model-dir ${{outputs.model}}"
)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real sweep through ``azsweep run``, into a store of its own."""
    return cli_sweep_in_own_store(
        tmp_path_factory,
        "show",
        SCRIPT,
        {
            "type": "sweep",
            "trial": {"code": "src", "command": COMMAND, "environment": "azureml:env@latest"},
            "inputs": {"bs": 32, "tag": "a b; c"},
            "outputs": {"model": {"type": "uri_folder"}},
            "sampling_algorithm": "grid",
            "search_space": {"x": {"type": "choice", "values": [0.9, 0.1]}, "opt": {"type": "choice", "values": ["sgd", "adam"]}},
            "objective": {"goal": "minimize", "primary_metric": "loss"},
            "limits": {"max_total_trials": 4, "max_concurrent_trials": 2},
            "experiment_name": "show-extras",
        },
        NAME,
    )


@pytest.fixture
def in_store(sweep: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    return use_store(sweep, monkeypatch, tmp_path)


@pytest.mark.slow
def test_best_command_is_exactly_what_the_best_trial_ran(in_store: dict[str, Any]) -> None:
    view = load_view(NAME)
    best = view.best()
    assert best is not None and best.params == {"x": "0.1", "opt": "adam"}
    command = best_command(view)
    workdir = in_store["home"] / "sweeps" / NAME / "trials" / best.name
    model_dir = workdir / "outputs" / "model"
    assert command == f"python train.py --x 0.1 --opt adam --bs 32 --tag 'a b; c' --model-dir {model_dir}"
    # what the best trial's process received, as it printed it in its log, and the command file it ran
    argv = next(line for line in (workdir / "user_logs" / "std_log.txt").read_text().splitlines() if line.startswith("argv:"))
    assert shlex.split(argv.removeprefix("argv: ")) == shlex.split(command)[1:]
    assert (workdir / "command.sh").read_text().strip() == command


@pytest.mark.slow
def test_show_prints_the_command_and_one_note_per_parameter(in_store: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", NAME]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    i = lines.index(f"best configuration ({NAME}_3, loss = 0.1):")
    assert lines[i + 1] == "  " + (in_store["home"] / "sweeps" / NAME / "trials" / f"{NAME}_3" / "command.sh").read_text().strip()
    assert lines[i + 2] == "how loss varied with each parameter (minimize):"
    # losses 0.95, 0.9, 0.15, 0.1 for (x, opt) = (0.9, sgd), (0.9, adam), (0.1, sgd), (0.1, adam)
    assert lines[i + 3] == "  x: lower is better (Spearman 0.89, 4 trials)"
    assert lines[i + 4] == "  opt: adam best (mean 0.5 vs sgd 0.55)"


@pytest.mark.slow
def test_show_json_adds_the_command_and_the_notes(in_store: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", NAME, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"name", "status", "best_trial", "best_score", "trials", "counts", "primary_metric"} <= set(data)
    assert "definition" not in data
    assert data["best_command"].startswith("python train.py --x 0.1 --opt adam")
    assert data["parameter_notes"] == {
        "x": "lower is better (Spearman 0.89, 4 trials)",
        "opt": "adam best (mean 0.5 vs sgd 0.55)",
    }


# ---- the same functions on hand-made views and definitions, without processes


def _trial(i: int, score: float | None, **params: str) -> Trial:
    return make_trial(i, score, dict(params), name="s")


def _view(trials: list[Trial], goal: str = "minimize", definition: RecordedDefinition | None = None) -> SweepView:
    scored = [t for t in trials if t.score is not None]
    best = (max if goal == "maximize" else min)(scored, key=lambda t: t.score) if scored else None  # type: ignore[arg-type]
    return make_view(trials, best.name if best else None, goal=goal, metric="acc", definition=definition, name="s")


def test_numeric_notes_say_which_end_is_better_for_the_goal() -> None:
    trials = [_trial(i, s, lr=str(lr)) for i, (lr, s) in enumerate([(0.001, 0.5), (0.01, 0.6), (0.1, 0.9), (0.05, 0.7)])]
    assert parameter_notes(_view(trials, "maximize")) == {"lr": "higher is better (Spearman 1.00, 4 trials)"}
    assert parameter_notes(_view(trials, "minimize")) == {"lr": "lower is better (Spearman 1.00, 4 trials)"}
    flat = [_trial(i, s, lr=str(lr)) for i, (lr, s) in enumerate([(1, 0.5), (2, 0.1), (3, 0.9), (4, 0.6), (5, 0.2)])]
    assert parameter_notes(_view(flat))["lr"].startswith("no clear trend (Spearman 0.10")


def test_categorical_notes_compare_mean_scores() -> None:
    trials = [_trial(0, 0.3, opt="adam"), _trial(1, 0.4, opt="adam"), _trial(2, 0.6, opt="sgd"), _trial(3, 0.9, opt="lamb")]
    assert parameter_notes(_view(trials)) == {"opt": "adam best (mean 0.35 vs sgd 0.6, lamb 0.9)"}
    assert parameter_notes(_view(trials, "maximize")) == {"opt": "lamb best (mean 0.9 vs sgd 0.6, adam 0.35)"}
    mixed = [_trial(0, 0.1, k="1"), _trial(1, 0.5, k="auto"), _trial(2, 0.2, k="2")]  # one non-number: categorical
    assert parameter_notes(_view(mixed)) == {"k": "1 best (mean 0.1 vs 2 0.2, auto 0.5)"}


def test_too_few_trials_unscored_and_constant_parameters() -> None:
    trials = [
        _trial(0, 0.3, x="1", c="a"),
        _trial(1, None, x="2", c="b"),
        _trial(2, 0.5, x="3", c="a"),
        _trial(3, float("nan"), x="4", c="b"),
    ]
    notes = parameter_notes(_view(trials))
    assert notes == {"x": "too few trials (2 scored, 3 needed)", "c": "too few trials (2 scored, 3 needed)"}
    same = [_trial(i, 0.1 * i, c="a") for i in range(3)]
    assert parameter_notes(_view(same)) == {"c": "the same value in every scored trial (a)"}
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5])) and spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_render_command_quotes_values_and_keeps_or_drops_optional_blocks() -> None:
    inputs = {"bs": "32", "data": "/data/iris.csv", "opt_in": None}
    command = render_command(
        "python t.py --c ${{search_space.c}} --bs ${{inputs.bs}} --data ${{inputs.data}} "
        "[--o ${{inputs.opt_in}}] [--d ${{inputs.data}}] --out ${{outputs.m}} --l {search_space.c}",
        {"c": "a; touch pwned"},
        inputs,
        {"m": Path("/o/m")},
    )
    assert command == (
        "python t.py --c 'a; touch pwned' --bs 32 --data /data/iris.csv  --d /data/iris.csv --out /o/m --l 'a; touch pwned'"
    )
    # a sampled value and the text MLflow recorded for it render the same
    assert render_command("p ${{search_space.lr}}", {"lr": 0.1}, {}, {}) == render_command(
        "p ${{search_space.lr}}", {"lr": "0.1"}, {}, {}
    )


def test_show_lines_without_a_recorded_definition() -> None:
    trials = [_trial(0, 0.2, x="0.5", c="a b")]
    lines = extras_lines(_view(trials))
    assert lines[0] == "best configuration (s_0, acc = 0.2):"
    assert lines[1].startswith("  x=0.5 c='a b'") and "definition.json" in lines[1]
    assert lines[3] == "  x: too few trials (1 scored, 3 needed)"
    assert best_command(_view(trials)) is None
    assert extras_lines(_view([_trial(0, None, x="1")])) == [
        "how acc varied with each parameter (minimize):",
        "  x: too few trials (0 scored, 3 needed)",
    ]
