"""The driver's failure path is as solid as its Ctrl-C path, and a resume never silently starts over.

Once, any unexpected error inside the driver left the sweep and its MLflow runs Running for ever and the
trial processes orphaned; a deleted or empty journal made ``--resume`` start a new sweep (a new parent
run, the old one left Running); a corrupt ``sweep.json`` gave a bare ``JSONDecodeError``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _e2e import alive, run_sweep, write_sweep
from _fakes import FakeClock, FakeLauncher, MemoryStore, Script

from azsweep.errors import AzsweepError
from azsweep.runner import Settings, Tracker
from azsweep.runner.command_job import CommandJobRunner
from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.journal import Journal
from azsweep.runner.layout import SweepFolder
from azsweep.runner.lifecycle import start
from azsweep.runner.loop import SweepRunner
from azsweep.runner.prepare import prepare
from azsweep.runner.record import JobStatus, RecordedDefinition, SweepRecord
from azsweep.runner.recovery import recover
from azsweep.spec import CommandSpec, SweepSpec, job_spec_from_rest, spec_from_rest


def make_spec(values: list[Any], concurrent: int = 2) -> SweepSpec:
    return spec_from_rest(
        {
            "searchSpace": {"x": ["choice", [values]]},
            "samplingAlgorithm": {"samplingAlgorithmType": "grid"},
            "objective": {"goal": "minimize", "primaryMetric": "loss"},
            "limits": {"maxTotalTrials": len(values), "maxConcurrentTrials": concurrent},
            "trial": {"command": "python train.py --x ${{search_space.x}}"},
            "experimentName": "failures",
        }
    )


class BrokenStore(MemoryStore):
    """A store whose ``method`` raises on its ``nth`` call (from then on while ``down``)."""

    def __init__(self, method: str, nth: int) -> None:
        super().__init__()
        self.method, self.nth, self.calls, self.down = method, nth, 0, True

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if name != super().__getattribute__("method"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.down and self.calls >= self.nth:
                raise RuntimeError("the store went away\nsecond line of the error")
            return attribute(*args, **kwargs)

        return call


def run(
    folder: SweepFolder,
    store: MemoryStore,
    clock: FakeClock,
    behaviour: Callable[[int, dict[str, str]], Script],
    spec: SweepSpec,
    *,
    resume: bool = False,
) -> tuple[SweepRunner, FakeLauncher]:
    launcher = FakeLauncher(clock, store, behaviour)
    state = recover(spec, folder, tracker=store, launcher=launcher) if resume else None
    state = state or start(spec, folder, store)
    runner = SweepRunner(spec, state, folder=folder, inputs=ResolvedInputs({}, {}), tracker=store, launcher=launcher, clock=clock)
    return runner, launcher


def test_a_store_error_mid_sweep_stops_the_trials_closes_everything_failed_and_propagates(tmp_path: Path) -> None:
    folder, clock = SweepFolder(tmp_path / "home", "s"), FakeClock()
    store = BrokenStore("log_missing_params", nth=1)  # at the first trial's end; the second is still running
    behaviour = {0: Script([1.0]), 1: Script([2.0], hang=True, ignore_sigterm=True)}
    runner, launcher = run(folder, store, clock, lambda i, _: behaviour[i], make_spec([1, 2]))
    with pytest.raises(RuntimeError, match="the store went away"):
        runner.run()
    hung = launcher.processes[1]
    assert hung.terminated and hung.code == -signal.SIGKILL and not launcher.running  # no trial left running
    record = SweepRecord.load(folder)
    assert record is not None and record.status == JobStatus.FAILED
    reason = "the sweep driver failed: RuntimeError: the store went away"
    assert record.message == reason  # one line
    # the first trial completed (the error came while its end was recorded): its run is closed as it ended
    assert [t.status for t in record.trials] == [JobStatus.COMPLETED, JobStatus.FAILED]
    assert record.trials[1].reason == reason
    assert store.runs[record.parent_run_id].status == "FAILED"
    assert store.runs[record.parent_run_id].tags["azsweep.message"] == reason
    assert [store.runs[t.run_id].status for t in record.trials] == ["FINISHED", "FAILED"]
    assert launcher.marked_stopped == [("AZSWEEP_SWEEP_NAME=s", f"AZSWEEP_HOME={folder.home}")]
    last = Journal(folder.journal).read()[-1]
    assert last["event"] == "sweep_ended" and last["status"] == "Failed" and last["resumable"] is True

    # the cause fixed, a resume runs the stopped trials again and ends the sweep as usual
    store.down = False
    resumed, _ = run(folder, store, clock, lambda i, p: Script([float(p["x"])]), make_spec([1, 2]), resume=True)
    final = resumed.run()
    assert final.status == JobStatus.COMPLETED and [t.attempt for t in final.trials] == [1, 2]


def test_an_error_starting_a_trial_closes_its_run_and_the_sweep_failed(tmp_path: Path) -> None:
    folder, clock, store = SweepFolder(tmp_path / "home", "s"), FakeClock(), MemoryStore()

    def behaviour(index: int, _: dict[str, str]) -> Script:
        if index == 1:
            raise ValueError("illegal environment variable name")
        return Script([1.0], hang=True)

    runner, launcher = run(folder, store, clock, behaviour, make_spec([1, 2]))
    with pytest.raises(ValueError):
        runner.run()
    assert launcher.processes[0].terminated and not launcher.running
    record = SweepRecord.load(folder)
    assert record is not None and record.status == JobStatus.FAILED
    assert record.message == "the sweep driver failed: ValueError: illegal environment variable name"
    assert all(store.runs[r].status == "FAILED" for r in store.runs)  # the parent, the running trial, the half-started one


def test_a_command_job_whose_store_fails_is_stopped_and_closed_failed(tmp_path: Path) -> None:
    spec = job_spec_from_rest(
        {"jobType": "Command", "command": "python train.py", "experimentName": "failures"}, base_dir=tmp_path, source="job"
    )
    assert isinstance(spec, CommandSpec)
    clock = FakeClock()
    store = BrokenStore("log_artifact_folder", nth=1)  # when the job's files are uploaded at its end
    folder = SweepFolder(tmp_path / "home", "job")
    launcher = FakeLauncher(clock, store, lambda i, _: Script([1.0], files={"outputs/a.txt": "a"}))
    job = CommandJobRunner(spec, folder=folder, inputs=ResolvedInputs({}, {}), tracker=store, launcher=launcher, clock=clock)
    job.run()  # an upload that fails is a note, never a failed job
    store2 = BrokenStore("finish", nth=1)
    folder2 = SweepFolder(tmp_path / "home", "job2")
    launcher2 = FakeLauncher(clock, store2, lambda i, _: Script([1.0], hang=True))
    job2 = CommandJobRunner(spec, folder=folder2, inputs=ResolvedInputs({}, {}), tracker=store2, launcher=launcher2, clock=clock)
    job2.cancel("stop")  # its end is recorded through finish(), which fails
    with pytest.raises(RuntimeError):
        job2.run()
    assert launcher2.processes[0].terminated and not launcher2.running
    record = SweepRecord.load(folder2)
    assert record is not None and record.status == JobStatus.FAILED
    assert record.message == "the job's driver failed: RuntimeError: the store went away"
    assert launcher2.marked_stopped and launcher2.marked_stopped[-1][1] == f"AZSWEEP_HOME={folder2.home}"


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda p: p.unlink(), "journal.jsonl: missing, although the sweep started"),
        (lambda p: p.write_text(""), "journal.jsonl: empty"),
        (lambda p: p.write_text('{"event": "sweep_sta\n'), "journal.jsonl: unreadable: it records no start of the sweep"),
    ],
    ids=["deleted", "empty", "garbled"],
)
def test_resume_with_a_missing_or_unreadable_journal_refuses_and_says_how_to_start_over(
    tmp_path: Path, damage: Callable[[Path], None], said: str
) -> None:
    folder, store, spec = SweepFolder(tmp_path / "home", "s"), MemoryStore(), make_spec([1, 2])
    start(spec, folder, store)
    runs = dict(store.runs)
    damage(folder.journal)
    with pytest.raises(AzsweepError) as caught:
        recover(spec, folder, tracker=store, launcher=FakeLauncher(FakeClock(), store, lambda i, _: Script([1.0])))
    message = str(caught.value)
    assert said in message and "Start over under another name, or remove" in message and "\n" not in message
    assert store.runs == runs  # no new parent run


def test_a_sweep_that_never_got_to_start_starts_afresh(tmp_path: Path) -> None:
    folder, store = SweepFolder(tmp_path / "home", "s"), MemoryStore()
    folder.root.mkdir(parents=True)  # definition.json written, the driver stopped before the sweep started
    assert (
        recover(make_spec([1]), folder, tracker=store, launcher=FakeLauncher(FakeClock(), store, lambda i, _: Script([]))) is None
    )


def test_resume_with_a_missing_definition_refuses_naming_the_file(sweep_yaml: Callable[..., Path], tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", tracking_uri="memory://")
    settings.folder("s").root.mkdir(parents=True)
    with pytest.raises(AzsweepError, match=r"definition\.json: missing, so the sweep 's' cannot be resumed"):
        prepare(sweep_yaml(), settings=settings, name="s", resume=True)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"name": "s"}', '{"name": "s", "status": "Bogus"}'])
def test_a_corrupt_sweep_record_is_one_line_naming_the_file(tmp_path: Path, text: str) -> None:
    folder = SweepFolder(tmp_path, "s")
    folder.root.mkdir(parents=True)
    folder.record.write_text(text)
    with pytest.raises(AzsweepError, match=rf"^{folder.record}: not a (readable )?sweep record") as caught:
        SweepRecord.load(folder)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"props": {}}', '{"props": {"limits": 3}}'])
def test_a_corrupt_recorded_definition_is_one_line_naming_the_file(tmp_path: Path, text: str) -> None:
    folder = SweepFolder(tmp_path, "s")
    folder.root.mkdir(parents=True)
    folder.definition.write_text(text)
    with pytest.raises(AzsweepError, match=rf"^{folder.definition}: not a ") as caught:
        RecordedDefinition.load(folder)
    assert "\n" not in str(caught.value)


BREAKS_THE_JOURNAL = """
import os, sys, time, mlflow
x = int(sys.argv[sys.argv.index("--x") + 1])
with open(f"pid-{x}.txt", "w") as f:
    f.write(str(os.getpid()))
if x == 0:  # the driver's journal becomes unwritable (as on a full or read-only disk)
    journal = os.path.join(os.environ["AZSWEEP_HOME"], "sweeps", os.environ["AZSWEEP_SWEEP_NAME"], "journal.jsonl")
    os.remove(journal)
    os.mkdir(journal)
    mlflow.log_metric("loss", 1.0)
else:
    time.sleep(120)
"""


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_an_unwritable_journal_ends_the_sweep_failed_with_its_trials_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("AZSWEEP_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    path = write_sweep(
        tmp_path,
        BREAKS_THE_JOURNAL,
        {
            "trial": {"command": "python train.py --x ${{search_space.x}}"},
            "search_space": {"x": {"type": "choice", "values": [0, 1]}},
            "sampling_algorithm": "grid",
            "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
        },
    )
    with pytest.raises(IsADirectoryError):
        run_sweep(path, "broken")
    folder = Settings.resolve().folder("broken")
    record = SweepRecord.load(folder)
    assert record is not None and record.status == JobStatus.FAILED
    assert record.message.startswith("the sweep driver failed: IsADirectoryError: ")
    assert record.message.endswith(f"'{folder.journal}'")  # names the file
    sleeper = int((Path(record.trials[1].workdir) / "code" / "pid-1.txt").read_text())
    deadline = time.monotonic() + 10
    while alive(sleeper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(sleeper)
    tracker = Tracker()
    assert tracker.run_state(record.parent_run_id).status == "FAILED"
    # trial 0 completed (the journal failed as its end was recorded); trial 1 was stopped by the failure
    assert [t.status for t in record.trials] == [JobStatus.COMPLETED, JobStatus.FAILED]
    assert [tracker.run_state(t.run_id).status for t in record.trials] == ["FINISHED", "FAILED"]
