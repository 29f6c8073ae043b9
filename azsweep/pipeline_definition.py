"""Read a pipeline job (a YAML ``type: pipeline``, or azure-ai-ml's ``PipelineJob``) into a ``PipelineSpec``.

The file is read with ``azure.ai.ml.load_job``, as sweeps are. Each step becomes the standalone job azure-ai-ml
makes of it (a sweep node's ``SweepJob``, whose command refers to the swept component inputs as
``${{search_space.x}}``; a command node's ``CommandJob``), in the REST form the sweep and command-job rules check
(``build_spec``, ``build_command_spec``), with the component's code made absolute against the component's own
folder and its default inputs filled in. Every problem names its field path from the pipeline's top
(``jobs.sweep_step.search_space.c_value: ...``).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.azure_compat import as_job, base_path, rest_body
from azsweep.definition import component_code
from azsweep.errors import DefinitionError, Problem
from azsweep.pipeline_spec import (
    STEP_KINDS,
    Binding,
    ComponentInput,
    PipelineSpec,
    StepSpec,
    check_wiring,
    is_binding_text,
    parse_binding,
)
from azsweep.space import shown
from azsweep.spec import InputSpec, build_command_spec, build_spec, section_to_rest

LITERAL_TYPES = ("string", "number", "integer", "boolean", "literal")
DISTRIBUTION_FIELDS = ("min_value", "max_value", "mu", "sigma", "q", "values")
PARENT_OUTPUT_PREFIX = "${{parent.outputs."
NOT_A_BINDING = re.compile(r"Value passed is not a data binding string: [^;\"]*; ")


@dataclass
class PipelineDefinition:
    """A pipeline read for checking or running: its azure-ai-ml job, its spec (None on any error), the problems."""

    source: str
    job: Any = None
    spec: PipelineSpec | None = None
    base_dir: Path = Path(".")
    problems: list[Problem] = field(default_factory=list)
    path: Path | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def is_pipeline(definition: Any) -> bool:
    """Whether ``definition`` is a pipeline job: a YAML file declaring ``type: pipeline``, or a ``PipelineJob``."""
    if isinstance(definition, (str, os.PathLike)):
        from azsweep.definition import job_type, read_yaml

        read = read_yaml(Path(definition))
        return isinstance(read.raw, Mapping) and job_type(read.raw) == "pipeline"
    try:
        from azure.ai.ml.entities import PipelineJob
    except ImportError:  # pragma: no cover - azure-ai-ml is a dependency
        return False
    return isinstance(definition, PipelineJob)


def read_pipeline(definition: Any) -> PipelineDefinition:
    """Read and check a pipeline job (a YAML path or a ``PipelineJob``); ``spec`` is None when any error was found."""
    d = _read_yaml(Path(definition)) if isinstance(definition, (str, os.PathLike)) else _read_object(definition)
    if d.job is not None and not d.errors:
        _build(d)
    return d


def require_pipeline(definition: Any) -> PipelineDefinition:
    """Like ``read_pipeline`` but raises ``DefinitionError`` on errors."""
    d = read_pipeline(definition)
    if d.spec is None:
        raise DefinitionError(d.problems, d.source)
    return d


def _read_yaml(path: Path) -> PipelineDefinition:
    from azsweep.definition import job_type, read_yaml, translate_sdk_error

    d = PipelineDefinition(source=str(path), base_dir=path.parent.resolve(), path=path)
    read = read_yaml(path)
    if read.problem:
        d.problems.append(Problem("error", "", read.problem))
        return d
    if not isinstance(read.raw, Mapping) or job_type(read.raw) != "pipeline":
        got = read.raw.get("type") if isinstance(read.raw, Mapping) else type(read.raw).__name__
        d.problems.append(Problem("error", "type", f"must be pipeline for a pipeline job (got {shown(got)})"))
        return d
    from azure.ai.ml import load_job

    try:
        d.job = load_job(source=path)
    except Exception as exc:  # azure-ai-ml raises several unrelated types; each is translated
        text = str(getattr(exc, "message", None) or exc)
        if "Validation for" in text:  # a node field also accepts a binding: that alternative is not the user's mistake
            exc = ValueError(NOT_A_BINDING.sub("", text))
        d.problems.extend(translate_sdk_error(exc))
    return d


def _read_object(obj: Any) -> PipelineDefinition:
    from azure.ai.ml.entities import PipelineJob

    d = PipelineDefinition(source=f"<{type(obj).__name__}>")
    if not isinstance(obj, PipelineJob):
        d.problems.append(
            Problem("error", "", f"expected a pipeline job (a YAML path or a PipelineJob), got {type(obj).__name__}")
        )
        return d
    d.job = obj
    base = base_path(obj)
    d.base_dir = Path(base).resolve() if base else Path.cwd()
    return d


# --- from azure-ai-ml's objects -----------------------------------------------------------------


def _raw(value: Any) -> Any:
    """What a pipeline or node input / output holds: a binding as text, an ``Input``, a literal, or None."""
    data = getattr(value, "_data", value)
    if data is not None and not isinstance(data, (str, int, float, bool)) and hasattr(data, "_data_binding"):
        try:  # a dsl pipeline's input or another node's output
            return str(data._data_binding())
        except Exception:
            return data
    return data


def _text(value: Any) -> str:
    return str(value)


def _input_spec(raw: Any) -> InputSpec:
    """An ``Input`` (a path, or a literal input with a default) or a literal, as an ``InputSpec``."""
    kind = getattr(raw, "type", None)
    if kind is not None and not isinstance(raw, (str, int, float, bool)):
        kind = str(kind)
        path = getattr(raw, "path", None)
        if kind in LITERAL_TYPES or (path is None and getattr(raw, "default", None) is not None):
            default = getattr(raw, "default", None)
            return InputSpec(type="literal", value=None if default is None else _text(default))
        return InputSpec(type=kind, path=None if path is None else str(path), mode=getattr(raw, "mode", None))
    return InputSpec(type="literal", value=None if raw is None else _text(raw))


def _build(d: PipelineDefinition) -> None:
    job = d.job
    settings = getattr(job, "settings", None)
    default_compute = getattr(settings, "default_compute", None)
    if isinstance(default_compute, str):
        default_compute = default_compute.removeprefix("azureml:")
    experiment = getattr(job, "experiment_name", None) or d.base_dir.name or "Default"
    inputs = {name: _input_spec(_raw(value)) for name, value in (getattr(job, "inputs", None) or {}).items()}
    outputs = {
        name: str(getattr(_raw(value), "type", None) or "uri_folder")
        for name, value in (getattr(job, "outputs", None) or {}).items()
    }
    steps: dict[str, StepSpec] = {}
    for name, node in (getattr(job, "jobs", None) or {}).items():
        step = _read_step(d, name, node, default_compute, experiment)
        if step is not None:
            steps[name] = step
    if not (getattr(job, "jobs", None) or {}) and not d.errors:
        d.problems.append(Problem("error", "jobs", "is required: a pipeline needs at least one step"))
    spec = PipelineSpec(
        steps=steps,
        inputs=inputs,
        outputs=outputs,
        name=getattr(job, "name", None),
        display_name=getattr(job, "display_name", None),
        experiment_name=experiment,
        description=getattr(job, "description", None),
        tags={k: str(v) for k, v in (getattr(job, "tags", None) or {}).items()},
        default_compute=default_compute,
        continue_on_step_failure=bool(getattr(settings, "continue_on_step_failure", None)),
        base_dir=d.base_dir,
    )
    skipped = [name for name in (getattr(job, "jobs", None) or {}) if name not in steps]
    wiring = [  # a step azsweep does not read (a parallel, spark or pipeline-component step) is not called undefined
        p for p in check_wiring(spec) if not any(f"${{{{parent.jobs.{name}.outputs." in p.message for name in skipped)
    ]
    unbound = {p.path for p in wiring if "bound by nothing" in p.message}
    d.problems = [p for p in d.problems if not _unbound_reference(p, unbound)]
    _add_unreported(d, wiring)
    if not d.errors and len(steps) == len(job.jobs or {}) and all(step.spec is not None for step in steps.values()):
        d.spec = spec


def _read_step(d: PipelineDefinition, name: str, node: Any, default_compute: str | None, experiment: str) -> StepSpec | None:
    from azsweep.definition import translate_sdk_error

    prefix = f"jobs.{name}"
    kind = str(getattr(node, "type", "") or "").lower()
    if kind not in STEP_KINDS:
        d.problems.append(
            Problem(
                "warning",
                f"{prefix}.type",
                f"a {shown(kind)} step: not checked by azsweep, which checks and runs command and sweep steps",
            )
        )
        return None
    where = "trial" if kind == "sweep" else "component"
    component = getattr(node, where, None)
    if component is None or isinstance(component, str):
        d.problems.append(
            Problem(
                "warning",
                f"{prefix}.{where}",
                f"{shown(component)} is a registered component, which cannot be read offline; give its YAML file "
                f"({where}: ./component.yml)",
            )
        )
        return None
    folder = base_path(component)
    comp_base = Path(folder).resolve() if folder else d.base_dir
    declared = {
        key: ComponentInput(
            type=str(getattr(value, "type", "") or "string"),
            optional=bool(getattr(value, "optional", False)),
            default=None if getattr(value, "default", None) is None else _text(value.default),
        )
        for key, value in (getattr(component, "inputs", None) or {}).items()
    }
    outputs = {
        key: str(getattr(value, "type", None) or "uri_folder")
        for key, value in (getattr(component, "outputs", None) or {}).items()
    }
    swept = tuple(getattr(node, "search_space", None) or {}) if kind == "sweep" else ()
    bindings: dict[str, Binding] = {}
    for key, value in (getattr(node, "inputs", None) or {}).items():
        raw = _raw(value)
        if raw is None:
            continue
        if isinstance(raw, str) and is_binding_text(raw):
            binding = parse_binding(raw)
            if binding is None:
                d.problems.append(
                    Problem(
                        "error",
                        f"{prefix}.inputs.{key}",
                        f"{shown(raw)} is not a binding a pipeline step can take: write ${{{{parent.inputs.NAME}}}} "
                        "or ${{parent.jobs.STEP.outputs.NAME}}",
                    )
                )
                continue
            bindings[key] = binding
        else:
            bindings[key] = Binding("value", value=_input_spec(raw))
    output_bindings: dict[str, str] = {}
    for key, value in (getattr(node, "outputs", None) or {}).items():
        raw = _raw(value)
        if isinstance(raw, str) and raw.replace(" ", "").startswith(PARENT_OUTPUT_PREFIX):
            output_bindings[key] = raw.replace(" ", "")[len(PARENT_OUTPUT_PREFIX) : -2]
    bound_bounds = _bound_search_space(node, prefix) if kind == "sweep" else []
    d.problems.extend(bound_bounds)
    props: dict[str, Any] | None = None
    problems: list[Problem] = []
    if not bound_bounds:
        try:
            standalone = as_job(node)
            if kind == "command":
                _component_fields(standalone, node, component)
            _standalone_io(standalone, declared, outputs, swept, bindings)
            props = rest_body(standalone)["properties"]
        except Exception as exc:  # azure-ai-ml's own refusal of the node, by its path
            found = translate_sdk_error(exc)
            if kind == "command":
                found = [Problem(p.severity, p.path.removeprefix("trial."), p.message) for p in found]
            problems = [_prefixed(p, prefix) for p in found]
    spec: Any = None
    if props is not None:
        _complete(props, kind, comp_base, declared, swept, bindings, default_compute, experiment)
        if kind == "sweep":
            spec, found = build_spec(props, base_dir=comp_base)
        else:
            spec, found = build_command_spec(props, base_dir=comp_base)
        undeclared = {f"search_space.{s}" for s in swept if declared and s not in declared}
        problems = [_prefixed(p, prefix) for p in found if not (p.severity == "warning" and p.path in undeclared)]
    _add_unreported(d, problems)
    return StepSpec(
        name=name,
        kind=kind,
        props=props or {},
        base_dir=comp_base,
        spec=spec,
        bindings=bindings,
        component_inputs=declared,
        outputs=outputs,
        output_bindings=output_bindings,
        component=str(getattr(component, "display_name", None) or getattr(component, "name", None) or name),
        swept=swept,
    )


def _bound_search_space(node: Any, prefix: str) -> list[Problem]:
    """A search-space field given as a pipeline binding (``min_value: ${{parent.inputs.c_min}}``): Azure takes
    search-space bounds as numbers only (users ask for bindings: azureml-examples issue 3457)."""
    problems = []
    for key, dist in (getattr(node, "search_space", None) or {}).items():
        for attr in DISTRIBUTION_FIELDS:
            value = getattr(dist, attr, None)
            values = value if isinstance(value, list) else [value]
            bound = next((v for v in values if is_binding_text(v)), None)
            if bound is not None:
                problems.append(
                    Problem(
                        "error",
                        f"{prefix}.search_space.{key}.{attr}",
                        f"{shown(bound)}: a search space cannot take its bounds or values from a pipeline binding "
                        "(Azure does not support it, see azureml-examples issue 3457); write the number",
                    )
                )
    return problems


def _component_fields(job: Any, node: Any, component: Any) -> None:
    """A command node's job takes what the node leaves unset from its component (environment, variables, ...)."""
    for attr in ("environment", "environment_variables", "distribution", "resources"):
        if not getattr(job, attr, None) and getattr(component, attr, None):
            setattr(job, attr, getattr(component, attr))


def _standalone_io(
    job: Any,
    declared: Mapping[str, ComponentInput],
    outputs: Mapping[str, str],
    swept: tuple[str, ...],
    bindings: Mapping[str, Binding],
) -> None:
    """The step's job as it runs alone: every component output (a node output bound to the pipeline's is the
    component's output), each input bound to a pipeline input or a step output as its binding's text (the SDK
    gives the job an upstream node's output object there, the YAML the text), and the component's default for
    each input the node leaves unbound."""
    from azure.ai.ml import Output

    job.outputs = {key: Output(type=kind) for key, kind in outputs.items()}
    given = {key: _raw(value) for key, value in (getattr(job, "inputs", None) or {}).items()}
    given = {key: value for key, value in given.items() if value is not None}
    given.update({key: binding.text for key, binding in bindings.items() if not binding.is_value and binding.text})
    for key, item in declared.items():
        if key not in given and key not in swept and key not in bindings and item.default is not None:
            given[key] = item.default
    job.inputs = given


def _complete(
    props: dict[str, Any],
    kind: str,
    comp_base: Path,
    declared: Mapping[str, ComponentInput],
    swept: tuple[str, ...],
    bindings: Mapping[str, Binding],
    default_compute: str | None,
    experiment: str,
) -> None:
    """The standalone job's REST ``props`` as the step runs: code absolute (against the component's folder),
    the component's defaults for inputs the node leaves unbound, the pipeline's compute and experiment."""
    holder = props.get("trial") if kind == "sweep" else props
    if isinstance(holder, dict):
        code = component_code(holder.get("codeId"), comp_base)
        if code is not None:
            holder["codeId"] = code
    inputs = props.setdefault("inputs", {}) or {}
    props["inputs"] = inputs
    for key, item in declared.items():
        if key in inputs or key in swept or key in bindings or item.default is None:
            continue
        inputs[key] = section_to_rest("inputs", {"type": "literal", "value": item.default})
    if not props.get("computeId") and default_compute:
        props["computeId"] = default_compute
    props.setdefault("experimentName", experiment)
    props.pop("name", None)


def run_props(step: StepSpec, values: Mapping[str, str]) -> dict[str, Any]:
    """The step's REST ``props`` with its bound inputs given: ``values`` maps an input to a local path (a step's
    output, a pipeline path input) or a literal's text, typed as the component declares it."""
    props = copy.deepcopy(dict(step.props))
    inputs = props.setdefault("inputs", {}) or {}
    props["inputs"] = inputs
    for key, value in values.items():
        declared = step.component_inputs.get(key)
        kind = declared.type if declared is not None else "uri_folder"
        if kind in LITERAL_TYPES:
            inputs[key] = section_to_rest("inputs", {"type": "literal", "value": value})
        else:
            inputs[key] = section_to_rest("inputs", {"type": kind, "path": value})
    return props


def _unbound_reference(problem: Problem, unbound: set[str]) -> bool:
    """A command's ``${{inputs.x}}`` refused because ``x`` is bound by nothing: the wiring rule reports it."""
    step = problem.path.split(".")[1] if problem.path.startswith("jobs.") and "." in problem.path[5:] else ""
    return problem.path.endswith("command") and any(
        f"jobs.{step}.inputs.{name}" in unbound for name in re.findall(r"\$\{\{inputs\.([A-Za-z0-9_]+)\}\}", problem.message)
    )


def _prefixed(problem: Problem, prefix: str) -> Problem:
    return Problem(problem.severity, f"{prefix}.{problem.path}" if problem.path else prefix, problem.message)


def _add_unreported(d: PipelineDefinition, problems: list[Problem]) -> None:
    reported = [p.path for p in d.problems if p.path and p.severity == "error"]
    for p in problems:
        if p.severity == "error" and any(
            p.path == r or p.path.startswith(r + ".") or r.startswith(p.path + ".") for r in reported
        ):
            continue
        if p not in d.problems:
            d.problems.append(p)
