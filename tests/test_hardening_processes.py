"""Every process azsweep ends is identified by more than its sweep name, and nothing a trial starts outlives the sweep.

Once, ``--resume`` of sweep ``x`` under one home ended the running trials of sweep ``x`` under another,
``jobs.cancel`` sent SIGTERM to whatever process had the pid recorded in ``sweep.json``, and a daemon a
trial started (double fork, setsid, SIGTERM ignored) lived on after the sweep ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _e2e import alive, run_sweep, write_sweep
from _fakes import MemoryStore

from azsweep.local_client import LocalClient
from azsweep.runner import Tracker
from azsweep.runner.journal import Journal
from azsweep.runner.layout import SweepFolder
from azsweep.runner.lifecycle import start
from azsweep.runner.process import ProcessLauncher, _signal_if_same, marked_processes, process_start_time
from azsweep.runner.record import JobStatus, SweepRecord
from azsweep.runner.recovery import recover
from azsweep.spec import spec_from_rest

SPEC = spec_from_rest(
    {
        "searchSpace": {"x": ["choice", [[1, 2]]]},
        "samplingAlgorithm": {"samplingAlgorithmType": "grid"},
        "objective": {"goal": "minimize", "primaryMetric": "loss"},
        "limits": {"maxTotalTrials": 2, "maxConcurrentTrials": 1},
        "trial": {"command": "python train.py"},
        "experimentName": "homes",
    }
)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, each in its own session; all killed at the end."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for p in processes:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def trial_like(started: list[subprocess.Popen[bytes]], sweep: str, home: Path) -> subprocess.Popen[bytes]:
    """A process as a trial of ``sweep`` in ``home`` runs: its own process group, the trial's markers."""
    env = {**os.environ, "AZSWEEP_SWEEP_NAME": sweep, "AZSWEEP_HOME": str(home)}
    p = subprocess.Popen(["sleep", "120"], env=env, start_new_session=True)
    started.append(p)
    deadline = time.monotonic() + 10
    while p.pid not in {pid for members in marked_processes(f"AZSWEEP_HOME={home}").values() for pid in members}:
        assert time.monotonic() < deadline, "the process never showed its environment"
        time.sleep(0.01)
    return p


@pytest.mark.timeout(60)
def test_resuming_a_sweep_leaves_the_trials_of_the_same_name_in_another_home_running(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    mine, other = tmp_path / "home-a", tmp_path / "home-b"
    folder = SweepFolder(mine, "x")
    store = MemoryStore()
    start(SPEC, folder, store)  # a sweep x in home-a whose driver then died
    left_behind = trial_like(started, "x", mine)
    bystander = trial_like(started, "x", other)  # sweep x of another project, running
    recover(SPEC, folder, tracker=store, launcher=ProcessLauncher())  # --resume of x in home-a
    assert left_behind.wait(timeout=30) == -signal.SIGTERM
    assert bystander.poll() is None


def test_a_process_group_whose_marked_process_is_gone_is_not_signalled(started: list[subprocess.Popen[bytes]]) -> None:
    # a group found earlier, whose process has gone and whose id now belongs to another process: the recorded
    # start time differs, so no signal is sent (this process stands for the one that reused the id)
    p = subprocess.Popen(["sleep", "120"], start_new_session=True)
    started.append(p)
    recorded = process_start_time(p.pid)
    assert recorded is not None
    _signal_if_same(p.pid, {p.pid: str(int(recorded) - 1)}, signal.SIGKILL)
    time.sleep(0.2)
    assert p.poll() is None
    _signal_if_same(p.pid, {p.pid: recorded}, signal.SIGKILL)  # the same process: signalled
    assert p.wait(timeout=10) == -signal.SIGKILL


def recorded_running(client: LocalClient, name: str, pid: int, start_time: str | None) -> None:
    folder = client.settings.folder(name)
    folder.root.mkdir(parents=True)
    Journal(folder.journal).append("sweep_started", driver_pid=pid, driver_start=start_time, seed=1)
    SweepRecord(
        name=name,
        status=JobStatus.RUNNING,
        experiment_name="e",
        experiment_id="1",
        parent_run_id="p",
        tracking_uri="",
        primary_metric="loss",
        goal="minimize",
        algorithm="grid",
        seed=None,
        max_total_trials=1,
        max_concurrent_trials=1,
        pid=pid,
    ).save(folder)


def test_cancel_signals_the_recorded_driver_only_while_it_is_the_same_process(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    client = LocalClient(home=tmp_path / "home")
    reused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    started.append(reused)
    start_time = process_start_time(reused.pid)
    assert start_time is not None
    # the journal's driver started at another time: this process only reuses its pid
    recorded_running(client, "old", reused.pid, str(int(start_time) - 1))
    client.jobs.cancel("old")
    time.sleep(0.2)
    assert reused.poll() is None
    recorded_running(client, "live", reused.pid, start_time)  # the driver itself
    client.jobs.cancel("live")
    assert reused.wait(timeout=30) == -signal.SIGTERM


DAEMON_SCRIPT = """
import os, signal, sys, time, mlflow
pid_file = os.path.abspath("outputs/daemon.pid")
os.makedirs("outputs", exist_ok=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    time.sleep(300)
    os._exit(0)
os.wait()
while not os.path.exists(pid_file):
    time.sleep(0.01)
mlflow.log_metric("loss", 1.0)
"""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("AZSWEEP_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    return home


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_daemon_a_trial_started_is_ended_when_the_sweep_ends(tmp_path: Path, store: Path) -> None:
    path = write_sweep(
        tmp_path,
        DAEMON_SCRIPT,
        {
            "trial": {"command": "python train.py --x ${{search_space.x}}"},
            "search_space": {"x": {"type": "choice", "values": [1]}},
            "limits": {"max_total_trials": 1, "max_concurrent_trials": 1},
        },
    )
    record = run_sweep(path, "daemons")
    daemon = int((Path(record.trials[0].workdir) / "code" / "outputs" / "daemon.pid").read_text())
    try:
        assert record.status == JobStatus.COMPLETED
        deadline = time.monotonic() + 10  # init reaps it
        while alive(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(daemon)
        assert any(n.startswith("ended 1 process group(s) the trials left running") for n in record.notes)
        assert Tracker().run_state(record.parent_run_id).status == "FINISHED"
    finally:
        if alive(daemon):
            os.kill(daemon, signal.SIGKILL)
