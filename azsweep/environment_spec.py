"""What a job's ``environment:`` declares, read as pip can install it (pure: no processes, no files).

Azure builds a job's environment from a Docker image, optionally with a conda file (``name``,
``channels``, ``dependencies:`` with ``python=X.Y``, conda packages and a ``pip:`` list). Locally
(``azsweep run --environment build``) the pip list is installed as given, and each conda package as the
PyPI package of the same name (``numpy=1.26`` -> ``numpy==1.26.*``); Python itself cannot be changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# conda names that are not packages to install from PyPI: the interpreter, and conda's own tooling
NOT_PACKAGES = {"python", "conda", "conda-build", "_libgcc_mutex", "_openmp_mutex", "libgcc-ng", "libstdcxx-ng"}
_CONDA_SPEC = re.compile(r"^\s*(?:[\w.-]+::)?([A-Za-z0-9_.-]+)\s*(.*?)\s*$")
FORMAT = 1  # part of every cache key: a change in how environments are built invalidates the old ones


@dataclass(frozen=True)
class EnvironmentDeclaration:
    """A job's environment as declared: where it came from, and the packages it names."""

    label: str  # how notes name it: "sklearn-env:1", "inline environment (image ...)", "azureml:AzureML-x@latest"
    image: str | None = None
    conda_file: Mapping[str, Any] | None = None
    resolvable: bool = True  # False: a curated or workspace environment named only, unknown offline

    @property
    def python(self) -> str | None:
        """The Python version the conda file asks for (``3.8`` for ``python=3.8``), if any."""
        for dep in self._conda_dependencies():
            name, spec = _split(dep)
            if name == "python" and spec:
                return spec.lstrip("=<>! ").split(",")[0].rstrip(".*") or None
        return None

    def conda_requirements(self) -> list[str]:
        """The conda packages as pip requirements (same name on PyPI), without Python and conda tooling."""
        out = []
        for dep in self._conda_dependencies():
            name, spec = _split(dep)
            if name and name not in NOT_PACKAGES:
                out.append(name + _pip_version(spec))
        return out

    def pip_requirements(self) -> list[str]:
        """The ``pip:`` list of the conda file, as given."""
        deps = (self.conda_file or {}).get("dependencies") or []
        found: list[str] = []
        for dep in deps:
            if isinstance(dep, Mapping) and isinstance(dep.get("pip"), list):
                found.extend(str(x).strip() for x in dep["pip"] if str(x).strip())
        return found

    @property
    def installable(self) -> bool:
        """Whether there is anything to build from (a conda file with packages)."""
        return bool(self.conda_requirements() or self.pip_requirements())

    def cache_key(self, python_version: str) -> str:
        """The build's identity: the declared packages and the Python they are installed for."""
        content = {"format": FORMAT, "python": python_version, "conda_file": self.conda_file}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def _conda_dependencies(self) -> list[str]:
        deps = (self.conda_file or {}).get("dependencies") or []
        return [str(d) for d in deps if isinstance(d, (str, int, float))]


@dataclass(frozen=True)
class Drift:
    """How the current environment differs from a declaration's pinned packages."""

    missing: list[str] = field(default_factory=list)  # requirement names not installed
    other: list[tuple[str, str, str]] = field(default_factory=list)  # (name, declared version, installed version)

    def __bool__(self) -> bool:
        return bool(self.missing or self.other)

    def describe(self) -> str:
        parts = [f"{name}=={want} (here {have})" for name, want, have in self.other]
        parts += [f"{name} (not installed)" for name in self.missing]
        return ", ".join(parts)


def drift(declaration: EnvironmentDeclaration, installed: Callable[[str], str | None]) -> Drift:
    """The declared packages (conda and pip) missing here, or pinned (``==``) to another version than
    ``installed(name)`` gives (None: not installed)."""
    result = Drift()
    for requirement in declaration.conda_requirements() + declaration.pip_requirements():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)$", requirement)
        if not match:
            continue
        name, spec = match.group(1), match.group(2).strip()
        if name.lower() in ("pip", "setuptools", "wheel"):
            continue
        have = installed(name)
        if have is None:
            result.missing.append(name)
        elif spec.startswith("==") and not _same_version(spec[2:].strip(), have):
            result.other.append((name, spec[2:].strip(), have))
    return result


def _split(dep: str) -> tuple[str, str]:
    match = _CONDA_SPEC.match(dep)
    if not match:
        return "", ""
    return match.group(1).lower(), match.group(2)


def _pip_version(spec: str) -> str:
    """A conda version spec as pip's: ``=1.2`` -> ``==1.2.*``, ``==1.2.3`` as is, ``>=1`` as is, ``1.2`` -> ``==1.2.*``."""
    spec = spec.replace(" ", "")
    if not spec:
        return ""
    if spec.startswith("=") and not spec.startswith("=="):
        spec = spec[1:]
    if spec[0].isdigit():
        version = spec.split("=")[0]  # conda's build string after a second "=" is dropped
        return f"=={version}" if version.endswith("*") or version.count(".") >= 2 else f"=={version}.*"
    return spec


def _same_version(declared: str, installed: str) -> bool:
    if declared.endswith(".*"):
        return installed == declared[:-2] or installed.startswith(declared[:-1])
    return installed == declared
