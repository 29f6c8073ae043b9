"""End-to-end: real trial processes, a real MLflow SQLite store, Azure's semantics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _e2e import alive, run_sweep, write_sweep

from azsweep.cli import main
from azsweep.report import load_view
from azsweep.runner import Tracker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store for the module (creating the schema takes seconds)."""
    home = tmp_path_factory.mktemp("azsweep_home")
    Tracker(f"sqlite:///{home / 'mlflow.db'}").experiment_id("warmup")
    return home


@pytest.fixture(autouse=True)
def isolated(store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AZSWEEP_HOME", str(store))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)


ECHO_SCRIPT = """
import json, os, sys, mlflow
x = float(sys.argv[sys.argv.index("--x") + 1])
with open(os.path.join(sys.argv[sys.argv.index("--out") + 1], "seen.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items()
               if k.startswith(("AZUREML_", "MLFLOW_", "MY_"))}}, f)
for step in range(3):
    mlflow.log_metric("loss", (x - 0.25) ** 2 + (2 - step) * 0.1, step=step)
"""


def test_params_metrics_and_environment_arrive_as_azure_gives_them(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        ECHO_SCRIPT,
        {
            "trial": {
                "command": "python train.py --x ${{search_space.x}} --c ${{search_space.c}} --n ${{search_space.n}} "
                "--bs ${{inputs.bs}} --out ${{outputs.out}}",
                "environment_variables": {"MY_FLAG": "on"},
            },
            "inputs": {"bs": 32},
            "outputs": {"out": {"type": "uri_folder"}},
            "search_space": {
                "x": {"type": "uniform", "min_value": 0, "max_value": 1},
                "c": {"type": "choice", "values": ["a; touch pwned", "$(touch pwned2)"]},
                "n": {"type": "quniform", "min_value": 0, "max_value": 10, "q": 1},
            },
        },
    )
    record = run_sweep(path, "params-e2e")
    assert record.status == "Completed" and len(record.trials) == 3
    tracker = Tracker()
    for trial in record.trials:
        seen = json.loads((Path(trial.workdir) / "outputs" / "out" / "seen.json").read_text())
        argv = seen["argv"]
        assert float(argv[argv.index("--x") + 1]) == trial.params["x"]  # floats read back exactly
        assert argv[argv.index("--c") + 1] == trial.params["c"]  # one argument, not run by the shell
        assert argv[argv.index("--n") + 1] == str(trial.params["n"]) and isinstance(trial.params["n"], int)
        assert argv[argv.index("--bs") + 1] == "32"
        env = seen["env"]
        assert float(env["AZUREML_SWEEP_x"]) == trial.params["x"]
        assert env["AZUREML_SWEEP_c"] == trial.params["c"]
        assert env["AZUREML_PARAMETER_bs"] == "32" and env["MY_FLAG"] == "on"
        assert env["MLFLOW_RUN_ID"] == trial.run_id
        # the metric landed in this trial's own child run; the score is the best value, not the last
        values = tracker.metric_values(trial.run_id, "loss")
        expected = [(trial.params["x"] - 0.25) ** 2 + (2 - s) * 0.1 for s in range(3)]
        assert values == pytest.approx(expected)
        assert trial.score == pytest.approx(min(expected))
        run = tracker.client.get_run(trial.run_id)
        assert run.data.tags["mlflow.parentRunId"] == record.parent_run_id
        assert run.info.status == "FINISHED"
        assert run.data.params["c"] == trial.params["c"]
    assert not list(tmp_path.rglob("pwned*")) and not list(Path(record.trials[0].workdir).rglob("pwned*"))
    best = min(record.trials, key=lambda t: t.score)
    parent = tracker.client.get_run(record.parent_run_id)
    assert parent.data.tags["best_child_run_id"] == best.run_id
    assert float(parent.data.tags["score"]) == pytest.approx(best.score)


def test_autolog_script_logs_into_its_trial_run(tmp_path: Path) -> None:
    script = """
    import sys, mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    mlflow.autolog(log_models=False, log_datasets=False, silent=True)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(C=float(sys.argv[1]), max_iter=200).fit(X, y)
    """
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.C}}"},
            "search_space": {"C": {"type": "choice", "values": [0.5]}},
            # as in Azure's LightGBM example, the primary metric is one that autolog itself logs
            "objective": {"goal": "maximize", "primary_metric": "training_accuracy_score"},
            "limits": {"max_total_trials": 1, "max_concurrent_trials": 1},
        },
    )
    record = run_sweep(path, "autolog-e2e")
    trial = record.trials[0]
    assert trial.status == "Completed" and trial.score is not None and trial.score > 0.9
    run = Tracker().client.get_run(trial.run_id)
    assert "training_f1_score" in run.data.metrics  # written by autolog into the trial's own run
    assert run.data.params.get("C") == "0.5"


def test_concurrency_reaches_and_never_exceeds_the_limit(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    command = (
        f"echo start $(date +%s.%N) >> {log}; sleep 0.8; echo end $(date +%s.%N) >> {log}; "
        "python -c \"import mlflow; mlflow.log_metric('loss', ${{search_space.x}})\""
    )
    path = write_sweep(
        tmp_path,
        "",
        {
            "trial": {"command": command},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 8, "max_concurrent_trials": 3},
        },
    )
    record = run_sweep(path, "concurrency-e2e")
    assert [t.status for t in record.trials] == ["Completed"] * 8
    events = sorted(
        (float(ts), +1 if kind == "start" else -1) for kind, ts in (line.split() for line in log.read_text().splitlines())
    )
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    assert peak == 3


def _hang_script(pid_file: Path) -> str:
    return f"""
    import os, subprocess, time
    child = subprocess.Popen(["sleep", "300"])
    with open({str(pid_file)!r}, "a") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}\\n")
    import mlflow
    mlflow.log_metric("loss", 1.0)
    with open({str(pid_file) + ".logged"!r}, "a") as f:
        f.write("logged\\n")
    time.sleep(300)
    """


def test_trial_timeout_kills_hung_trials_with_their_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    path = write_sweep(
        tmp_path,
        _hang_script(pids),
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
        },
    )
    record = run_sweep(path, "trial-timeout-e2e", trial_timeout=6.0)
    assert [t.status for t in record.trials] == ["Canceled", "Canceled"]
    assert all("trial_timeout" in t.reason for t in record.trials)
    # on a loaded machine a trial may reach its timeout before it logged (``import mlflow`` alone can take 6 s)
    logged = Path(f"{pids}.logged")
    assert sum(t.score == 1.0 for t in record.trials) >= (len(logged.read_text().splitlines()) if logged.exists() else 0)
    for line in pids.read_text().splitlines():
        assert not any(alive(int(p)) for p in line.split())
    statuses = {Tracker().client.get_run(t.run_id).info.status for t in record.trials}
    assert statuses == {"KILLED"}


def test_sweep_timeout_cancels_the_sweep_and_its_trials(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    path = write_sweep(
        tmp_path,
        _hang_script(pids),
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 5, "max_concurrent_trials": 2},
        },
    )
    record = run_sweep(path, "sweep-timeout-e2e", timeout=6.0)
    assert record.status == "Canceled" and "timeout" in record.message
    assert len(record.trials) == 2 and all(t.status == "Canceled" for t in record.trials)
    for line in pids.read_text().splitlines():
        assert not any(alive(int(p)) for p in line.split())
    view = load_view("sweep-timeout-e2e")
    assert view.status == "Canceled" and {t.status for t in view.trials} == {"Canceled"}


def test_failures_and_missing_metrics_are_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    script = """
    import sys, mlflow
    mode = sys.argv[1]
    if mode == "crash":
        raise SystemExit(3)
    if mode == "other":
        mlflow.log_metric("val_loss", 0.5)
    else:
        mlflow.log_metric("loss", 0.25)
        mlflow.log_metric("loss", 0.75)
    """
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.mode}}"},
            "sampling_algorithm": "grid",
            # one at a time: the first wave is the first trial, which must not fail (Azure's early failure rule)
            "search_space": {"mode": {"type": "choice", "values": ["other", "crash", "ok"]}},
            "limits": {"max_total_trials": 10, "max_concurrent_trials": 1},
        },
    )
    record = run_sweep(path, "failures-e2e")
    other, crash, ok = record.trials  # grid: exhausted after 3 of 10
    assert crash.status == "Failed" and "exited with code 3" in crash.reason
    assert other.status == "Completed" and other.score is None
    assert "'loss'" in other.reason and "val_loss" in other.reason
    assert ok.status == "Completed" and ok.score == 0.25  # best, not last
    assert record.status == "Completed" and record.best_trial == ok.name
    assert Tracker().client.get_run(crash.run_id).info.status == "FAILED"


def test_run_cli_names_the_metric_when_no_trial_logged_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = "import mlflow; mlflow.log_metric('val_loss', 0.5); mlflow.log_metric('acc', 0.9)\n"
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 1, "max_concurrent_trials": 1},
        },
    )
    assert main(["run", str(path), "--name", "mismatch-e2e"]) == 1
    err = capsys.readouterr().err
    assert "'loss'" in err and "acc, val_loss" in err and "Traceback" not in err


def test_run_cli_json_summary_and_show_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = "import sys, mlflow; mlflow.log_metric('loss', float(sys.argv[1]))\n"
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "choice", "values": [3, 1, 2, 1]}},
            "sampling_algorithm": "grid",
            "limits": {"max_total_trials": 4, "max_concurrent_trials": 2},
        },
    )
    assert main(["run", str(path), "--name", "json-e2e", "--json", "--max-concurrent-trials", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["best_trial"] == "json-e2e_1"  # the tie with trial 3 goes to the earlier trial
    assert [t["score"] for t in summary["trials"]] == [1.0, 1.0, 2.0, 3.0]
    assert main(["show", "json-e2e", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == summary
    assert main(["run", str(path), "--name", "json-e2e"]) == 1  # the name is taken
    assert "already exists" in capsys.readouterr().err


def test_invalid_definition_stops_run_before_anything_starts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_sweep(
        tmp_path,
        "",
        {
            "trial": {"command": "python train.py ${{search_space.typo}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 1, "max_value": 0}},
        },
    )
    assert main(["run", str(path), "--name", "invalid-e2e"]) == 1
    err = capsys.readouterr().err
    assert "search_space.x: Uniform needs min_value < max_value (got 1 and 0)" in err
    assert "typo" in err
    assert not (Path(os.environ["AZSWEEP_HOME"]) / "sweeps" / "invalid-e2e").exists()


def test_remote_input_needs_a_local_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = "import sys, mlflow; mlflow.log_metric('loss', len(open(sys.argv[1]).read()))\n"
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{inputs.data}} ${{search_space.x}}"},
            "inputs": {"data": {"type": "uri_file", "path": "azureml:iris:1"}},
            "search_space": {"x": {"type": "choice", "values": [1]}},
            "limits": {"max_total_trials": 1, "max_concurrent_trials": 1},
        },
    )
    assert main(["run", str(path), "--name", "input-e2e"]) == 1
    assert "inputs.data" in (err := capsys.readouterr().err) and "--input data=PATH" in err
    data = tmp_path / "iris.csv"
    data.write_text("abcd")
    assert main(["run", str(path), "--name", "input-e2e", "--input", f"data={data}", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["best_score"] == 4.0


def test_ctrl_c_stops_every_trial_and_leaves_a_consistent_record(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    path = write_sweep(
        tmp_path,
        _hang_script(pids),
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 4, "max_concurrent_trials": 2},
        },
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "azsweep", "run", str(path), "--name", "ctrlc-e2e"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    logged = Path(f"{pids}.logged")  # each trial writes a line there once it logged its metric
    while (not logged.exists() or len(logged.read_text().splitlines()) < 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    for line in pids.read_text().splitlines():
        assert not any(alive(int(p)) for p in line.split())
    view = load_view("ctrlc-e2e")
    assert view.status == "Canceled"
    assert [t.status for t in view.trials] == ["Canceled", "Canceled"]
    assert view.best_score == 1.0
    tracker = Tracker()
    assert tracker.client.get_run(view.parent_run_id).info.status == "KILLED"


CURVES = {  # minimize; prescribed curves selected by a Choice
    "c0": [1.0, 0.8, 0.6, 0.5, 0.45, 0.4],
    "c1": [3.0, 2.0, 1.9, 1.5, 1.2, 0.1],
    "c2": [0.9, 1.0, 1.05, 1.0, 0.95, 0.85],
    "c3": [2.0, 1.5, 0.9, 0.8, 0.7, 0.6],
    "c4": [1.25, 1.125, 1.0, 1.0, 1.0, 1.0],
}
CURVE_SCRIPT = f"""
import sys, time, mlflow
curves = {CURVES!r}
for value in curves[sys.argv[1]]:
    mlflow.log_metric("loss", value)
    time.sleep(float(sys.argv[2]))
"""


def test_live_bandit_stops_exactly_the_hand_computed_trials_and_replay_agrees(tmp_path: Path) -> None:
    # Bandit, minimize, slack_amount 0.5, delay 2, one trial at a time. By hand:
    # c1 at k=2: best 2.0 > B(2) 0.8 + 0.5 -> stop.   c2: 0.9 <= 1.3, 1.1, 1.0, 0.95, 0.9 -> runs to its end.
    # c3 at k=2: best 1.5 > 1.3 -> stop.   c4: 1.125 <= 1.3; 1.0 <= 1.1; 1.0 <= 1.0 (not strictly worse);
    # at k=5 B(5) = 0.45: 1.0 > 0.95 -> stop.
    expected = {"c1": 2, "c3": 2, "c4": 5}
    doc = {
        "trial": {"command": "python train.py ${{search_space.curve}} 1.0"},  # a value a second
        "sampling_algorithm": "grid",
        "search_space": {"curve": {"type": "choice", "values": list(CURVES)}},
        "early_termination": {"type": "bandit", "slack_amount": 0.5, "evaluation_interval": 1, "delay_evaluation": 2},
        "limits": {"max_total_trials": 5, "max_concurrent_trials": 1},
    }
    live = run_sweep(write_sweep(tmp_path / "live", CURVE_SCRIPT, doc), "policy-live-e2e")
    stopped = {t.params["curve"]: t.stopped_at for t in live.trials if t.stopped_by}
    assert stopped == expected
    for t in live.trials:
        run = Tracker().client.get_run(t.run_id)
        if t.params["curve"] in expected:
            assert t.status == "Canceled" and run.info.status == "KILLED"
            assert run.data.tags["azsweep.stopped_by"] == "Bandit"
            assert run.data.tags["azsweep.stopped_at_interval"] == str(expected[t.params["curve"]])
            assert "B(" in run.data.tags["azsweep.reason"]
        else:
            assert t.status == "Completed" and run.info.status == "FINISHED"
    assert live.best_score == 0.4
    shown = {t.name: t.reason for t in load_view("policy-live-e2e").trials}
    assert all("stopped by the early-termination policy" in shown[t.name] for t in live.trials if t.stopped_by)

    # The same sweep without a policy (and without the waits), replayed with it, makes the same decisions.
    del doc["early_termination"]
    doc["trial"] = {"command": "python train.py ${{search_space.curve}} 0.01"}
    full = run_sweep(write_sweep(tmp_path / "full", CURVE_SCRIPT, doc), "policy-full-e2e")
    assert all(t.status == "Completed" and t.intervals == 6 for t in full.trials)
    from azsweep import replay

    result = replay("policy-full-e2e", {"type": "bandit", "slack_amount": 0.5, "evaluation_interval": 1, "delay_evaluation": 2})
    by_name = {t.name: t.params["curve"] for t in full.trials}
    assert {by_name[d.trial]: d.interval for d in result.decisions} == expected
    assert result.saved_intervals == 4 + 4 + 1 and result.total_intervals == 30
    # c1's late 0.1 is the best of all: Bandit stopped the eventual winner, and replay says so
    assert not result.best_survived and by_name[result.best_trial] == "c1"
    assert by_name[result.best_trial_with_policy] == "c0" and result.best_score_with_policy == live.best_score


def test_policy_reports_when_it_cannot_apply_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azsweep.runner import loop

    monkeypatch.setattr(loop, "POLICY_WAIT_NOTE_SECONDS", 1.0)
    script = "import time, mlflow; time.sleep(3); mlflow.log_metric('val_loss', 1.0)\n"
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "early_termination": {"type": "truncation_selection", "truncation_percentage": 50, "evaluation_interval": 1},
            "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
        },
    )
    record = run_sweep(path, "policy-wait-e2e")
    assert [t.status for t in record.trials] == ["Completed", "Completed"]  # never stopped without a value
    assert len(record.notes) == 2
    assert all("cannot be applied yet" in n and "'loss'" in n for n in record.notes)


OWN_PARAMS_SCRIPT = """
import argparse, mlflow
p = argparse.ArgumentParser()
for name in ("--C", "--n", "--style", "--unlogged"):
    p.add_argument(name)
a = p.parse_args()
if a.style == "own":  # the swept values, logged by the script with other text than the sampled '1.0' and '3'
    mlflow.log_param("C", int(float(a.C)))
    mlflow.log_param("n", float(a.n))
else:  # as mlflow.autolog() does: every parameter of the model in one batch
    mlflow.log_params({"C": int(float(a.C)), "n": float(a.n), "solver": "lbfgs", "max_iter": 100})
mlflow.log_metric("loss", float(a.C) + float(a.n))
"""


def test_a_script_that_logs_the_swept_values_itself_runs_and_the_sampled_values_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(
        tmp_path,
        OWN_PARAMS_SCRIPT,
        {
            "trial": {
                "command": "python train.py --C ${{search_space.C}} --n ${{search_space.n}} --style ${{search_space.style}} "
                "--unlogged ${{search_space.unlogged}}"
            },
            "sampling_algorithm": "grid",
            "search_space": {
                "C": {"type": "choice", "values": [1.0, 2.0]},
                "n": {"type": "choice", "values": [3]},
                "style": {"type": "choice", "values": ["own", "autolog"]},
                "unlogged": {"type": "choice", "values": ["u"]},
            },
            "limits": {"max_total_trials": 4, "max_concurrent_trials": 2},
        },
    )
    assert main(["run", str(path), "--name", "own-params-e2e", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "Completed" and [t["status"] for t in summary["trials"]] == ["Completed"] * 4
    view = load_view("own-params-e2e")
    client = Tracker().client
    for trial in view.trials:
        sampled = trial.params
        assert set(sampled) == {"C", "n", "style", "unlogged"} and sampled["C"] in ("1.0", "2.0") and sampled["n"] == "3"
        run = client.get_run(trial.run_id)
        assert {k: v for k, v in run.data.tags.items() if k.startswith("azsweep.param.")} == {
            f"azsweep.param.{k}": v for k, v in sampled.items()
        }
        # the script's own text wins; a sampled value the script did not log is logged when the trial ends
        assert run.data.params["C"] == sampled["C"][0] and run.data.params["n"] == "3.0"
        assert run.data.params["unlogged"] == "u" and run.data.params["style"] == sampled["style"]
        extra = {"solver": "lbfgs", "max_iter": "100"} if sampled["style"] == "autolog" else {}
        assert trial.logged_params == extra
    # show gives the sampled values, not the script's text
    assert main(["show", "own-params-e2e", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["trials"]
    assert sorted((t["params"]["C"], t["params"]["style"]) for t in shown) == [
        ("1.0", "autolog"),
        ("1.0", "own"),
        ("2.0", "autolog"),
        ("2.0", "own"),
    ]
    # the sampled values are searchable in MLflow
    found = client.search_runs([view.experiment_id], "tags.\"azsweep.param.C\" = '2.0'")
    assert sorted(r.info.run_id for r in found) == sorted(t.run_id for t in view.trials if t.params["C"] == "2.0")
    # a run recorded before the param tags: its params are the sampled values
    old = view.trials[0]
    for key in [k for k in client.get_run(old.run_id).data.tags if k.startswith("azsweep.param.")]:
        client.delete_tag(old.run_id, key)
    again = next(t for t in load_view("own-params-e2e").trials if t.run_id == old.run_id)
    assert again.params == client.get_run(old.run_id).data.params and again.logged_params == {}


CRASH_SCRIPT = """
import sys
print("loading data", flush=True)
raise ValueError(f"cannot read the data for x={sys.argv[1]}")
"""


def test_run_cli_stops_a_sweep_whose_first_wave_failed_and_names_each_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from azsweep.runner import prepare

    path = write_sweep(
        tmp_path,
        CRASH_SCRIPT,
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 6, "max_concurrent_trials": 2},
        },
    )
    assert main(["run", str(path), "--name", "first-wave-e2e"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "every trial of the first wave failed (the first 2" in err and "--keep-going" in err
    view = load_view("first-wave-e2e")
    assert view.status == "Failed" and view.best_trial is None
    assert [t.status for t in view.trials[:2]] == ["Failed", "Failed"]
    # stopped after the first wave: a trial started while it was failing (at most one) was canceled
    assert len(view.trials) <= 3 and all(t.status == "Canceled" for t in view.trials[2:])
    for trial in view.trials[:2]:
        assert f"{trial.name} (exited with code 1): ValueError: cannot read the data for x=" in err
        assert f"log: {trial.log}" in err and str(trial.log).endswith("user_logs/std_log.txt")
    assert Tracker().client.get_run(view.parent_run_id).info.status == "FAILED"

    # --keep-going runs every trial; a sweep in which no trial succeeded is Failed all the same
    assert main(["run", str(path), "--name", "keep-going-e2e", "--keep-going", "--max-total-trials", "4"]) == 1
    err = capsys.readouterr().err
    assert "no trial succeeded: all 4 trial(s) failed:" in err and "first wave" not in err
    view = load_view("keep-going-e2e")
    assert [t.status for t in view.trials] == ["Failed"] * 4 and view.status == "Failed"
    assert prepare(path, name="keep-going-e2e", resume=True).keep_going  # recorded: a resume keeps it
