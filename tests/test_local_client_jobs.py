"""LocalClient.jobs without running a sweep: argument errors, what is refused, names taken, keep_going."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import azsweep.runner
from azsweep import LocalClient
from azsweep.errors import ArgumentError, AzsweepError
from azsweep.local_client import Done, LocalJob
from azsweep.runner import JobStatus, SweepRecord, prepare
from azsweep.runner.journal import Journal


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalClient:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return LocalClient(home=tmp_path / "home")


def recorded_sweep(client: LocalClient, path: Path, name: str, status: JobStatus, *, pid: int = 0, ended: bool = True) -> None:
    """The folder a sweep leaves: its definition, its record and (when it ended) the journal's last event."""
    prepared = prepare(path, settings=client.settings, name=name)
    prepared.write_definition()
    if ended:
        Journal(prepared.folder.journal).append("sweep_ended", status=status.value, message="", resumable=False)
    SweepRecord(
        name=name,
        status=status,
        experiment_name="exp",
        experiment_id="1",
        parent_run_id="parent",
        tracking_uri=client.tracking_uri,
        primary_metric="loss",
        goal="minimize",
        algorithm="random",
        seed=1,
        max_total_trials=10,
        max_concurrent_trials=2,
        pid=pid,
    ).save(prepared.folder)


def no_prepare(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("nothing should be prepared")


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.jobs.stream(None),
        lambda c: c.jobs.get(None),
        lambda c: c.jobs.cancel(None),
        lambda c: c.jobs.begin_cancel(""),
        lambda c: c.jobs.get(name="../outside"),
    ],
    ids=["stream", "get", "cancel", "begin_cancel", "path"],
)
def test_a_missing_job_name_is_one_argument_error(client: LocalClient, call: Callable[[LocalClient], Any]) -> None:
    with pytest.raises(ArgumentError, match=r"^name: expected a job name \(a non-empty str\), got "):
        call(client)


def test_a_job_object_given_for_its_name_is_told_to_pass_its_name(client: LocalClient) -> None:
    with pytest.raises(ArgumentError, match=r"^name: expected a job name .*got a LocalJob; pass its \.name$"):
        client.jobs.stream(LocalJob(name="x", status="Running"))  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match=r"^parent_job_name: expected a job name .*got 3"):
        list(client.jobs.list(parent_job_name=3))  # type: ignore[arg-type]


def test_an_unknown_job_is_one_error_naming_it(client: LocalClient, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AzsweepError, match=r"^no local job named 'nope' in "):
        client.jobs.get("nope")
    with pytest.raises(AzsweepError, match=r"^no local job named 'nope' in "):
        client.jobs.stream("nope")
    assert capsys.readouterr().out == ""


def test_no_job_is_an_argument_error_naming_the_argument(client: LocalClient) -> None:
    with pytest.raises(ArgumentError, match=r"^job: expected a sweep .*got None$"):
        client.jobs.create_or_update(None)
    with pytest.raises(ArgumentError, match=r"^entity: LocalClient.create_or_update takes a sweep or command job, .*got None$"):
        client.create_or_update(None)


def test_a_job_kind_that_does_not_run_locally_is_refused_by_its_type(client: LocalClient) -> None:
    from azure.ai.ml import spark

    job = spark(code="./src", entry={"file": "main.py"}, driver_cores=1, driver_memory="1g", executor_cores=1,
                executor_memory="1g", executor_instances=1)  # fmt: skip
    with pytest.raises(
        ArgumentError, match=r"^job: local runs take sweeps, command jobs and pipelines, got a Spark; submit it with MLClient$"
    ):
        client.jobs.create_or_update(job)


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED])
def test_the_name_of_a_sweep_that_ended_is_refused(
    client: LocalClient, sweep_yaml: Callable[..., Path], status: JobStatus, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sweep_yaml()
    recorded_sweep(client, path, "done", status)
    launched: list[Any] = []
    monkeypatch.setattr(azsweep.runner, "launch_background", launched.append)
    with pytest.raises(ArgumentError) as info:
        client.jobs.create_or_update(path, name="done")
    assert str(info.value) == (
        f"name: the local sweep 'done' has already ended ({status.value}); choose another name to run it again "
        "(jobs.get('done') reads it)"
    )
    assert launched == [] and client.jobs.get("done").status == status.value


def test_the_name_a_yaml_gives_itself_is_checked_the_same_way(
    client: LocalClient, sweep_yaml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sweep_yaml({"name": "done-yaml"})
    recorded_sweep(client, path, "done-yaml", JobStatus.COMPLETED)
    monkeypatch.setattr(azsweep.runner, "launch_background", no_prepare)
    with pytest.raises(ArgumentError, match=r"^name: the local sweep 'done-yaml' has already ended \(Completed\)"):
        client.jobs.create_or_update(path)
    with pytest.raises(ArgumentError, match=r"^job.name: expected a job name .*got 'a/b'"):
        client.jobs.create_or_update(sweep_yaml({"name": "a/b"}))


def test_the_name_of_a_running_sweep_returns_it_without_starting_another(
    client: LocalClient, sweep_yaml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sweep_yaml()
    recorded_sweep(client, path, "busy", JobStatus.RUNNING, pid=os.getpid(), ended=False)  # a live "driver": this process
    monkeypatch.setattr(azsweep.runner, "prepare", no_prepare)
    job = client.jobs.create_or_update(path, name="busy")
    assert job.name == "busy" and job.status == "Running"


@pytest.mark.parametrize(("given", "forwarded"), [(None, {}), (True, {"keep_going": True}), (False, {"keep_going": False})])
def test_keep_going_is_passed_to_prepare_only_when_given(
    client: LocalClient, sweep_yaml: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, given: Any, forwarded: dict[str, Any]
) -> None:
    seen: list[dict[str, Any]] = []

    class Stop(Exception):
        pass

    def fake_prepare(definition: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        raise Stop

    monkeypatch.setattr(azsweep.runner, "prepare", fake_prepare)
    with pytest.raises(Stop):
        if given is None:
            client.jobs.create_or_update(sweep_yaml(), name="kg")
        else:
            client.jobs.create_or_update(sweep_yaml(), name="kg", keep_going=given)
    assert {k: v for k, v in seen[0].items() if k == "keep_going"} == forwarded
    assert seen[0]["name"] == "kg" and seen[0]["resume"] is False


def test_begin_cancel_stops_the_driver_and_returns_a_finished_poller(
    client: LocalClient, sweep_yaml: Callable[..., Path]
) -> None:
    driver = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        recorded_sweep(client, sweep_yaml(), "to-stop", JobStatus.RUNNING, pid=driver.pid, ended=False)
        poller = client.jobs.begin_cancel("to-stop")
        assert isinstance(poller, Done) and poller.result() is None
        assert driver.wait(timeout=30) == -signal.SIGTERM
    finally:
        driver.kill()
        driver.wait()


def test_cancel_of_a_sweep_that_ended_sends_nothing(client: LocalClient, sweep_yaml: Callable[..., Path]) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        recorded_sweep(client, sweep_yaml(), "over", JobStatus.COMPLETED, pid=bystander.pid)
        client.jobs.cancel("over")
        assert bystander.poll() is None  # the recorded pid is no longer the sweep's: left alone
    finally:
        bystander.kill()
        bystander.wait()
