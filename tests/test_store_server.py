"""The store served over HTTP to trials whose MLflow may not be azsweep's (``azsweep/runner/store_server.py``).

End to end with an MLflow older than azsweep's: ``tests/test_pipeline_run.py`` (Microsoft's pipeline, whose
components install ``mlflow<2.19``) and ``tests/test_isolation.py`` (its sweep component alone).
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from azsweep.runner.isolation import BaseEnvironment
from azsweep.runner.store_server import serve_reason, served

CURRENT = BaseEnvironment.current()
SQLITE = "sqlite:////tmp/x/mlflow.db"


@pytest.mark.parametrize(
    ("command", "named"),
    [
        ("pip install 'mlflow<2.19' -q && python train.py --data ${{inputs.data}}", "mlflow<2.19"),
        ("python -m pip install -U mlflow==2.9.2 && python train.py", "mlflow==2.9.2"),
        ('pip3 install --quiet "mlflow-skinny>=2" pandas; python t.py', "mlflow-skinny>=2"),
        ("pip install pandas mlflow\npython t.py", "mlflow"),
    ],
)
def test_a_command_that_installs_mlflow_gets_the_store_served(command: str, named: str) -> None:
    assert serve_reason(command, CURRENT, SQLITE) == f"its command installs its own MLflow ({named})"


@pytest.mark.parametrize(
    "command",
    [
        "python train.py --lr ${{search_space.lr}}",
        "pip install pandas && python mlflow_train.py",  # mlflow only in a script's name, after the install ended
        "pip install lightgbm && python -c 'import mlflow'",
    ],
)
def test_a_command_that_installs_no_mlflow_opens_the_store_directly(command: str) -> None:
    assert serve_reason(command, CURRENT, SQLITE) is None


def test_a_remote_store_is_never_served_again() -> None:
    command = "pip install 'mlflow<2.19' && python train.py"
    assert serve_reason(command, CURRENT, "http://tracking.example:5000") is None
    assert serve_reason(command, CURRENT, "postgresql://u@db/mlflow") is None
    assert serve_reason(command, CURRENT, "file:///tmp/mlruns") is not None


def test_a_built_environment_with_another_mlflow_gets_the_store_served(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    info = site / "mlflow-2.9.2.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mlflow\nVersion: 2.9.2\n")
    built = BaseEnvironment(python=CURRENT.python, site_dirs=(site,), bin_dir=None, label="built")
    ours = metadata.version("mlflow")
    assert serve_reason("python train.py", built, SQLITE) == f"its environment has MLflow 2.9.2 (azsweep's is {ours})"
    without = BaseEnvironment(python=CURRENT.python, site_dirs=(tmp_path / "empty",), bin_dir=None, label="built")
    assert serve_reason("python train.py", without, SQLITE) is None  # no MLflow at all: nothing a server changes


@pytest.mark.slow
def test_the_served_store_is_the_same_store_and_the_server_ends_with_the_block(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    from azsweep.runner.tracking import Tracker

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(store, artifact_root=tmp_path / "artifacts")
    experiment = tracker.experiment_id("served")
    log = tmp_path / "job" / "store_server.log"
    with served(store, tmp_path / "artifacts", log) as uri:
        assert uri.startswith("http://127.0.0.1:")
        remote = MlflowClient(tracking_uri=uri)
        run = remote.create_run(experiment)
        remote.log_metric(run.info.run_id, "loss", 0.25, step=3)
        remote.set_terminated(run.info.run_id)
    direct = MlflowClient(tracking_uri=store).get_run(run.info.run_id)
    assert direct.data.metrics == {"loss": 0.25} and direct.info.status == "FINISHED"
    assert direct.info.artifact_uri.startswith((tmp_path / "artifacts").as_uri())  # written by the trial itself
    import urllib.request

    with pytest.raises(OSError):  # the server is gone
        urllib.request.urlopen(uri + "/health", timeout=5)


def test_a_server_that_does_not_start_is_an_os_error_naming_its_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")
    failed = r"^the MLflow tracking server for the trials did not start \(exit code 1\)$"
    with pytest.raises(OSError, match=failed), served(f"sqlite:///{tmp_path / 'm.db'}", None, tmp_path / "log"):
        pass


def test_when_the_server_does_not_start_the_trials_open_the_store_directly_and_a_note_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from azsweep.runner.lifecycle import _trials_store

    monkeypatch.setattr(sys, "executable", "/bin/false")
    prepared = SimpleNamespace(folder=SimpleNamespace(root=tmp_path / "job"), settings=SimpleNamespace(artifacts=None))
    store = f"sqlite:///{tmp_path / 'm.db'}"
    with _trials_store(store, "its command installs its own MLflow (mlflow<2.19)", prepared) as (uri, note):  # type: ignore[arg-type]
        assert uri == store
    assert note == (
        f"the MLflow tracking server for the trials did not start (exit code 1) (see {tmp_path / 'job' / 'store_server.log'}); "
        "the trials open the store directly, and its command installs its own MLflow (mlflow<2.19)"
    )


def test_trials_in_containers_of_an_image_get_the_store_served() -> None:
    from dataclasses import replace

    from azsweep.runner.containers import Container, Runtime

    image = Container(Runtime(path="/usr/bin/docker", kind="docker"), "python:3.11-slim")
    in_containers = replace(CURRENT, container=image)
    reason = serve_reason("python train.py", in_containers, SQLITE)
    assert reason == "its trials run in containers of python:3.11-slim, on the image's MLflow"
    assert serve_reason("python train.py", in_containers, "http://tracking.example:5000") is None
