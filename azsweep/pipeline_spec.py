"""A pipeline job as azsweep runs it: its steps, what feeds each step's inputs, and the wiring rules.

Pure (no azure, no mlflow, no processes): ``pipeline_definition`` builds a ``PipelineSpec`` from azure-ai-ml's
``PipelineJob``; ``runner.pipeline`` runs it. A step's input is bound to a pipeline input
(``${{parent.inputs.x}}``), to another step's output (``${{parent.jobs.step.outputs.y}}``), or given as a value
(a literal or a path). ``check_wiring`` applies the pipeline's own rules, each problem naming its field path:
a binding to no such input, step or output, a cycle between steps, a required component input bound by nothing,
a node input the component does not declare. ``step_order`` is the order steps run in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import Problem
from azsweep.space import shown
from azsweep.spec import CommandSpec, InputSpec, SweepSpec

PARENT_INPUT = re.compile(r"\$\{\{\s*parent\.inputs\.([A-Za-z0-9_.\-]+)\s*\}\}")
STEP_OUTPUT = re.compile(r"\$\{\{\s*parent\.jobs\.([A-Za-z0-9_\-]+)\.outputs\.([A-Za-z0-9_.\-]+)\s*\}\}")
PARENT_OUTPUT = re.compile(r"\$\{\{\s*parent\.outputs\.([A-Za-z0-9_.\-]+)\s*\}\}")
ANY_BINDING = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
STEP_KINDS = ("command", "sweep")


@dataclass(frozen=True)
class Binding:
    """What feeds a step input: ``kind`` is ``parent_input`` (``name``), ``step_output`` (``step``'s output
    ``name``), or ``value`` (``value``, a literal or a path, as written)."""

    kind: str
    name: str = ""
    step: str = ""
    value: InputSpec | None = None
    text: str = ""  # the binding as written (``${{parent.inputs.x}}``), for messages

    @property
    def is_value(self) -> bool:
        return self.kind == "value"


def parse_binding(value: Any) -> Binding | None:
    """The binding a string holds when it is exactly one ``${{parent...}}`` reference, else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = PARENT_INPUT.fullmatch(text)
    if m:
        return Binding("parent_input", name=m.group(1), text=text)
    m = STEP_OUTPUT.fullmatch(text)
    if m:
        return Binding("step_output", step=m.group(1), name=m.group(2), text=text)
    return None


def is_binding_text(value: Any) -> bool:
    """Whether ``value`` is text holding a ``${{...}}`` reference."""
    return isinstance(value, str) and ANY_BINDING.search(value) is not None


@dataclass(frozen=True)
class ComponentInput:
    """An input a step's component declares."""

    type: str
    optional: bool = False
    default: str | None = None

    @property
    def required(self) -> bool:
        return not self.optional and self.default is None


@dataclass(frozen=True)
class StepSpec:
    """One step: a command job or a sweep, as a standalone job's REST ``props`` (its bindings still as written)
    and its spec (None when it has errors); ``bindings``: each node input's source; ``outputs``: each output's
    type; ``output_bindings``: node outputs bound to a pipeline output (``${{parent.outputs.x}}``)."""

    name: str
    kind: str  # "command" or "sweep"
    props: Mapping[str, Any]
    base_dir: Path
    spec: SweepSpec | CommandSpec | None = None
    bindings: Mapping[str, Binding] = field(default_factory=dict)
    component_inputs: Mapping[str, ComponentInput] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    output_bindings: Mapping[str, str] = field(default_factory=dict)
    component: str = ""  # the component's name, for messages
    swept: tuple[str, ...] = ()  # a sweep step's search-space names

    @property
    def upstream(self) -> list[str]:
        """The steps whose outputs feed this one, in input order, each once."""
        return list(dict.fromkeys(b.step for b in self.bindings.values() if b.kind == "step_output"))


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline job: its steps in definition order, its inputs and outputs, its settings."""

    steps: Mapping[str, StepSpec]
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # name -> output type
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    default_compute: str | None = None
    continue_on_step_failure: bool = False
    base_dir: Path = Path(".")

    def order(self) -> list[str]:
        """The steps in an order that runs each after the steps feeding it (definition order where free);
        the steps of a cycle are left out (``check_wiring`` reports it)."""
        return step_order({name: step.upstream for name, step in self.steps.items()})

    def downstream(self, name: str) -> list[str]:
        """Every step that depends on ``name``, directly or not, in run order."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for other, step in self.steps.items():
                if current in step.upstream and other not in found:
                    found.add(other)
                    frontier.append(other)
        return [s for s in self.order() if s in found]


def step_order(upstream: Mapping[str, list[str]]) -> list[str]:
    """A topological order of ``upstream`` (step -> the steps it needs), stable on definition order; unknown
    names in the lists are ignored; steps on or behind a cycle are left out."""
    order: list[str] = []
    placed: set[str] = set()
    remaining = [s for s in upstream]
    progress = True
    while remaining and progress:
        progress = False
        for step in list(remaining):
            needs = [u for u in upstream[step] if u in upstream]
            if all(u in placed for u in needs):
                order.append(step)
                placed.add(step)
                remaining.remove(step)
                progress = True
                break
    return order


def find_cycle(upstream: Mapping[str, list[str]]) -> list[str] | None:
    """One cycle of ``upstream`` as the steps along it (``[a, b, a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(step: str) -> list[str] | None:
        state[step] = 1
        path.append(step)
        for need in upstream.get(step, []):
            if need not in upstream:
                continue
            if state.get(need) == 1:
                return path[path.index(need) :] + [need]
            if need not in state:
                found = visit(need)
                if found:
                    return found
        path.pop()
        state[step] = 2
        return None

    for step in upstream:
        if step not in state:
            found = visit(step)
            if found:
                return list(reversed(found))
    return None


def check_wiring(pipeline: PipelineSpec) -> list[Problem]:
    """The pipeline's own rules: every binding names an existing pipeline input, step and output; no cycle;
    every required component input is bound; every node input and swept name is an input of the component;
    every node output bound to ``${{parent.outputs.x}}`` names a pipeline output."""
    problems: list[Problem] = []
    steps = pipeline.steps
    for name, step in steps.items():
        prefix = f"jobs.{name}"
        for input_name, binding in step.bindings.items():
            path = f"{prefix}.inputs.{input_name}"
            if binding.kind == "parent_input" and binding.name not in pipeline.inputs:
                defined = ", ".join(pipeline.inputs) or "none"
                problems.append(
                    Problem(
                        "error",
                        path,
                        f"{binding.text} refers to an undefined pipeline input {shown(binding.name)} "
                        f"(pipeline inputs: {defined})",
                    )
                )
            elif binding.kind == "step_output":
                source = steps.get(binding.step)
                if source is None:
                    known = ", ".join(s for s in steps if s != name) or "none"
                    problems.append(
                        Problem(
                            "error", path, f"{binding.text} refers to an undefined step {shown(binding.step)} (steps: {known})"
                        )
                    )
                elif binding.step == name:
                    problems.append(Problem("error", path, f"{binding.text}: a step cannot take its own output as an input"))
                elif binding.name not in source.outputs:
                    known = ", ".join(source.outputs) or "none"
                    problems.append(
                        Problem(
                            "error",
                            path,
                            f"{binding.text} refers to an undefined output {shown(binding.name)} of step "
                            f"{shown(binding.step)} (its outputs: {known})",
                        )
                    )
            if step.component_inputs and input_name not in step.component_inputs:
                known = ", ".join(step.component_inputs)
                problems.append(
                    Problem(
                        "warning",
                        path,
                        f"is not an input of the component {shown(step.component)} (its inputs: {known}); it reaches no command",
                    )
                )
        for swept in step.swept:
            if step.component_inputs and swept not in step.component_inputs:
                known = ", ".join(step.component_inputs)
                problems.append(
                    Problem(
                        "error",
                        f"{prefix}.search_space.{swept}",
                        f"is not an input of the component {shown(step.component)}: a sweep step's search space "
                        f"names the component's inputs (its inputs: {known})",
                    )
                )
        for input_name, declared in step.component_inputs.items():
            if declared.required and input_name not in step.bindings and input_name not in step.swept:
                problems.append(
                    Problem(
                        "error",
                        f"{prefix}.inputs.{input_name}",
                        f"is required by the component {shown(step.component)} ({declared.type}, no default) "
                        "and bound by nothing: give it a value or a ${{parent...}} binding",
                    )
                )
        for output_name, target in step.output_bindings.items():
            if target not in pipeline.outputs:
                defined = ", ".join(pipeline.outputs) or "none"
                problems.append(
                    Problem(
                        "error",
                        f"{prefix}.outputs.{output_name}",
                        f"${{{{parent.outputs.{target}}}}} refers to an undefined pipeline output {shown(target)} "
                        f"(pipeline outputs: {defined})",
                    )
                )
    cycle = find_cycle({name: step.upstream for name, step in steps.items()})
    if cycle:
        first = cycle[0]
        problems.append(
            Problem(
                "error",
                f"jobs.{first}",
                f"the steps form a cycle: {' -> '.join(cycle)} (each takes an output of the one before it)",
            )
        )
    return problems
