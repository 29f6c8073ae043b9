"""Helpers for end-to-end tests: sweeps written to a tmp folder and run through the real runner."""

from __future__ import annotations

import os
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from azsweep.definition import require_spec
from azsweep.runner import Settings, Tracker
from azsweep.runner.inputs import resolve_inputs
from azsweep.runner.lifecycle import start
from azsweep.runner.loop import SweepRunner
from azsweep.runner.process import ProcessLauncher


def write_sweep(folder: Path, script: str, doc: dict[str, Any], script_name: str = "train.py") -> Path:
    """A sweep YAML in ``folder`` with ``script`` as ``src/train.py``; ``doc`` overrides the base fields."""
    src = folder / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / script_name).write_text(textwrap.dedent(script))
    base: dict[str, Any] = {
        "type": "sweep",
        "trial": {"code": "src", "environment": "azureml:env@latest"},
        "sampling_algorithm": {"type": "random", "seed": 7},
        "objective": {"goal": "minimize", "primary_metric": "loss"},
        "limits": {"max_total_trials": 3, "max_concurrent_trials": 2},
        "experiment_name": f"exp-{folder.name}",
    }
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    path = folder / "sweep.yml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def run_sweep(path: Path, name: str, **limits: Any) -> Any:
    """Run the sweep in-process with ``SweepRunner`` (limits replaced as given); returns its record."""
    spec, _ = require_spec(path)
    if limits:
        spec = replace(spec, limits=replace(spec.limits, **limits))
    settings = Settings.resolve()
    folder, tracker = settings.folder(name), Tracker.for_settings(settings)
    runner = SweepRunner(
        spec,
        start(spec, folder, tracker),
        folder=folder,
        inputs=resolve_inputs(spec, {}, folder.inputs),
        tracker=tracker,
        launcher=ProcessLauncher(),
    )
    return runner.run()


def alive(pid: int) -> bool:
    """A live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def sweep_processes(name: str) -> list[int]:
    """Live processes started for the local sweep ``name`` (their environment names it)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as f:
                if f"AZSWEEP_SWEEP_NAME={name}".encode() + b"\0" in f.read() + b"\0" and alive(int(entry.name)):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def cli_sweep_in_own_store(tmp_path_factory: Any, prefix: str, script: str, doc: dict[str, Any], name: str) -> dict[str, Any]:
    """Run a sweep through ``azsweep run`` into a store of its own (for module-scoped fixtures).

    Returns ``home`` (AZSWEEP_HOME), ``work`` (the folder with ``sweep.yml`` and ``src/train.py``) and ``env``.
    """
    import pytest

    from azsweep.cli import main

    home = tmp_path_factory.mktemp(f"{prefix}_home")
    work = tmp_path_factory.mktemp(f"{prefix}_work")
    env = {"AZSWEEP_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    (work / "src").mkdir()
    (work / "src" / "train.py").write_text(textwrap.dedent(script))
    (work / "sweep.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.chdir(work)
        assert main(["run", "sweep.yml", "--name", name, "--json"]) == 0
    return {"home": home, "work": work, "env": env}


def use_store(sweep: dict[str, Any], monkeypatch: Any, cwd: Path) -> dict[str, Any]:
    """Point this test at a sweep's store (from ``cli_sweep_in_own_store``), working in ``cwd``."""
    for key, value in sweep["env"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(cwd)
    return sweep


def wheel(folder: Path, name: str, version: str, module: str) -> None:
    """A real wheel of ``name`` at ``version`` holding ``module.py`` (which says its version)."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    files = {
        f"{module}.py": f"VERSION = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: azsweep-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{n},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},{len(t)}"
        for n, t in files.items()
    ]
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl", "w") as archive:
        for n, t in files.items():
            archive.writestr(n, t)
