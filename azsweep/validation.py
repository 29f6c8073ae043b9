"""Checking job files as a CI does: files and folders, every job kind, line numbers, and three output formats.

``check_paths`` finds the YAML job files under the given paths and checks each one: sweep and command jobs
with azsweep's rules (``azsweep.definition``), other job kinds and non-job YAML with a one-line note, an
unreadable file with one error. Each finding carries the line and column of its field when the YAML has it.
``format_text``, ``format_github`` and ``format_json`` render the reports; ``summary`` is the last line.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import Problem

MAX_MESSAGE = 800  # a longer message (text azure-ai-ml echoed) is cut here
YAML_SUFFIXES = (".yml", ".yaml")
CHECKED_KINDS = ("sweep", "command", "pipeline")
JOB_KINDS = (
    "command",
    "sweep",
    "pipeline",
    "automl",
    "spark",
    "parallel",
    "import",
    "data_transfer",
    "finetuning",
    "distillation",
)
# ``type:`` values of assets (data, models), never jobs
ASSET_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model")
SKIPPED_FOLDERS = (".git", ".azsweep", "node_modules", "__pycache__", ".venv", "venv", ".tox")


@dataclass(frozen=True)
class Finding:
    """One line of a report: ``severity`` is error, warning or note; ``line`` / ``column`` count from 1."""

    severity: str
    path: str
    message: str
    line: int | None = None
    column: int | None = None


@dataclass
class FileReport:
    """What checking one file found; ``kind`` is the job type (sweep, command, pipeline, ...), ``""`` when
    the file is not a job, ``unreadable`` when it could not be read; ``checked`` when azsweep's rules ran;
    ``skipped`` for a YAML file found in a folder that declares no job (counted, never reported)."""

    file: str
    kind: str
    checked: bool
    findings: list[Finding] = field(default_factory=list)
    skipped: bool = False

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    @property
    def status(self) -> str:
        """``invalid`` (an error), ``ok`` (checked, no error), ``not checked`` or ``skipped`` (not a job)."""
        if self.skipped:
            return "skipped"
        if self.errors:
            return "invalid"
        return "ok" if self.checked else "not checked"


# --- finding the files --------------------------------------------------------------------------


def find_job_files(paths: Sequence[str | Path]) -> tuple[list[tuple[Path, bool]], list[str]]:
    """The files to check, each with whether it was named (True) or found in a folder (False), and the paths
    that do not exist. Folders are searched recursively for ``*.yml`` / ``*.yaml`` (hidden folders and virtual
    environments skipped); a file found there is checked when it declares a job (see ``declares_a_job``)."""
    found: list[tuple[Path, bool]] = []
    missing: list[str] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if any(part in SKIPPED_FOLDERS or part.startswith(".") for part in rel[:-1]):
                    continue
                if child.suffix.lower() in YAML_SUFFIXES and child.is_file() and child.resolve() not in seen:
                    seen.add(child.resolve())
                    found.append((child, False))
        elif path.exists():
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append((path, True))
        else:
            missing.append(str(given))
    return found, missing


def declares_a_job(raw: Any) -> bool:
    """Whether a YAML value declares an Azure ML job: a mapping with a ``$schema`` or a ``type:``, or a
    top-level ``command`` (what ``load_job`` reads as a command job)."""
    return isinstance(raw, Mapping) and ("$schema" in raw or "type" in raw or isinstance(raw.get("command"), str))


# --- checking one file --------------------------------------------------------------------------


def check_paths(paths: Sequence[str | Path]) -> tuple[list[FileReport], list[str]]:
    """A report per YAML file under ``paths`` (one found in a folder that declares no job is ``skipped``), and
    the paths that do not exist."""
    files, missing = find_job_files(paths)
    return [check_file(path, named=named) for path, named in files], missing


def check_file(path: str | Path, *, named: bool = True) -> FileReport:
    """Check one file; a file found in a folder (``named=False``) that declares no job is ``skipped``."""
    from azsweep.definition import job_type, read_yaml

    path = Path(path)
    read = read_yaml(path)
    if read.problem:
        return FileReport(str(path), "unreadable", False, [Finding("error", "", _cut(read.problem))])
    raw = read.raw
    if not declares_a_job(raw):
        if not named:
            return FileReport(str(path), "", False, skipped=True)
        what = f"a YAML {type(raw).__name__}" if not isinstance(raw, Mapping) else "a mapping"
        note = f"not an Azure ML job ({what} without type:, $schema or command:): not checked by azsweep"
        return FileReport(str(path), "", False, [Finding("note", "", note)])
    kind = job_type(raw)
    schema = str(raw.get("$schema") or "")
    schema_name = schema.rstrip("/").rsplit("/", 1)[-1]
    if schema and not schema_name.lower().endswith("job.schema.json"):
        what = schema_name.removesuffix(".schema.json") or schema
        note = f"not a job (its $schema is {what}): not checked by azsweep"
        return FileReport(str(path), "", False, [_at(read.node, Finding("note", "$schema", note))])
    if kind in CHECKED_KINDS:
        return _check_job(path, kind, read.node)
    if kind in JOB_KINDS:
        article = "an" if kind[0] in "aeiou" else "a"
        note = f"{article} {kind} job: not checked by azsweep (it checks sweep, command and pipeline jobs)"
        return FileReport(str(path), kind, False, [_at(read.node, Finding("note", "type", note))])
    if kind in ASSET_TYPES:
        note = f"not a job (type: {kind} is an asset's): not checked by azsweep"
        return FileReport(str(path), "", False, [_at(read.node, Finding("note", "type", note))])
    from azsweep.space import shown

    message = f"is not an Azure ML job type (got {shown(raw.get('type'))}; job types: {', '.join(JOB_KINDS)})"
    severity = "error" if schema else "warning"  # a job $schema with a wrong type is a typo; a bare type: may be another tool's
    return FileReport(str(path), kind, False, [_at(read.node, Finding(severity, "type", message))])


def _check_job(path: Path, kind: str, node: Any) -> FileReport:
    from azsweep.definition import load_job_spec, load_spec

    if kind == "pipeline":
        from azsweep.pipeline_definition import read_pipeline

        pipeline = read_pipeline(path)
        return FileReport(str(path), kind, True, [_at(node, finding(p)) for p in pipeline.problems])

    if kind == "sweep":
        _, d = load_spec(path)
    else:
        _, d = load_job_spec(path, commands=True)
    findings = [_at(node, finding(p)) for p in d.problems]
    if d.job is not None and not d.errors:
        findings.extend(_at(node, f) for f in environment_notes(d.job, "trial.environment" if kind == "sweep" else "environment"))
    return FileReport(str(path), kind, True, findings)


def environment_notes(job: Any, path: str) -> list[Finding]:
    """For a job whose environment declares packages (a conda file): what its trials run on locally by default, and
    the declared packages missing here or at another version (a cheap check: nothing is installed)."""
    from azsweep.runner import environments
    from azsweep.runner.layout import Settings

    declaration = environments.declaration_of(job, Settings.resolve().assets("environments"))
    if declaration is None or not declaration.installable:  # named only, or an image: nothing to compare
        return []
    return [Finding("note", path, environments.drift_line(declaration))]


def finding(problem: Problem) -> Finding:
    return Finding(problem.severity, problem.path, _cut(problem.message))


def _cut(message: str) -> str:
    message = " ".join(message.split()) if "\n" in message or "\r" in message else message
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


# --- line numbers ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def locate(node: Any, path: str) -> tuple[int, int] | None:
    """The line and column (from 1) of the field ``path`` (``search_space.lr``, ``trial.command``,
    ``search_space.x.values[0].k``) in a YAML node tree: the key of the deepest entry of the path that the
    file has; None for an empty path or a file without that first field."""
    if node is None or not path:
        return None
    import yaml

    mark = None
    current = node
    for m in _TOKEN.finditer(path):
        key, index = m.group(1), m.group(2)
        if index is not None and isinstance(current, yaml.SequenceNode) and int(index) < len(current.value):
            current = current.value[int(index)]
            mark = current.start_mark
            continue
        if key is not None and isinstance(current, yaml.MappingNode):
            entry = next((pair for pair in current.value if getattr(pair[0], "value", None) == key), None)
            if entry is not None:
                mark, current = entry[0].start_mark, entry[1]
                continue
        break
    return (mark.line + 1, mark.column + 1) if mark is not None else None


def _at(node: Any, f: Finding) -> Finding:
    where = locate(node, f.path)
    if where is None:
        return f
    return Finding(f.severity, f.path, f.message, where[0], where[1])


# --- output -------------------------------------------------------------------------------------


def _shown(reports: Iterable[FileReport], errors_only: bool) -> Iterable[tuple[FileReport, Finding]]:
    for report in reports:
        for f in report.findings:
            if not errors_only or f.severity == "error":
                yield report, f


def format_text(reports: Sequence[FileReport], *, errors_only: bool = False) -> list[str]:
    """``FILE:LINE:COL: severity: path: message`` per finding (``FILE: ...`` where no line is known)."""
    lines = []
    for report, f in _shown(reports, errors_only):
        where = f"{report.file}:{f.line}:{f.column}" if f.line else report.file
        lines.append(f"{where}: {f.severity}: {f.path}: {f.message}" if f.path else f"{where}: {f.severity}: {f.message}")
    return lines


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(reports: Sequence[FileReport], *, errors_only: bool = False) -> list[str]:
    """GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=azsweep: PATH::message``."""
    lines = []
    for report, f in _shown(reports, errors_only):
        props = [f"file={_escape_property(report.file)}"]
        if f.line:
            props += [f"line={f.line}", f"col={f.column}"]
        props.append(f"title={_escape_property('azsweep ' + (f.path or f.severity))}")
        message = f"{f.path}: {f.message}" if f.path else f.message
        lines.append(f"::{_GITHUB_LEVEL[f.severity]} {','.join(props)}::{_escape_data(message)}")
    return lines


def format_json(reports: Sequence[FileReport], *, errors_only: bool = False) -> list[str]:
    """One JSON object per file: file, kind, checked, status, errors, warnings and its problems."""
    lines = []
    for report in reports:
        if report.skipped:
            continue
        problems = [
            {"severity": f.severity, "path": f.path, "message": f.message, "line": f.line, "column": f.column}
            for f in report.findings
            if not errors_only or f.severity == "error"
        ]
        lines.append(
            json.dumps(
                {
                    "file": report.file,
                    "kind": report.kind,
                    "checked": report.checked,
                    "status": report.status,
                    "errors": report.errors,
                    "warnings": report.warnings,
                    "problems": problems,
                }
            )
        )
    return lines


def counts(reports: Sequence[FileReport]) -> dict[str, Any]:
    """The numbers of the summary line."""
    status = Counter(r.status for r in reports)
    return {
        "files": len(reports) - status["skipped"],
        "ok": status["ok"],
        "invalid": status["invalid"],
        "not_checked": status["not checked"],
        "skipped": status["skipped"],
        "errors": sum(r.errors for r in reports),
        "warnings": sum(r.warnings for r in reports),
    }


def summary(reports: Sequence[FileReport]) -> str:
    """``azsweep validate: 5 files: 3 ok, 1 invalid, 1 not checked (1 error, 2 warnings)``, and how many YAML
    files found in folders were skipped as not jobs."""
    c = counts(reports)

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'s' * (n != 1)}"

    skipped = f"; {plural(c['skipped'], 'other YAML file')} skipped (not jobs)" if c["skipped"] else ""

    return (
        f"azsweep validate: {plural(c['files'], 'file')}: {c['ok']} ok, {c['invalid']} invalid, "
        f"{c['not_checked']} not checked ({plural(c['errors'], 'error')}, {plural(c['warnings'], 'warning')}){skipped}"
    )
