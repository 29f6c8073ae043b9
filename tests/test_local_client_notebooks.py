"""Microsoft's sweep notebooks, with ``ml_client = LocalClient(...)`` as the one line changed.

The calls are those of azureml-examples' ``train-hyperparameter-tune-with-sklearn.ipynb`` and
``lightgbm-iris-sweep.ipynb``, in order; the training scripts are small stand-ins that log the same
metrics (so the test needs neither scikit-learn nor LightGBM, nor the network).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from azure.ai.ml import Input, command
from azure.ai.ml.entities import AmlCompute, Environment, Model
from azure.ai.ml.sweep import Choice, MedianStoppingPolicy, Uniform

from azsweep import LocalClient
from azsweep.errors import ArgumentError

pytestmark = pytest.mark.slow

TRAIN_IRIS = """
import argparse, mlflow
parser = argparse.ArgumentParser()
parser.add_argument("--kernel", type=str, default="linear")
parser.add_argument("--penalty", type=float, default=1.0)
args = parser.parse_args()
mlflow.start_run()
mlflow.log_param("Kernel type", str(args.kernel))
mlflow.log_metric("Penalty", float(args.penalty))
mlflow.log_metric("Accuracy", {"linear": 0.97, "rbf": 0.95, "poly": 0.9, "sigmoid": 0.3}[args.kernel] - args.penalty / 100)
mlflow.log_text(f"kernel: {args.kernel}", "sklearn-iris-flower-classify-model/MLmodel")  # as mlflow.sklearn.log_model
mlflow.end_run()
"""

LIGHTGBM_MAIN = """
import argparse, mlflow
parser = argparse.ArgumentParser()
parser.add_argument("--iris-csv")
parser.add_argument("--learning-rate", type=float)
parser.add_argument("--boosting")
args = parser.parse_args()
rows = open(args.iris_csv).read().splitlines()
for step in range(6):
    mlflow.log_metric("test-multi_logloss", abs(args.learning_rate - 0.3) + 1.0 / (step + 1) + len(rows) * 0, step=step)
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / ".azsweep"))
    return tmp_path


def test_the_sklearn_hyperparameter_tuning_notebook(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ml_client = LocalClient(credential=object(), subscription_id="<SUB>", resource_group_name="<RG>", workspace_name="<WS>")

    cpu_compute_target = "cpu-cluster"
    try:
        cpu_cluster = ml_client.compute.get(cpu_compute_target)
    except Exception:
        cpu_cluster = AmlCompute(name=cpu_compute_target, type="amlcompute", size="STANDARD_DS3_V2", max_instances=4)
        cpu_cluster = ml_client.compute.begin_create_or_update(cpu_cluster).result()
    assert cpu_cluster.name == "cpu-cluster" and cpu_cluster.size == "local"

    dependencies_dir = "./env"
    os.makedirs(dependencies_dir, exist_ok=True)
    conda = "name: sklearn-env\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.8\n  - scikit-learn=0.24.2\n"
    Path(dependencies_dir, "conda.yaml").write_text(conda)
    job_env = Environment(
        name="sklearn-env",
        description="Custom environment for sklearn image classification",
        conda_file=os.path.join(dependencies_dir, "conda.yaml"),
        image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
    )
    job_env = ml_client.environments.create_or_update(job_env)
    assert job_env.version == "1"
    Path(dependencies_dir, "conda.yaml").write_text(conda + "  - scikit-learn-intelex\n")
    job_env = ml_client.environments.create_or_update(
        Environment(
            name="sklearn-env",
            description="Custom environment for sklearn image classification",
            conda_file=os.path.join(dependencies_dir, "conda.yaml"),
            image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
        )
    )
    assert job_env.version == "2"

    os.makedirs("./src", exist_ok=True)
    Path("src", "train_iris.py").write_text(TRAIN_IRIS)
    job = command(
        inputs=dict(kernel="linear", penalty=1.0),
        compute=cpu_compute_target,
        environment=f"{job_env.name}:{job_env.version}",
        code="./src/",
        command="python train_iris.py --kernel ${{inputs.kernel}} --penalty ${{inputs.penalty}}",
        experiment_name="sklearn-iris-flowers",
        display_name="sklearn-classify-iris-flower-images",
    )
    with pytest.raises(ArgumentError, match=r"^job: local runs take sweeps, got a command job"):
        ml_client.jobs.create_or_update(job)

    job_for_sweep = job(kernel=Choice(values=["linear", "rbf", "poly", "sigmoid"]), penalty=Choice(values=[0.5, 1, 1.5]))
    sweep_job = job_for_sweep.sweep(
        compute="cpu-cluster",
        sampling_algorithm="random",
        primary_metric="Accuracy",
        goal="Maximize",
        max_total_trials=4,  # the notebook's 12, fewer for the test's time
        max_concurrent_trials=4,
    )
    returned_sweep_job = ml_client.create_or_update(sweep_job)
    ml_client.jobs.stream(returned_sweep_job.name)
    returned_sweep_job = ml_client.jobs.get(name=returned_sweep_job.name)

    assert returned_sweep_job.status == "Completed"
    best_run = returned_sweep_job.properties["best_child_run_id"]
    trials = list(ml_client.jobs.list(parent_job_name=returned_sweep_job.name))
    best = max(trials, key=lambda t: t.score)
    assert best.name == best_run and len(trials) == 4  # the best trial's job name, as on Azure
    model = Model(
        path=f"azureml://jobs/{best_run}/outputs/artifacts/paths/sklearn-iris-flower-classify-model/",
        name="run-model-example",
        description="Model created from run.",
        type="custom_model",
    )
    registered = ml_client.models.create_or_update(model=model)
    assert (registered.name, registered.version) == ("run-model-example", "1")
    assert Path(registered.path, "MLmodel").read_text() == f"kernel: {best.params['kernel']}"
    assert ml_client.models.get("run-model-example", label="latest").path == registered.path
    assert "note: compute 'cpu-cluster'" in capsys.readouterr().out


def test_the_lightgbm_iris_sweep_notebook(workdir: Path) -> None:
    ml_client = LocalClient(object(), "<SUBSCRIPTION_ID>", "<RESOURCE_GROUP>", "<AML_WORKSPACE_NAME>")
    Path("src").mkdir()
    Path("src", "main.py").write_text(LIGHTGBM_MAIN)
    Path("iris.csv").write_text("sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n")

    command_job = command(
        code="./src",
        command="python main.py --iris-csv ${{inputs.iris_csv}} --learning-rate ${{inputs.learning_rate}} "
        "--boosting ${{inputs.boosting}}",
        environment="AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu@latest",
        inputs={"iris_csv": Input(type="uri_file", path="iris.csv"), "learning_rate": 0.9, "boosting": "gbdt"},
        compute="cpu-cluster",
    )
    with pytest.raises(ArgumentError, match=r"^job: local runs take sweeps, got a command job \(Command\)"):
        ml_client.jobs.create_or_update(command_job)

    command_job_for_sweep = command_job(
        learning_rate=Uniform(min_value=0.01, max_value=0.9), boosting=Choice(values=["gbdt", "dart"])
    )
    sweep_job = command_job_for_sweep.sweep(
        compute="cpu-cluster", sampling_algorithm="random", primary_metric="test-multi_logloss", goal="Minimize"
    )
    sweep_job.set_limits(max_total_trials=3, max_concurrent_trials=10, timeout=7200)  # the notebook's 20 trials, fewer here
    sweep_job.early_termination = MedianStoppingPolicy(delay_evaluation=5, evaluation_interval=2)
    returned_sweep_job = ml_client.create_or_update(sweep_job)
    assert returned_sweep_job.studio_url and returned_sweep_job.studio_url.startswith("mlflow ui --backend-store-uri ")
    ml_client.jobs.stream(returned_sweep_job.name)
    finished = ml_client.jobs.get(returned_sweep_job.name)
    assert finished.status == "Completed" and finished.score is not None
