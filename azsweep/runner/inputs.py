"""A sweep's inputs made local: literals as text, local paths made absolute, http(s) fetched once.

Azure locations (``azureml:``, datastores) cannot be read offline: the user gives a local copy
(``inputs={"data": PATH}`` in Python, ``--input data=PATH`` on the command line). An input with
``mode: direct`` is passed through as its URI, untouched, as Azure passes it.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from azsweep.errors import ArgumentError
from azsweep.spec import SweepSpec

_AZURE_SCHEMES = ("azureml:", "azureml://", "wasbs://", "abfss://", "adl://")


@dataclass(frozen=True)
class ResolvedInputs:
    """What the trials get: every input's value for ``${{inputs.x}}``, and the literals (``AZUREML_PARAMETER_x``)."""

    values: dict[str, str]
    literals: dict[str, str]


def absolute_overrides(overrides: Mapping[str, str] | None) -> dict[str, str]:
    """Overrides as recorded: local paths absolute, so a sweep can be resumed or submitted from anywhere."""
    return {k: str(Path(v).resolve()) if v and Path(v).exists() else v for k, v in (overrides or {}).items()}


def resolve_inputs(spec: SweepSpec, overrides: Mapping[str, str], cache: Path) -> ResolvedInputs:
    """The input values of ``spec`` with ``overrides`` applied; raises ``ArgumentError`` naming the input."""
    values: dict[str, str] = {}
    literals: dict[str, str] = {}
    for name in overrides:
        if name not in spec.inputs:
            known = ", ".join(spec.inputs) or "none"
            raise ArgumentError(f"{{arg}}: the job has no input named {name!r} (inputs: {known})", argument="inputs", key=name)
    for name, item in spec.inputs.items():
        if name in overrides:
            value = overrides[name]
            path = Path(value) if not item.literal else None
            values[name] = str(path.resolve()) if path is not None and path.exists() else value
            if item.literal:
                literals[name] = value
            continue
        if item.literal:
            if item.value is not None:
                values[name] = literals[name] = item.value
            continue
        uri = item.path or ""
        if (item.mode or "").lower() == "direct" and uri:  # Azure hands the trial the URI itself, unread
            values[name] = uri
            continue
        if uri.startswith(("http://", "https://")):
            values[name] = str(_fetch(name, uri, cache))
            continue
        local = uri[len("file://") :] if uri.startswith("file://") else uri
        if not uri or uri.startswith(_AZURE_SCHEMES) or "://" in local:
            raise ArgumentError(
                f"inputs.{name}: {uri!r} is an Azure location that cannot be read offline; pass a local copy with {{give}}",
                argument="inputs",
                key=name,
            )
        path = Path(local)
        path = path if path.is_absolute() else spec.base_dir / path
        if not path.exists():
            raise ArgumentError(
                f"inputs.{name}: local path {str(path)!r} does not exist; pass one with {{give}}", argument="inputs", key=name
            )
        values[name] = str(path.resolve())
    return ResolvedInputs(values, literals)


def _fetch(name: str, uri: str, cache: Path) -> Path:
    target = cache / name / (uri.rstrip("/").rsplit("/", 1)[-1] or "data")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(uri, timeout=15) as response:  # noqa: S310 - the user's own URL
            target.write_bytes(response.read())
    except Exception as exc:
        raise ArgumentError(
            f"inputs.{name}: cannot download {uri} ({exc}); pass a local copy with {{give}}", argument="inputs", key=name
        ) from None
    return target
