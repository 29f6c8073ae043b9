"""A local pipeline run end to end: two command steps feed a sweep step, whose best trial feeds a last step.

Real processes and the real MLflow store; each component is a plain Python script. Checks the data flow (a pipeline
input, a literal, upstream output folders, the best trial's output), the order, MLflow's parent and child runs,
``azsweep show``, and a failing step that stops its dependents, reported with its log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azsweep.errors import ArgumentError
from azsweep.runner import Settings
from azsweep.runner.pipeline import load_pipeline, run_pipeline

pytestmark = pytest.mark.slow

FILES = {
    "pipeline.yml": """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: own-pipeline
settings:
  default_compute: azureml:cpu-cluster
inputs:
  raw: {type: uri_file, path: ./data.txt}
  greeting: hello
outputs:
  final: {type: uri_folder}
jobs:
  report:
    type: command
    component: ./report.yml
    inputs:
      model: ${{parent.jobs.tune.outputs.model}}
    outputs:
      result: ${{parent.outputs.final}}
  tune:
    type: sweep
    trial: ./tune.yml
    inputs:
      a_in: ${{parent.jobs.prep_a.outputs.a_out}}
      b_in: ${{parent.jobs.prep_b.outputs.b_out}}
    search_space:
      x: {type: choice, values: [1, 2, 3, 4, 5]}
    sampling_algorithm: grid
    objective: {goal: minimize, primary_metric: loss}
    limits: {max_total_trials: 5, max_concurrent_trials: 2}
    outputs:
      model:
  prep_a:
    type: command
    component: ./prep_a.yml
    inputs:
      raw: ${{parent.inputs.raw}}
      greeting: ${{parent.inputs.greeting}}
  prep_b:
    type: command
    component: ./prep_b.yml
""",
    "prep_a.yml": """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: prep_a
inputs:
  raw: {type: uri_file}
  greeting: {type: string}
outputs:
  a_out: {type: uri_folder}
code: ./src
environment: azureml:local-env@latest
command: python prep_a.py --raw ${{inputs.raw}} --greeting ${{inputs.greeting}} --out ${{outputs.a_out}}
""",
    "prep_b.yml": """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: prep_b
inputs:
  offset: {type: integer, default: 3}
  fail: {type: string, default: "no"}
outputs:
  b_out: {type: uri_folder}
code: ./src
environment: azureml:local-env@latest
command: python prep_b.py --offset ${{inputs.offset}} --fail ${{inputs.fail}} --out ${{outputs.b_out}}
""",
    "tune.yml": """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: tune
inputs:
  a_in: {type: uri_folder}
  b_in: {type: uri_folder}
  x: {type: integer, default: 0}
outputs:
  model: {type: uri_folder}
code: ./src
environment: azureml:local-env@latest
command: python tune.py --a ${{inputs.a_in}} --b ${{inputs.b_in}} --x ${{inputs.x}} --model ${{outputs.model}}
""",
    "report.yml": """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: report
inputs:
  model: {type: uri_folder}
outputs:
  result: {type: uri_folder}
code: ./src
environment: azureml:local-env@latest
command: python report.py --model ${{inputs.model}} --out ${{outputs.result}}
""",
    "src/prep_a.py": """\
import argparse, pathlib
p = argparse.ArgumentParser(); p.add_argument("--raw"); p.add_argument("--greeting"); p.add_argument("--out")
a = p.parse_args()
text = pathlib.Path(a.raw).read_text().strip()
pathlib.Path(a.out, "a.txt").write_text(f"{a.greeting} {text}")
print("prep_a wrote", a.out)
""",
    "src/prep_b.py": """\
import argparse, pathlib, sys
p = argparse.ArgumentParser(); p.add_argument("--offset"); p.add_argument("--out"); p.add_argument("--fail", default="no")
a = p.parse_args()
if a.fail == "yes":
    sys.exit("prep_b: asked to fail")
pathlib.Path(a.out, "b.txt").write_text(a.offset)
""",
    "src/tune.py": """\
import argparse, os, pathlib, mlflow
p = argparse.ArgumentParser()
p.add_argument("--a"); p.add_argument("--b"); p.add_argument("--x", type=int); p.add_argument("--model")
a = p.parse_args()
offset = int(pathlib.Path(a.b, "b.txt").read_text())
loss = float((a.x - offset) ** 2)
mlflow.log_metric("loss", loss)
text = pathlib.Path(a.a, "a.txt").read_text()
pathlib.Path(a.model, "model.txt").write_text(f"x={a.x} sweep_env={os.environ.get('AZUREML_SWEEP_x')} a={text}")
""",
    "src/report.py": """\
import argparse, pathlib
p = argparse.ArgumentParser(); p.add_argument("--model"); p.add_argument("--out")
a = p.parse_args()
pathlib.Path(a.out, "report.txt").write_text("report of " + pathlib.Path(a.model, "model.txt").read_text())
""",
}


def write_pipeline(folder: Path) -> Path:
    for name, text in FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / "data.txt").write_text("world\n")
    return folder / "pipeline.yml"


def test_steps_run_in_dependency_order_and_the_best_trials_output_feeds_the_last_step(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    events: list[tuple[str, str]] = []
    record = run_pipeline(path, settings=settings, name="p", on_step=lambda kind, _, step: events.append((kind, step.name)))
    assert record.status == "Completed", record.message
    # written out of order in the file; run after the steps feeding each
    assert [s.name for s in record.steps] == ["prep_a", "prep_b", "tune", "report"]
    assert [e for e in events if e[0] == "step_started"] == [("step_started", s) for s in ("prep_a", "prep_b", "tune", "report")]
    tune, report = record.step("tune"), record.step("report")
    assert tune.best_trial == "p_tune_2"  # x = 3 matches prep_b's offset: loss 0
    assert tune.outputs["model"].endswith("/sweeps/p_tune/trials/p_tune_2/outputs/model")
    assert report.started is not None and tune.ended is not None and report.started >= tune.ended
    result = Path(report.outputs["result"]) / "report.txt"
    # the pipeline input (a file), the literal, prep_a's folder, the swept value as AZUREML_SWEEP_x and ${{inputs.x}}
    assert result.read_text() == "report of x=3 sweep_env=3 a=hello world"
    assert record.outputs["final"] == report.outputs["result"]
    assert load_pipeline("p", settings) == record

    from mlflow.tracking import MlflowClient

    client = MlflowClient(settings.tracking_uri)
    parent = client.get_run(record.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["azureml.runType"] == "pipeline"
    for step in record.steps:
        run = client.get_run(step.run_id)
        assert run.data.tags["mlflow.parentRunId"] == record.run_id and run.data.tags["azsweep.step"] == step.name
    trials = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{tune.run_id}'")
    assert len(trials) == 5  # the sweep's trials under the sweep step's run


def test_azsweep_run_and_show_a_pipeline(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path)
    env = {**os.environ, "AZSWEEP_HOME": str(tmp_path / ".azsweep")}
    env.pop("MLFLOW_TRACKING_URI", None)

    def azsweep(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "azsweep", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    done = azsweep("run", str(path), "--name", "cli", "--input", "greeting=hi", "--input", "prep_b.offset=4")
    assert done.returncode == 0, done.stderr
    assert "step tune (sweep): running as local job cli_tune" in done.stderr
    report = tmp_path / ".azsweep/sweeps/cli_report/trials/cli_report/outputs/result/report.txt"
    assert report.read_text() == "report of x=4 sweep_env=4 a=hi world"  # both overrides reached their steps
    shown = azsweep("show", "cli")
    assert shown.returncode == 0, shown.stderr
    for step in ("prep_a", "prep_b", "tune", "report"):
        assert step in shown.stdout
    assert "cli_tune_3" in shown.stdout  # the sweep step's best trial
    assert "step tune: sweep cli_tune, 5 trials" in shown.stdout  # and its trials, as `azsweep show cli_tune` lists them
    assert "cli_tune: Completed, 5 trials" in shown.stdout and "best trial: cli_tune_3 with loss = 0" in shown.stderr
    as_json = json.loads(azsweep("show", "cli", "--json").stdout)
    assert [s["status"] for s in as_json["steps"]] == ["Completed"] * 4


def test_a_failing_step_stops_its_dependents_and_is_reported_with_its_log(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    record = run_pipeline(path, settings=settings, name="f", inputs={"prep_b.fail": "yes"})
    assert record.status == "Failed"
    statuses = {s.name: s.status for s in record.steps}
    assert statuses == {"prep_a": "Completed", "prep_b": "Failed", "tune": "Canceled", "report": "Canceled"}
    failed = record.step("prep_b")
    assert "prep_b: asked to fail" in Path(failed.log).read_text()
    assert "prep_b: asked to fail" in failed.message and record.message.startswith("step prep_b failed")
    assert record.step("tune").message == "not run: step prep_b ended Failed"
    assert not (settings.sweeps / "f_tune").exists() and not (settings.sweeps / "f_report").exists()


def test_an_azure_location_without_a_local_copy_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from azsweep.errors import ArgumentError

    path = write_pipeline(tmp_path)
    text = path.read_text().replace("path: ./data.txt", "path: wasbs://data@account.blob.core.windows.net/d.txt")
    path.write_text(text)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    with pytest.raises(ArgumentError, match=r"inputs\.raw: .*wasbs://.* pass a local copy with inputs=\{'raw': PATH\}"):
        run_pipeline(path, settings=settings, name="x")
    assert not settings.sweeps.exists()
    with pytest.raises(ArgumentError, match=r"inputs\['nope'\]: the pipeline has no input 'nope'"):
        run_pipeline(path, settings=settings, name="x", inputs={"nope": "1"})


def test_microsofts_pipeline_runs_end_to_end_as_written(tmp_path: Path) -> None:
    """Microsoft's ``pipeline_with_hyperparameter_sweep``, unchanged, through ``azsweep run`` with a local iris CSV
    for its blob input. Needs PyPI: both components install ``mlflow<2.19`` into each trial's own environment,
    as on Azure; that MLflow cannot open azsweep's SQLite store, so its trials log through a tracking server on
    the store. The sweep step picks its best trial by ``training_f1_score``, ``predict_step`` gets that trial's
    ``model_output`` and ``test_data`` and writes its predictions, and azsweep's own MLflow is untouched."""
    import shutil
    from importlib import metadata

    from mlflow.tracking import MlflowClient
    from test_local_client_notebooks import write_iris_csv

    shutil.copytree(Path(__file__).parent / "azure_examples" / "pipeline-sweep", tmp_path / "p")
    iris = write_iris_csv(tmp_path / "iris.csv")
    home = tmp_path / ".azsweep"
    env = {**os.environ, "AZSWEEP_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)

    def azsweep(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "azsweep", *args], cwd=tmp_path / "p", env=env, capture_output=True, text=True, timeout=900
        )

    done = azsweep("run", "pipeline.yml", "--name", "ms", "--input", f"sweep_step.data={iris}", "--max-total-trials", "2")
    assert done.returncode == 0, done.stderr
    for job in ("ms_sweep_step", "ms_predict_step"):  # each job's record says how its trials reach the store
        (note,) = json.loads((home / "sweeps" / job / "sweep.json").read_text())["notes"]
        assert note.startswith("the trials log through an MLflow tracking server on the job's store (http://127.0.0.1:")
        assert note.endswith("its command installs its own MLflow (mlflow<2.19)")
        assert f"  {note}" in done.stderr  # said as the step starts
    shown = azsweep("show", "ms", "--json")
    assert shown.returncode == 0, shown.stderr
    steps = {s["name"]: s for s in json.loads(shown.stdout)["steps"]}
    assert list(steps) == ["sweep_step", "predict_step"]
    assert {name: s["status"] for name, s in steps.items()} == {"sweep_step": "Completed", "predict_step": "Completed"}

    client = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    sweep = json.loads((home / "sweeps" / "ms_sweep_step" / "sweep.json").read_text())
    scores = {t["name"]: client.get_run(t["run_id"]).data.metrics.get("training_f1_score") for t in sweep["trials"]}
    assert len(scores) == 2 and all(isinstance(v, float) for v in scores.values()), scores  # logged by MLflow 2.18
    best = steps["sweep_step"]["best_trial"]
    assert scores[best] == min(scores.values())  # the example's objective is ``goal: minimize``, as written
    best_outputs = home / "sweeps" / "ms_sweep_step" / "trials" / best / "outputs"
    assert steps["sweep_step"]["outputs"]["model_output"] == str(best_outputs / "model_output")
    result = home / "sweeps" / "ms_predict_step" / "trials" / "ms_predict_step" / "outputs" / "predict_result"
    rows = (result / "predict_result.csv").read_text().splitlines()
    expected = (best_outputs / "test_data" / "y_test.csv").read_text().splitlines()
    assert rows[0].endswith("species,predict") and len(rows) == len(expected) == 31  # 30 test rows, as the best trial split them
    assert (
        metadata.version("mlflow")
        == subprocess.run(
            [sys.executable, "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )  # azsweep's own MLflow, as installed before


def test_local_client_runs_a_pipeline_and_reads_it_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from azure.ai.ml import load_job

    from azsweep import LocalClient

    path = write_pipeline(tmp_path)
    ml_client = LocalClient(home=tmp_path / ".azsweep", tracking_uri=f"sqlite:///{tmp_path / '.azsweep' / 'mlflow.db'}")
    returned = ml_client.jobs.create_or_update(load_job(path), name="lc")  # a PipelineJob, as the SDK gives it
    assert returned.type == "pipeline" and returned.name == "lc"
    ml_client.jobs.stream("lc")
    out = capsys.readouterr().out
    assert "tune (lc_tune): Completed" in out and out.strip().splitlines()[-1] == "pipeline lc: Completed"
    job = ml_client.jobs.get("lc")
    assert job.status == "Completed" and job.properties["steps"]["report"]["status"] == "Completed"
    children = list(ml_client.jobs.list(parent_job_name="lc"))
    assert [c.name for c in children] == ["lc_prep_a", "lc_prep_b", "lc_tune", "lc_report"]
    assert "lc" in [j.name for j in ml_client.jobs.list()]
    with pytest.raises(ArgumentError, match=r"^name: a local job named 'lc' already exists"):
        ml_client.jobs.create_or_update(str(path), name="lc")


def test_a_smoke_run_gives_each_sweep_step_two_short_trials(tmp_path: Path) -> None:
    path = write_pipeline(tmp_path)
    settings = Settings.resolve(home=tmp_path / ".azsweep")
    record = run_pipeline(path, settings=settings, name="smoke", smoke=True)
    assert record.status == "Completed", record.message
    from azsweep.runner.record import RecordedDefinition, SweepRecord

    tune = SweepRecord.load(settings.folder("smoke_tune"))
    assert tune is not None and len(tune.trials) == 2  # the sweep step's 5 trials, 2 in a smoke run
    recorded = RecordedDefinition.load(settings.folder("smoke_tune"))
    assert recorded is not None and recorded.overrides.get("smoke") is True
    assert SweepRecord.load(settings.folder("smoke_prep_a")).is_command  # command steps run once, as always
