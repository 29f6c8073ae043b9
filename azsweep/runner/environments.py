"""The environment a job's trials build on: the current one, or one built from the job's ``environment:``.

``--environment current`` (the default): every trial runs in its own overlay on the environment azsweep
runs in (``isolation.py``); the declared packages are only compared with what is installed (``drift``).
``--environment build``: the declared conda file's packages are installed once into a cached virtual
environment (``cache_root()``: ``AZSWEEP_ENV_CACHE``, else ``~/.cache/azsweep/environments``; the key is the
declaration's content and the Python version), reused by every later job that declares the same, and each
trial runs in an overlay on it; an environment given as an image only runs each trial in a container of the
image, with docker or podman (``containers.py``), where one can run it here. What cannot be had is said in
one note, never dropped silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from azsweep.environment_spec import EnvironmentDeclaration, drift
from azsweep.errors import AzsweepError
from azsweep.runner import containers
from azsweep.runner.isolation import BaseEnvironment

MODES = ("current", "build")
CACHE_VARIABLE = "AZSWEEP_ENV_CACHE"
MARKER = "azsweep-environment.json"  # written last: an environment without it is rebuilt
PIP_ERROR_LINES = 3


def cache_root() -> Path:
    """Where built environments are kept: ``AZSWEEP_ENV_CACHE``, else ``$XDG_CACHE_HOME/azsweep/environments``."""
    given = os.environ.get(CACHE_VARIABLE)
    if given:
        return Path(given).resolve()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "azsweep" / "environments"


# -- what the job declares ----------------------------------------------------------------------------


def declaration_of(job: Any, assets: Path | None) -> EnvironmentDeclaration | None:
    """The environment ``job`` (an azure-ai-ml ``SweepJob`` or ``CommandJob``) declares; ``assets``: where
    ``LocalClient.environments`` records environments (``name:version`` and ``name@latest`` resolve there)."""
    trial = getattr(job, "trial", None)
    environment = getattr(trial if trial is not None else job, "environment", None)
    if environment is None:
        return None
    if isinstance(environment, str):
        return _named(environment, assets)
    conda = getattr(environment, "conda_file", None)
    image = getattr(environment, "image", None)
    name, version = getattr(environment, "name", None), getattr(environment, "version", None)
    inline = not name or name == "CliV2AnonymousEnvironment"  # azure-ai-ml's name for an environment given inline
    label = f"inline environment (image {image})" if inline or not version else f"{name}:{version}"
    return EnvironmentDeclaration(label=label, image=image, conda_file=conda if isinstance(conda, dict) else None)


def _named(reference: str, assets: Path | None) -> EnvironmentDeclaration:
    """``azureml:name:version``, ``name@latest`` ... : what ``LocalClient.environments`` recorded, else unresolvable."""
    ref = reference if "://" in reference else reference.removeprefix("azureml:")
    name, version = ref, None
    if "@" in ref:
        name = ref.split("@", 1)[0]
    elif ":" in ref:
        name, version = ref.rsplit(":", 1)
    record = _recorded(assets, name, version) if assets is not None and "/" not in ref else None
    if record is None:
        return EnvironmentDeclaration(label=reference, resolvable=False)
    label = f"{record['name']}:{record['version']}"
    conda = record.get("conda_file")
    return EnvironmentDeclaration(label=label, image=record.get("image"), conda_file=conda if isinstance(conda, dict) else None)


def _recorded(assets: Path, name: str, version: str | None) -> dict[str, Any] | None:
    folder = assets / name
    if not folder.is_dir():
        return None
    if version is None or version == "latest":
        numbered = [p for p in folder.glob("*.json") if p.stem.isdigit()]  # Azure's "latest": the highest version
        path = max(numbered, key=lambda p: int(p.stem)) if numbered else None
    else:
        path = folder / f"{version}.json"
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def current_notes(declaration: EnvironmentDeclaration | None) -> list[str]:
    """``--environment current``: what the trials use, and how the declared packages differ from it."""
    here = f"this Python environment ({sys.prefix}), each trial in its own overlay"
    if declaration is None:
        return []
    if not declaration.resolvable:
        return [f"note: environment {declaration.label!r} cannot be resolved offline; trials use {here}"]
    notes = [f"note: environment {declaration.label!r} is not built (--environment build builds it); trials use {here}"]
    found = drift(declaration, _installed_version)
    if found:
        notes.append(f"note: environment {declaration.label!r} declares packages that differ here: {found.describe()}")
    return notes


def drift_line(declaration: EnvironmentDeclaration) -> str:
    """One line for ``validate``: what the trials run on by default, and how the declared packages differ here."""
    found = drift(declaration, _installed_version)
    differs = f"declared packages that differ here: {found.describe()}" if found else "every declared package is here"
    return (
        f"environment {declaration.label!r}: trials run on this Python environment ({sys.prefix}) unless "
        f"--environment build; {differs}"
    )


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# -- building ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltInfo:
    """What ``MARKER`` records of a built environment."""

    key: str
    label: str
    python: str
    requirements: list[str]
    unavailable: list[str]
    created: float


def base_for(
    mode: str, declaration: EnvironmentDeclaration | None, *, cache: Path | None = None
) -> tuple[BaseEnvironment, list[str]]:
    """The environment the trials build on for ``mode``, and the notes to show about it."""
    if mode == "current" or declaration is None:
        return BaseEnvironment.current(), current_notes(declaration)
    if not declaration.resolvable:
        return BaseEnvironment.current(), [
            f"note: environment {declaration.label!r} cannot be resolved offline (a curated or workspace environment): "
            f"nothing to build; trials use this Python environment ({sys.prefix}), each in its own overlay"
        ]
    if not declaration.installable:
        return image_only(declaration)
    return build(declaration, cache=cache)


def image_only(declaration: EnvironmentDeclaration) -> tuple[BaseEnvironment, list[str]]:
    """``build`` of an environment with nothing to install: its image's containers when a runtime runs it here
    (``containers.find``), else the current environment; one note either way."""
    here = f"trials use this Python environment ({sys.prefix}), each in its own overlay"
    if not declaration.image:
        return BaseEnvironment.current(), [
            f"note: environment {declaration.label!r} declares neither packages nor an image: nothing to build; {here}"
        ]
    container, why = containers.find(declaration.image)
    if container is None:
        return BaseEnvironment.current(), [
            f"note: environment {declaration.label!r} is an image only ({declaration.image}) and cannot be run here: "
            f"{why}; {here}"
        ]
    runtime = container.runtime
    base = replace(BaseEnvironment.current(), container=container, label=f"image {declaration.image} ({runtime.kind} containers)")
    return base, [
        f"note: environment {declaration.label!r} is an image only ({declaration.image}): each trial runs in its own "
        f"{runtime.kind} container of it ({runtime.path}), on the image's Python"
    ]


def build(declaration: EnvironmentDeclaration, *, cache: Path | None = None) -> tuple[BaseEnvironment, list[str]]:
    """Install the declared packages into a cached virtual environment (once per content); returns it and notes."""
    cache = cache or cache_root()
    python = ".".join(map(str, sys.version_info[:2]))
    key = declaration.cache_key(python)
    root = cache / key
    notes = []
    wanted = declaration.python
    if wanted and wanted != python and not python.startswith(wanted + "."):
        notes.append(
            f"note: environment {declaration.label!r} asks for Python {wanted}; this machine has Python {python} and "
            "cannot download another offline: the environment is built for Python " + python
        )
    with _lock(cache / f"{key}.lock"):
        info = read_info(root)
        if info is None:
            info = _install(declaration, root, key, python)
            notes.append(f"note: built environment {declaration.label!r} in {root}")
        else:
            notes.append(f"note: environment {declaration.label!r}: reusing the one built in {root}")
    if info.unavailable:
        notes.append(
            f"note: environment {declaration.label!r}: not installed (no PyPI package of that name and version for "
            f"Python {python}): {', '.join(info.unavailable)}"
        )
    site_packages = root / "lib" / f"python{python}" / "site-packages"
    base = BaseEnvironment(
        python=(root / "bin" / "python").resolve(),
        site_dirs=(site_packages,),
        bin_dir=root / "bin",
        label=f"environment {declaration.label} built in {root}",
    )
    return base, notes


def _install(declaration: EnvironmentDeclaration, root: Path, key: str, python: str) -> BuiltInfo:
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    # with the pip Python bundles (offline): a trial's own `pip install` works in its overlay
    _run([sys.executable, "-m", "venv", str(root)], "create the virtual environment")
    pip_list = declaration.pip_requirements()
    conda_list = declaration.conda_requirements()
    unavailable: list[str] = []
    if _pip(root, conda_list + pip_list) is not None:  # something failed: find what, one list at a time
        error = _pip(root, pip_list) if pip_list else None
        if error is not None:
            shutil.rmtree(root, ignore_errors=True)
            raise AzsweepError(f"environment {declaration.label!r}: pip could not install its pip: list: {error}")
        for requirement in conda_list:
            if _pip(root, [requirement]) is not None:
                unavailable.append(requirement)
    info = BuiltInfo(key, declaration.label, python, conda_list + pip_list, unavailable, time.time())
    (root / MARKER).write_text(json.dumps(asdict(info), indent=1))
    return info


def _pip(root: Path, requirements: list[str]) -> str | None:
    """Install ``requirements`` into the environment at ``root`` with azsweep's own pip; the error's last lines, or None."""
    if not requirements:
        return None
    command = [sys.executable, "-m", "pip", "--python", str(root / "bin" / "python"), "install"]
    command += ["--disable-pip-version-check", "-q", *requirements]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode == 0:
        return None
    lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip() and "Location" not in line]
    return " | ".join(lines[-PIP_ERROR_LINES:]) or f"pip exited with code {done.returncode}"


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise AzsweepError(f"could not {what}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """One build of an environment at a time (two sweeps asking for the same one wait for each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the cache ---------------------------------------------------------------------------------------


def read_info(root: Path) -> BuiltInfo | None:
    """The record of a finished build at ``root``, or None (never built, or cut short)."""
    try:
        data = json.loads((root / MARKER).read_text())
        return BuiltInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def cached(cache: Path | None = None) -> list[tuple[Path, BuiltInfo | None, int]]:
    """Every environment in the cache: its folder, its record (None: an unfinished build) and its size in bytes."""
    cache = cache or cache_root()
    if not cache.is_dir():
        return []
    out = []
    for root in sorted(p for p in cache.iterdir() if p.is_dir()):
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())
        out.append((root, read_info(root), size))
    return out


def prune(keys: list[str] | None = None, cache: Path | None = None) -> list[Path]:
    """Remove the cached environments named by ``keys`` (all when None); returns what was removed."""
    removed = []
    for root, _, _ in cached(cache):
        if keys is None or root.name in keys:
            shutil.rmtree(root, ignore_errors=True)
            (root.parent / f"{root.name}.lock").unlink(missing_ok=True)
            removed.append(root)
    return removed
