"""Microsoft's sweep notebooks, run as written with ``ml_client = LocalClient(...)`` as the one line changed.

The notebooks are copied unchanged from azureml-examples into ``tests/notebooks`` (``ORIGIN.md`` names
the commit). Their code cells run in order in a real IPython shell (``%%writefile`` included), the
training scripts are Microsoft's own (scikit-learn with ``mlflow.sklearn.autolog``, LightGBM with
``mlflow.autolog``), the jobs run as real processes tracked in a real MLflow store.

The one change: ``MLClient(`` becomes ``LocalClient(``; in the LightGBM notebook that call also gets
``inputs={"iris_csv": <a local iris.csv>}`` (its public URLs cannot be read offline; the file is
written from scikit-learn's bundled copy of the iris data) and ``max_total_trials=4`` (the notebook's
two sweeps of 20 trials each, 4 each here, for the suite's time). In the pipeline notebook (1c),
``MLClient.from_config(`` becomes ``LocalClient.from_config(``, with ``inputs={"sweep_step.data": <iris.csv>}``
(the sweep step's blob input) and ``max_total_trials=2`` (20 as written). Cells that cannot run here are
skipped by ``SKIPPED``, with the reason, never edited.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).parent / "notebooks"
SKLEARN = NOTEBOOKS / "sklearn-iris" / "train-hyperparameter-tune-with-sklearn.ipynb"
LIGHTGBM = NOTEBOOKS / "lightgbm-iris" / "lightgbm-iris-sweep.ipynb"
PIPELINE = NOTEBOOKS / "pipeline-sweep" / "pipeline_with_hyperparameter_sweep.ipynb"

# cells not run, by notebook and cell number (the index in the .ipynb's cell list), with the reason
SKIPPED = {
    SKLEARN.name: {
        27: "[Optional] rewrites train_iris.py to import Intel's scikit-learn-intelex (sklearnex), which the "
        "notebook installs only in its optional conda environment; not installed here",
    },
}


@dataclass
class Cell:
    number: int
    source: str
    name: str  # the cell's metadata name, when it has one


def code_cells(notebook: Path) -> list[Cell]:
    data = json.loads(notebook.read_text())
    return [
        Cell(i, "".join(c["source"]), c.get("metadata", {}).get("name", ""))
        for i, c in enumerate(data["cells"])
        if c["cell_type"] == "code"
    ]


def local_client_cell(source: str, extra: str = "") -> str:
    """The one change: ``MLClient(...)`` (or ``MLClient.from_config(...)``) becomes ``LocalClient(...)``
    (``LocalClient.from_config(...)``), with ``extra`` keyword arguments added to that call."""
    call = "MLClient.from_config(" if "MLClient.from_config(" in source else "MLClient("
    assert source.count(call) == 1
    changed = source.replace(call, "Local" + call.removeprefix("ML"))
    if extra:
        line = next(n for n, text in enumerate(changed.splitlines()) if "LocalClient" in text)
        lines = changed.splitlines()
        call = "\n".join(lines[line:])
        close = _closing_paren(call, call.index("("))
        call = call[:close].rstrip().rstrip(",") + f", {extra}" + call[close:]
        changed = "\n".join([*lines[:line], call]) + ("\n" if source.endswith("\n") else "")
    return changed


def _closing_paren(text: str, opening: int) -> int:
    depth = 0
    for i in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise AssertionError(f"no closing parenthesis in {text!r}")


class Notebook:
    """Runs a notebook's code cells in an IPython shell, in order, as Jupyter would."""

    def __init__(self, path: Path, shell: Any) -> None:
        self.path, self.shell = path, shell
        self.ran: list[tuple[int, str]] = []  # (cell number, what happened)

    def run(self, change: dict[int, str]) -> dict[str, Any]:
        skipped = SKIPPED.get(self.path.name, {})
        for cell in code_cells(self.path):
            if cell.number in skipped:
                self.ran.append((cell.number, f"skipped: {skipped[cell.number]}"))
                continue
            source = change.get(cell.number, cell.source)
            result = self.shell.run_cell(source, store_history=False, silent=False)
            if not result.success:
                raise AssertionError(f"{self.path.name} cell {cell.number} ({cell.name}) failed:\n{source}") from (
                    result.error_in_exec or result.error_before_exec
                )
            self.ran.append((cell.number, "changed: the MLClient line" if cell.number in change else "ran"))
        return self.shell.user_ns


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh IPython shell working in a fresh folder, with ``LocalClient`` importable (as after ``pip install``)."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / ".azsweep"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / ".ipython"))
    InteractiveShell.clear_instance()
    ipython = InteractiveShell.instance()
    ipython.user_ns["LocalClient"] = __import__("azsweep").LocalClient
    yield ipython
    InteractiveShell.clear_instance()


def write_iris_csv(path: Path) -> Path:
    """The iris data as azureml-examples' iris.csv has it (four measurements and ``species``), from scikit-learn's
    bundled copy (no network)."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    rows = [",".join([*(f"{v:g}" for v in x), f"Iris-{iris.target_names[y]}"]) for x, y in zip(iris.data, iris.target)]
    path.write_text("\n".join([",".join(names), *rows]) + "\n")
    return path


def wait_all(ml_client: Any) -> dict[str, Any]:
    """Every job the notebook started, once it has ended (``jobs.stream`` waits, as on Azure)."""
    jobs = {}
    for job in ml_client.jobs.list():
        try:
            ml_client.jobs.stream(job.name)
        except Exception as exc:  # a failed job's stream raises; the assertions say which
            print(f"{job.name}: {exc}")
        jobs[job.name] = ml_client.jobs.get(job.name)
    return jobs


def test_the_sklearn_hyperparameter_tuning_notebook_runs_as_written(
    shell: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notebook = Notebook(SKLEARN, shell)
    cells = {c.number: c for c in code_cells(SKLEARN)}
    assert cells[6].name == "ml_client"
    ns = notebook.run({6: local_client_cell(cells[6].source)})
    out = capsys.readouterr().out

    # cell 9: the compute is this machine, named as asked
    assert "AMLCompute with name cpu-cluster is created, the compute size is local" in out
    # cells 15 and 20: the environment was registered twice (the optional Intel cell registers version 2)
    assert "the environment version is 1" in out and "the environment version is 2" in out
    assert ns["job_env"].version == "2"

    jobs = wait_all(ns["ml_client"])
    by_type = {t: [j for j in jobs.values() if j.type == t] for t in ("command", "sweep")}
    (command_job,) = by_type["command"]  # cell 31: the plain command job ran, once
    (sweep,) = by_type["sweep"]  # cell 38
    assert command_job.status == "Completed" and command_job.experiment_name == "sklearn-iris-flowers"
    assert sweep.status == "Completed" and sweep.name == ns["returned_sweep_job"].name

    ml_client = ns["ml_client"]
    trials = list(ml_client.jobs.list(parent_job_name=sweep.name))
    assert len(trials) == 12 and {t.status for t in trials} == {"Completed"}  # max_total_trials=12, as written
    best = max(trials, key=lambda t: t.score)
    assert ns["best_run"] == best.name == sweep.properties["best_child_run_id"]

    # cells 40 and 42: the best trial's model, registered from its azureml://jobs/... path
    registered = ns["registered_model"]
    assert (registered.name, registered.version, registered.type) == ("run-model-example", "1", "custom_model")
    assert "sklearn" in Path(registered.path, "MLmodel").read_text()
    assert ml_client.models.get("run-model-example", version="1").path == registered.path

    # what the trials' own script registered with mlflow.sklearn.log_model(registered_model_name=...) is in the
    # same MLflow registry: one version per run of the script (the command job and the 12 trials)
    from mlflow.tracking import MlflowClient

    versions = MlflowClient(ml_client.tracking_uri).search_model_versions("name='sklearn-iris-flower-classify-model'")
    assert len(versions) == 13

    # the swept params are visible on the trials' runs (the script logs 'Kernel type' and autologs 'C', 'kernel')
    run = MlflowClient(ml_client.tracking_uri).get_run(best.properties["mlflow.run_id"])
    assert run.data.params["kernel"] == best.params["kernel"] == run.data.tags["azsweep.param.kernel"]
    assert float(run.data.params["penalty"]) == float(best.params["penalty"])

    assert [n for n, what in notebook.ran if what.startswith("skipped")] == [27]
    print_cells(notebook)


def test_the_lightgbm_iris_sweep_notebook_runs_as_written(shell: Any, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(LIGHTGBM.parent / "src", tmp_path / "src")  # the notebook's folder: its src/main.py
    iris = write_iris_csv(tmp_path / "iris.csv")
    notebook = Notebook(LIGHTGBM, shell)
    cells = {c.number: c for c in code_cells(LIGHTGBM)}
    assert cells[4].name == "connect-workspace"
    changed = local_client_cell(cells[4].source, f'inputs={{"iris_csv": {str(iris)!r}}}, max_total_trials=4')
    assert (
        "ml_client = LocalClient(\n    DefaultAzureCredential(), subscription_id, resource_group, workspace, inputs=" in changed
    )
    ns = notebook.run({4: changed})

    ml_client = ns["ml_client"]
    jobs = wait_all(ml_client)
    assert {j.name: j.status for j in jobs.values()} == dict.fromkeys(jobs, "Completed")
    (command_job,) = [j for j in jobs.values() if j.type == "command"]  # cell 8
    assert command_job.name == ns["returned_job"].name
    sweeps = {ns["returned_sweep_job"].name, ns["returned_sweep_job_cmd"].name}  # cells 14 and 20
    assert {j.name for j in jobs.values() if j.type == "sweep"} == sweeps
    for name in sweeps:
        trials = list(ml_client.jobs.list(parent_job_name=name))
        assert len(trials) == 4 and all(t.score is not None for t in trials)
        assert {t.params["boosting"] for t in trials} <= {"gbdt", "dart"}
        assert all(0.01 <= float(t.params["learning_rate"]) <= 0.9 for t in trials)
    assert jobs[ns["returned_sweep_job_cmd"].name].experiment_name == "lightgbm-iris-sweep-example"

    # autolog logged learning_rate itself, as text of its own: no clash with the sampled value
    from mlflow.tracking import MlflowClient

    best = ml_client.jobs.get(jobs[ns["returned_sweep_job"].name].properties["best_child_run_id"])
    run = MlflowClient(ml_client.tracking_uri).get_run(best.properties["mlflow.run_id"])
    assert float(run.data.params["learning_rate"]) == pytest.approx(float(best.params["learning_rate"]))
    assert "test-multi_logloss" in run.data.metrics
    print_cells(notebook)


def print_cells(notebook: Notebook) -> None:
    """What happened to each cell (``pytest -s`` shows it; the closing note of the issue quotes it)."""
    for number, what in notebook.ran:
        print(f"{notebook.path.name} cell {number}: {what}")


def test_the_pipeline_with_hyperparameter_sweep_notebook_runs_as_written(shell: Any, tmp_path: Path) -> None:
    """The 1c notebook: a ``@pipeline`` whose sweep node comes from ``train_model.sweep(...)`` and whose scoring
    step reads the sweep's ``model_output`` and ``test_data``. Needs PyPI: its components install ``mlflow<2.19``
    in each trial's own environment, as on Azure."""
    import shutil

    for name in ("train.yml", "predict.yml", "train-src", "predict-src"):  # the notebook's folder
        source = PIPELINE.parent / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    iris = write_iris_csv(tmp_path / "iris.csv")
    notebook = Notebook(PIPELINE, shell)
    cells = {c.number: c for c in code_cells(PIPELINE)}
    changed = local_client_cell(cells[6].source, f'inputs={{"sweep_step.data": {str(iris)!r}}}, max_total_trials=2')
    assert 'ml_client = LocalClient.from_config(credential=credential, inputs={"sweep_step.data": ' in changed
    ns = notebook.run({6: changed})

    ml_client = ns["ml_client"]
    pipeline = ml_client.jobs.get(ns["pipeline_job"].name)
    assert pipeline.type == "pipeline" and pipeline.status == "Completed"
    assert pipeline.experiment_name == "pipeline_samples"  # cell 10's experiment_name
    steps = pipeline.properties["steps"]
    assert {name: step["status"] for name, step in steps.items()} == {"sweep_step": "Completed", "score_data": "Completed"}
    sweep = ml_client.jobs.get(steps["sweep_step"]["job"])
    trials = list(ml_client.jobs.list(parent_job_name=sweep.name))
    assert len(trials) == 2 and all(t.score is not None for t in trials)  # training_f1_score, logged by MLflow 2.18
    best = min(trials, key=lambda t: t.score)  # goal="minimize", as written
    assert sweep.properties["best_child_run_id"] == best.name
    result = Path(steps["score_data"]["outputs"]["predict_result"]) / "predict_result.csv"
    predicted = result.read_text().splitlines()
    assert predicted[0].endswith("species,predict") and len(predicted) == 31  # the best trial's 30 test rows
    print_cells(notebook)
