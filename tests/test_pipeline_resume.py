"""A local pipeline stopped and continued: interrupted (SIGTERM of ``azsweep run``, or its driver killed) while its
sweep step runs, then resumed; a command step interrupted, run again under a new job name; a failed pipeline resumed
after its cause is fixed; a resume refused (a changed definition, a pipeline still running);
``LocalClient.jobs.cancel`` of a running pipeline and of one step's job.

The pipeline is ``test_pipeline_run``'s (two command steps feed a sweep step, whose best trial feeds a last step),
with scripts that count their runs in ``runs.txt`` and sweep trials (x >= 3) that wait for a ``go`` file, so the
sweep step is caught running with two trials completed and two running. Real processes, the real MLflow store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_pipeline_run import write_pipeline

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.runner import Settings
from azsweep.runner.journal import Journal
from azsweep.runner.pipeline import PipelineRecord, StepRecord, load_pipeline, pipeline_file, run_pipeline
from azsweep.runner.process import process_start_time
from azsweep.runner.record import SweepRecord

COUNTED = {
    "src/prep_a.py": """\
import argparse, pathlib, time
p = argparse.ArgumentParser(); p.add_argument("--raw"); p.add_argument("--greeting"); p.add_argument("--out")
a = p.parse_args()
with open({runs!r}, "a") as f:
    f.write("prep_a\\n")
if pathlib.Path({blocking_a!r}).exists():
    pathlib.Path({folder!r}, "waiting-a").touch()
    while not pathlib.Path({go!r}).exists():
        time.sleep(0.1)
text = pathlib.Path(a.raw).read_text().strip()
pathlib.Path(a.out, "a.txt").write_text(f"{{a.greeting}} {{text}}")
""",
    "src/prep_b.py": """\
import argparse, pathlib, sys
p = argparse.ArgumentParser(); p.add_argument("--offset"); p.add_argument("--out"); p.add_argument("--fail", default="no")
a = p.parse_args()
with open({runs!r}, "a") as f:
    f.write("prep_b\\n")
if pathlib.Path({fail!r}).exists():
    sys.exit("prep_b: asked to fail")
pathlib.Path(a.out, "b.txt").write_text(a.offset)
""",
    "src/tune.py": """\
import argparse, os, pathlib, time, mlflow
p = argparse.ArgumentParser()
p.add_argument("--a"); p.add_argument("--b"); p.add_argument("--x", type=int); p.add_argument("--model")
a = p.parse_args()
with open({runs!r}, "a") as f:
    f.write(f"tune {{a.x}}\\n")
if a.x >= 3 and pathlib.Path({blocking!r}).exists():
    pathlib.Path({folder!r}, f"waiting-{{a.x}}").touch()
    while not pathlib.Path({go!r}).exists():
        time.sleep(0.1)
offset = int(pathlib.Path(a.b, "b.txt").read_text())
mlflow.log_metric("loss", float((a.x - offset) ** 2))
text = pathlib.Path(a.a, "a.txt").read_text()
pathlib.Path(a.model, "model.txt").write_text(f"x={{a.x}} sweep_env={{os.environ.get('AZUREML_SWEEP_x')}} a={{text}}")
""",
}


def counted_pipeline(folder: Path, *, blocking: bool = False, blocking_a: bool = False, failing: bool = False) -> Path:
    """``write_pipeline``'s pipeline whose scripts count their runs in ``runs.txt``; with ``blocking``, the trials
    x >= 3 wait for ``go`` (each says so with ``waiting-<x>``); with ``blocking_a``, prep_a waits for ``go`` (and
    says so with ``waiting-a``); with ``failing``, prep_b fails until ``fail-b`` is removed."""
    path = write_pipeline(folder)
    names = {
        "runs": str(folder / "runs.txt"),
        "fail": str(folder / "fail-b"),
        "blocking": str(folder / "blocking"),
        "blocking_a": str(folder / "blocking-a"),
        "go": str(folder / "go"),
        "folder": str(folder),
    }
    for name, text in COUNTED.items():
        (folder / name).write_text(text.format(**names))
    if blocking:
        (folder / "blocking").touch()
    if blocking_a:
        (folder / "blocking-a").touch()
    if failing:
        (folder / "fail-b").touch()
    return path


def runs(folder: Path) -> list[str]:
    return (folder / "runs.txt").read_text().splitlines()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def sweep_caught_running(folder: Path) -> bool:
    """Two trials completed and the two after them started, waiting for ``go``."""
    return (folder / "waiting-3").exists() and (folder / "waiting-4").exists()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "driver-killed"])
def test_a_pipeline_interrupted_in_its_sweep_step_resumes_keeping_its_finished_steps_and_trials(
    tmp_path: Path, sig: signal.Signals
) -> None:
    path = counted_pipeline(tmp_path, blocking=True)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    env = {**os.environ, "AZSWEEP_HOME": str(settings.home)}
    env.pop("MLFLOW_TRACKING_URI", None)

    def azsweep(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "azsweep", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
        )

    driver = subprocess.Popen(
        [sys.executable, "-m", "azsweep", "run", str(path), "--name", "p"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: sweep_caught_running(tmp_path) or driver.poll() is not None, "the sweep step's trials 2 and 3")
        assert driver.poll() is None, driver.communicate()[1]
        driver.send_signal(sig)
        _, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    stopped = load_pipeline("p", settings)
    assert stopped is not None
    assert [(s.name, s.status) for s in stopped.steps][:2] == [("prep_a", "Completed"), ("prep_b", "Completed")]
    if sig == signal.SIGTERM:  # stopped as Ctrl-C stops it, and told how to continue
        assert driver.returncode == 130, err
        assert f"continue with: azsweep run {path} --name p --resume" in err
        assert stopped.status == "Canceled" and stopped.interrupted and stopped.message == "terminated (SIGTERM)"
        assert [s.status for s in stopped.steps][2:] == ["Canceled", "Canceled"]
        assert stopped.step("report").message == "not run: the pipeline was interrupted"
    else:  # nothing recorded the stop: the record says Running, its driver gone
        assert stopped.status == "Running" and [s.status for s in stopped.steps][2:] == ["Running", "NotStarted"]
    sweep = SweepRecord.load(settings.folder("p_tune"))
    assert sweep is not None and sweep.status.value == ("Canceled" if sig == signal.SIGTERM else "Running")
    finished = {t.name: t.run_id for t in sweep.trials if t.status.value == "Completed"}
    assert sorted(finished) == ["p_tune_0", "p_tune_1"]

    (tmp_path / "go").touch()
    done = azsweep("run", str(path), "--name", "p", "--resume")
    assert done.returncode == 0, done.stderr
    assert "step prep_a: Completed (kept: local job p_prep_a)" in done.stderr
    assert "step tune (sweep): running as local job p_tune" in done.stderr
    record = load_pipeline("p", settings)
    assert record is not None and record.status == "Completed" and not record.interrupted, record.message
    assert record.run_id == stopped.run_id  # the same pipeline, continued
    for name in ("prep_a", "prep_b"):  # kept as they were: not run again
        assert record.step(name) == stopped.step(name)
    assert [s.job for s in record.steps] == ["p_prep_a", "p_prep_b", "p_tune", "p_report"]
    count = runs(tmp_path)
    assert count.count("prep_a") == 1 and count.count("prep_b") == 1
    assert count.count("tune 1") == 1 and count.count("tune 2") == 1  # the completed trials were kept
    assert count.count("tune 3") == 2 and count.count("tune 5") == 1  # the interrupted one ran again, then the rest
    resumed = SweepRecord.load(settings.folder("p_tune"))
    assert resumed is not None and len(resumed.trials) == 5
    assert {t.name: t.run_id for t in resumed.trials if t.name in finished} == finished
    assert record.step("tune").best_trial == "p_tune_2"
    result = Path(record.step("report").outputs["result"]) / "report.txt"
    assert result.read_text() == "report of x=3 sweep_env=3 a=hello world"  # the best trial's output reached it

    from mlflow.tracking import MlflowClient

    assert MlflowClient(settings.tracking_uri).get_run(record.run_id).info.status == "FINISHED"

    again = azsweep("run", str(path), "--name", "p", "--resume")
    assert again.returncode == 0, again.stderr
    assert "pipeline p has already finished; nothing to resume" in again.stderr
    assert runs(tmp_path) == count and load_pipeline("p", settings) == record


@pytest.mark.slow
def test_a_command_step_interrupted_runs_again_under_a_new_job_name(tmp_path: Path) -> None:
    path = counted_pipeline(tmp_path, blocking_a=True)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    env = {**os.environ, "AZSWEEP_HOME": str(settings.home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "azsweep", "run", str(path), "--name", "c", "--max-total-trials", "1"]

    def prep_b_completed() -> bool:
        record = load_pipeline("c", settings)
        return record is not None and record.step("prep_b").status == "Completed"

    driver = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (tmp_path / "waiting-a").exists() or driver.poll() is not None, "prep_a to start")
        # prep_b, which does not read from prep_a, runs beside it: caught once it has completed
        wait_for(lambda: prep_b_completed() or driver.poll() is not None, "prep_b to complete beside prep_a")
        driver.send_signal(signal.SIGTERM)
        _, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 130, err
    stopped = load_pipeline("c", settings)
    assert stopped is not None and stopped.interrupted
    assert stopped.step("prep_a").status == "Canceled" and stopped.step("prep_a").message == "terminated (SIGTERM)"
    assert [s.status for s in stopped.steps][1:] == ["Completed", "Canceled", "Canceled"]

    (tmp_path / "go").touch()
    done = subprocess.run(
        [*command[:-2], "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
    )  # --max-total-trials 1 left out: the pipeline keeps what it started with
    assert done.returncode == 0, done.stderr
    record = load_pipeline("c", settings)
    assert record is not None and record.status == "Completed", record.message
    prep_a = record.step("prep_a")
    assert prep_a.job == "c_prep_a-2" and prep_a.earlier_jobs == ["c_prep_a"]
    assert "step prep_a (command): running as local job c_prep_a-2" in done.stderr
    earlier = SweepRecord.load(settings.folder("c_prep_a"))
    assert earlier is not None and earlier.status.value == "Canceled"  # the interrupted job, as it ended
    assert record.step("prep_b") == stopped.step("prep_b") and runs(tmp_path).count("prep_b") == 1  # kept
    assert [s.job for s in record.steps][1:] == ["c_prep_b", "c_tune", "c_report"]  # never started: their own names
    tune = SweepRecord.load(settings.folder("c_tune"))
    assert tune is not None and len(tune.trials) == 1
    report = Path(record.step("report").outputs["result"]) / "report.txt"
    assert report.read_text() == "report of x=1 sweep_env=1 a=hello world"  # prep_a's new output reached tune


@pytest.mark.slow
def test_resuming_a_failed_pipeline_runs_its_failed_step_again_under_a_new_job_name(tmp_path: Path) -> None:
    path = counted_pipeline(tmp_path, failing=True)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    # a resume of a name that does not exist starts it; its overrides are recorded for the resume
    first = run_pipeline(path, settings=settings, name="f", resume=True, max_total_trials=3)
    assert first.status == "Failed" and first.step("prep_b").status == "Failed"
    assert [s.status for s in first.steps] == ["Completed", "Failed", "Canceled", "Canceled"]

    (tmp_path / "fail-b").unlink()  # the cause fixed
    events: list[tuple[str, str]] = []
    record = run_pipeline(path, settings=settings, name="f", resume=True, on_step=lambda k, _, s: events.append((k, s.name)))
    assert record.status == "Completed", record.message
    assert events[0] == ("step_kept", "prep_a")
    assert [s for k, s in events if k == "step_started"] == ["prep_b", "tune", "report"]
    prep_b = record.step("prep_b")
    assert prep_b.job == "f_prep_b-2" and prep_b.earlier_jobs == ["f_prep_b"]
    earlier = SweepRecord.load(settings.folder("f_prep_b"))
    assert earlier is not None and earlier.status.value == "Failed"  # the first job is kept, as it ended
    assert record.step("prep_a") == first.step("prep_a") and runs(tmp_path).count("prep_a") == 1
    tune = SweepRecord.load(settings.folder("f_tune"))
    assert tune is not None and len(tune.trials) == 3  # max_total_trials=3, as the pipeline started with
    assert Path(prep_b.outputs["b_out"]).parent.parent.name == "f_prep_b-2"
    report = Path(record.step("report").outputs["result"]) / "report.txt"
    assert report.read_text() == "report of x=3 sweep_env=3 a=hello world"


def recorded_pipeline(settings: Settings, path: Path, name: str, status: str, **fields: Any) -> PipelineRecord:
    """A pipeline record of ``path``'s steps, as a run of it would have left it (nothing runs)."""
    from azsweep.pipeline_definition import require_pipeline

    spec = require_pipeline(path).spec
    assert spec is not None
    steps = [
        StepRecord(name=s, kind=spec.steps[s].kind, job=f"{name}_{s}", upstream=spec.steps[s].upstream) for s in spec.order()
    ]
    record = PipelineRecord(
        name=name,
        status=status,
        experiment_name="own-pipeline",
        experiment_id="0",
        run_id="run",
        tracking_uri=settings.tracking_uri,
        source=str(path),
        steps=steps,
        **fields,
    )
    record.save(pipeline_file(settings, name))
    return record


def test_a_resume_with_other_steps_is_refused_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from azsweep.cli import main

    path = write_pipeline(tmp_path)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    recorded_pipeline(settings, path, "h", "Failed")
    text = path.read_text()
    path.write_text(text.replace("b_in: ${{parent.jobs.prep_b.outputs.b_out}}", "b_in: ${{parent.jobs.prep_a.outputs.a_out}}"))
    with pytest.raises(ArgumentError, match=r"^jobs\.tune\.inputs: read from prep_a, but in pipeline 'h' from prep_a, prep_b; "):
        run_pipeline(path, settings=settings, name="h", resume=True)

    path.write_text(text[: text.index("  report:")] + text[text.index("  tune:") :])  # the report step dropped
    monkeypatch.setenv("AZSWEEP_HOME", str(settings.home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    capsys.readouterr()
    assert main(["run", str(path), "--name", "h", "--resume"]) == 1
    said = capsys.readouterr().err.strip()
    assert said.startswith("azsweep: error: jobs: the definition drops report, so its steps are not those pipeline 'h' ran")
    assert said.endswith("or choose another --name to run this one") and "\n" not in said
    assert not settings.sweeps.exists()  # nothing ran


def test_a_pipeline_still_running_is_not_resumed_and_cancel_asks_its_driver(tmp_path: Path) -> None:
    from azsweep import LocalClient

    path = write_pipeline(tmp_path)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        wait_for(lambda: process_start_time(driver.pid) is not None, "the stand-in driver")
        recorded_pipeline(settings, path, "live", "Running", pid=driver.pid, driver_start=process_start_time(driver.pid))
        with pytest.raises(AzsweepError, match=rf"^pipeline 'live' is still running \(driver pid {driver.pid}\)"):
            run_pipeline(path, settings=settings, name="live", resume=True)
        client = LocalClient(home=settings.home, tracking_uri=settings.tracking_uri)
        assert client.jobs.create_or_update(str(path), name="live").status == "Running"  # that pipeline, as it is
        client.jobs.cancel("live")
        requests = Journal(pipeline_file(settings, "live").with_name("cancel.jsonl")).read()
        assert [(r["event"], r["job"]) for r in requests] == [("cancel_requested", None)]
        assert driver.poll() is None  # asked through its record, never signalled
    finally:
        driver.kill()
        driver.wait()
    client.jobs.cancel("live")  # its driver is gone: nothing more is asked
    assert len(Journal(pipeline_file(settings, "live").with_name("cancel.jsonl")).read()) == 1
    assert not settings.sweeps.exists()


@pytest.mark.slow
@pytest.mark.parametrize("target", ["lc", "lc_tune"], ids=["the-pipeline", "its-sweep-step"])
def test_local_client_cancels_a_running_pipeline(tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    from azure.ai.ml import load_job

    from azsweep import LocalClient
    from azsweep.local_client.common import Done

    path = counted_pipeline(tmp_path, blocking=True)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    client = LocalClient(home=settings.home, tracking_uri=settings.tracking_uri)
    try:
        client.jobs.create_or_update(load_job(path), name="lc")
        wait_for(lambda: sweep_caught_running(tmp_path), "the sweep step's trials 2 and 3")
        if target == "lc":
            assert isinstance(client.jobs.begin_cancel(target), Done)
        else:
            client.jobs.cancel(target)  # the step's job: run by a thread of this process, which is not signalled
        client.jobs.stream("lc")
    finally:
        (tmp_path / "go").touch()  # whatever happened, nothing is left waiting
        for thread in threading.enumerate():
            if thread.name == "azsweep-pipeline":
                thread.join(timeout=120)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("pipeline lc: Canceled")
    record = load_pipeline("lc", settings)
    assert record is not None and record.status == "Canceled" and not record.interrupted
    assert [s.status for s in record.steps] == ["Completed", "Completed", "Canceled", "Canceled"]
    tune, report = record.step("tune"), record.step("report")
    assert tune.message == "canceled by jobs.cancel()"
    if target == "lc":
        assert record.message == "canceled by jobs.cancel()"
        assert report.message == "not run: the pipeline was canceled"
    else:
        assert record.message == "step tune: canceled by jobs.cancel()"
        assert report.message == "not run: step tune ended Canceled"
    sweep = SweepRecord.load(settings.folder("lc_tune"))
    assert sweep is not None and sweep.status.value == "Canceled"
    assert [t.status.value for t in sweep.trials] == ["Completed", "Completed", "Canceled", "Canceled"]
    ended = [e for e in Journal(settings.folder("lc_tune").journal).read() if e["event"] == "sweep_ended"]
    assert ended[-1]["resumable"] is False  # a cancel, not an interruption
    assert not (settings.sweeps / "lc_report").exists()

    client.jobs.cancel("lc")  # it has ended: nothing changes
    assert load_pipeline("lc", settings) == record
    assert json.loads(pipeline_file(settings, "lc").read_text())["status"] == "Canceled"
