"""A job's declared ``environment:``: read as pip can install it, compared with this environment (``current``),
or built once into a cached environment that every trial's overlay builds on (``build``).

The build test is offline: pip reads wheels built here (``PIP_NO_INDEX``, ``PIP_FIND_LINKS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _e2e import wheel

from azsweep.environment_spec import EnvironmentDeclaration, drift

CONDA = {
    "name": "sklearn-env",
    "channels": ["conda-forge"],
    "dependencies": [
        "python=3.8",
        "pip=21.2.4",
        "scikit-learn=0.24.2",
        "scipy=1.7",
        "conda-forge::numpy>=1.20",
        "conda",
        {"pip": ["azureml-mlflow==1.42.0", "mlflow-skinny==2.3.2"]},
    ],
}


def test_conda_packages_become_pip_requirements_of_the_same_name() -> None:
    declared = EnvironmentDeclaration(label="sklearn-env:1", conda_file=CONDA)
    assert declared.python == "3.8"
    assert declared.conda_requirements() == ["pip==21.2.4", "scikit-learn==0.24.2", "scipy==1.7.*", "numpy>=1.20"]
    assert declared.pip_requirements() == ["azureml-mlflow==1.42.0", "mlflow-skinny==2.3.2"]
    assert declared.installable


def test_the_cache_key_is_the_declared_content_and_the_python() -> None:
    one = EnvironmentDeclaration(label="a:1", conda_file=CONDA)
    same = EnvironmentDeclaration(label="other-name:7", conda_file=dict(CONDA))
    other = EnvironmentDeclaration(label="a:1", conda_file={**CONDA, "dependencies": ["python=3.8", "six"]})
    assert one.cache_key("3.11") == same.cache_key("3.11") != other.cache_key("3.11")
    assert one.cache_key("3.11") != one.cache_key("3.12")


def test_drift_names_missing_packages_and_other_pinned_versions() -> None:
    declared = EnvironmentDeclaration(label="sklearn-env:1", conda_file=CONDA)
    installed = {"scikit-learn": "1.9.1", "scipy": "1.7.3", "numpy": "2.3.0", "mlflow-skinny": "2.3.2"}
    found = drift(declared, installed.get)
    assert found.missing == ["azureml-mlflow"]
    assert found.other == [("scikit-learn", "0.24.2", "1.9.1")]  # scipy=1.7 is 1.7.*: 1.7.3 is fine; pip is skipped
    assert found.describe() == "scikit-learn==0.24.2 (here 1.9.1), azureml-mlflow (not installed)"


def test_a_named_environment_that_is_not_recorded_locally_is_said_to_be_unresolvable(tmp_path: Path) -> None:
    from azsweep.runner.environments import base_for, current_notes, declaration_of

    class Job:
        environment = "azureml:AzureML-sklearn-1.5@latest"

    declared = declaration_of(Job(), tmp_path / "assets")
    assert declared is not None and not declared.resolvable
    assert current_notes(declared)[0].startswith("note: environment 'azureml:AzureML-sklearn-1.5@latest' cannot be resolved")
    base, notes = base_for("build", declared, cache=tmp_path / "cache")
    assert base.python.exists() and "nothing to build" in notes[0]


def test_an_image_only_environment_says_why_it_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azsweep.runner.environments import base_for

    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, no podman
    declared = EnvironmentDeclaration(label="inline environment (image x)", image="mcr.microsoft.com/x:latest")
    monkeypatch.delenv("AZSWEEP_CONTAINER_RUNTIME", raising=False)
    base, notes = base_for("build", declared, cache=tmp_path / "cache")
    assert base.container is None and notes == [
        "note: environment 'inline environment (image x)' is an image only (mcr.microsoft.com/x:latest) and cannot be run "
        f"here: neither docker nor podman is installed; trials use this Python environment ({sys.prefix}), each in its "
        "own overlay"
    ]


def test_an_unknown_environment_mode_is_refused_naming_the_argument(tmp_path: Path) -> None:
    from azure.ai.ml import command

    from azsweep.errors import ArgumentError
    from azsweep.runner import prepare

    with pytest.raises(ArgumentError, match=r"^environment: must be one of current, build \(got 'docker'\)$"):
        prepare(command(command="python x.py", environment="env@latest"), environment="docker")


@pytest.mark.slow
def test_build_installs_the_declared_packages_once_and_trials_run_on_them(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "azsweep-probe-conda", "1.2.0", "probe_conda")  # a "conda" package with a PyPI twin
    wheel(wheels, "azsweep-probe-pip", "2.0.0", "probe_pip")  # a pip: package
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "show.py").write_text(
        "import sys, probe_conda, probe_pip\nprint('versions', probe_conda.VERSION, probe_pip.VERSION, 'from', sys.prefix)\n"
        "import importlib.util\nprint('mlflow visible:', importlib.util.find_spec('mlflow') is not None)\n"
    )
    (tmp_path / "conda.yml").write_text(
        textwrap.dedent(
            """\
            name: probe-env
            channels: [conda-forge]
            dependencies:
              - python=3.8
              - azsweep-probe-conda=1.2
              - azsweep-probe-missing=9.9
              - pip:
                - azsweep-probe-pip==2.0.0
            """
        )
    )
    (tmp_path / "job.yml").write_text(
        "type: command\ncode: src\ncommand: python show.py\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest\n  conda_file: conda.yml\n"
    )
    env = {
        **os.environ,
        "AZSWEEP_HOME": str(tmp_path / ".azsweep"),
        "AZSWEEP_ENV_CACHE": str(tmp_path / "cache"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
    }
    env.pop("MLFLOW_TRACKING_URI", None)

    def run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "azsweep", "run", "job.yml", "--environment", "build", "--name", name],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )

    first = run("first")
    assert first.returncode == 0, first.stderr
    assert "versions 1.2.0 2.0.0 from " + str(tmp_path / ".azsweep/sweeps/first/trials/first/env") in first.stdout
    assert "mlflow visible: False" in first.stdout  # the built environment only: not azsweep's packages
    assert "note: built environment 'inline environment (image mcr.microsoft.com/" in first.stderr
    assert "asks for Python 3.8; this machine has Python" in first.stderr
    assert "not installed (no PyPI package of that name and version for Python" in first.stderr
    assert "azsweep-probe-missing==9.9.*" in first.stderr
    second = run("second")
    assert second.returncode == 0, second.stderr
    assert ": reusing the one built in " in second.stderr and "versions 1.2.0 2.0.0" in second.stdout
    listed = subprocess.run([sys.executable, "-m", "azsweep", "env", "list"], env=env, capture_output=True, text=True)
    assert len([line for line in listed.stdout.splitlines() if "python" in line]) == 1  # built once
    pruned = subprocess.run([sys.executable, "-m", "azsweep", "env", "prune"], env=env, capture_output=True, text=True)
    assert pruned.returncode == 0 and not any((tmp_path / "cache").glob("*/azsweep-environment.json"))


def test_validate_says_which_declared_packages_differ_here(tmp_path: Path) -> None:
    (tmp_path / "conda.yml").write_text(
        "dependencies:\n  - python=3.8\n  - pyyaml=0.1\n  - pip:\n    - azsweep-not-installed==1.0\n"
    )
    (tmp_path / "job.yml").write_text(
        "type: command\ncommand: python x.py\n"
        "environment:\n  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest\n  conda_file: conda.yml\n"
    )
    done = subprocess.run([sys.executable, "-m", "azsweep", "validate", "job.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    import yaml

    note = done.stdout.splitlines()[0]
    assert note.startswith("job.yml:3:1: note: environment: environment 'inline environment (image mcr.microsoft.com/")
    assert f"trials run on this Python environment ({sys.prefix}) unless --environment build" in note
    assert f"pyyaml==0.1.* (here {yaml.__version__})" in note and "azsweep-not-installed (not installed)" in note
