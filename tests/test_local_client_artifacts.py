"""One trial identity, jobs.download, models in MLflow's registry, data-asset inputs: on a tiny recorded sweep.

The sweep is written as the runner leaves it (``sweep.json`` and MLflow runs in a real SQLite store, with
artifacts logged as the trials upload them), without running anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.ai.ml import Input, command
from azure.ai.ml.entities import Data, Model
from azure.ai.ml.sweep import Choice

from azsweep import LocalClient
from azsweep.errors import ArgumentError, AzsweepError
from azsweep.runner import JobStatus, SweepRecord, prepare
from azsweep.runner.record import Trial
from azsweep.runner.tracking import Tracker

SWEEP = "keen_otter_abc"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalClient:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return LocalClient(home=tmp_path / "home")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def recorded_sweep(
    client: LocalClient, tmp_path: Path, *, name: str = SWEEP, best: int | None = 1, status: JobStatus = JobStatus.COMPLETED
) -> SweepRecord:
    """A ended sweep of 2 trials; trial i logged outputs/score.txt = i, its log, a model and a named output."""
    tracker = Tracker.for_settings(client.settings)
    experiment = tracker.experiment_id("exp")
    parent = tracker.start_parent(experiment, name, {})
    trials = []
    for i in range(2):
        run_id = tracker.start_child(experiment, parent, name, i, {"lr": i})
        files = tmp_path / "made" / name / str(i)
        tracker.log_artifacts(run_id, [write(files / "score.txt", str(i))], "outputs")
        tracker.log_artifacts(run_id, [write(files / "model" / "weights.bin", f"w{i}")], "outputs/model")
        tracker.log_artifacts(run_id, [write(files / "std_log.txt", f"log {i}")], "user_logs")
        tracker.log_artifacts(run_id, [write(files / "predictions.csv", f"p{i}")], "named-outputs/predictions")
        tracker.finish(run_id, JobStatus.COMPLETED)
        trials.append(Trial(index=i, name=f"{name}_{i}", params={"lr": i}, run_id=run_id, status=JobStatus.COMPLETED, score=i))
    record = SweepRecord(
        name=name,
        status=status,
        experiment_name="exp",
        experiment_id=experiment,
        parent_run_id=parent,
        tracking_uri=client.tracking_uri,
        primary_metric="loss",
        goal="minimize",
        algorithm="random",
        seed=1,
        max_total_trials=2,
        max_concurrent_trials=2,
        pid=0,
        best_trial=None if best is None else f"{name}_{best}",
        best_score=None if best is None else float(best),
        trials=trials,
    )
    folder = client.settings.folder(name)
    folder.root.mkdir(parents=True, exist_ok=True)
    record.save(folder)
    return record


def files_under(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


# -- one trial identity ---------------------------------------------------------------------------


def test_best_child_run_id_is_the_trial_job_name_that_jobs_get_resolves(client: LocalClient, tmp_path: Path) -> None:
    record = recorded_sweep(client, tmp_path)
    job = client.jobs.get(SWEEP)
    assert job.properties["best_child_run_id"] == f"{SWEEP}_1"
    assert job.properties["best_child_mlflow_run_id"] == record.trials[1].run_id
    assert job.properties["mlflow.run_id"] == record.parent_run_id
    trial = client.jobs.get(job.properties["best_child_run_id"])
    assert trial.name == f"{SWEEP}_1" and trial.parent_job_name == SWEEP and trial.type == "command"
    assert trial.properties["mlflow.run_id"] == record.trials[1].run_id
    assert [t.name for t in client.jobs.list(parent_job_name=SWEEP)] == [f"{SWEEP}_0", f"{SWEEP}_1"]
    with pytest.raises(AzsweepError, match=rf"^no local job named '{SWEEP}_7' in "):
        client.jobs.get(f"{SWEEP}_7")


# -- jobs.download ----------------------------------------------------------------------------------


def test_download_of_a_sweep_is_its_best_trial_default_artifacts(client: LocalClient, tmp_path: Path) -> None:
    recorded_sweep(client, tmp_path)
    client.jobs.download(SWEEP, download_path="out")
    assert files_under(tmp_path / "out") == {
        "artifacts/outputs/score.txt": "1",
        "artifacts/outputs/model/weights.bin": "w1",
        "artifacts/user_logs/std_log.txt": "log 1",
    }


def test_download_of_a_trial_by_name_with_all_and_with_an_output_name(client: LocalClient, tmp_path: Path) -> None:
    recorded_sweep(client, tmp_path)
    client.jobs.download(f"{SWEEP}_0", download_path=tmp_path / "all", all=True)
    assert files_under(tmp_path / "all") == {
        "artifacts/outputs/score.txt": "0",
        "artifacts/outputs/model/weights.bin": "w0",
        "artifacts/user_logs/std_log.txt": "log 0",
        "named-outputs/predictions/predictions.csv": "p0",
    }
    client.jobs.download(SWEEP, download_path=tmp_path / "one", output_name="predictions")
    assert files_under(tmp_path / "one") == {"named-outputs/predictions/predictions.csv": "p1"}


def test_download_errors_are_one_line(client: LocalClient, tmp_path: Path) -> None:
    recorded_sweep(client, tmp_path)
    with pytest.raises(AzsweepError, match=r"^LocalClient\.jobs\.download: no local job named 'nope' in "):
        client.jobs.download("nope")
    with pytest.raises(AzsweepError, match=r"has no output named 'model' \(named outputs: predictions\)$"):
        client.jobs.download(SWEEP, output_name="model")
    recorded_sweep(client, tmp_path, name="no_best", best=None, status=JobStatus.FAILED)
    with pytest.raises(AzsweepError, match=r"^LocalClient\.jobs\.download: the local sweep 'no_best' has no best trial"):
        client.jobs.download("no_best")
    recorded_sweep(client, tmp_path, name="still_running", status=JobStatus.RUNNING)
    with pytest.raises(AzsweepError, match=r"^LocalClient\.jobs\.download: the local sweep 'still_running' is Running"):
        client.jobs.download("still_running")
    assert not (tmp_path / "artifacts").exists() and not (tmp_path / "named-outputs").exists()


# -- models -----------------------------------------------------------------------------------------


def test_a_model_from_a_local_folder_is_a_version_in_mlflows_registry(client: LocalClient, tmp_path: Path) -> None:
    write(tmp_path / "local_model" / "MLmodel", "flavor: x")
    made = client.models.create_or_update(Model(name="iris", path="local_model", type="mlflow_model", tags={"a": "b"}))
    assert (made.name, made.version, made.type, made.tags) == ("iris", "1", "mlflow_model", {"a": "b"})
    again = client.create_or_update(Model(name="iris", path=str(tmp_path / "local_model" / "MLmodel")))
    assert again.version == "2" and again.type == "custom_model"
    from mlflow.tracking import MlflowClient

    registry = MlflowClient(tracking_uri=client.tracking_uri)
    versions = {str(v.version): v.source for v in registry.search_model_versions("name = 'iris'")}
    assert set(versions) == {"1", "2"}
    assert (Path(versions["1"]) / "MLmodel").read_text() == "flavor: x"  # a copy: the source survives the original
    assert Path(versions["2"]).read_text() == "flavor: x" and Path(versions["2"]).is_file()
    assert client.models.get("iris", version="1").path == versions["1"]
    assert client.models.get("iris", label="latest").version == "2"
    assert [m.version for m in client.models.list(name="iris")] == ["2", "1"]
    assert [(m.name, m.version) for m in client.models.list()] == [("iris", "2")]
    client.models.download("iris", "1", download_path=tmp_path / "dl")
    client.models.download("iris", "2", download_path=tmp_path / "dl")
    assert files_under(tmp_path / "dl") == {"iris/local_model/MLmodel": "flavor: x", "iris/MLmodel": "flavor: x"}


def test_a_model_from_a_sweep_job_path_is_its_best_trials_artifact(client: LocalClient, tmp_path: Path) -> None:
    record = recorded_sweep(client, tmp_path)
    path = f"azureml://jobs/{SWEEP}/outputs/artifacts/paths/outputs/model/"
    made = client.models.create_or_update(Model(name="best", path=path, type="custom_model"))
    assert made.version == "1" and made.properties["mlflow.run_id"] == record.trials[1].run_id
    assert (Path(made.path) / "weights.bin").read_text() == "w1"
    from mlflow.tracking import MlflowClient

    version = MlflowClient(tracking_uri=client.tracking_uri).get_model_version("best", "1")
    assert version.source == made.path and version.run_id == record.trials[1].run_id
    by_trial = client.models.create_or_update(
        Model(name="best", path=f"azureml://jobs/{SWEEP}_0/outputs/artifacts/paths/outputs/score.txt")
    )
    assert by_trial.version == "2" and Path(by_trial.path).read_text() == "0"


def test_model_errors_are_one_line(client: LocalClient, tmp_path: Path) -> None:
    recorded_sweep(client, tmp_path)
    with pytest.raises(
        AzsweepError,
        match=r"has no artifact 'outputs/nothing' \(artifacts under outputs: outputs/model, outputs/score.txt; "
        r"models it logged: none\)$",
    ):
        client.models.create_or_update(Model(name="m", path=f"azureml://jobs/{SWEEP}/outputs/artifacts/paths/outputs/nothing"))
    with pytest.raises(AzsweepError, match=r"^LocalClient\.models\.create_or_update: no local job named 'gone'"):
        client.models.create_or_update(Model(name="m", path="azureml://jobs/gone/outputs/artifacts/paths/model"))
    with pytest.raises(ArgumentError, match=r"^model\.path: .* does not exist$"):
        client.models.create_or_update(Model(name="m", path="missing_folder"))
    with pytest.raises(AzsweepError, match=r"^no model m:3 in the MLflow registry of .*; register it with"):
        client.models.get("m", version="3")
    with pytest.raises(ArgumentError, match=r"^version: give version=\.\.\. or label='latest'"):
        client.models.get("m")
    with pytest.raises(AzsweepError, match=r"^LocalClient\.models\.archive: not available locally"):
        client.models.archive("m")
    assert client.models.list() == []


# -- data-asset inputs ------------------------------------------------------------------------------


def asset_sweep(path: str):  # type: ignore[no-untyped-def]
    job = command(
        code=".",
        command="python train.py --data ${{inputs.data}} --lr ${{inputs.lr}}",
        environment="env@latest",
        inputs={"data": Input(type="uri_folder", path=path), "lr": 0.1},
    )
    return job(lr=Choice([0.1, 0.2])).sweep(primary_metric="loss", goal="minimize", max_total_trials=2)


def test_a_data_asset_input_resolves_to_the_recorded_local_path(client: LocalClient, tmp_path: Path) -> None:
    write(tmp_path / "train.py", "")
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    client.data.create_or_update(Data(name="iris", path="v1", type="uri_folder"))
    client.data.create_or_update(Data(name="iris", path="v2", type="uri_folder"))
    by_version = prepare(asset_sweep("azureml:iris:1"), settings=client.settings, name="a")
    assert by_version.inputs.values["data"] == str((tmp_path / "v1").resolve())
    latest = prepare(asset_sweep("azureml:iris@latest"), settings=client.settings, name="b")
    assert latest.inputs.values["data"] == str((tmp_path / "v2").resolve())
    given = prepare(asset_sweep("azureml:other:1"), settings=client.settings, name="e", inputs={"data": "azureml:iris:1"})
    assert given.inputs.values["data"] == str((tmp_path / "v1").resolve())
    with pytest.raises(ArgumentError, match=r"^inputs\.data: no local data asset iris:9 .*recorded versions: 1, 2$"):
        prepare(asset_sweep("azureml:iris:9"), settings=client.settings, name="c")
    with pytest.raises(
        ArgumentError, match=r"'azureml:other:1' is an Azure location that cannot be read offline; pass a local copy"
    ):
        prepare(asset_sweep("azureml:other:1"), settings=client.settings, name="d")
