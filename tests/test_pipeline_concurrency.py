"""A local pipeline's independent steps run at once, as on Azure.

Each step's script touches a marker named after it in ``marks/`` and records the markers it saw as it started; steps
that wait for another's marker (bounded, 60 s) can only both complete if they overlap, so no test measures time.
Covered: two independent steps at once and the step reading both started after them; ``max_concurrent_steps=1``
(one after another); a step failing while an independent one runs (that one runs to its end, the failed one's
dependents are not run); ``jobs.cancel`` of the pipeline and of one step while two run; steps whose trials take
GPUs one at a time, beside a step that takes none; Ctrl-C and SIGTERM of ``azsweep run`` with a command step and
a sweep step running, then ``--resume``. Real processes, the real MLflow store.
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

from azsweep.errors import ArgumentError
from azsweep.runner import Settings
from azsweep.runner.pipeline import load_pipeline, run_pipeline
from azsweep.runner.record import SweepRecord

STEP_PY = """\
import argparse, json, pathlib, sys, time
MARKS, HOME = pathlib.Path({marks!r}), pathlib.Path({home!r})
p = argparse.ArgumentParser()
p.add_argument("--me"); p.add_argument("--x", default=""); p.add_argument("--out")
p.add_argument("--wait-for", default="-"); p.add_argument("--until-failed", default="-")
p.add_argument("--go", default="no"); p.add_argument("--fail", default="no")
a = p.parse_args()
me = a.me + (f"-{{a.x}}" if a.x else "")
saw = sorted(m.name for m in MARKS.iterdir() if m.name not in ("go", "runs.txt"))
(MARKS / me).touch()
with open(MARKS / "runs.txt", "a") as f:
    f.write(me + "\\n")

def wait(what, done):
    deadline = time.monotonic() + 60
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"{{me}}: timed out waiting for {{what}}")
        time.sleep(0.05)

def status(step):
    for record in HOME.glob("pipelines/*/pipeline.json"):
        try:
            steps = json.loads(record.read_text())["steps"]
        except ValueError:
            continue
        return next(s["status"] for s in steps if s["name"] == step)

for other in [] if a.wait_for == "-" else a.wait_for.split(","):
    wait(f"marker {{other}}", (MARKS / other).exists)
if a.until_failed != "-":
    wait(f"step {{a.until_failed}} to fail", lambda: status(a.until_failed) == "Failed")
if a.go == "yes":
    wait("go", (MARKS / "go").exists)
if a.fail == "yes":
    sys.exit(f"{{me}}: asked to fail")
if a.x:
    import mlflow
    mlflow.log_metric("loss", float(a.x))
pathlib.Path(a.out, "result.txt").write_text(json.dumps({{"me": me, "saw": saw}}))
"""

JOIN_PY = """\
import argparse, json, pathlib
MARKS = pathlib.Path({marks!r})
p = argparse.ArgumentParser(); p.add_argument("--me"); p.add_argument("--a"); p.add_argument("--b"); p.add_argument("--out")
a = p.parse_args()
read = [json.loads(pathlib.Path(folder, "result.txt").read_text())["me"] for folder in (a.a, a.b)]  # both exist
(MARKS / a.me).touch()
with open(MARKS / "runs.txt", "a") as f:
    f.write(a.me + "\\n")
pathlib.Path(a.out, "result.txt").write_text(json.dumps({{"me": a.me, "read": read}}))
"""

STEP_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: step
inputs:
  me: {type: string}
  wait_for: {type: string, default: "-"}
  until_failed: {type: string, default: "-"}
  go: {type: string, default: "no"}
  fail: {type: string, default: "no"}
outputs:
  out: {type: uri_folder}
code: ./src
environment: azureml:local-env@latest
command: >-
  python step.py --me ${{inputs.me}} --wait-for ${{inputs.wait_for}} --until-failed ${{inputs.until_failed}}
  --go ${{inputs.go}} --fail ${{inputs.fail}} --out ${{outputs.out}}
"""

TRIAL_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: trial
inputs:
  me: {type: string}
  x: {type: integer, default: 0}
  go: {type: string, default: "no"}
outputs:
  out: {type: uri_folder}
code: ./src
environment: azureml:local-env@latest
command: python step.py --me ${{inputs.me}} --x ${{inputs.x}} --go ${{inputs.go}} --out ${{outputs.out}}
"""

JOIN_YML = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: join
inputs:
  me: {type: string}
  a: {type: uri_folder}
  b: {type: uri_folder}
outputs:
  out: {type: uri_folder}
code: ./src
environment: azureml:local-env@latest
command: python join.py --me ${{inputs.me}} --a ${{inputs.a}} --b ${{inputs.b}} --out ${{outputs.out}}
"""

HEADER = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: concurrency
settings:
  default_compute: azureml:cpu-cluster
"""


def command_step(name: str, **inputs: str) -> str:
    lines = [f"  {name}:", "    type: command", "    component: ./step.yml", "    inputs:", f"      me: {name}"]
    lines += [f'      {key}: "{value}"' for key, value in inputs.items()]
    return "\n".join(lines) + "\n"


def sweep_step(name: str, go: str = "no") -> str:
    """A sweep of two trials (``<name>-1``, ``<name>-2``) that run at once."""
    return f"""\
  {name}:
    type: sweep
    trial: ./trial.yml
    inputs:
      me: {name}
      go: "{go}"
    search_space:
      x: {{type: choice, values: [1, 2]}}
    sampling_algorithm: grid
    objective: {{goal: minimize, primary_metric: loss}}
    limits: {{max_total_trials: 2, max_concurrent_trials: 2}}
    outputs:
      out:
"""


def join_step(name: str, a: str, b: str) -> str:
    return f"""\
  {name}:
    type: command
    component: ./join.yml
    inputs:
      me: {name}
      a: ${{{{parent.jobs.{a}.outputs.out}}}}
      b: ${{{{parent.jobs.{b}.outputs.out}}}}
"""


def write(folder: Path, *steps: str, settings: str = "") -> Path:
    """A pipeline of ``steps`` (``command_step``, ``sweep_step``, ``join_step``) with its components and scripts;
    the markers go to ``folder / "marks"``, the local jobs to ``folder / ".azsweep"``."""
    marks, home = folder / "marks", folder / ".azsweep"
    marks.mkdir(parents=True, exist_ok=True)
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "step.py").write_text(STEP_PY.format(marks=str(marks), home=str(home)))
    (folder / "src" / "join.py").write_text(JOIN_PY.format(marks=str(marks)))
    (folder / "step.yml").write_text(STEP_YML)
    (folder / "trial.yml").write_text(TRIAL_YML)
    (folder / "join.yml").write_text(JOIN_YML)
    path = folder / "pipeline.yml"
    path.write_text(HEADER + settings + "jobs:\n" + "".join(steps))
    return path


def result(record: Any, step: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(record.step(step).outputs["out"]) / "result.txt").read_text())
    return data


def runs(folder: Path) -> list[str]:
    return (folder / "marks" / "runs.txt").read_text().splitlines()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def status_of(settings: Settings, pipeline: str, step: str) -> str | None:
    record = load_pipeline(pipeline, settings)
    return record.step(step).status if record is not None else None


def marked(folder: Path, *names: str) -> bool:
    return all((folder / "marks" / name).exists() for name in names)


def test_max_concurrent_steps_must_be_a_whole_number_of_at_least_one(tmp_path: Path) -> None:
    path = write(tmp_path, command_step("left"))
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ArgumentError, match=r"^max_concurrent_steps: must be an integer >= 1 \(got "):
            run_pipeline(path, settings=settings, name="bad", max_concurrent_steps=bad)  # type: ignore[arg-type]
    assert not settings.sweeps.exists() and not (settings.home / "pipelines").exists()  # nothing ran


@pytest.mark.slow
def test_independent_steps_run_at_once_and_the_step_reading_both_starts_after_them(tmp_path: Path) -> None:
    # left and right each wait for the other's marker: both complete only if they run at the same time
    path = write(
        tmp_path,
        join_step("both", "left", "right"),  # written first: run after the steps it reads from
        command_step("left", wait_for="right"),
        command_step("right", wait_for="left"),
    )
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    events: list[tuple[str, str]] = []
    callers: set[str] = set()

    def on_step(kind: str, _: Any, step: Any) -> None:
        events.append((kind, step.name))
        callers.add(threading.current_thread().name)

    record = run_pipeline(path, settings=settings, name="p", on_step=on_step)
    assert record.status == "Completed", record.message
    assert [s.name for s in record.steps] == ["left", "right", "both"]
    assert events[:2] == [("step_started", "left"), ("step_started", "right")]  # in the pipeline's order
    assert events[-2:] == [("step_started", "both"), ("step_ended", "both")]  # after both ended
    assert len(callers) > 1  # a step's end is said from its own thread
    both, left, right = record.step("both"), record.step("left"), record.step("right")
    assert both.started is not None and left.ended is not None and right.ended is not None
    assert both.started >= max(left.ended, right.ended)
    assert result(record, "both") == {"me": "both", "read": ["left", "right"]}  # both upstream outputs were there
    assert load_pipeline("p", settings) == record


@pytest.mark.slow
def test_max_concurrent_steps_1_runs_independent_steps_one_after_another(tmp_path: Path) -> None:
    path = write(tmp_path, command_step("left"), command_step("right"), join_step("both", "left", "right"))
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    record = run_pipeline(path, settings=settings, name="one", max_concurrent_steps=1)
    assert record.status == "Completed", record.message
    assert result(record, "left")["saw"] == []
    assert result(record, "right")["saw"] == ["left"]  # started once left had ended
    left, right = record.step("left"), record.step("right")
    assert right.started is not None and left.ended is not None and right.started >= left.ended


@pytest.mark.slow
@pytest.mark.parametrize("keep_going", [False, True], ids=["stops", "continue-on-step-failure"])
def test_a_step_failing_while_an_independent_one_runs(tmp_path: Path, keep_going: bool) -> None:
    # left runs until the pipeline has recorded right as Failed, then completes; after_left reads left only
    path = write(
        tmp_path,
        command_step("left", until_failed="right"),
        command_step("right", wait_for="left", fail="yes"),
        join_step("both", "left", "right"),
        join_step("after_left", "left", "left"),
        settings="  continue_on_step_failure: true\n" if keep_going else "",
    )
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    record = run_pipeline(path, settings=settings, name="f")
    assert record.status == "Failed"
    assert record.message.startswith("step right failed: ") and "right: asked to fail" in record.message
    statuses = {s.name: s.status for s in record.steps}
    assert statuses["left"] == "Completed" and statuses["right"] == "Failed"  # the running step ran to its end
    assert "right: asked to fail" in Path(record.step("right").log).read_text()
    assert record.step("both").status == "Canceled"
    assert record.step("both").message == "not run: step right ended Failed"
    assert not settings.folder("f_both").exists()
    after = record.step("after_left")
    if keep_going:  # only the failed step's dependents are not run
        assert after.status == "Completed" and result(record, "after_left")["read"] == ["left", "left"]
    else:  # every step not started yet is not run, as Azure cancels them
        assert after.status == "Canceled"
        assert after.message == "not run: step right ended Failed (settings.continue_on_step_failure is false)"
        assert not settings.folder("f_after_left").exists()


@pytest.mark.slow
@pytest.mark.parametrize("target", ["lc", "lc_left"], ids=["the-pipeline", "one-step"])
def test_local_client_cancels_while_two_steps_run(tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    from azure.ai.ml import load_job

    from azsweep import LocalClient

    path = write(
        tmp_path,
        command_step("left", go="yes"),
        sweep_step("right", go="yes"),
        join_step("both", "left", "right"),
    )
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    client = LocalClient(home=settings.home, tracking_uri=settings.tracking_uri)
    try:
        client.jobs.create_or_update(load_job(path), name="lc")
        wait_for(lambda: marked(tmp_path, "left", "right-1", "right-2"), "left and right's two trials")
        client.jobs.cancel(target)
        if target == "lc_left":  # that step only: right runs on to its end
            wait_for(lambda: status_of(settings, "lc", "left") == "Canceled", "left canceled")
            (tmp_path / "marks" / "go").touch()
        client.jobs.stream("lc")
    finally:
        (tmp_path / "marks" / "go").touch()  # whatever happened, nothing is left waiting
        for thread in threading.enumerate():
            if thread.name == "azsweep-pipeline":
                thread.join(timeout=120)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("pipeline lc: Canceled")
    record = load_pipeline("lc", settings)
    assert record is not None and record.status == "Canceled" and not record.interrupted
    left, right, both = record.step("left"), record.step("right"), record.step("both")
    assert left.status == "Canceled" and left.message == "canceled by jobs.cancel()"
    assert not (Path(settings.folder("lc_left").trial("lc_left").output("out")) / "result.txt").exists()  # stopped
    sweep = SweepRecord.load(settings.folder("lc_right"))
    assert sweep is not None
    if target == "lc":  # every running step stopped
        assert record.message == "canceled by jobs.cancel()"
        assert right.status == "Canceled" and right.message == "canceled by jobs.cancel()"
        assert sweep.status.value == "Canceled" and [t.status.value for t in sweep.trials] == ["Canceled", "Canceled"]
        assert both.message == "not run: the pipeline was canceled"
    else:
        assert record.message == "step left: canceled by jobs.cancel()"
        assert right.status == "Completed" and sweep.status.value == "Completed"
        assert both.message == "not run: step left ended Canceled"
    assert both.status == "Canceled" and not settings.folder("lc_both").exists()


@pytest.mark.slow
def test_steps_whose_trials_take_gpus_run_one_at_a_time_beside_a_step_that_takes_none(tmp_path: Path) -> None:
    # gpu_a and gpu_b ask for GPU compute; cpu (on the CPU cluster) waits for both their markers, which it only
    # sees if it runs beside them
    gpu = "    compute: azureml:gpu-cluster\n"
    path = write(
        tmp_path,
        command_step("gpu_a") + gpu,
        command_step("gpu_b") + gpu,
        command_step("cpu", wait_for="gpu_a,gpu_b"),
    )
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    record = run_pipeline(path, settings=settings, name="g", gpus=["0"])  # one GPU, named: none needs to exist
    assert record.status == "Completed", record.message
    assert "gpu_b" not in result(record, "gpu_a")["saw"]
    assert "gpu_a" in result(record, "gpu_b")["saw"]  # started once gpu_a had ended
    gpu_a, gpu_b = record.step("gpu_a"), record.step("gpu_b")
    assert gpu_b.started is not None and gpu_a.ended is not None and gpu_b.started >= gpu_a.ended
    for name, expected in (("gpu_a", ["0"]), ("gpu_b", ["0"]), ("cpu", [])):
        job = SweepRecord.load(settings.folder(f"g_{name}"))
        assert job is not None and job.trials[0].gpus == expected  # the GPU each step's trial held


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_azsweep_run_interrupted_with_two_steps_running_resumes(tmp_path: Path, sig: signal.Signals) -> None:
    path = write(
        tmp_path,
        command_step("left", go="yes"),
        sweep_step("right", go="yes"),
        join_step("both", "left", "right"),
    )
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    env = {**os.environ, "AZSWEEP_HOME": str(settings.home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    # as ``azsweep``, with Ctrl-C raising KeyboardInterrupt even where this process was started with it ignored
    azsweep = [
        sys.executable,
        "-c",
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from azsweep.cli import main; sys.exit(main(sys.argv[1:]))",
    ]
    driver = subprocess.Popen(
        [*azsweep, "run", str(path), "--name", "c"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: marked(tmp_path, "left", "right-1", "right-2") or driver.poll() is not None, "two steps running")
        assert driver.poll() is None, driver.communicate()[1]
        driver.send_signal(sig)
        _, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 130, err
    assert f"continue with: azsweep run {path} --name c --resume" in err
    reason = "interrupted (Ctrl-C)" if sig == signal.SIGINT else "terminated (SIGTERM)"
    stopped = load_pipeline("c", settings)
    assert stopped is not None and stopped.status == "Canceled" and stopped.interrupted and stopped.message == reason
    assert [(s.name, s.status, s.message) for s in stopped.steps] == [
        ("left", "Canceled", reason),
        ("right", "Canceled", reason),
        ("both", "Canceled", "not run: the pipeline was interrupted"),
    ]
    sweep = SweepRecord.load(settings.folder("c_right"))
    assert sweep is not None and sweep.status.value == "Canceled" and len(sweep.trials) == 2
    assert runs(tmp_path).count("left") == 1

    (tmp_path / "marks" / "go").touch()
    done = subprocess.run(
        [*azsweep, "run", str(path), "--name", "c", "--resume"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    record = load_pipeline("c", settings)
    assert record is not None
    assert record.status == "Completed" and not record.interrupted, record.message
    assert record.run_id == stopped.run_id  # the same pipeline, continued
    left, right = record.step("left"), record.step("right")
    assert left.job == "c_left-2" and left.earlier_jobs == ["c_left"]  # a command job runs again, as a new job
    assert right.job == "c_right" and right.earlier_jobs == []  # the interrupted sweep continued under its name
    assert "step right (sweep): running as local job c_right" in done.stderr
    resumed = SweepRecord.load(settings.folder("c_right"))
    assert resumed is not None and resumed.status.value == "Completed" and len(resumed.trials) == 2
    assert right.best_trial == "c_right_0"  # x = 1: the lower loss
    assert result(record, "both") == {"me": "both", "read": ["left", "right-1"]}
    count = runs(tmp_path)
    assert count.count("left") == 2 and count.count("right-1") == 2 and count.count("right-2") == 2
    assert count.count("both") == 1
