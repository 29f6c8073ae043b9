"""``azsweep run --smoke``: a short run that fails when a trial crashes or never logs the primary metric."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from azsweep.cli import main
from azsweep.runner import Tracker, Trial
from azsweep.runner.process import last_line
from azsweep.runner.smoke import SMOKE_TRIAL_TIMEOUT, smoke_limits, smoke_problems, verdict
from azsweep.spec import Limits

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "samples" / "quickstart" / "sweep.yml"


# --- the limits and the verdict (pure) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "trial_timeout", "timeout"),
    [
        (Limits(2, 2), SMOKE_TRIAL_TIMEOUT, SMOKE_TRIAL_TIMEOUT + 60),  # no limits of its own: 300 s, one wave + 60 s
        (Limits(2, 2, timeout=600, trial_timeout=120), 120, 180),  # a shorter trial_timeout of its own is kept
        (Limits(2, 2, timeout=100, trial_timeout=120), 120, 100),  # ... and a shorter sweep timeout
        (Limits(2, 1, trial_timeout=3600), SMOKE_TRIAL_TIMEOUT, 2 * SMOKE_TRIAL_TIMEOUT + 60),  # two waves
    ],
)
def test_smoke_limits_are_short_and_bounded(limits: Limits, trial_timeout: float, timeout: float):
    short = smoke_limits(limits)
    assert (short.trial_timeout, short.timeout) == (trial_timeout, timeout)
    assert (short.max_total_trials, short.max_concurrent_trials) == (limits.max_total_trials, limits.max_concurrent_trials)


def _trial(
    tmp_path: Path,
    index: int,
    status: str,
    score: float | None = None,
    exit_code: int | None = 0,
    reason: str = "",
    log: str | None = None,
) -> Trial:
    workdir = tmp_path / f"t{index}"
    if log is not None:
        (workdir / "user_logs").mkdir(parents=True)
        (workdir / "user_logs" / "std_log.txt").write_text(log)
    return Trial(
        index=index,
        name=f"s_{index}",
        params={},
        run_id=f"run{index}",
        status=status,
        score=score,
        exit_code=exit_code,
        reason=reason,
        workdir=str(workdir),
    )


def test_each_problem_is_one_line_naming_the_crash_or_the_metric(tmp_path: Path):
    trials = [
        _trial(tmp_path, 0, "Completed", score=0.3),
        _trial(
            tmp_path,
            1,
            "Failed",
            exit_code=1,
            log="epoch 1\nTraceback (most recent call last):\n  ...\nValueError: could not convert string to float: 'x'\n",
        ),
        _trial(tmp_path, 2, "Completed", score=None),
        _trial(tmp_path, 3, "Canceled", score=None, exit_code=-15, reason="trial_timeout of 300 s reached"),
        _trial(tmp_path, 4, "Canceled", score=0.5, exit_code=-15, reason="trial_timeout of 300 s reached"),
        _trial(tmp_path, 5, "Failed", score=0.4, exit_code=-9),
    ]
    record = SimpleNamespace(trials=trials, message="", status="Completed")
    logged = {"run2": ["loss", "acc"], "run3": []}
    problems = smoke_problems(record, "val_loss", lambda run_id: logged.get(run_id, []), trial_timeout=300)
    assert len(problems) == 4 and all("\n" not in p for p in problems)
    assert problems[0].startswith(
        "smoke: trial s_1 crashed (exited with code 1) before logging 'val_loss': "
        "ValueError: could not convert string to float: 'x'; log: "
    )
    assert problems[1].startswith("smoke: trial s_2 never logged the primary metric 'val_loss' (it logged: loss, acc)")
    assert "N/A" in problems[1]
    assert problems[2].startswith(
        "smoke: trial s_3 never logged the primary metric 'val_loss' within the smoke "
        "trial_timeout of 300 s (it logged: no metrics)"
    )
    assert problems[3].startswith("smoke: trial s_5 crashed (killed by signal SIGKILL)")  # it logged, but crashed


def test_verdict_passes_when_every_trial_logged_the_metric(tmp_path: Path):
    record = SimpleNamespace(
        trials=[_trial(tmp_path, 0, "Completed", 0.25), _trial(tmp_path, 1, "Canceled", 0.5)],
        message="",
        status="Completed",
        best_score=0.25,
    )
    spec = SimpleNamespace(objective=SimpleNamespace(primary_metric="val_loss"), limits=Limits(2, 2, trial_timeout=300))
    passed, lines = verdict("sweep.yml", record, spec, lambda run_id: ["val_loss"])
    assert passed and lines == ["sweep.yml: smoke: ok: 2 trial(s) ran the command and logged 'val_loss' (best 0.25)"]


MLFLOW_CRASH = """\
starting
Traceback (most recent call last):
  File "train.py", line 4, in <module>
    mlflow.log_param("C", int(args.C))
  File "/venv/lib/python3.11/site-packages/mlflow/tracking/fluent.py", line 983, in log_param
    return MlflowClient().log_param(run_id, key, value, synchronous=synchronous)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
mlflow.exceptions.MlflowException: Changing param values is not allowed. Param with key='C' was already logged \
with value='1.0' for run ID='abc'. Attempted logging new value '1'.

The cause of this error is typically due to repeated calls
to an individual run_id event logging.

Incorrect Example:
---------------------------------------
with mlflow.start_run():
    mlflow.log_param("depth", 3)
---------------------------------------

Which will create a new nested run for each individual
model and prevent parameter key collisions within the
tracking store.
"""
CHAINED = """\
Traceback (most recent call last):
  File "train.py", line 2, in <module>
KeyError: 'lr'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "train.py", line 4, in <module>
    raise ValueError("no learning rate")
ValueError: no learning rate
Exception ignored in atexit callback: <function flush at 0x7f>
"""


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            MLFLOW_CRASH,
            "mlflow.exceptions.MlflowException: Changing param values is not allowed. Param with key='C' was already "
            "logged with value='1.0' for run ID='abc'. Attempted logging new value '1'.",
        ),
        (CHAINED, "ValueError: no learning rate"),  # the last traceback's exception, not what came after it
        ("loading\nerror: CUDA out of memory\n\n", "error: CUDA out of memory"),  # no traceback: the last line
        ("x" * 100_000 + "\nTraceback (most recent call last):\n  File 'a'\nOSError: disk full\n", "OSError: disk full"),
        ("Traceback (most recent call last):\n  File 'a'\n" + "x" * 400 + ": long\n", "x" * 300),  # cut to 300
        ("", ""),
    ],
)
def test_last_line_is_the_exception_of_a_python_crash(tmp_path: Path, log: str, expected: str):
    path = tmp_path / "std_log.txt"
    path.write_text(log)
    assert last_line(path) == expected
    assert last_line(tmp_path / "missing.txt") == ""


# --- end to end: real trial processes -----------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("azsweep_home")
    Tracker(f"sqlite:///{home / 'mlflow.db'}").experiment_id("warmup")
    return home


@pytest.fixture
def isolated(store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("AZSWEEP_HOME", str(store))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return store


def write_sweep(folder: Path, script: str, primary_metric: str = "val_loss") -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "train.py").write_text(textwrap.dedent(script))
    path = folder / "sweep.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "type": "sweep",
                "experiment_name": f"smoke-{folder.name}",
                "trial": {
                    "code": "src",
                    "command": "python train.py --lr ${{search_space.lr}}",
                    "environment": "azureml:env@latest",
                },
                "compute": "azureml:cpu-cluster",
                "sampling_algorithm": {"type": "random", "seed": 1},
                "search_space": {"lr": {"type": "uniform", "min_value": 0.01, "max_value": 0.9}},
                "objective": {"goal": "minimize", "primary_metric": primary_metric},
                "early_termination": {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 1},
                "limits": {"max_total_trials": 20, "max_concurrent_trials": 4, "timeout": 3600},
            },
            sort_keys=False,
        )
    )
    return path


@pytest.mark.slow
def test_smoke_passes_on_the_quickstart(isolated: Path, capsys: Any):
    assert main(["run", "--smoke", str(QUICKSTART), "--name", "smoke_quickstart"]) == 0
    err = capsys.readouterr().err
    assert "smoke run: 2 trial(s), 2 at once, trial_timeout 120 s, timeout 180 s, early_termination (" in err
    assert f"{QUICKSTART}: smoke: ok: 2 trial(s) ran the command and logged 'val_loss'" in err
    record = json.loads((isolated / "sweeps" / "smoke_quickstart" / "sweep.json").read_text())
    assert [t["status"] for t in record["trials"]] == ["Completed", "Completed"]  # no early termination in a smoke run
    overrides = json.loads((isolated / "sweeps" / "smoke_quickstart" / "definition.json").read_text())["overrides"]
    assert overrides == {
        "max_total_trials": 2,
        "max_concurrent_trials": 2,
        "smoke": True,
        "trial_timeout": 120.0,
        "timeout": 180.0,
    }


@pytest.mark.slow
def test_smoke_fails_naming_the_crash(isolated: Path, tmp_path: Path, capsys: Any):
    path = write_sweep(
        tmp_path / "crash",
        """
        import sys
        lr = float(sys.argv[2])
        print("loading data", flush=True)
        raise RuntimeError(f"CUDA not available (lr={lr})")
    """,
    )
    assert main(["run", "--smoke", str(path)]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if ": error: smoke:" in line]
    assert len(lines) == 2
    for line in lines:
        assert "crashed (exited with code 1) before logging 'val_loss': RuntimeError: CUDA not available" in line
        assert line.rstrip().endswith("user_logs/std_log.txt")


@pytest.mark.slow
def test_smoke_fails_naming_the_metric_that_was_never_logged(isolated: Path, tmp_path: Path, capsys: Any):
    path = write_sweep(
        tmp_path / "metric",
        """
        import sys, mlflow
        lr = float(sys.argv[2])
        for step in range(3):
            mlflow.log_metric("validation_loss", lr / (step + 1), step=step)
    """,
    )
    assert main(["run", "--smoke", str(path), "--max-total-trials", "1"]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if ": error: smoke:" in line]
    assert len(lines) == 1
    assert "never logged the primary metric 'val_loss' (it logged: validation_loss)" in lines[0]


# --- resume of a smoke run: every override the first start had ---------------------------------


def test_a_resumed_smoke_run_keeps_every_smoke_override(isolated: Path, tmp_path: Path):
    from azsweep.runner import prepare

    path = write_sweep(tmp_path / "resume", "print('never run')\n")
    first = prepare(path, name="smoke_resume_unit", smoke=True)
    first.write_definition()
    assert first.spec.policy is None and first.spec.limits.trial_timeout == SMOKE_TRIAL_TIMEOUT
    resumed = prepare(path, name="smoke_resume_unit", resume=True)
    assert resumed.resume and resumed.smoke
    assert resumed.spec.limits == first.spec.limits  # 2 trials, 2 at once, smoke trial_timeout and timeout
    assert resumed.spec.policy is None  # the sweep's bandit stays off
    assert resumed.spec.search_space == first.spec.search_space and resumed.spec.trial == first.spec.trial


@pytest.mark.slow
def test_an_interrupted_smoke_run_resumed_runs_exactly_what_it_started_with(isolated: Path, tmp_path: Path):
    """The sweep's bandit (slack 0.1) would stop every trial but the best at its first interval; a smoke
    run switches it off, and so must the resume of an interrupted smoke run."""
    import signal
    import subprocess
    import sys
    import time

    started = tmp_path / "started"
    path = write_sweep(
        tmp_path / "interrupted",
        f"""
        import sys, time, mlflow
        lr = float(sys.argv[2])
        open({str(started)!r}, "a").write("x\\n")
        for step in range(3):
            mlflow.log_metric("val_loss", lr * 10 + step, step=step)
            time.sleep(0.5)
    """,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "azsweep", "run", "--smoke", str(path), "--name", "smoke_resume"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert main(["run", str(path), "--name", "smoke_resume", "--resume"]) == 0
    record = json.loads((isolated / "sweeps" / "smoke_resume" / "sweep.json").read_text())
    assert record["max_total_trials"] == 2 and record["max_concurrent_trials"] == 2
    assert [t["status"] for t in record["trials"]] == ["Completed", "Completed"]  # the bandit stayed off
    assert all(t["stopped_by"] is None and t["intervals"] == 3 for t in record["trials"])
    assert {t["attempt"] for t in record["trials"]} == {2}  # both were interrupted, then run again
