"""Plain command jobs run locally: one process with a trial's machinery, recorded as Azure records a job.

The runner's own decisions (status, timeout, cancel) are tested through the loop's seams; everything
else end to end: ``LocalClient.jobs`` (create, stream, get, list, download, cancel) and ``azsweep run``
on a ``type: command`` YAML, through real processes and a real MLflow store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _fakes import FakeClock, FakeLauncher, MemoryStore, Script
from azure.ai.ml import Input, Output, command

from azsweep import LocalClient
from azsweep.errors import ArgumentError, AzsweepError, SweepFailed
from azsweep.runner.command_job import CommandJobRunner
from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.layout import SweepFolder
from azsweep.runner.record import JobStatus, SweepRecord
from azsweep.spec import CommandSpec, TrialSpec

# -- the runner, through its seams -------------------------------------------------------------------


def run_fake(tmp_path: Path, script: Script, *, timeout: float | None = None, cancel_at: float | None = None) -> tuple:
    clock, store = FakeClock(), MemoryStore()
    launcher = FakeLauncher(clock, store, lambda index, params: script)
    spec = CommandSpec(trial=TrialSpec(command="python train.py"), timeout=timeout, experiment_name="e", base_dir=tmp_path)
    folder = SweepFolder(tmp_path / "home", "job1")
    runner = CommandJobRunner(spec, folder=folder, inputs=ResolvedInputs({}, {}), tracker=store, launcher=launcher, clock=clock)
    if cancel_at is not None:
        clock.at(cancel_at, runner.cancel)
    record = runner.run()
    return record, store, launcher, folder


def test_a_command_job_is_one_top_level_run_recorded_as_a_command(tmp_path: Path) -> None:
    record, store, launcher, folder = run_fake(tmp_path, Script(values=[0.5, 0.4], metric="acc"))
    assert record.status == JobStatus.COMPLETED and record.type == "command" and record.message == ""
    (job,) = record.trials
    assert job.name == "job1" and job.run_id == record.parent_run_id and job.exit_code == 0
    run = store.runs[job.run_id]
    assert run.status == "FINISHED" and run.tags["azureml.runType"] == "command" and "mlflow.parentRunId" not in run.tags
    assert run.metrics["acc"] == [0.5, 0.4]
    assert len(store.runs) == 1  # no parent run, no child runs
    env = launcher.launched[0].env
    assert env["AZUREML_RUN_ID"] == "job1" and env["MLFLOW_RUN_ID"] == job.run_id and "AZUREML_SWEEP_lr" not in env
    assert SweepRecord.load(folder) == record  # the record on disk is the one returned


def test_a_failing_command_job_is_failed_with_its_last_log_line(tmp_path: Path) -> None:
    record, store, _, _ = run_fake(tmp_path, Script(exit_code=3, output="loading\nValueError: bad column 'x'\n"))
    assert record.status == JobStatus.FAILED
    assert record.message.startswith("job1 (exited with code 3): ValueError: bad column 'x'; log: ")
    assert record.message.endswith("/trials/job1/user_logs/std_log.txt")
    assert store.runs[record.parent_run_id].status == "FAILED"


def test_a_command_job_past_its_timeout_is_canceled(tmp_path: Path) -> None:
    record, store, launcher, _ = run_fake(tmp_path, Script(hang=True), timeout=5)
    assert record.status == JobStatus.CANCELED and "limits.timeout of 5 s" in record.message
    assert launcher.processes[0].terminated and store.runs[record.parent_run_id].status == "KILLED"


def test_a_canceled_command_job_stops_its_process(tmp_path: Path) -> None:
    record, _, launcher, _ = run_fake(tmp_path, Script(hang=True), cancel_at=2.0)
    assert record.status == JobStatus.CANCELED and record.message == "canceled by the user"
    assert launcher.processes[0].terminated


def test_sweep_only_overrides_are_refused_for_a_command_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azsweep.runner import prepare

    monkeypatch.chdir(tmp_path)
    job = command(command="python x.py", environment="env@latest")
    for argument, value in (("max_total_trials", 3), ("max_concurrent_trials", 2), ("smoke", True), ("keep_going", True)):
        with pytest.raises(ArgumentError, match=rf"^{argument}: applies to sweeps; <Command> is a command job, which runs once$"):
            prepare(job, **{argument: value})  # type: ignore[arg-type]


def test_a_command_job_with_an_undefined_reference_is_refused_naming_the_field(tmp_path: Path) -> None:
    from azsweep.errors import DefinitionError
    from azsweep.runner import prepare

    job = command(command="python x.py --lr ${{inputs.lr}}", environment="env@latest")
    with pytest.raises(DefinitionError) as caught:
        prepare(job)
    assert [p.path for p in caught.value.problems] == ["command"]
    assert str(caught.value) == "<Command>: error: command: ${{inputs.lr}} refers to an undefined input 'lr'"


# -- end to end: LocalClient.jobs ------------------------------------------------------------------

TRAIN = """
import argparse, os, mlflow
parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--lr", type=float)
parser.add_argument("--model-dir")
args = parser.parse_args()
rows = open(args.data).read().splitlines()
print(f"read {len(rows)} rows, lr={args.lr}")
mlflow.log_param("lr", args.lr)
mlflow.log_metric("accuracy", 0.5 + args.lr)
os.makedirs("outputs", exist_ok=True)
open("outputs/report.txt", "w").write("fine")
open(os.path.join(args.model_dir, "model.txt"), "w").write(os.environ["AZUREML_RUN_ID"])
if os.environ.get("FAIL"):
    raise SystemExit("FAIL was set: " + os.environ["FAIL"])
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / ".azsweep"))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(TRAIN)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n3,4\n")
    return tmp_path


def train_job(**extra: object) -> object:
    return command(
        code="./src",
        command="python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --model-dir ${{outputs.model}}",
        environment="AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest",
        inputs={"data": Input(type="uri_file", path="https://example.invalid/data.csv"), "lr": 0.25},
        outputs={"model": Output(type="uri_folder")},
        compute="cpu-cluster",
        experiment_name="command-jobs",
        **extra,
    )


@pytest.mark.slow
def test_a_command_job_runs_streams_and_downloads_like_on_azure(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ml_client = LocalClient(inputs={"data": "data.csv"})  # the public URL read offline: a local copy, by input name
    returned = ml_client.jobs.create_or_update(train_job())
    assert returned.type == "command" and returned.studio_url
    ml_client.jobs.stream(returned.name)
    out = capsys.readouterr().out
    assert f"RunId: {returned.name}" in out and "read 3 rows, lr=0.25" in out and "Status: Completed" in out

    job = ml_client.jobs.get(returned.name)
    assert job.status == "Completed" and job.type == "command" and job.experiment_name == "command-jobs"
    assert returned.name in [j.name for j in ml_client.jobs.list()]
    assert list(ml_client.jobs.list(parent_job_name=returned.name)) == []  # a command job has no child jobs

    ml_client.jobs.download(returned.name, download_path="dl", all=True)
    assert (project / "dl/artifacts/outputs/report.txt").read_text() == "fine"
    assert "read 3 rows" in (project / "dl/artifacts/user_logs/std_log.txt").read_text()
    assert (project / "dl/named-outputs/model/model.txt").read_text() == returned.name  # AZUREML_RUN_ID is the job

    from mlflow.tracking import MlflowClient

    run = MlflowClient(ml_client.tracking_uri).get_run(job.properties["mlflow.run_id"])
    assert run.data.params == {"lr": "0.25"} and run.data.metrics == {"accuracy": 0.75}
    assert run.info.status == "FINISHED" and run.data.tags["azureml.runType"] == "command"

    with pytest.raises(ArgumentError, match=rf"^name: a local job named '{returned.name}' already exists"):
        ml_client.jobs.create_or_update(train_job(), name=returned.name)


@pytest.mark.slow
def test_a_failing_command_job_fails_its_stream_with_its_last_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ml_client = LocalClient(inputs={"data": "data.csv"})
    returned = ml_client.create_or_update(train_job(environment_variables={"FAIL": "on purpose"}))
    with pytest.raises(SweepFailed, match=r"failed: .*\(exited with code 1\): FAIL was set: on purpose"):
        ml_client.jobs.stream(returned.name)
    assert ml_client.jobs.get(returned.name).status == "Failed"
    ml_client.jobs.download(returned.name, download_path="dl")  # what a failed job left is uploaded too
    assert (project / "dl/artifacts/outputs/report.txt").read_text() == "fine"


@pytest.mark.slow
def test_a_running_command_job_is_canceled(project: Path) -> None:
    (project / "src" / "train.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(120)\n")
    ml_client = LocalClient()
    job = command(code="./src", command="python train.py", environment="env@latest")
    returned = ml_client.jobs.create_or_update(job)
    deadline = time.monotonic() + 60
    log = Path(returned.properties["std_log"])
    while "started" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.1)
    ml_client.jobs.begin_cancel(returned.name).result()
    while ml_client.jobs.get(returned.name).status == "Running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ml_client.jobs.get(returned.name).status == "Canceled"
    with pytest.raises(AzsweepError, match=r"^LocalClient\.jobs\.download: no local job named 'nope'"):
        ml_client.jobs.download("nope")


# -- end to end: azsweep run on a command job's YAML -----------------------------------------------


def write_command_yaml(project: Path, **extra: str) -> Path:
    body = textwrap.dedent(
        """\
        $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
        type: command
        code: src
        command: python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --model-dir ${{outputs.model}}
        inputs:
          data:
            type: uri_file
            path: data.csv
          lr: 0.5
        outputs:
          model:
            type: uri_folder
        environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
        compute: azureml:cpu-cluster
        experiment_name: yaml-command
        """
    )
    body += "".join(f"{k}: {v}\n" for k, v in extra.items())
    path = project / "job.yml"
    path.write_text(body)
    return path


def azsweep(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "azsweep", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


@pytest.mark.slow
def test_azsweep_run_runs_a_command_yaml_and_prints_its_log(project: Path) -> None:
    path = write_command_yaml(project)
    done = azsweep("run", str(path), "--name", "cmd1", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "read 3 rows, lr=0.5" in done.stdout and "command job cmd1: Completed" in done.stderr

    again = azsweep("run", str(path), "--name", "cmd1", "--json", cwd=project)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1].startswith("azsweep: error: --name: a local job named 'cmd1' already exists")

    refused = azsweep("run", str(path), "--max-total-trials", "2", cwd=project)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"azsweep: error: --max-total-trials: applies to sweeps; {path} is a command job, which runs once"
    )


@pytest.mark.slow
def test_azsweep_run_of_a_failing_command_yaml_exits_1_with_json(project: Path) -> None:
    path = write_command_yaml(project, environment_variables="{FAIL: broken}")
    done = azsweep("run", str(path), "--json", cwd=project)
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert summary["type"] == "command" and summary["status"] == "Failed" and summary["exit_code"] == 1
    assert "FAIL was set: broken" in summary["message"] and Path(summary["log"]).is_file()


@pytest.mark.slow
def test_show_of_a_command_job_says_what_it_is_and_where_its_output_is(project: Path) -> None:
    path = write_command_yaml(project)
    assert azsweep("run", str(path), "--name", "cmd2", "--json", cwd=project).returncode == 0
    shown = azsweep("show", "cmd2", cwd=project)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    line = shown.stderr.strip().splitlines()[-1]
    assert line.startswith("azsweep: error: 'cmd2' is a command job (Completed), not a sweep: its output is ")
    assert "/trials/cmd2/user_logs/std_log.txt" in line
