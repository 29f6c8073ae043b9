"""Each trial runs in its own environment: what it installs is its own, azsweep's environment never changes.

End to end through real trial processes, real pip installs and a real MLflow store: two trials that
install two versions of a package the test environment also has (from wheels built here, offline), and
Microsoft's sweep component whose command starts with ``pip install 'mlflow<2.19'`` (from PyPI).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from azsweep.runner.isolation import BaseEnvironment, make_overlay

PACKAGE = "types-PyYAML"  # pure Python, small, in the dev dependencies, imported by nothing at run time
EXAMPLES = Path(__file__).parent / "azure_examples"


def environment_fingerprint() -> dict[str, object]:
    """What would change if a trial touched the test environment: every distribution and version, and the
    listing of every site-packages folder."""
    dists = sorted((d.metadata["Name"], d.version, str(d._path)) for d in importlib.metadata.distributions())  # type: ignore[attr-defined]
    listing = {d: sorted(os.listdir(d)) for d in map(str, BaseEnvironment.current().site_dirs)}
    return {"distributions": dists, "site-packages": listing}


def build_wheel(folder: Path, version: str) -> Path:
    """A real wheel of ``types-PyYAML`` at ``version`` (a stub file and its metadata), for an offline pip install."""
    dist = f"types_PyYAML-{version}.dist-info"
    files = {
        "yaml-stubs/__init__.pyi": f"# built for the isolation test, version {version}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: types-PyYAML\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: azsweep-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    path = folder / f"types_PyYAML-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


CHECK = """
import importlib.metadata, os, sys, time, mlflow
want = sys.argv[1]
time.sleep(1.5)  # both trials are installed and running at once
have = importlib.metadata.version("types-PyYAML")
print("sees", have, "want", want, "prefix", sys.prefix)
mlflow.log_metric("own_version", 1.0 if have == want else 0.0)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("PIP_REQUIRE_VIRTUALENV", raising=False)
    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / ".azsweep"))
    return tmp_path


def azsweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "azsweep", *args], cwd=cwd, capture_output=True, text=True)


def test_an_overlay_sees_the_base_packages_and_installs_into_itself(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "0.0.1")
    overlay = make_overlay(tmp_path / "env", BaseEnvironment.current())
    before = environment_fingerprint()
    env = overlay.environ(dict(os.environ))
    shown = subprocess.run(
        ["python", "-c", "import sys, yaml, mlflow; print(sys.prefix)"], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == str(overlay.root)  # `python` on its PATH is the overlay's, with the base's packages
    pip = ["pip", "install", "-q", "--no-index", "--find-links", str(wheels), f"{PACKAGE}==0.0.1"]
    subprocess.run(pip, env=env, check=True, capture_output=True)
    seen = subprocess.run(
        ["python", "-c", f"import importlib.metadata as m; print(m.version({PACKAGE!r}))"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert seen.stdout.strip() == "0.0.1"
    assert (overlay.site_packages / "types_PyYAML-0.0.1.dist-info").is_dir()
    assert environment_fingerprint() == before
    assert importlib.metadata.version(PACKAGE) != "0.0.1"


@pytest.mark.slow
def test_two_trials_install_two_versions_at_once_and_the_environment_is_unchanged(project: Path) -> None:
    wheels = project / "wheels"
    wheels.mkdir()
    versions = ["0.0.1", "0.0.2"]
    for version in versions:
        build_wheel(wheels, version)
    (project / "src").mkdir()
    (project / "src" / "check.py").write_text(CHECK)
    install = f"pip install -q --no-index --find-links {wheels} {PACKAGE}==${{{{search_space.v}}}}"
    sweep = {
        "type": "sweep",
        "experiment_name": "isolation",
        "trial": {
            "code": "src",
            "command": f"{install} && python check.py ${{{{search_space.v}}}}",
            "environment": "azureml:env@latest",
        },
        "sampling_algorithm": "grid",
        "search_space": {"v": {"type": "choice", "values": versions}},
        "objective": {"goal": "maximize", "primary_metric": "own_version"},
        "limits": {"max_total_trials": 2, "max_concurrent_trials": 2},
    }
    path = project / "sweep.yml"
    path.write_text(yaml.safe_dump(sweep))
    before = environment_fingerprint()
    done = azsweep("run", str(path), "--name", "iso", "--max-concurrent-trials", "2", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert environment_fingerprint() == before  # azsweep's environment, byte for byte the same listing
    shown = azsweep("show", "iso", "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    import json

    trials = json.loads(shown.stdout)["trials"]
    assert sorted(t["params"]["v"] for t in trials) == versions and {t["score"] for t in trials} == {1.0}
    logs = [(project / ".azsweep/sweeps/iso/trials" / f"iso_{i}" / "user_logs/std_log.txt").read_text() for i in (0, 1)]
    assert all("sees 0.0." in log and "/trials/iso_" in log for log in logs)


@pytest.mark.slow
def test_microsofts_sweep_component_with_pip_install_mlflow_leaves_azsweeps_mlflow_alone(project: Path) -> None:
    """Needs PyPI (the component installs ``mlflow<2.19``, as it does on Azure)."""
    from sklearn.datasets import load_iris

    shutil.copytree(EXAMPLES / "pipeline-sweep", project / "component")  # its train.yml, the sweep step's component
    iris = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    iris = iris.rename(columns={"target": "species"})
    iris.to_csv(project / "iris.csv", index=False)
    from azure.ai.ml import Input, load_component
    from azure.ai.ml.sweep import Choice, Uniform

    from azsweep import LocalClient

    # the sweep step of Microsoft's pipeline.yml (its inputs as given there), its component called as the 1c notebook
    # does, local data, 2 trials
    train_model = load_component(source=project / "component" / "train.yml")
    trial = train_model(
        data=Input(type="uri_file", path=str(project / "iris.csv")),
        **{"degree": 3, "gamma": "scale", "shrinking": False, "probability": False, "tol": 0.001, "cache_size": 1024},
        **{"verbose": False, "max_iter": -1, "decision_function_shape": "ovr", "break_ties": False, "random_state": 42},
        c_value=Uniform(min_value=0.5, max_value=0.9),
        kernel=Choice(["rbf", "linear", "poly"]),
        coef0=Uniform(min_value=0.1, max_value=1),
    )
    sweep = trial.sweep(primary_metric="training_f1_score", goal="minimize", sampling_algorithm="random")
    sweep.set_limits(max_total_trials=2, max_concurrent_trials=2, timeout=7200)
    sweep.experiment_name = "sweep-component"
    mlflow_before = importlib.metadata.version("mlflow")
    before = environment_fingerprint()
    ml_client = LocalClient()
    returned = ml_client.jobs.create_or_update(sweep, name="component", max_concurrent_trials=2)
    ml_client.jobs.stream(returned.name)
    # the trials ran with their own MLflow 2.18, which cannot open the SQLite store azsweep's MLflow made (its schema
    # is newer): they logged through a tracking server on that store, as trials on Azure log through its service
    trials = list(ml_client.jobs.list(parent_job_name="component"))
    assert [t.status for t in trials] == ["Completed", "Completed"]
    assert ml_client.jobs.get("component").status == "Completed"
    scores = [t.score for t in trials]  # training_f1_score, logged by each trial's MLflow 2.18
    assert all(score is not None and 0 < score <= 1 for score in scores), scores
    log = (project / ".azsweep/sweeps/component/trials/component_0/user_logs/std_log.txt").read_text()
    assert "Encountered unexpected error" not in log
    assert environment_fingerprint() == before and importlib.metadata.version("mlflow") == mlflow_before
    trial_env = project / ".azsweep/sweeps/component/trials/component_0/env"
    seen = subprocess.run(
        [str(trial_env / "bin/python"), "-c", "import mlflow; print(mlflow.__version__)"], capture_output=True, text=True
    )
    assert seen.stdout.strip().startswith("2.18")  # the trial's own mlflow, installed by its own command
    assert azsweep("show", "component", cwd=project).returncode == 0  # azsweep itself still works
