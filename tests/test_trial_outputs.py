"""What a trial leaves behind, as on Azure: ``./outputs``, ``./logs``, ``user_logs`` and named outputs
uploaded to its MLflow run whatever its status, and Azure's variables in its environment.

Through the loop's seams first (scripted trials, an in-memory store), then end to end (real processes,
a real MLflow SQLite store).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _e2e import run_sweep, write_sweep
from _fakes import FakeClock, FakeLauncher, MemoryStore, Script

from azsweep.runner import Tracker
from azsweep.runner import tracking as tags
from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.layout import SweepFolder, TrialFolder
from azsweep.runner.lifecycle import start
from azsweep.runner.loop import SweepRunner
from azsweep.runner.record import JobStatus, SweepRecord
from azsweep.runner.trial import job_artifacts
from azsweep.spec import SweepSpec, spec_from_rest

WORKSPACE_CONFIG = {"subscription_id": "sub-123", "resource_group": "rg-abc", "workspace_name": "ws-xyz"}


def make_spec(base_dir: Path) -> SweepSpec:
    """Grid over x = 0, 1, 2 (one at a time), a literal and a path input, a named output, trial_timeout 5 s."""
    return spec_from_rest(
        {
            "searchSpace": {"x": ["choice", [[0, 1, 2]]]},
            "samplingAlgorithm": {"samplingAlgorithmType": "grid"},
            "objective": {"goal": "minimize", "primaryMetric": "loss"},
            "limits": {"maxTotalTrials": 3, "maxConcurrentTrials": 1, "trialTimeout": 5},
            "trial": {"command": "python train.py --x ${{search_space.x}} --data ${{inputs.data}} --model ${{outputs.model}}"},
            "inputs": {"bs": {"jobInputType": "literal", "value": "32"}, "data": {"jobInputType": "uri_folder", "uri": "data"}},
            "outputs": {"model": {"jobOutputType": "uri_folder"}},
            "experimentName": "outputs-exp",
        },
        base_dir=base_dir,
    )


# trial 0 completes, trial 1 fails, trial 2 hangs until its trial_timeout cancels it
SCRIPTS = {
    0: Script([1.0], files={"outputs/model.txt": "m0", "logs/x.log": "l0", "{AZURE_ML_OUTPUT_model}/w.bin": "w0"}, output="ok\n"),
    1: Script([2.0], exit_code=1, files={"outputs/partial.txt": "p1"}, output="Traceback: boom\n"),
    2: Script([3.0], hang=True, files={"logs/y.log": "l2"}, output="waiting\n"),
}


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: MemoryStore) -> tuple[SweepRecord, FakeLauncher, SweepFolder]:
    definition, cwd = tmp_path / "project", tmp_path / "cwd"
    (definition / "data").mkdir(parents=True)
    (definition / ".azureml").mkdir()
    (definition / ".azureml" / "config.json").write_text(json.dumps(WORKSPACE_CONFIG))
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    spec = make_spec(definition)
    folder = SweepFolder(tmp_path / "home", "s")
    clock = FakeClock()
    launcher = FakeLauncher(clock, store, lambda i, _: SCRIPTS[i])
    inputs = ResolvedInputs({"bs": "32", "data": str(definition / "data")}, {"bs": "32"})
    runner = SweepRunner(
        spec, start(spec, folder, store), folder=folder, inputs=inputs, tracker=store, launcher=launcher, clock=clock
    )
    return runner.run(), launcher, folder


def test_every_trial_gets_azures_variables_and_its_files_uploaded_whatever_its_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryStore()
    record, launcher, folder = run(tmp_path, monkeypatch, store)
    assert [t.status for t in record.trials] == [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED]
    for trial, launched in zip(record.trials, launcher.launched):
        env = launched.env
        assert env["AZUREML_RUN_ID"] == trial.name == f"s_{trial.index}"
        assert env["AZUREML_ARM_SUBSCRIPTION"] == "sub-123"  # the config.json of the definition's folder
        assert env["AZUREML_ARM_RESOURCEGROUP"] == "rg-abc"
        assert env["AZUREML_ARM_WORKSPACE_NAME"] == "ws-xyz"
        assert env["AZUREML_ARM_PROJECT_NAME"] == "outputs-exp" == record.experiment_name
        assert env["AZURE_ML_INPUT_bs"] == "32" and env["AZUREML_PARAMETER_bs"] == "32"
        assert env["AZURE_ML_INPUT_data"] == str(tmp_path / "project" / "data")
        assert env["AZURE_ML_OUTPUT_model"] == str(folder.trial(trial.name).output("model"))
        assert f"--model {env['AZURE_ML_OUTPUT_model']}" in launched.command
        assert env["AZUREML_SWEEP_x"] == str(trial.index) and env["MLFLOW_RUN_ID"] == trial.run_id
    completed, failed, canceled = (store.artifacts.get(t.run_id, {}) for t in record.trials)
    assert completed == {
        "outputs/model.txt": "m0",
        "logs/x.log": "l0",
        "user_logs/std_log.txt": "ok\n",
        "named-outputs/model/w.bin": "w0",
    }
    assert failed == {"outputs/partial.txt": "p1", "user_logs/std_log.txt": "Traceback: boom\n"}
    assert canceled == {"logs/y.log": "l2", "user_logs/std_log.txt": "waiting\n"}
    # an empty folder costs no call: the failed trial's logs/ and named output were never uploaded
    assert [p for r, p in store.artifact_calls if r == record.trials[1].run_id] == ["outputs", "user_logs"]
    assert record.trials[0].reason == "" and tags.NOTE_TAG not in store.runs[record.trials[0].run_id].tags


def test_an_unwritable_artifact_store_is_a_note_on_each_trial_and_the_sweep_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryStore()
    store.artifacts_fail = "[Errno 30] Read-only file system"
    record, _, _ = run(tmp_path, monkeypatch, store)
    assert [t.status for t in record.trials] == [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED]
    assert record.status == JobStatus.COMPLETED and record.best_trial == "s_0"
    error = "(OSError: [Errno 30] Read-only file system)"
    completed = record.trials[0]
    note = f"artifacts not uploaded: outputs/ {error}, logs/ {error}, user_logs/ {error}, named-outputs/model/ {error}"
    assert completed.reason == note
    assert store.runs[completed.run_id].tags[tags.NOTE_TAG] == note
    assert store.runs[completed.run_id].status == "FINISHED"
    failed = record.trials[1]
    # a failed trial's reason says what its log said last
    assert failed.reason == f"exited with code 1: Traceback: boom; artifacts not uploaded: outputs/ {error}, user_logs/ {error}"
    assert store.runs[failed.run_id].tags[tags.REASON_TAG] == "exited with code 1: Traceback: boom"
    canceled = record.trials[2]
    assert canceled.reason == f"trial_timeout of 5 s reached; artifacts not uploaded: logs/ {error}, user_logs/ {error}"
    assert store.runs[canceled.run_id].status == "KILLED"


def test_without_a_workspace_config_the_trials_get_local_placeholders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = make_spec(tmp_path)
    folder = SweepFolder(tmp_path / "home", "s")
    store, clock = MemoryStore(), FakeClock()
    launcher = FakeLauncher(clock, store, lambda i, _: Script([float(i)]))
    inputs = ResolvedInputs({"bs": "32", "data": str(tmp_path)}, {"bs": "32"})
    SweepRunner(
        spec, start(spec, folder, store), folder=folder, inputs=inputs, tracker=store, launcher=launcher, clock=clock
    ).run()
    env = launcher.launched[0].env
    assert [env[f"AZUREML_ARM_{k}"] for k in ("SUBSCRIPTION", "RESOURCEGROUP", "WORKSPACE_NAME")] == ["local"] * 3
    assert env["AZUREML_ARM_PROJECT_NAME"] == "outputs-exp"
    assert store.artifacts == {t.run_id: {"user_logs/std_log.txt": ""} for t in store.runs.values() if "azsweep.trial" in t.tags}


def test_the_artifact_layout_is_azures() -> None:
    folder = TrialFolder(Path("/h/sweeps/s/trials/s_0"))
    assert job_artifacts(folder, ["model", "metrics"]) == [
        (Path("/h/sweeps/s/trials/s_0/code/outputs"), "outputs"),
        (Path("/h/sweeps/s/trials/s_0/code/logs"), "logs"),
        (Path("/h/sweeps/s/trials/s_0/user_logs"), "user_logs"),
        (Path("/h/sweeps/s/trials/s_0/outputs/model"), "named-outputs/model"),
        (Path("/h/sweeps/s/trials/s_0/outputs/metrics"), "named-outputs/metrics"),
    ]


# -- end to end ----------------------------------------------------------------------------------

E2E_SCRIPT = """
import json, os, sys, mlflow
x = int(sys.argv[sys.argv.index("--x") + 1])
model = sys.argv[sys.argv.index("--model") + 1]
os.makedirs("outputs", exist_ok=True)
os.makedirs("logs", exist_ok=True)
with open("outputs/env.json", "w") as f:
    json.dump({k: v for k, v in os.environ.items() if k.startswith(("AZUREML_", "AZURE_ML_", "MLFLOW_"))}, f)
with open("outputs/model.txt", "w") as f:
    f.write(f"model {x}")
with open("logs/x.log", "w") as f:
    f.write("log line")
with open(os.path.join(model, "weights.bin"), "w") as f:
    f.write("w")
print("trial says hello")
mlflow.log_metric("loss", float(x))
sys.exit(3 if x == 1 else 0)
"""


@pytest.mark.slow
def test_a_real_trial_leaves_its_files_in_its_mlflow_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("AZSWEEP_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "config.json").write_text(json.dumps(WORKSPACE_CONFIG))
    monkeypatch.chdir(tmp_path)
    path = write_sweep(
        project,
        E2E_SCRIPT,
        {
            "trial": {
                "command": "python train.py --x ${{search_space.x}} --bs ${{inputs.bs}} --data ${{inputs.data}} "
                "--model ${{outputs.model}}"
            },
            "inputs": {"bs": 32, "data": {"type": "uri_folder", "path": "data"}},
            "outputs": {"model": {"type": "uri_folder"}},
            "sampling_algorithm": "grid",
            "search_space": {"x": {"type": "choice", "values": [0, 1]}},
            "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
            "experiment_name": "artifacts-e2e",
        },
    )
    record = run_sweep(path, "artifacts-e2e")
    assert sorted(t.status for t in record.trials) == [JobStatus.COMPLETED, JobStatus.FAILED]
    client = Tracker().client

    def listed(run_id: str, folder: str) -> list[str]:
        return sorted(a.path for a in client.list_artifacts(run_id, folder))

    for trial in record.trials:
        x = trial.params["x"]
        assert listed(trial.run_id, "outputs") == ["outputs/env.json", "outputs/model.txt"], trial.status
        assert listed(trial.run_id, "logs") == ["logs/x.log"]
        assert listed(trial.run_id, "user_logs") == ["user_logs/std_log.txt"]
        assert listed(trial.run_id, "named-outputs/model") == ["named-outputs/model/weights.bin"]
        local = Path(client.download_artifacts(trial.run_id, "outputs/model.txt", str(tmp_path / trial.name)))
        assert local.read_text() == f"model {x}"
        log = Path(client.download_artifacts(trial.run_id, "user_logs/std_log.txt", str(tmp_path / trial.name)))
        assert "trial says hello" in log.read_text()
        env: dict[str, Any] = json.loads((Path(trial.workdir) / "code" / "outputs" / "env.json").read_text())
        assert env["AZUREML_RUN_ID"] == trial.name
        assert env["AZUREML_ARM_SUBSCRIPTION"] == "sub-123"
        assert env["AZUREML_ARM_RESOURCEGROUP"] == "rg-abc"
        assert env["AZUREML_ARM_WORKSPACE_NAME"] == "ws-xyz"
        assert env["AZUREML_ARM_PROJECT_NAME"] == "artifacts-e2e"
        assert env["AZURE_ML_INPUT_bs"] == "32"
        assert env["AZURE_ML_INPUT_data"] == str((project / "data").resolve())
        assert env["AZURE_ML_OUTPUT_model"] == str(Path(trial.workdir) / "outputs" / "model")
        assert env["AZUREML_SWEEP_x"] == str(x) and env["AZUREML_PARAMETER_bs"] == "32"
        assert env["MLFLOW_RUN_ID"] == trial.run_id
