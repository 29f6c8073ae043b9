"""What LocalClient's operations groups share: a finished poller, argument checks, and refusals.

A method of ``MLClient``'s group that LocalClient does not implement is still there: calling it
raises one ``AzsweepError`` naming the operation and why (``LocalClient.compute.begin_stop: ...``),
never an ``AttributeError``. A name the real group does not have either is an ``AttributeError``, as
with ``MLClient``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Generic, NoReturn, TypeVar

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.runner.layout import check_job_name

T = TypeVar("T")

USE_AZURE = "use MLClient (or azsweep submit) for this step"
WORKSPACE_FIELDS = ("subscription_id", "resource_group_name", "workspace_name")  # MLClient's properties that are no group
_ASSET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")  # Azure ML's rule for asset names and versions


class Done(Generic[T]):
    """What a local ``begin_*`` returns: the surface of azure-core's ``LROPoller`` for an operation already done."""

    def __init__(self, value: T) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> T:
        return self._value

    def wait(self, timeout: float | None = None) -> None:
        return None

    def done(self) -> bool:
        return True

    def status(self) -> str:
        return "Succeeded"

    def add_done_callback(self, func: Callable[[Done[T]], Any]) -> None:
        func(self)  # already done: called at once, as LROPoller does for a finished operation

    def __repr__(self) -> str:
        return f"Done({self._value!r})"


def refuse(operation: str, reason: str) -> NoReturn:
    """Raise the one-line error for an operation LocalClient does not do."""
    raise AzsweepError(f"LocalClient.{operation}: {reason}; {USE_AZURE}")


def require_name(value: Any, argument: str = "name") -> str:
    """``value`` as the name of a local job: a str that Azure accepts as a job name (``layout.check_job_name``)."""
    if isinstance(value, str):
        return check_job_name(value, argument)
    hint = "; pass its .name" if isinstance(getattr(value, "name", None), str) else ""
    raise ArgumentError(f"{{arg}}: expected a job name (a non-empty str), got {describe(value)}{hint}", argument=argument)


def require_asset_name(value: Any, argument: str) -> str:
    """``value`` as an asset name or version: Azure ML's rule (letters, digits, ``-``, ``_``, ``.``; a letter
    or digit first); a version may be given as an int."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if isinstance(value, str) and _ASSET_NAME.fullmatch(value):
        return value
    raise ArgumentError(
        f"{{arg}}: expected letters, digits, '-', '_' or '.', starting with a letter or digit (got {describe(value)})",
        argument=argument,
    )


def describe(value: Any) -> str:
    """A value for a message: short strings and numbers as written, anything else by its type."""
    if value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 80):
        return repr(value)
    return f"a {type(value).__name__}"


@functools.cache
def _mlclient_group(group: str) -> type | None:
    """The class of ``MLClient.<group>`` (read from its annotation), or None when it cannot be told."""
    try:
        from azure.ai.ml import MLClient

        prop = getattr(MLClient, group, None)
        cls = prop.fget.__annotations__.get("return") if isinstance(prop, property) and prop.fget else None
    except Exception:  # another azure-ai-ml: every public name is then taken as an operation
        return None
    return cls if isinstance(cls, type) else None


def is_mlclient_group(name: str) -> bool:
    """``MLClient.<name>`` is an operations group (a property other than the workspace fields)."""
    try:
        from azure.ai.ml import MLClient
    except ImportError:
        return False
    return isinstance(getattr(MLClient, name, None), property) and name not in WORKSPACE_FIELDS


def is_mlclient_operation(group: str, name: str) -> bool:
    """``MLClient.<group>`` has a public ``name`` (True when the group's class cannot be told)."""
    if name.startswith("_"):
        return False
    cls = _mlclient_group(group)
    return cls is None or callable(getattr(cls, name, None))


class Operations:
    """Base of LocalClient's operations groups: the methods of ``MLClient.<group>`` not implemented
    here are refused with ``reason`` when called (getting the attribute does not fail)."""

    group: str = ""
    reason: str = ""
    reasons: dict[str, str] = {}  # operation -> a more useful reason than ``reason``

    def __getattr__(self, name: str) -> Any:
        if not is_mlclient_operation(self.group, name):
            raise AttributeError(f"'LocalClient.{self.group}' has no attribute {name!r} (nor has MLClient.{self.group})")
        return _refusing(f"{self.group}.{name}", self.reasons.get(name, self.reason))


def _refusing(operation: str, reason: str) -> Callable[..., NoReturn]:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        refuse(operation, reason)

    refused.__name__ = operation.rsplit(".", 1)[-1]
    refused.__qualname__ = f"LocalClient.{operation}"
    refused.__doc__ = f"Not available locally: {reason}."
    return refused
