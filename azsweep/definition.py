"""Read any form of sweep definition into the REST wire form azure-ai-ml would send.

Accepted: a CLI v2 YAML path (read with ``azure.ai.ml.load_job``), an azure-ai-ml or azsweep
``SweepJob``, and the ``Sweep`` node that ``command(...)(...).sweep(...)`` returns; for local runs
(``load_job_spec``) also a command job: ``command(...)``, a ``CommandJob``, or a YAML ``type: command``. azure-ai-ml's
own errors (marshmallow's nested JSON, ``ValidationException``, and a few crashes on incomplete
jobs) are translated into one-line problems that name the field.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from azsweep.azure_compat import as_job, base_path, rest_body
from azsweep.errors import DefinitionError, InvalidValue, Problem
from azsweep.space import DISTRIBUTION_ARGS, DISTRIBUTION_TYPES, from_wire, shown
from azsweep.spec import (
    FIELDS,
    CommandSpec,
    SweepSpec,
    build_command_spec,
    build_spec,
    check_key_name,
    check_yaml_integers,
    is_command_job,
    parse_duration,
    rest_name,
    section_to_rest,
)


@dataclass
class Definition:
    """A sweep definition read for checking, running or submitting."""

    source: str  # a file path, or a label for a Python object
    job: Any = None  # azure.ai.ml SweepJob, when azure-ai-ml could build one
    props: dict[str, Any] | None = None  # REST "properties" of the body azure-ai-ml would send
    base_dir: Path = Path(".")
    problems: list[Problem] = field(default_factory=list)
    path: Path | None = None  # the user's original YAML, kept for submission

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def read_definition(definition: Any, *, commands: bool = False) -> Definition:
    """Read ``definition`` and collect the problems azure-ai-ml and our pre-checks find (``commands``: a
    command job is read too, not only sweeps)."""
    if isinstance(definition, (str, os.PathLike)):
        return _read_yaml(Path(definition), commands)
    return _read_object(definition, commands)


def load_spec(definition: Any) -> tuple[SweepSpec | None, Definition]:
    """Read and check the sweep ``definition``; the spec is None when any error was found."""
    spec, d = load_job_spec(definition, commands=False)
    assert not isinstance(spec, CommandSpec)
    return spec, d


def load_job_spec(definition: Any, *, commands: bool = True) -> tuple[SweepSpec | CommandSpec | None, Definition]:
    """Read and check a sweep or (with ``commands``) a command job; the spec is None when any error was found."""
    d = read_definition(definition, commands=commands)
    if d.props is None:
        return None, d
    if is_command_job(d.props):
        spec: SweepSpec | CommandSpec | None
        spec, problems = build_command_spec(d.props, base_dir=d.base_dir)
    else:
        spec, problems = build_spec(d.props, base_dir=d.base_dir)
    seen = {p.path for p in d.problems}
    d.problems.extend(p for p in problems if p.path not in seen or p.severity == "warning")
    return (spec if not d.errors else None), d


def require_spec(definition: Any) -> tuple[SweepSpec, Definition]:
    """Like ``load_spec`` but raises ``DefinitionError`` on errors."""
    spec, d = load_spec(definition)
    if spec is None:
        raise DefinitionError(d.problems, d.source)
    return spec, d


# --- YAML ---------------------------------------------------------------------------------------


MAX_DEPTH = 100  # the deepest nesting read; Azure ML jobs nest fewer than 20 levels
MAX_NODES = 1_000_000  # the most values a file may expand to through YAML aliases


@dataclass
class YamlFile:
    """A YAML file read for checking: its value, its node tree (line and column of each field), or why not."""

    raw: Any = None
    node: Any = None  # yaml.Node of the document, None when unreadable or empty
    problem: str = ""  # why the file cannot be read, one line


def read_yaml(path: Path) -> YamlFile:
    """Read ``path`` as YAML with every failure as one line: unreadable, not UTF-8 text (binary, UTF-16),
    not valid YAML, nested too deeply, or expanding to too many values through aliases (an alias bomb)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return YamlFile(problem=f"cannot read the file ({exc.strerror or exc})")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return YamlFile(problem="is UTF-16 text: Azure ML reads job files as UTF-8 (save it as UTF-8)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return YamlFile(problem=f"is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}): not a YAML job file")
    if "\x00" in text:
        what = "UTF-16 text" if text.count("\x00") * 3 > len(text) else "a binary file (it holds NUL bytes)"
        return YamlFile(problem=f"is {what}, not UTF-8 YAML")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return YamlFile(problem=f"not valid YAML{where}: {shown(str(getattr(exc, 'problem', None) or exc))[1:-1]}")
    except RecursionError:
        return YamlFile(problem=f"nests deeper than YAML can be read here (more than {MAX_DEPTH} levels)")
    if node is None:
        return YamlFile()
    depth, size = _node_extent(node)
    if depth > MAX_DEPTH:
        return YamlFile(node=node, problem=f"nests {depth} levels deep; azsweep reads at most {MAX_DEPTH}")
    if size > MAX_NODES:
        return YamlFile(
            node=node,
            problem=f"expands to more than {MAX_NODES:,} values through YAML aliases (*name): an alias bomb is not read",
        )
    try:
        raw = yaml.SafeLoader(text).get_single_data()
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:  # e.g. an unhashable key, a bad timestamp
        return YamlFile(node=node, problem=f"not valid YAML: {shown(str(exc))[1:-1]}")
    return YamlFile(raw=raw, node=node)


def _node_extent(root: Any) -> tuple[int, int]:
    """The nesting depth of a node tree and how many nodes it expands to (aliases share nodes, so the count is
    computed once per node: an alias bomb is measured without being expanded)."""
    sizes: dict[int, int] = {}
    depth = 0
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, level, done = stack.pop()
        children = _children(node)
        if done:
            sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(sizes.get(id(c), 1) for c in children))
            continue
        if id(node) in sizes:
            continue
        depth = max(depth, level)
        if level > MAX_DEPTH:
            return depth, 0
        stack.append((node, level, True))
        stack.extend((c, level + 1, False) for c in children if id(c) not in sizes)
    return depth, sizes.get(id(root), 1)


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


COMMAND_JOB_SCHEMA = "commandjob.schema.json"


def job_type(raw: Mapping[str, Any]) -> str:
    """The job type a YAML declares, lower-cased: its ``type:``, else ``command`` for a file azure-ai-ml's
    ``load_job`` reads as a command job (a ``commandJob`` ``$schema``, or a top-level ``command``), else ""."""
    kind = raw.get("type")
    if isinstance(kind, str) and kind.strip():
        return kind.strip().lower()
    schema = str(raw.get("$schema") or "").lower()
    if schema.endswith(COMMAND_JOB_SCHEMA) or (kind is None and "$schema" not in raw and isinstance(raw.get("command"), str)):
        return "command"
    return ""


def _read_yaml(path: Path, commands: bool = False) -> Definition:
    d = Definition(source=str(path), base_dir=path.parent.resolve(), path=path)
    read = read_yaml(path)
    if read.problem:
        d.problems.append(Problem("error", "", read.problem))
        return d
    raw = read.raw
    if not isinstance(raw, Mapping):
        d.problems.append(Problem("error", "", f"expected a mapping with type: sweep (got {type(raw).__name__})"))
        return d
    kind = job_type(raw)
    if commands and kind == "command":
        return _read_command_yaml(d, path)
    if kind != "sweep":
        wanted = "sweep (a sweep job) or command (a command job)" if commands else "sweep for a sweep job"
        d.problems.append(Problem("error", "type", f"must be {wanted} (got {shown(raw.get('type'))})"))
        return d
    d.problems.extend(_precheck_search_space(raw.get("search_space")))
    d.problems.extend(_precheck_limits(raw.get("limits")))
    d.problems.extend(check_yaml_integers(raw))
    from azure.ai.ml import load_job

    try:
        d.job = load_job(source=path)
    except Exception as exc:  # azure-ai-ml raises several unrelated types; each is translated
        _add_unreported(d, translate_sdk_error(exc))
        # Our own rules still run on the fields azure-ai-ml did not complain about, so one pass over the
        # file shows every problem (e.g. an undefined ${{search_space.x}} next to a goal typo).
        _, ours = build_spec(_yaml_to_props(raw))
        _add_unreported(d, [p for p in ours if p.severity == "error"])
        return d
    _to_props(d)
    return d


def _read_command_yaml(d: Definition, path: Path) -> Definition:
    from azure.ai.ml import load_job

    try:
        d.job = as_job(load_job(source=path))  # azure-ai-ml loads a command job's YAML as a command(...) node
    except Exception as exc:
        _add_unreported(d, _command_paths(translate_sdk_error(exc)))
        return d
    _to_props(d)
    d.problems = _command_paths(d.problems)
    return d


def _command_paths(problems: list[Problem]) -> list[Problem]:
    """A command job has at its top level what a sweep's ``trial`` holds: ``trial.command`` is ``command`` there."""
    return [Problem(p.severity, p.path.removeprefix("trial."), p.message) for p in problems]


def _yaml_to_props(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The REST-shaped fields of a YAML sweep that azure-ai-ml refused, for our own rules only."""
    props: dict[str, Any] = {}
    for key in FIELDS:
        value = raw.get(key)
        if isinstance(value, str) and key == "sampling_algorithm":
            value = {"type": value}
        if isinstance(value, Mapping):
            props[rest_name(key)] = section_to_rest(key, value)
    space = raw.get("search_space")
    if isinstance(space, Mapping):
        wire_space: dict[str, Any] = {}
        for name, item in space.items():
            try:
                wire_space[name] = yaml_to_wire(f"search_space.{name}", item)
            except InvalidValue:
                wire_space[name] = ["choice", [[0]]]  # reported already; a placeholder keeps the name
        props[rest_name("search_space")] = wire_space
    inputs = raw.get("inputs")
    props[rest_name("inputs")] = {
        k: section_to_rest(
            "inputs",
            {"type": str(v.get("type", "uri_folder")), "path": v.get("path")}
            if isinstance(v, Mapping)
            else {"type": "literal", "value": v},
        )
        for k, v in (inputs.items() if isinstance(inputs, Mapping) else ())
    }
    outputs = raw.get("outputs")
    props[rest_name("outputs")] = {
        k: section_to_rest("outputs", {"type": str((v or {}).get("type", "uri_folder"))})
        for k, v in (outputs.items() if isinstance(outputs, Mapping) else ())
    }
    return props


def _precheck_search_space(raw: Any) -> list[Problem]:
    """Check YAML search-space entries with our rules, for messages clearer than the schema's."""
    if not isinstance(raw, Mapping):
        return []
    problems = []
    for name, item in raw.items():
        path = f"search_space.{name}"
        try:
            from_wire(path, yaml_to_wire(path, item))
        except InvalidValue as exc:
            problems.append(Problem("error", exc.path, exc.message))
    return problems


def _precheck_limits(raw: Any) -> list[Problem]:
    """Timeouts the SDK would silently turn into 60 s (negative or zero) are errors here."""
    if not isinstance(raw, Mapping):
        return []
    problems = []
    for key in ("timeout", "trial_timeout"):
        value = raw.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # other values are the schema's to refuse
            try:
                parse_duration(value, f"limits.{key}")
            except InvalidValue as exc:
                problems.append(Problem("error", exc.path, exc.message))
    return problems


def yaml_to_wire(path: str, item: Any) -> list[Any]:
    """Turn a YAML distribution (``{type: uniform, min_value: 0, max_value: 1}``) into the wire list."""
    if not isinstance(item, Mapping) or "type" not in item:
        raise InvalidValue(
            path, f"expected a distribution with a type, one of {', '.join(DISTRIBUTION_TYPES)} (got {shown(item)})"
        )
    kind = str(item["type"]).lower()
    if kind not in DISTRIBUTION_ARGS:
        raise InvalidValue(path, f"unknown distribution type {shown(item['type'])}; accepted: {', '.join(DISTRIBUTION_TYPES)}")
    names = DISTRIBUTION_ARGS[kind]
    unknown = sorted(set(item) - set(names) - {"type"})
    if unknown:
        raise InvalidValue(path, f"{kind} takes {', '.join(names)}; unknown field {shown(unknown[0])}")
    if kind == "choice":
        values = item.get("values")
        if not isinstance(values, list):
            raise InvalidValue(path, f"choice needs a list of values (got {shown(values)})")
        converted = [
            {k: (yaml_to_wire(f"{path}.values[{i}].{k}", v) if isinstance(v, Mapping) else v) for k, v in value.items()}
            if isinstance(value, Mapping)
            else value
            for i, value in enumerate(values)
        ]
        return ["choice", [converted]]
    return [kind, [item.get(n) for n in names]]


# --- Python objects -----------------------------------------------------------------------------


def _read_object(obj: Any, commands: bool = False) -> Definition:
    from azure.ai.ml.entities import Command, CommandJob, Sweep
    from azure.ai.ml.sweep import SweepJob  # not exported by azure.ai.ml.entities

    d = Definition(source=f"<{type(obj).__name__}>")
    if commands and isinstance(obj, (Command, CommandJob)):
        try:
            d.job = as_job(obj)  # a command(...) node stands for a CommandJob
        except Exception as exc:
            _add_unreported(d, _command_paths(translate_sdk_error(exc)))
            return d
        base = base_path(d.job)
        d.base_dir = Path(base).resolve() if base else Path.cwd()
        _to_props(d)
        d.problems = _command_paths(d.problems)
        return d
    if isinstance(obj, Sweep):
        try:
            d.job = as_job(obj)
        except Exception as exc:
            _add_unreported(d, translate_sdk_error(exc))
            return d
    elif isinstance(obj, SweepJob):
        d.job = obj
    else:
        d.problems.append(
            Problem(
                "error", "", f"expected a sweep (a YAML path, a SweepJob, or the node .sweep() returns), got {type(obj).__name__}"
            )
        )
        return d
    base = base_path(d.job)
    d.base_dir = Path(base).resolve() if base else Path.cwd()
    space = getattr(d.job, "search_space", None)
    if not space:
        d.problems.append(Problem("error", "search_space", "is required and must define at least one hyperparameter"))
        return d
    for name in space:
        try:
            check_key_name(name, f"search_space.{name}")
        except InvalidValue as exc:
            d.problems.append(Problem("error", exc.path, exc.message))
    if d.errors:
        return d
    _to_props(d)
    _component_code(d)
    return d


def _component_code(d: Definition) -> None:
    """A trial made from a component (``load_component(...)(...).sweep(...)``) keeps its ``code`` relative to the
    component's YAML, as azure-ai-ml resolves it when it uploads: record it as that absolute folder."""
    trial = getattr(d.job, "trial", None)
    code = d.props.get("trial", {}).get("codeId") if d.props else None
    folder = base_path(trial) if trial is not None else None
    resolved = component_code(code, folder) if folder else None
    if resolved is not None:
        assert d.props is not None
        d.props["trial"]["codeId"] = resolved


def component_code(code: Any, folder: str | Path) -> str | None:
    """A component's relative local ``code`` as the absolute folder it names (against the component's ``folder``);
    None for anything else (an asset id, a URL, an absolute path, nothing)."""
    if not isinstance(code, str) or not code or "://" in code or ":" in code.split("/")[0] or Path(code).is_absolute():
        return None
    return str((Path(folder) / code).resolve())


def _to_props(d: Definition) -> None:
    try:
        d.props = rest_body(d.job)["properties"]
    except Exception as exc:
        _add_unreported(d, translate_sdk_error(exc))


def _add_unreported(d: Definition, problems: list[Problem]) -> None:
    reported = [p.path for p in d.problems if p.path]
    for p in problems:
        if not any(p.path == r or p.path.startswith(r + ".") or r.startswith(p.path + ".") for r in reported if p.path):
            d.problems.append(p)


# --- azure-ai-ml errors -> problems -------------------------------------------------------------

_NOT_IN_SET = re.compile(r"Value (.+) passed is not in set (\[.*\])")


def translate_sdk_error(exc: BaseException) -> list[Problem]:
    """One problem per field from an azure-ai-ml / marshmallow error."""
    text = str(getattr(exc, "message", None) or exc)
    messages = getattr(exc, "messages", None)
    if messages is not None and not isinstance(messages, (dict, list)):
        text = str(messages)
    if isinstance(messages, list) and messages and isinstance(messages[0], str):
        text = messages[0]
    found = _validation_problems(text)
    if found:
        return found
    m = re.search(r"Key name\s+(\S+) must be composed", text)
    if m:
        return [
            Problem(
                "error",
                f"search_space.{m.group(1)}",
                f"names must be letters, digits and underscores (Azure refuses {shown(m.group(1))})",
            )
        ]
    m = re.search(r"Inputs to job does not contain '([^']+)' referenced in command", text)
    if m:
        return [
            Problem("error", "trial.command", f"${{{{inputs.{m.group(1)}}}}} refers to an undefined input {shown(m.group(1))}")
        ]
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return [Problem("error", "", f"azure-ai-ml could not read the definition: {first}")]


def _validation_problems(text: str, depth: int = 0) -> list[Problem]:
    """The problems in a ``Validation for X failed: {json}`` text; a command node's error wraps its job's
    (``{"result": "Failed", "errors": [{"message": "Validation for CommandJobSchema failed: {...}", ...}]}``)."""
    start = text.find("{")
    if "Validation for" not in text or start < 0 or depth > 3:
        return []
    try:
        tree, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return []
    if isinstance(tree, Mapping) and isinstance(tree.get("errors"), list) and "result" in tree:
        found: list[Problem] = []
        for error in tree["errors"]:
            if not isinstance(error, Mapping):
                continue
            message = str(error.get("message") or "")
            inner = _validation_problems(message, depth + 1)
            path = str(error.get("path") or "").strip("*").strip(".")
            found.extend(inner or [Problem("error", path, _tidy(" ".join(message.split())))])
        return found
    return [Problem("error", path, msg) for path, msg in _flatten(tree, "")]


def _flatten(node: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(node, Mapping):
        found = []
        for key, value in node.items():
            if key in ("_schema", "value"):
                sub = path
            elif key.isdigit():
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else key
            found.extend(_flatten(value, sub))
        return found
    if isinstance(node, list):
        if all(isinstance(x, str) for x in node):
            return [(path, _tidy(x)) for x in node]
        alternatives = [x for x in node if isinstance(x, Mapping)]
        if len(alternatives) > 1:
            return _best_alternative(alternatives, path)
        return [item for x in node for item in _flatten(x, path)]
    return [(path, _tidy(str(node)))]


def _best_alternative(alternatives: list[Mapping[str, Any]], path: str) -> list[tuple[str, str]]:
    """A union field failed every schema: report the one whose type matched, else the accepted types."""

    def type_mismatch(alt: Mapping[str, Any]) -> list[str]:
        msgs = [m for key in ("type", "_schema") for m in alt.get(key, []) if isinstance(m, str)]
        return [m for m in msgs if _NOT_IN_SET.search(m)]

    matched = [a for a in alternatives if not type_mismatch(a)]
    if matched:
        return _flatten(min(matched, key=lambda a: len(_flatten(a, path))), path)
    accepted: list[str] = []
    got = None
    for alt in alternatives:
        for msg in type_mismatch(alt):
            m = _NOT_IN_SET.search(msg)
            if m:
                got = got or m.group(1)
                accepted.extend(x.strip(" '\"") for x in m.group(2).strip("[]").split(",") if x.strip())
    if accepted:
        unique = list(dict.fromkeys(accepted))
        where = f"{path}.type" if path and path.split(".")[0] in ("early_termination", "sampling_algorithm") else path
        return [(where, f"must be one of {', '.join(unique)} (got {got})")]
    messages = list(dict.fromkeys(msg for alt in alternatives for _, msg in _flatten(alt, path)))
    return [(path, " or ".join(messages))]


def _tidy(message: str) -> str:
    m = _NOT_IN_SET.fullmatch(message.rstrip("."))
    if m:
        accepted = ", ".join(x.strip(" '\"") for x in m.group(2).strip("[]").split(","))
        return f"must be one of {accepted} (got {m.group(1)})"
    return message.rstrip(".").replace("Missing data for required field", "is required")
