"""``LocalClient.data``: local ``uri_file`` / ``uri_folder`` data assets, recorded on this machine.

``create_or_update`` records an azure-ai-ml ``Data`` whose path is a local file or folder (made
absolute; it must exist) as ``<home>/assets/data/<name>/<version>.json``, with Azure ML's version rules;
``get`` and ``list`` return ``Data`` objects. Nothing is copied: the record points at the path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.local_client.assets import VersionedOperations, VersionedStore
from azsweep.local_client.common import describe, require_asset_name
from azsweep.runner.layout import Settings

if TYPE_CHECKING:
    from azure.ai.ml.entities import Data

_KINDS = {"uri_file": "a file", "uri_folder": "a folder"}
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class LocalDataOperations(VersionedOperations["Data"]):
    """``create_or_update``, ``get``, ``list`` of ``MLClient.data``, for local files and folders."""

    group = "data"
    reason = "data assets are only recorded locally (LocalClient.data has create_or_update, get and list)"

    def __init__(self, settings: Settings) -> None:
        self._store = VersionedStore(settings.assets("data"), "data", "data asset")

    def create_or_update(self, data: Data) -> Data:
        """Record ``data`` (a local ``uri_file`` or ``uri_folder``). Without a version, as on Azure: the next
        integer version. A version given that is recorded with another path or type is refused; with the same
        path, its description and tags are updated."""
        from azure.ai.ml.entities import Data

        if not isinstance(data, Data):
            raise ArgumentError(f"{{arg}}: expected an azure.ai.ml.entities.Data, got {describe(data)}", argument="data")
        name = require_asset_name(data.name, "data.name")
        kind = str(data.type)
        if kind not in _KINDS:
            raise ArgumentError(
                f"{{arg}}: local data assets are uri_file or uri_folder (got {kind!r}); register {kind} assets with MLClient",
                argument="data.type",
            )
        fields = {
            "type": kind,
            "path": _local_path(data.path, kind),
            "description": data.description,
            "tags": dict(data.tags or {}),
        }
        store = self._store
        if data.version is None:
            version = store.next_version(name)
        else:
            version = require_asset_name(data.version, "data.version")
            existing = store.read(name, version)
            if existing is not None and (existing.get("path"), existing.get("type")) != (fields["path"], kind):
                raise AzsweepError(
                    f"LocalClient.data.create_or_update: data asset {name}:{version} is already recorded for "
                    f"{existing.get('path')} ({existing.get('type')}), and a version does not change; give another "
                    f"version, or none for the next one ({store.next_version(name)})"
                )
        return self._entity(store.save(name, version, fields), store.path(name, version))

    def _entity(self, record: dict[str, Any], path: Path) -> Data:
        return _entity(record, path)


def _local_path(path: Any, kind: str) -> str:
    """``path`` made absolute; it must be an existing local file (``uri_file``) or folder (``uri_folder``)."""
    if path is None or str(path) == "":
        raise ArgumentError("{arg}: a local data asset needs a path (a local file or folder)", argument="data.path")
    text = str(path)
    if _URL.match(text) or text.startswith("azureml:"):
        raise ArgumentError(
            f"{{arg}}: {text!r} is not a local path; local data assets are local files or folders "
            "(register remote data with MLClient)",
            argument="data.path",
        )
    local = Path(text).expanduser().resolve()
    if not local.exists():
        raise ArgumentError(f"{{arg}}: {str(local)!r} does not exist", argument="data.path")
    want_file = kind == "uri_file"
    if local.is_file() != want_file:
        other = "uri_folder" if want_file else "uri_file"
        raise ArgumentError(
            f"{{arg}}: {str(local)!r} is not {_KINDS[kind]} as {kind} needs; give type={other!r} for it",
            argument="data.path",
        )
    return str(local)


def _entity(record: dict[str, Any], path: Path) -> Data:
    from azure.ai.ml.entities import Data

    return Data(
        name=record["name"],
        version=str(record["version"]),
        description=record.get("description"),
        tags=record.get("tags") or {},
        path=record["path"],
        type=record["type"],
        properties={"azsweep.record": str(path)},
    )
