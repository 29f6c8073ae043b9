"""LocalClient mirrors MLClient.jobs for sweeps: real driver process, real MLflow store."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from azure.ai.ml import command
from azure.ai.ml.sweep import Choice, Uniform

from azsweep import LocalClient
from azsweep.errors import ArgumentError, SweepFailed
from azsweep.report import load_view

pytestmark = pytest.mark.slow

SCRIPT = """
import sys, time, mlflow
x, wait = float(sys.argv[1]), float(sys.argv[2])
mlflow.log_metric("loss", (x - 0.5) ** 2)
time.sleep(wait)
"""


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalClient:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / "home"))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(SCRIPT)
    return LocalClient()


def node(wait: float, total: int = 3):  # type: ignore[no-untyped-def]
    job = command(
        code="./src",
        command="python train.py ${{inputs.x}} ${{inputs.wait}}",
        environment="env@latest",
        inputs={"x": 0.1, "wait": wait, "mode": "a"},
        compute="cpu-cluster",
    )
    return job(x=Uniform(min_value=0, max_value=1), mode=Choice(["a", "b"])).sweep(
        primary_metric="loss", goal="minimize", max_total_trials=total, max_concurrent_trials=2
    )


def test_create_stream_get_list_with_azure_objects(client: LocalClient, capsys: pytest.CaptureFixture[str]) -> None:
    returned = client.jobs.create_or_update(node(wait=0.0))
    assert returned.status == "Running" and returned.name  # returns while the sweep runs on in its own driver
    client.jobs.stream(returned.name)
    out = capsys.readouterr().out
    assert f"sweep {returned.name}: Completed" in out
    job = client.jobs.get(returned.name)
    trials = list(client.jobs.list(parent_job_name=returned.name))
    assert job.status == "Completed" and len(trials) == 3
    assert {t.status for t in trials} == {"Completed"}
    best = min(trials, key=lambda t: t.score)
    assert job.properties["best_child_run_id"] == best.name  # the trial's job name, as on Azure
    assert job.properties["best_child_mlflow_run_id"] == best.properties["mlflow.run_id"]
    assert job.score == pytest.approx((best.params["x"] - 0.5) ** 2)
    assert client.jobs.get(best.name).params == best.params
    # the MLflow record says the same; the experiment defaults to the folder the job was defined in
    view = load_view(returned.name)
    assert view.best_trial == best.name and view.experiment_name == Path.cwd().name
    assert sorted(t.name for t in view.trials) == sorted(t.name for t in trials)


def test_cancel_stops_a_running_sweep(client: LocalClient) -> None:
    returned = client.jobs.create_or_update(node(wait=120.0, total=4))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        trials = list(client.jobs.list(parent_job_name=returned.name))
        if len(trials) == 2:
            break
        time.sleep(0.2)
    client.jobs.cancel(returned.name)
    client.jobs.stream(returned.name)  # canceled is not a failure: stream returns
    job = client.jobs.get(returned.name)
    assert job.status == "Canceled"
    trials = list(client.jobs.list(parent_job_name=returned.name))
    assert len(trials) == 2 and {t.status for t in trials} == {"Canceled"}


def test_stream_raises_when_no_trial_logged_the_metric(client: LocalClient, tmp_path: Path) -> None:
    (tmp_path / "src" / "train.py").write_text("import mlflow; mlflow.log_metric('val_loss', 1.0)\n")
    returned = client.jobs.create_or_update(node(wait=0.0, total=1))
    with pytest.raises(SweepFailed, match="primary metric 'loss'.*val_loss"):
        client.jobs.stream(returned.name)
    assert os.path.exists(client.home / "sweeps" / returned.name / "sweep.json")


def test_create_or_update_with_the_name_of_an_interrupted_sweep_resumes_it(client: LocalClient) -> None:
    import json
    import signal

    job = node(wait=1.5, total=4)
    job.name = "resume-me"
    client.jobs.create_or_update(job)
    record_path = client.home / "sweeps" / "resume-me" / "sweep.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = json.loads(record_path.read_text())
        if any(t["status"] == "Completed" for t in record["trials"]):
            break
        time.sleep(0.1)
    os.kill(record["pid"], signal.SIGKILL)  # the driver dies mid-sweep
    time.sleep(0.5)
    again = node(wait=1.5, total=4)
    again.name = "resume-me"
    resumed = client.jobs.create_or_update(again)
    assert resumed.name == "resume-me"
    client.jobs.stream("resume-me")
    trials = list(client.jobs.list(parent_job_name="resume-me"))
    assert sorted(t.name for t in trials) == [f"resume-me_{i}" for i in range(4)]
    assert {t.status for t in trials} == {"Completed"}
    assert client.jobs.get("resume-me").status == "Completed"
    # asked again once finished: refused (as Azure refuses a job name that is taken), nothing re-run
    finished = node(wait=0.0)
    finished.name = "resume-me"
    with pytest.raises(ArgumentError, match=r"^name: the local sweep 'resume-me' has already ended \(Completed\)"):
        client.jobs.create_or_update(finished)
    assert sorted(t.name for t in client.jobs.list(parent_job_name="resume-me")) == [f"resume-me_{i}" for i in range(4)]
