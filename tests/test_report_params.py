"""Reports show the search, not the noise (issue 13): the swept parameters by default, every logged param one flag
away (``--all-params`` / ``all_params=True``), values never cut to ``…``, and no curves chart of single points."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from _e2e import cli_sweep_in_own_store, use_store
from _fakes import make_definition, make_trial, make_view
from rich.console import Console

from azsweep.cli import main
from azsweep.report import extras_lines, hidden_note, parameter_notes, short, trials_table, view_json
from azsweep.report.charts import curves_skip_note, parameter_axes, plot_parallel_coordinates, render_report
from azsweep.runner.record import Trial

# what mlflow.autolog() logs for a torch optimizer: constant in every trial
AUTOLOG = {
    "epochs": "10",
    "optimizer_name": "Adam",
    "batch_size": "32",
    "weight_decay": "0",
    "betas": "(0.9, 0.999)",
    "eps": "1e-08",
    "amsgrad": "False",
    "foreach": "None",
    "maximize": "False",
    "capturable": "False",
    "differentiable": "False",
    "fused": "None",
}
SPACE = {"lr": ["loguniform", [-9, -2]], "opt": ["choice", [["adam", "sgd"]]]}
ROWS = [(0.0123456789, "adam", 0.3), (0.000512, "sgd", 0.5), (0.0451, "adam", 0.2), (0.0009, "sgd", 0.9)]
HIDDEN_LINE = "12 other logged params not shown (not swept): --all-params shows them"


def _trials(split: bool = True) -> list[Trial]:
    """Trials of an autologging script; ``split``: as the tracking store reads them now (sampled values in
    ``params``, the script's own in ``logged_params``), else as it read them before (all in ``params``)."""
    out = []
    for i, (lr, opt, score) in enumerate(ROWS):
        sampled = {"lr": repr(lr), "opt": opt}
        if split:
            out.append(make_trial(i, score, sampled, logged_params=dict(AUTOLOG)))
        else:
            out.append(make_trial(i, score, {**sampled, **AUTOLOG}))
    return out


def _view(split: bool = True, definition: bool = True) -> Any:
    return make_view(_trials(split), "v_2", definition=make_definition(SPACE) if definition else None)


def render(renderable: Any, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def flat(text: str) -> str:
    """Table text with the borders and the line breaks gone: for lines rich may wrap (the caption)."""
    return " ".join(text.replace("│", " ").split())


# ---- which params


@pytest.mark.parametrize("split", [True, False], ids=["logged_params", "all_in_params"])
def test_the_swept_parameters_by_default_every_param_with_all_params(split: bool) -> None:
    view = _view(split)
    assert view.parameter_names() == ["lr", "opt"]
    assert view.parameter_names(all_params=True) == ["lr", "opt", *AUTOLOG]
    assert view.hidden_parameters() == list(AUTOLOG)
    assert hidden_note(view) == HIDDEN_LINE
    assert hidden_note(view, all_params=True) == ""


def test_without_a_recorded_definition_the_params_as_recorded() -> None:
    view = _view(split=True, definition=False)
    assert view.parameter_names() == ["lr", "opt"]  # Trial.params: the sampled values
    assert view.hidden_parameters() == list(AUTOLOG)
    unsplit = _view(split=False, definition=False)  # nothing tells the sampled values from the script's own
    assert unsplit.parameter_names() == ["lr", "opt", *AUTOLOG] and unsplit.hidden_parameters() == []
    assert hidden_note(unsplit) == ""


def test_one_hidden_param_is_said_in_the_singular() -> None:
    trials = [make_trial(i, 0.1 * i, {"lr": str(i)}, logged_params={"epochs": "3"}) for i in range(2)]
    assert hidden_note(make_view(trials, "v_0")) == "1 other logged param not shown (not swept): --all-params shows it"


# ---- the table


@pytest.mark.parametrize("width", [100, 60])
def test_the_table_shows_the_swept_parameters_and_says_how_many_are_hidden(width: int) -> None:
    view = _view()
    text = render(trials_table(view), width)
    for name in ("optimizer_name", "weight_decay", "capturable", "differentiable", "(0.9, 0.999)"):
        assert name not in text
    for lr, opt, _ in ROWS:
        assert short(repr(lr)) in text and opt in text
    assert HIDDEN_LINE in flat(text)
    every = render(trials_table(view, all_params=True), width)
    assert "not shown" not in every
    for name, value in AUTOLOG.items():
        assert name in every and value in every


LONG = [
    "encoder_attention_dropout_rate",
    "decoder_feedforward_hidden_dim",
    "learning_rate_warmup_fraction",
    "optimizer_weight_decay_coeff",
    "label_smoothing_epsilon",
    "gradient_clipping_max_norm",
]
LONG_VALUES = [
    ["0.000123457", "2048", "0.0625", "1.5e-05", "0.1", "adamw_torch_fused"],
    ["0.000234568", "4096", "0.125", "2.5e-05", "0.05", "sgd_with_nesterov"],
    ["0.000345679", "8192", "0.25", "3.5e-05", "0.2", "lion_decoupled"],
]


def _long_view(note: str = "") -> Any:
    trials = [make_trial(i, 0.1 * (i + 1), dict(zip(LONG, values))) for i, values in enumerate(LONG_VALUES)]
    trials[1].reason = note
    return make_view(trials, "v_0")


@pytest.mark.parametrize("width", [100, 60])
@pytest.mark.parametrize("note", ["", "crashed: CUDA out of memory (optimizer state)"])
def test_six_long_named_parameters_are_stacked_and_no_value_is_cut(width: int, note: str) -> None:
    text = render(trials_table(_long_view(note)), width)
    assert "…" not in text
    assert all(len(line) <= width for line in text.splitlines())
    assert "parameters" in text.splitlines()[2]  # one column holds them, one "name = value" line each
    for values in LONG_VALUES:
        for value in values:
            assert value in text  # whole, on one line
    if width == 100:  # room for every line whole: the names too
        for name, value in zip(LONG, LONG_VALUES[0]):
            assert f"{name} = {value}" in text
    if note:
        assert "note: crashed: CUDA out of memory (optimizer state)" in flat(text)


def test_parameters_get_columns_of_their_own_when_they_fit() -> None:
    text = render(trials_table(_long_view()), 300)
    header = text.splitlines()[2]
    assert "parameters" not in header and all(name in header for name in LONG)
    for values in LONG_VALUES:
        assert all(value in text for value in values)


def test_the_width_decides_columns_or_stacked_exactly_where_the_columns_stop_fitting() -> None:
    trials = [
        make_trial(i, s, {"lr": lr, "optimizer": opt, "momentum": m}, status=st, reason=r)
        for i, (lr, opt, m, s, st, r) in enumerate(
            [("0.5123456789", "adam", "0.9", 0.3, "Completed", ""), ("0.25", "sgd_nesterov", "0.95", 0.7, "Failed", "exit 1")]
        )
    ]
    table = trials_table(make_view(trials, "v_0"))
    fit = next(w for w in range(20, 300) if table.fits(w))
    wide = render(table, fit)
    assert all(len(line) <= fit for line in wide.splitlines())
    header = wide.splitlines()[2]
    assert "lr" in header and "optimizer" in header and "momentum" in header and "note" in header
    assert "0.512346" in wide and "sgd_nesterov" in wide and "…" not in wide
    narrow = render(table, fit - 1)
    assert "parameters" in narrow.splitlines()[2] and "optimizer = sgd_nesterov" in narrow


def test_values_are_text_not_markup() -> None:
    trials = [make_trial(0, 0.1, {"layers": "[red]", "tag": "[bold]x[/bold]"})]
    text = render(trials_table(make_view(trials, "v_0")), 100)
    assert "[red]" in text and "[bold]x[/bold]" in text


# ---- show's notes and --json


def test_parameter_notes_and_show_lines_cover_the_swept_parameters_by_default() -> None:
    view = _view()
    assert list(parameter_notes(view)) == ["lr", "opt"]
    every = parameter_notes(view, all_params=True)
    assert list(every) == ["lr", "opt", *AUTOLOG] and every["epochs"] == "the same value in every scored trial (10)"
    lines = extras_lines(view)
    assert not any("epochs" in line for line in lines)
    assert "  epochs: the same value in every scored trial (10)" in extras_lines(view, all_params=True)


def test_view_json_keeps_the_swept_values_apart_from_the_others() -> None:
    view = _view()
    data = json.loads(json.dumps(view_json(view), default=str))
    assert [t["params"] for t in data["trials"]] == [
        {"lr": repr(lr), "opt": opt} for lr, opt, _ in sorted(ROWS, key=lambda r: r[2])
    ]
    assert all("logged_params" not in t for t in data["trials"])
    assert data["hidden_params"] == list(AUTOLOG) and list(data["parameter_notes"]) == ["lr", "opt"]
    every = json.loads(json.dumps(view_json(view, all_params=True), default=str))
    assert all(t["logged_params"] == AUTOLOG and set(t["params"]) == {"lr", "opt"} for t in every["trials"])
    assert every["hidden_params"] == [] and "epochs" in every["parameter_notes"]


def test_show_and_its_all_params_flag(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    view = _view()
    monkeypatch.setattr("azsweep.report.load_view", lambda name: view)
    assert main(["show", "v"]) == 0
    out = capsys.readouterr().out
    assert "optimizer_name" not in out and "epochs" not in out and HIDDEN_LINE in flat(out)
    assert "how loss varied with each parameter (minimize):" in out and "  opt: " in out
    assert main(["show", "v", "--all-params"]) == 0
    out = capsys.readouterr().out
    assert "optimizer_name" in out and "  epochs: the same value in every scored trial (10)" in out and "not shown" not in out
    assert main(["show", "v", "--json", "--all-params"]) == 0
    assert json.loads(capsys.readouterr().out)["trials"][0]["logged_params"] == AUTOLOG


# ---- charts


def test_parallel_coordinates_have_an_axis_per_swept_parameter(tmp_path: Path) -> None:
    view = _view()
    assert [a.name for a in parameter_axes(view)] == ["lr", "opt"]
    assert plot_parallel_coordinates(view, tmp_path / "pc.png").counts["axes"] == 3  # lr, opt and the metric
    assert [a.name for a in parameter_axes(view, all_params=True)] == ["lr", "opt", *AUTOLOG]
    assert plot_parallel_coordinates(view, tmp_path / "all.png", all_params=True).counts["axes"] == 15


def test_curves_are_skipped_when_no_trial_logged_more_than_one_value(tmp_path: Path) -> None:
    view = _view()
    single = {"v_0": [0.3], "v_1": [0.5], "v_2": [0.2], "v_3": []}
    note = curves_skip_note(view, single)
    assert note == "curves.png skipped: no trial logged more than one value of loss (a chart of single points says nothing)"
    charts, page = render_report(view, single, tmp_path / "single")
    assert [c.name for c in charts] == ["parallel_coordinates", "metric_by_trial"]
    assert not (tmp_path / "single" / "curves.png").exists() and (tmp_path / "single" / "metric_by_trial.png").is_file()
    html = page.read_text()
    assert note in html and html.count("data:image/png;base64,") == 2
    assert "12 other logged params not shown (not swept): azsweep plot v --all-params shows them" in html

    two = {**single, "v_3": [0.9, 0.8]}  # one trial with two values: a curve says something
    assert curves_skip_note(view, two) == ""
    charts, page = render_report(view, two, tmp_path / "two", all_params=True)
    assert [c.name for c in charts] == ["parallel_coordinates", "metric_by_trial", "curves"]
    html = page.read_text()
    assert "skipped" not in html and "not shown" not in html and "epochs: the same value" in html


# ---- end to end: a real sweep whose script logs a dozen constant params and one value of the metric

SCRIPT = """
import sys
import mlflow

mlflow.log_params({"epochs": 10, "optimizer_name": "Adam", "batch_size": 32, "weight_decay": 0, "eps": 1e-08,
                   "amsgrad": False, "foreach": None, "maximize": False, "capturable": False, "differentiable": False,
                   "fused": None, "betas": "(0.9, 0.999)"})
lr, opt = float(sys.argv[1]), sys.argv[2]
mlflow.log_metric("loss", lr + (0.5 if opt == "sgd" else 0.0))
"""
NAME = "report-params-e2e"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return cli_sweep_in_own_store(
        tmp_path_factory,
        "params",
        SCRIPT,
        {
            "type": "sweep",
            "trial": {
                "code": "src",
                "command": "python train.py ${{search_space.learning_rate_for_the_optimizer}} ${{search_space.opt}}",
                "environment": "azureml:env@latest",
            },
            "sampling_algorithm": {"type": "random", "seed": 5},
            "search_space": {
                "learning_rate_for_the_optimizer": {"type": "uniform", "min_value": 0.1, "max_value": 0.9},
                "opt": {"type": "choice", "values": ["adam", "sgd"]},
            },
            "objective": {"goal": "minimize", "primary_metric": "loss"},
            "limits": {"max_total_trials": 3, "max_concurrent_trials": 3},
            "experiment_name": "report-params",
        },
        NAME,
    )


@pytest.fixture
def in_store(sweep: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    return use_store(sweep, monkeypatch, tmp_path)


@pytest.mark.slow
def test_show_run_and_plot_of_an_autologging_sweep(in_store: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", NAME, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert all(set(t["params"]) == {"learning_rate_for_the_optimizer", "opt"} for t in data["trials"])
    assert sorted(data["hidden_params"]) == sorted(AUTOLOG)
    values = [t["params"]["learning_rate_for_the_optimizer"] for t in data["trials"]]

    assert main(["show", NAME]) == 0
    out = capsys.readouterr().out
    assert "optimizer_name" not in out and HIDDEN_LINE in flat(out)
    assert all(short(v) in out for v in values) and "…" not in out

    # the end of `run` (a finished sweep resumed: nothing to run, the final table) takes the flag too
    assert main(["run", str(in_store["work"] / "sweep.yml"), "--name", NAME, "--resume", "--all-params"]) == 0
    out = capsys.readouterr().out
    assert "optimizer_name" in out and "differentiable" in out and "not shown" not in out

    assert main(["plot", NAME]) == 0
    out, err = capsys.readouterr()
    assert [Path(p).name for p in out.splitlines()] == ["parallel_coordinates.png", "metric_by_trial.png", "index.html"]
    assert "note: curves.png skipped: no trial logged more than one value of loss" in err
    assert f"note: 12 other logged params not shown (not swept): azsweep plot {NAME} --all-params shows them" in err
    page = Path(out.splitlines()[-1]).read_text()
    assert "curves.png skipped" in page and "--all-params shows them" in page
