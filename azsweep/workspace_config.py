"""The workspace config.json lookup ``MLClient.from_config`` does, for every layer that needs it.

A low-level module (it imports only ``azsweep.errors``): ``azsweep.submission`` reads the workspace to
submit to from it, and the local runner the ``AZUREML_ARM_*`` values it gives each trial.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from azsweep.errors import SubmitError

# MLClient.from_config looks for these, in this order, from the current folder up to 20 levels above it
CONFIG_DIRS: tuple[str | None, ...] = (".azureml", "aml_config", None)
CONFIG_FILES = ("config.json", "project.json")
CONFIG_LEVELS = 20


def find_config(start: Path | str | None = None) -> Path | None:
    """The ``config.json`` that ``MLClient.from_config`` would use, searching from ``start`` (default: cwd)."""
    origin = Path(start or ".").resolve()
    for folder in CONFIG_DIRS:
        for name in CONFIG_FILES:
            current = origin
            for _ in range(CONFIG_LEVELS + 1):
                candidate = current / folder / name if folder else current / name
                if candidate.is_file():
                    return candidate
                if current.parent == current:
                    break
                current = current.parent
    return None


def read_config(path: Path) -> dict[str, str]:
    """Workspace values from a config.json (``subscription_id`` / ``resource_group`` / ``workspace_name`` or ``Scope``).

    Raises ``SubmitError`` (an ``AzsweepError``) when the file cannot be read or lacks a value.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SubmitError(f"{path}: cannot read the workspace config ({exc})") from None
    scope = data.get("Scope") if isinstance(data, Mapping) else None
    if isinstance(scope, str):
        parts = scope.split("/")
        if len(parts) > 8:
            return {"subscription_id": parts[2], "resource_group_name": parts[4], "workspace_name": parts[8]}
    if not isinstance(data, Mapping) or not all(data.get(k) for k in ("subscription_id", "resource_group", "workspace_name")):
        raise SubmitError(f"{path}: a workspace config needs subscription_id, resource_group and workspace_name")
    return {
        "subscription_id": str(data["subscription_id"]),
        "resource_group_name": str(data["resource_group"]),
        "workspace_name": str(data["workspace_name"]),
    }


# what a local trial gets as AZUREML_ARM_* when no workspace config.json is found: clearly not an Azure workspace
LOCAL_WORKSPACE = {"subscription_id": "local", "resource_group_name": "local", "workspace_name": "local"}


def local_workspace(*starts: Path | str) -> tuple[dict[str, str], str]:
    """The workspace a local run stands in for: from the first config.json found searching from each of
    ``starts`` in turn (as ``MLClient.from_config`` searches), else ``LOCAL_WORKSPACE``.

    Returns the values and a note ("" when there is nothing to say): a config.json that cannot be read
    is reported there, never raised, and the placeholders are used.
    """
    for start in starts:
        path = find_config(start)
        if path is None:
            continue
        try:
            return read_config(path), ""
        except SubmitError as exc:
            return dict(LOCAL_WORKSPACE), f"{exc}; the trials get the local placeholders as AZUREML_ARM_*"
    return dict(LOCAL_WORKSPACE), ""
