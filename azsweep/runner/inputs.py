"""A sweep's inputs made local: literals as text, local paths made absolute, http(s) fetched once.

Azure locations (``azureml:``, datastores) cannot be read offline: the user gives a local copy
(``inputs={"data": PATH}`` in Python, ``--input data=PATH`` on the command line). A data asset named
as ``azureml:name:version`` or ``azureml:name@latest`` that ``LocalClient.data`` recorded under the
sweep's home resolves to its local path. An input with
``mode: direct`` is passed through as its URI, untouched, as Azure passes it.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from azsweep.errors import ArgumentError
from azsweep.spec import JobSpec

_AZURE_SCHEMES = ("azureml:", "azureml://", "wasbs://", "abfss://", "adl://")


@dataclass(frozen=True)
class ResolvedInputs:
    """What the trials get: every input's value for ``${{inputs.x}}``, and the literals (``AZUREML_PARAMETER_x``)."""

    values: dict[str, str]
    literals: dict[str, str]


def absolute_overrides(overrides: Mapping[str, str] | None) -> dict[str, str]:
    """Overrides as recorded: local paths absolute, so a sweep can be resumed or submitted from anywhere."""
    return {k: str(Path(v).resolve()) if v and Path(v).exists() else v for k, v in (overrides or {}).items()}


def resolve_inputs(spec: JobSpec, overrides: Mapping[str, str], cache: Path, home: Path | None = None) -> ResolvedInputs:
    """The input values of ``spec`` with ``overrides`` applied; raises ``ArgumentError`` naming the input.

    ``home``: the sweep's home folder, where ``LocalClient.data`` records data assets (``azureml:name:version``
    and ``azureml:name@latest`` inputs resolve to them); None: none are looked up."""
    values: dict[str, str] = {}
    literals: dict[str, str] = {}
    for name in overrides:
        if name not in spec.inputs:
            known = ", ".join(spec.inputs) or "none"
            raise ArgumentError(f"{{arg}}: the job has no input named {name!r} (inputs: {known})", argument="inputs", key=name)
    for name, item in spec.inputs.items():
        if name in overrides:
            value = overrides[name]
            asset = _data_asset(name, value, item.type, home) if home is not None and not item.literal else None
            if asset is not None:
                values[name] = asset
                continue
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
        asset = _data_asset(name, uri, item.type, home) if home is not None else None
        if asset is not None:
            values[name] = asset
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


def _data_asset(name: str, uri: str, kind: str, home: Path) -> str | None:
    """The local path of the data asset ``uri`` names (``azureml:name:version`` / ``azureml:name@latest``) when
    one of that name is recorded under ``home``; None when it is no such reference or no such asset is recorded."""
    if not uri.startswith("azureml:") or uri.startswith("azureml://"):
        return None
    from azsweep.errors import AzsweepError
    from azsweep.local_client.assets import VersionedStore
    from azsweep.runner.layout import Settings

    store = VersionedStore(Settings(home=home, tracking_uri="").assets("data"), "data", "data asset")
    ref = uri[len("azureml:") :]
    asset_name = ref.split("@", 1)[0] if "@" in ref else ref.split(":", 1)[0]
    try:
        if not store.versions(asset_name):
            return None
        record = store.resolve(uri)
    except (ArgumentError, AzsweepError) as exc:
        raise ArgumentError(f"inputs.{name}: {exc}", argument="inputs", key=name) from None
    path = Path(str(record["path"]))
    if kind in ("uri_file", "uri_folder") and record.get("type") != kind:
        raise ArgumentError(
            f"inputs.{name}: data asset {record['name']}:{record['version']} is a {record.get('type')}, the input a {kind}",
            argument="inputs",
            key=name,
        )
    if not path.exists():
        raise ArgumentError(
            f"inputs.{name}: data asset {record['name']}:{record['version']} points at {str(path)!r}, which no longer "
            "exists; pass a local copy with {give}",
            argument="inputs",
            key=name,
        )
    return str(path)


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
