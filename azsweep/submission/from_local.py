"""``azsweep submit --from-local NAME``: the definition a local sweep ran, from its ``definition.json``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.errors import SubmitError
from azsweep.spec import section_from_rest, yaml_name
from azsweep.submission.bridge import rebuild_job

if TYPE_CHECKING:
    from azsweep.runner import Settings

_LIMIT_OVERRIDES = ("max_total_trials", "max_concurrent_trials", "trial_timeout", "timeout")


@dataclass
class LocalDefinition:
    """The definition a local sweep ran, for ``submit``."""

    name: str
    job: Any  # the original YAML path, or the job rebuilt from the recorded REST body
    params_override: list[dict[str, Any]]
    notes: list[str]  # one line each: what differs from the local run


def from_local(name: str, *, keep_local_overrides: bool = False, settings: Settings | None = None) -> LocalDefinition:
    """The definition the local sweep ``name`` ran, from ``$AZSWEEP_HOME/sweeps/<name>/definition.json``.

    The user's YAML is used when it still holds that definition; otherwise the job is rebuilt from
    the recorded REST body. Local-only overrides (``--max-total-trials``, ``--input``, smoke limits)
    are left out unless ``keep_local_overrides``.
    """
    from azsweep.definition import load_spec
    from azsweep.runner import RecordedDefinition, Settings

    folder = (settings or Settings.resolve()).folder(name)
    recorded = RecordedDefinition.load(folder)
    if recorded is None:
        raise SubmitError(
            f"no local sweep named {name!r} with a recorded definition in {folder.root.parent} "
            "(AZSWEEP_HOME); run it with `azsweep run FILE` first, or check the name with `azsweep show`"
        )
    props = recorded.props
    notes: list[str] = []
    source = recorded.source_path
    job: Any = None
    if source and Path(source).is_file():
        current = load_spec(source)[1].props
        if current == props:
            job = source
            notes.append(f"{name}: submitting {source}, the file it ran")
        else:
            changed = sorted(yaml_name(k) for k in set(props) | set(current or {}) if (current or {}).get(k) != props.get(k))
            notes.append(
                f"{name}: {source} changed since it ran (differs in: {', '.join(changed) or 'the file'}); "
                f"submitting the definition that ran, rebuilt from its record (`azsweep submit {source}` "
                "submits the file as it is now)"
            )
    elif source:
        notes.append(f"{name}: {source} no longer exists; submitting the definition that ran, rebuilt from its record")
    else:
        notes.append(f"{name}: defined in Python; submitting the definition that ran, rebuilt from its record")
    if job is None:
        job = rebuild_job(props, recorded.base_dir or ".")
    overrides = dict(recorded.overrides)
    smoke = bool(overrides.pop("smoke", False))
    items = _override_items(overrides, props)
    if not items:
        notes.append(f"{name}: same definition as the local run (it used no local-only overrides)")
        return LocalDefinition(name, job, [], notes)
    listed = ", ".join(f"{path}={value}" for path, value in items)
    label = "smoke run" if smoke else "local run"
    if not keep_local_overrides:
        notes.append(
            f"{name}: not submitted, local-only overrides of the {label}: {listed} "
            "(the definition's own values go to Azure; --keep-local-overrides submits these)"
        )
        return LocalDefinition(name, job, [], notes)
    items = [(path, _local_path(path, value)) for path, value in items]
    notes.append(f"{name}: submitting the {label}'s local-only overrides too: {listed}")
    if isinstance(job, str):
        return LocalDefinition(name, job, [{path: value} for path, value in items], notes)
    for path, value in items:
        _set_on_job(job, path, value)
    return LocalDefinition(name, job, [], notes)


def _override_items(overrides: Mapping[str, Any], props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    items = [(f"limits.{key}", overrides[key]) for key in _LIMIT_OVERRIDES if overrides.get(key) is not None]
    inputs = props.get("inputs") or {}
    for key, value in (overrides.get("inputs") or {}).items():
        literal = str(section_from_rest("inputs", inputs.get(key)).get("type") or "literal") == "literal"
        items.append((f"inputs.{key}" if literal else f"inputs.{key}.path", value))
    return items


def _local_path(path: str, value: Any) -> Any:
    """An input override's local path, absolute (azure-ai-ml uploads it from there)."""
    if not path.endswith(".path"):
        return value
    local = Path(str(value))
    if not local.exists():
        raise SubmitError(
            f"--keep-local-overrides: {path[:-5]}={value} does not exist here (local overrides are recorded "
            "as given); run from the folder the local run started in"
        )
    return str(local.resolve())


def _set_on_job(job: Any, path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] == "limits":
        setattr(job.limits, parts[1], value)
    elif len(parts) == 3:  # inputs.<name>.path
        job.inputs[parts[1]].path = value
    else:
        job.inputs[parts[1]] = value
