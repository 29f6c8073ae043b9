"""Every sample in samples/ is valid and runs on a tiny budget through the real runner."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azsweep import cli, validate
from azsweep.definition import load_spec

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SWEEP_FILES = sorted(SAMPLES.glob("*/sweep.yml"))
RUN_SCRIPTS = sorted(SAMPLES.glob("*/run_sweep.py"))


def _id(path: Path) -> str:
    return path.parent.name


def test_the_samples_are_found():
    assert {p.parent.name for p in SWEEP_FILES} >= {"quickstart", "sklearn-digits"}
    assert RUN_SCRIPTS


@pytest.mark.parametrize("path", SWEEP_FILES, ids=_id)
def test_sample_yaml_is_clean(path):
    assert validate(str(path)) == []  # no errors and no warnings


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(f"sample_{path.parent.name.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", RUN_SCRIPTS, ids=_id)
def test_run_sweep_builds_the_same_sweep_as_the_yaml(script):
    from_python, _ = load_spec(_load_script(script).build_sweep())
    from_yaml, _ = load_spec(str(script.parent / "sweep.yml"))
    assert from_python is not None and from_yaml is not None
    for field in (
        "search_space",
        "algorithm",
        "objective",
        "limits",
        "policy",
        "inputs",
        "outputs",
        "experiment_name",
        "display_name",
        "description",
    ):
        assert getattr(from_python, field) == getattr(from_yaml, field), field
    assert from_python.trial.command == from_yaml.trial.command


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A fresh MLflow store and azsweep home; the working directory outside the repository."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / "azsweep-home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("path", SWEEP_FILES, ids=_id)
def test_sample_runs_on_a_tiny_budget(path, isolated, capsys):
    code = cli.main(["run", str(path), "--max-total-trials", "2", "--max-concurrent-trials", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert len(summary["trials"]) == 2, summary
    assert summary["best_score"] is not None and math.isfinite(summary["best_score"]), summary


@pytest.mark.slow
@pytest.mark.parametrize("script", RUN_SCRIPTS, ids=_id)
def test_run_sweep_script_runs_on_a_tiny_budget(script, isolated):
    result = subprocess.run(
        [sys.executable, str(script), "--max-total-trials", "2"],
        cwd=isolated,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "best trial:" in result.stdout


@pytest.mark.slow
def test_the_pipeline_sample_validates_and_runs(tmp_path):
    pipeline = SAMPLES / "pipeline-sweep" / "pipeline.yml"
    env = {**os.environ, "AZSWEEP_HOME": str(tmp_path / ".azsweep")}
    env.pop("MLFLOW_TRACKING_URI", None)
    checked = subprocess.run(
        [sys.executable, "-m", "azsweep", "validate", str(pipeline)], capture_output=True, text=True, env=env
    )
    assert checked.returncode == 0 and ": error:" not in checked.stdout, checked.stdout
    done = subprocess.run(
        [sys.executable, "-m", "azsweep", "run", str(pipeline), "--name", "sample", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = next((tmp_path / ".azsweep").rglob("report.txt"))
    assert report.read_text() == "report of x=3 sweep_env=3 a=hello world"  # the best trial (x = offset 3) fed the report
