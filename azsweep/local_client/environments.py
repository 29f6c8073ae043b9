"""``LocalClient.environments``: environments recorded on this machine (not built: trials use this Python).

``create_or_update`` records an azure-ai-ml ``Environment`` as ``<home>/assets/environments/<name>/<version>.json``
(its image, conda file content, build context and description) with Azure ML's version rules, so a
job can name it ``name:version`` or ``name@latest``; ``get`` and ``list`` return ``Environment`` objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.local_client.assets import VersionedOperations, VersionedStore
from azsweep.local_client.common import describe, require_asset_name
from azsweep.runner.layout import Settings

if TYPE_CHECKING:
    from azure.ai.ml.entities import Environment

_DEFINITION = ("image", "conda_file", "build", "os_type")  # what a version fixes; description and tags may change


class LocalEnvironmentOperations(VersionedOperations["Environment"]):
    """``create_or_update``, ``get``, ``list`` of ``MLClient.environments``, recorded locally."""

    group = "environments"
    reason = "environments are only recorded locally (LocalClient.environments has create_or_update, get and list)"

    def __init__(self, settings: Settings) -> None:
        self._store = VersionedStore(settings.assets("environments"), "environments", "environment")

    def create_or_update(self, environment: Environment) -> Environment:
        """Record ``environment``. Without a version, as on Azure: the latest version when it has the same
        image, conda file and build (description and tags updated), else the next integer version. A version
        given that is recorded with another image, conda file or build is refused: versions do not change."""
        from azure.ai.ml.entities import Environment

        if not isinstance(environment, Environment):
            raise ArgumentError(
                f"{{arg}}: expected an azure.ai.ml.entities.Environment, got {describe(environment)}", argument="environment"
            )
        name = require_asset_name(environment.name, "environment.name")
        fields = _fields(environment)
        if not fields["image"] and not fields["build"]:
            raise ArgumentError(
                f"{{arg}}: environment {name!r} needs an image (with an optional conda_file) or a build context, as on Azure ML",
                argument="environment.image",
            )
        store = self._store
        if environment.version is None:
            latest = store.latest(name)
            same = latest is not None and all(latest.get(k) == fields[k] for k in _DEFINITION)
            version = str(latest["version"]) if latest is not None and same else store.next_version(name)
        else:
            version = require_asset_name(environment.version, "environment.version")
            existing = store.read(name, version)
            if existing is not None and any(existing.get(k) != fields[k] for k in _DEFINITION):
                raise AzsweepError(
                    f"LocalClient.environments.create_or_update: environment {name}:{version} is already recorded with "
                    f"another image, conda file or build, and a version does not change; give another version, or none "
                    f"for the next one ({store.next_version(name)})"
                )
        return self._entity(store.save(name, version, fields), store.path(name, version))

    def _entity(self, record: dict[str, Any], path: Path) -> Environment:
        return _entity(record, path)


def _fields(environment: Environment) -> dict[str, Any]:
    """What is recorded of ``environment``: its definition, description and tags."""
    build = environment.build
    build_fields = None
    if build is not None and build.path is not None:
        path = str(build.path)
        local = Path(path)
        build_fields = {
            "path": str(local.resolve()) if "://" not in path and local.exists() else path,
            "dockerfile_path": build.dockerfile_path,
        }
    conda = environment.conda_file  # azure-ai-ml reads the file when the Environment is made: its content
    return {
        "image": environment.image,
        "conda_file": dict(conda) if isinstance(conda, dict) else conda,
        "build": build_fields,
        "os_type": environment.os_type,
        "description": environment.description,
        "tags": dict(environment.tags or {}),
    }


def _entity(record: dict[str, Any], path: Path) -> Environment:
    from azure.ai.ml.entities import BuildContext, Environment

    build = record.get("build")
    return Environment(
        name=record["name"],
        version=str(record["version"]),
        description=record.get("description"),
        image=record.get("image"),
        conda_file=record.get("conda_file"),
        build=BuildContext(path=build["path"], dockerfile_path=build.get("dockerfile_path")) if build else None,
        tags=record.get("tags") or {},
        properties={"azsweep.record": str(path)},
        **({"os_type": record["os_type"]} if record.get("os_type") else {}),
    )
