"""The exception tree: one base, every message naming the field path, the rule and the value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding about a sweep definition."""

    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}" if self.path else f"{self.severity}: {self.message}"


class AzsweepError(Exception):
    """Base of every error azsweep raises on purpose."""


class InvalidValue(AzsweepError):
    """A value breaks a rule; the message starts with the field path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class DefinitionError(AzsweepError):
    """A sweep definition has errors; ``problems`` holds each one."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        errors = [p for p in problems if p.severity == "error"]
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(f"{prefix}{p}" for p in errors))
        self.problems = problems


class SweepFailed(AzsweepError):
    """A local sweep ended without a usable result."""


class SubmitError(AzsweepError):
    """Submitting to Azure ML failed (workspace, sign-in, network or service); the message says what to fix."""


class ArgumentError(AzsweepError):
    """A Python argument of a local run is wrong.

    The message is a template naming the argument as ``{arg}`` (``inputs['data']``, ``max_total_trials``)
    and how to give it as ``{give}`` (``inputs={'data': PATH}``); the CLI renders the same error with its
    flags (``--input data``, ``--input data=PATH``) through ``render``.
    """

    def __init__(self, template: str, *, argument: str, key: str | None = None, give: str | None = None) -> None:
        self.template, self.argument, self.key = template, argument, key
        arg = f"{argument}[{key!r}]" if key is not None else argument
        if give is None:
            give = f"{argument}={{{key!r}: PATH}}" if key is not None else f"{argument}=..."
        super().__init__(self.render(arg=arg, give=give))

    def render(self, *, arg: str, give: str) -> str:
        return self.template.replace("{arg}", arg).replace("{give}", give)
