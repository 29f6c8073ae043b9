"""Versioned asset records on this machine: ``<home>/assets/<kind>/<name>/<version>.json``.

One JSON record per name and version (environments and data assets), with Azure ML's version rules:
versions are strings, an automatic version is the next integer after the highest integer version,
``latest`` is the version created last, and a job refers to a version as ``name:version`` or
``name@latest`` (``azureml:`` in front or not).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Generic, TypeVar

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.local_client.common import Operations, describe, require_asset_name

LATEST = "latest"  # the one label Azure ML manages


class VersionedStore:
    """The local records of one kind of versioned asset (``environments``, ``data``)."""

    def __init__(self, root: Path, kind: str, noun: str) -> None:
        self.root = root  # ``Settings.assets(kind)``
        self.kind = kind  # the LocalClient group that owns them, for messages
        self.noun = noun  # "environment", "data asset"

    def path(self, name: str, version: str) -> Path:
        return self.root / name / f"{version}.json"

    def names(self) -> list[str]:
        """Every name with at least one recorded version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and any(p.glob("*.json")))

    def read(self, name: str, version: str) -> dict[str, Any] | None:
        path = self.path(name, version)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise AzsweepError(f"{path}: not a readable {self.noun} record ({exc})") from None
        if not isinstance(data, dict) or data.get("name") != name or str(data.get("version")) != version:
            raise AzsweepError(f"{path}: not a {self.noun} record of {name}:{version}")
        return data

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every recorded version of ``name``, oldest first (the order they were created in)."""
        folder = self.root / name
        if not folder.is_dir():
            return []
        records = [self.read(name, p.name[: -len(".json")]) for p in folder.glob("*.json")]
        return sorted((r for r in records if r is not None), key=lambda r: (r.get("sequence", 0), r.get("created", 0)))

    def latest(self, name: str) -> dict[str, Any] | None:
        """The version created last (Azure ML's ``latest`` label), or None."""
        versions = self.versions(name)
        return versions[-1] if versions else None

    def next_version(self, name: str) -> str:
        """The version an asset gets when none is given: one more than the highest integer version."""
        numbers = [int(r["version"]) for r in self.versions(name) if str(r["version"]).isdigit()]
        return str(max(numbers, default=0) + 1)

    def save(self, name: str, version: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Record ``fields`` as ``name:version``; an existing version keeps its creation time and order."""
        existing = self.read(name, version)
        if existing is not None:
            created, sequence = existing.get("created", time.time()), existing.get("sequence", 0)
        else:
            created = time.time()
            sequence = max((r.get("sequence", 0) for r in self.versions(name)), default=0) + 1
        record = {"name": name, "version": version, **fields, "created": created, "sequence": sequence}
        path = self.path(name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
        os.replace(tmp, path)
        return record

    def get(self, name: Any, version: Any = None, label: Any = None) -> dict[str, Any]:
        """The record of ``name`` at ``version`` or ``label`` (only ``latest``); MLClient's rules: one of the two."""
        name = require_asset_name(name, "name")
        if version is not None and label is not None:
            raise ArgumentError("{arg}: give version or label, not both", argument="label")
        if label is not None:
            if label != LATEST:
                raise ArgumentError(f"{{arg}}: the only label is {LATEST!r} (got {describe(label)})", argument="label")
            record = self.latest(name)
            if record is None:
                raise self._missing(name, None)
            return record
        if version is None:
            raise ArgumentError(f"{{arg}}: give version=... or label={LATEST!r} (MLClient requires one)", argument="version")
        version = require_asset_name(version, "version")
        record = self.read(name, version)
        if record is None:
            raise self._missing(name, version)
        return record

    def resolve(self, reference: Any) -> dict[str, Any]:
        """The record a job's reference names: ``name:version`` or ``name@latest``, with ``azureml:`` or not."""
        if not isinstance(reference, str):
            raise ArgumentError(
                f"{{arg}}: expected 'name:version' or 'name@latest', got {describe(reference)}", argument="reference"
            )
        ref = reference[len("azureml:") :] if reference.startswith("azureml:") else reference
        if "@" in ref:
            name, label = ref.split("@", 1)
            return self.get(name, label=label)
        if ":" in ref:
            name, version = ref.split(":", 1)
            return self.get(name, version=version)
        raise ArgumentError(
            f"{{arg}}: {reference!r} names no version; write '{ref}:<version>' or '{ref}@{LATEST}'", argument="reference"
        )

    def _missing(self, name: str, version: str | None) -> AzsweepError:
        known = [str(r["version"]) for r in self.versions(name)]
        which = f"{name}:{version}" if version is not None else f"{name}@{LATEST}"
        have = f"recorded versions: {', '.join(known)}" if known else f"record it with {self.kind}.create_or_update(...)"
        return AzsweepError(f"no local {self.noun} {which} in {self.root}; {have}")


E = TypeVar("E")


class VersionedOperations(Operations, Generic[E]):
    """``get``, ``list`` and ``resolve`` of a versioned asset group (environments, data), over its ``VersionedStore``;
    a subclass says how a record becomes azure-ai-ml's entity (``_entity``)."""

    _store: VersionedStore

    @property
    def root(self) -> Path:
        """``<home>/assets/<group>``: one folder per name, one JSON record per version."""
        return self._store.root

    def _entity(self, record: dict[str, Any], path: Path) -> E:
        raise NotImplementedError

    def _read(self, record: dict[str, Any]) -> E:
        return self._entity(record, self._store.path(record["name"], str(record["version"])))

    def get(self, name: str, version: str | None = None, label: str | None = None) -> E:
        """The recorded asset ``name`` at ``version``, or at ``label='latest'`` (one of the two, as MLClient)."""
        return self._read(self._store.get(name, version=version, label=label))

    def list(self, name: str | None = None, **_: Any) -> list[E]:
        """Every version of ``name``, newest first; without ``name``, the latest version of each asset."""
        store = self._store
        if name is not None:
            records = list(reversed(store.versions(require_asset_name(name, "name"))))
        else:
            records = [r for r in (store.latest(n) for n in store.names()) if r is not None]
        return [self._read(r) for r in records]

    def resolve(self, reference: str) -> E:
        """azsweep's own (not MLClient's): the asset a job names as ``azureml:name:version`` or ``name@latest``."""
        return self._read(self._store.resolve(reference))

    def __repr__(self) -> str:
        return f"<LocalClient.{self.group}: recorded in {self.root}; versions as name:version or name@{LATEST}>"
