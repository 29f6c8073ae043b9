"""Fault tests: a driver killed at random moments and resumed, misbehaving trials, a busy store,
two sweeps in one store, code changed mid-sweep. Real processes, a real MLflow store; bounded in time."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _e2e import run_sweep, sweep_processes, write_sweep

from azsweep.definition import require_spec
from azsweep.report import load_view, view_json
from azsweep.runner import Tracker
from azsweep.runner.journal import Journal
from azsweep.samplers import make_sampler

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("AZSWEEP_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    home.mkdir()
    Tracker().experiment_id("warmup")
    monkeypatch.chdir(tmp_path)
    return home


def azsweep(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "azsweep", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


SLOW_TRIAL = """
import os, sys, time, mlflow
x = float(sys.argv[1])
mlflow.log_metric("loss", x + 1.0)
time.sleep(1.0)
mlflow.log_metric("loss", x)
print("seed", os.environ["AZSWEEP_TRIAL_SEED"])
"""


def test_driver_killed_ten_times_then_resumed_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    total = 8
    path = write_sweep(
        tmp_path,
        SLOW_TRIAL,
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "sampling_algorithm": {"type": "random", "seed": 11},
            "search_space": {
                "x": {"type": "uniform", "min_value": 0, "max_value": 1},
                "k": {"type": "choice", "values": [1, 2, 3]},
            },
            "limits": {"max_total_trials": total, "max_concurrent_trials": 2},
        },
    )
    name = "crashy"
    journal = Journal(Path(os.environ["AZSWEEP_HOME"]) / "sweeps" / name / "journal.jsonl")
    delays = random.Random(3)
    kills = 0
    for _ in range(10):
        before = len(journal.read())
        proc = azsweep("run", str(path), "--name", name, "--resume", "--json")
        deadline = time.monotonic() + 60
        while len(journal.read()) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the driver is at work: from here on, kill it at a random moment
        time.sleep(delays.uniform(0.0, 3.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    final = azsweep("run", str(path), "--name", name, "--resume", "--json")
    out, err = final.communicate(timeout=240)
    assert final.returncode == 0, err
    assert kills == 10  # the driver really died mid-sweep, every time

    summary = json.loads(out)
    spec, _ = require_spec(path)
    expected = make_sampler(spec.algorithm, spec.search_space).ask([], total)  # an uninterrupted run's configurations
    by_index = {t["index"]: t for t in summary["trials"]}
    assert sorted(by_index) == list(range(total))  # no configuration lost or duplicated
    for index, config in enumerate(expected):
        recorded = by_index[index]
        assert recorded["status"] == "Completed"
        assert float(recorded["params"]["x"]) == config["x"] and int(recorded["params"]["k"]) == config["k"]
        assert recorded["score"] == pytest.approx(config["x"])
    assert not sweep_processes(name)  # no orphan process

    # MLflow and `azsweep show` agree; interrupted attempts are kept (KILLED), not deleted
    view = load_view(name)
    assert view_json(view)["trials"] == summary["trials"]
    client = Tracker().client
    children = client.search_runs(
        [client.get_experiment_by_name(view.experiment_name).experiment_id],
        f"tags.`mlflow.parentRunId` = '{view.parent_run_id}'",
        max_results=500,
    )
    interrupted = [r for r in children if r.data.tags.get("azsweep.status") == "Interrupted"]
    assert len(children) == total + len(interrupted) == total + view.interrupted_attempts
    assert all(r.info.status == "KILLED" for r in interrupted)
    assert client.get_run(view.parent_run_id).info.status == "FINISHED"
    # every line of the journal reads back, and the trial seeds depend only on the sweep seed and the index
    events = journal.read()
    # (a kill can land while a session is still closing the previous one's attempts, before "resumed")
    assert kills // 2 <= sum(e["event"] == "resumed" for e in events) <= kills
    closed = [e for e in events if e["event"] == "trial_interrupted" and e.get("run_id")]  # attempts that had a run
    assert len(closed) == len({e["run_id"] for e in closed}) == view.interrupted_attempts > 0
    seeds = {
        int(t["index"]): (Path(os.environ["AZSWEEP_HOME"]) / "sweeps" / name / "trials" / t["name"] / "user_logs" / "std_log.txt")
        .read_text()
        .split("seed ")[-1]
        .strip()
        for t in summary["trials"]
    }
    from azsweep.runner.loop import trial_seed

    assert seeds == {i: str(trial_seed(11, i)) for i in range(total)}


def test_resume_refuses_to_restart_a_name_without_resume_and_finishes_idempotently(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        "import sys, mlflow; mlflow.log_metric('loss', float(sys.argv[1]))\n",
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
        },
    )
    first = azsweep("run", str(path), "--name", "twice", "--json")
    out1, _ = first.communicate(timeout=120)
    again = azsweep("run", str(path), "--name", "twice")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 1 and "--resume" in err and "another --name" in err
    resumed = azsweep("run", str(path), "--name", "twice", "--resume", "--json")
    out2, err2 = resumed.communicate(timeout=60)
    assert resumed.returncode == 0 and "already finished" in err2
    assert json.loads(out2)["trials"] == json.loads(out1)["trials"]


def test_misbehaving_trials_never_take_the_sweep_down(tmp_path: Path) -> None:
    script = """
    import sys, mlflow
    mode = sys.argv[1]
    if mode == "nan":
        mlflow.log_metric("loss", float("nan"))
        mlflow.log_metric("loss", 0.5)
    elif mode == "inf":
        mlflow.log_metric("loss", float("inf"))
    elif mode == "string":
        mlflow.log_metric("loss", "not a number")
    elif mode == "flood":
        chunk = "x" * 1023 + "\\n"
        for _ in range(40 * 1024):
            sys.stdout.write(chunk)
        mlflow.log_metric("loss", 0.7)
    elif mode == "silent":
        pass
    """
    modes = ["nan", "inf", "string", "flood", "silent"]
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.mode}}"},
            "sampling_algorithm": "grid",
            "search_space": {"mode": {"type": "choice", "values": modes}},
            "limits": {"max_total_trials": 5, "max_concurrent_trials": 2},
        },
    )
    record = run_sweep(path, "misbehaving")
    by_mode = {t.params["mode"]: t for t in record.trials}
    assert by_mode["nan"].status == "Completed" and by_mode["nan"].score == 0.5  # NaN is ignored, not best
    # the store keeps inf as the largest float; a non-finite value is no score (it never wins)
    assert by_mode["inf"].status == "Completed" and by_mode["inf"].score is None
    assert by_mode["string"].status == "Failed"
    flood = by_mode["flood"]
    assert flood.status == "Completed" and flood.score == 0.7
    assert (Path(flood.workdir) / "user_logs" / "std_log.txt").stat().st_size >= 40 * 1024 * 1024
    assert by_mode["silent"].status == "Completed" and by_mode["silent"].score is None
    assert record.status == "Completed" and record.best_score == 0.5
    assert not math.isnan(record.best_score)


def test_a_briefly_locked_store_loses_nothing(tmp_path: Path) -> None:
    script = """
    import sys, time, mlflow
    for i in range(6):
        mlflow.log_metric("loss", float(sys.argv[1]) + i)
        time.sleep(0.3)
    """
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 4, "max_concurrent_trials": 2},
        },
    )
    db = Path(os.environ["AZSWEEP_HOME"]) / "mlflow.db"

    def hold_lock() -> None:
        time.sleep(3.0)
        connection = sqlite3.connect(db, timeout=30)
        connection.execute("BEGIN EXCLUSIVE")
        time.sleep(2.0)  # every writer and reader waits meanwhile
        connection.rollback()
        connection.close()

    locker = threading.Thread(target=hold_lock)
    locker.start()
    record = run_sweep(path, "locked")
    locker.join()
    assert [t.status for t in record.trials] == ["Completed"] * 4
    assert all(t.intervals == 6 for t in record.trials)


def test_two_sweeps_into_the_same_store_at_once(tmp_path: Path) -> None:
    script = "import sys, time, mlflow\nfor i in range(3):\n    mlflow.log_metric('loss', float(sys.argv[1]) + i)\n"
    paths = [
        write_sweep(
            tmp_path / f"s{i}",
            script,
            {
                "trial": {"command": "python train.py ${{search_space.x}}"},
                "sampling_algorithm": {"type": "random", "seed": i},
                "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
                "limits": {"max_total_trials": 3, "max_concurrent_trials": 2},
                "experiment_name": "shared-experiment",
            },
        )
        for i in range(2)
    ]
    procs = [azsweep("run", str(p), "--name", f"pair{i}", "--json") for i, p in enumerate(paths)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    for i in range(2):
        view = load_view(f"pair{i}")
        assert len(view.trials) == 3 and {t.status for t in view.trials} == {"Completed"}
        assert all(t.intervals == 3 for t in view.trials)
        assert all(t.name.startswith(f"pair{i}_") for t in view.trials)


def test_trials_keep_their_snapshot_when_the_code_changes_mid_sweep(tmp_path: Path) -> None:
    script = "import time, mlflow\nVERSION = 1\nmlflow.log_metric('loss', VERSION)\ntime.sleep(1.0)\n"
    path = write_sweep(
        tmp_path,
        script,
        {
            "trial": {"command": "python train.py ${{search_space.x}}"},
            "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
            "limits": {"max_total_trials": 3, "max_concurrent_trials": 1},
        },
    )
    proc = azsweep("run", str(path), "--name", "snapshot", "--json")
    journal = Journal(Path(os.environ["AZSWEEP_HOME"]) / "sweeps" / "snapshot" / "journal.jsonl")
    deadline = time.monotonic() + 60
    while not any(e["event"] == "trial_started" for e in journal.read()) and time.monotonic() < deadline:
        time.sleep(0.05)  # the sweep has started: its code snapshot is taken
    (tmp_path / "src" / "train.py").write_text(script.replace("VERSION = 1", "VERSION = 2"))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert [t["score"] for t in json.loads(out)["trials"]] == [1.0, 1.0, 1.0]
