"""The rules of a sweep definition, each in one place, and ``build_spec``, which applies them all.

``build_spec`` reads the REST ``properties`` (through the vocabulary of ``_wire``) and checks every rule
Azure applies, plus those the service applies but the SDK lets through. The public check functions
are the same rules for the other callers (the Python API, the samplers, the YAML pre-checks).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azsweep.errors import DefinitionError, InvalidValue, Problem
from azsweep.space import Choice, Continuous, Distribution, SearchSpace, from_wire, parse_log_base, shown
from azsweep.spec._model import (
    Algorithm,
    CommandSpec,
    DistributionSpec,
    InputSpec,
    Limits,
    Objective,
    Policy,
    SweepSpec,
    TrialSpec,
)
from azsweep.spec._wire import PROPERTIES, section_from_rest

KEY_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
REFERENCE = re.compile(r"\$\{\{\s*(search_space|inputs|outputs)\.([A-Za-z0-9_.\-]+)\s*\}\}")
LEGACY_REFERENCE = re.compile(r"(?<![$\{])\{(search_space|inputs|outputs)\.([A-Za-z0-9_]+)\}(?!\})")
OPTIONAL_BLOCK = re.compile(r"\[[^\[\]]*\$\{\{\s*inputs\.[^\]]*\]")
MAX_TRIALS = 1000  # max_total_trials and max_concurrent_trials: 1..MAX_TRIALS
DEFAULT_MAX_TOTAL_TRIALS = MAX_TRIALS  # the YAML reference's default (also the bound), when a Python sweep sends none
INT32_MAX = 2**31 - 1  # the REST schema's int32 fields: seed, evaluationInterval, delayEvaluation, ...
METRIC_CHARACTER = re.compile(r"[A-Za-z0-9_]")  # the REST pattern of Objective.primaryMetric (unanchored)
ANY_REFERENCE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
REFERENCE_BODY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_.\-]+)\s*")
BAYESIAN_TRIALS_PER_PARAMETER = 20  # Azure's advice: max_total_trials >= 20 x the number of swept parameters
# Fields azure-ai-ml sends that a local run does not apply: REST name -> YAML path.
NOT_APPLIED_LOCALLY = {"queueSettings": "queue_settings", "identity": "identity", "services": "services"}
# The integer fields of a sweep YAML that azure-ai-ml truncates when given a float (``seed: 1.5`` is sent as 1).
INTEGER_FIELDS = (
    ("sampling_algorithm", "seed"),
    ("limits", "max_total_trials"),
    ("limits", "max_concurrent_trials"),
    ("early_termination", "evaluation_interval"),
    ("early_termination", "delay_evaluation"),
    ("early_termination", "truncation_percentage"),
)
GOALS = ("minimize", "maximize")
ALGORITHMS = ("random", "grid", "bayesian")
RANDOM_RULES = ("random", "sobol")
BAYESIAN_DISTRIBUTIONS = ("choice", "uniform", "quniform")
POLICY_NAMES = {"bandit": "bandit", "medianstopping": "median_stopping", "truncationselection": "truncation_selection"}


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem("error", path, message))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem("warning", path, message))

    def invalid(self, exc: InvalidValue) -> None:
        self.error(exc.path, exc.message)

    def extend(self, problems: list[Problem]) -> None:
        self.problems.extend(problems)

    @property
    def failed(self) -> bool:
        return has_errors(self.problems)


def has_errors(problems: list[Problem]) -> bool:
    """Whether any of ``problems`` is an error."""
    return any(p.severity == "error" for p in problems)


def raise_first_error(problems: list[Problem]) -> None:
    """Raise ``InvalidValue`` for the first error in ``problems``, if there is one."""
    for p in problems:
        if p.severity == "error":
            raise InvalidValue(p.path, p.message)


def _whole(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- single values ------------------------------------------------------------------------------


def parse_duration(value: Any, path: str) -> float | None:
    """Seconds from an ISO-8601 duration (``PT2H``) or a number of seconds; None stays None.

    Raises:
        InvalidValue: neither form, or not > 0 seconds.
    """
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number:
        seconds = float(value)
    else:
        m = re.fullmatch(
            r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?", str(value).strip()
        )
        if not m or not any(m.groups()):
            raise InvalidValue(path, f"must be a number of seconds or an ISO-8601 duration (got {shown(value)})")
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = d * 86400 + h * 3600 + mi * 60 + s
    if seconds <= 0:
        raise InvalidValue(
            path,
            f"must be a number of seconds > 0 (got {shown(value)})" if number else f"must be > 0 seconds (got {shown(value)})",
        )
    return seconds


def format_duration(seconds: float | None) -> str | None:
    """The REST form of a timeout: an ISO-8601 duration in seconds (``PT90S``); None stays None.
    ``parse_duration`` reads it back."""
    if seconds is None:
        return None
    text = format(seconds, "f").rstrip("0").rstrip(".")
    return f"PT{text}S"


def check_max_total_trials(value: Any, path: str = "limits.max_total_trials", *, integer_only: bool = False) -> int:
    """The trial-count rule: an integer between 1 and ``MAX_TRIALS`` (max_concurrent_trials has the same bounds).

    A whole float (``5.0``, as YAML may give) counts unless ``integer_only`` (Python arguments must be ints).

    Raises:
        InvalidValue: naming ``path`` and the value.
    """
    whole = _int(value) if integer_only else _whole(value)
    if not (whole and 1 <= value <= MAX_TRIALS):
        raise InvalidValue(path, f"must be an integer between 1 and {MAX_TRIALS} (got {shown(value)})")
    return int(value)


def parse_goal(value: Any, path: str = "objective.goal") -> str:
    """``minimize`` or ``maximize`` (any case), lower-cased.

    Raises:
        InvalidValue: naming ``path`` and the value.
    """
    if not isinstance(value, str) or value.lower() not in GOALS:
        raise InvalidValue(path, f"must be minimize or maximize (got {shown(value)})")
    return value.lower()


def check_key_name(name: Any, path: str) -> str:
    """A search-space name Azure accepts: letters, digits and underscores, not starting with a digit.

    Raises:
        InvalidValue: naming ``path`` and the name.
    """
    if not isinstance(name, str) or not KEY_NAME.match(name):
        raise InvalidValue(
            path, f"names must be letters, digits and underscores, not starting with a digit (Azure refuses {shown(name)})"
        )
    return name


# --- sections -----------------------------------------------------------------------------------


def check_algorithm(wire: Any, *, integer_seed: bool = False) -> tuple[Algorithm | None, list[Problem]]:
    """The REST ``samplingAlgorithm`` (or just its type) as an ``Algorithm``; None when it has an error.

    The first problem found is reported, in this order: the type, the rule, the seed, the log base.
    With ``integer_seed`` a whole float seed is refused too (Python arguments must be ints).
    """
    out = _Collector()
    return _algorithm(wire, out, integer_seed=integer_seed), out.problems


def _algorithm(wire: Any, out: _Collector, *, integer_seed: bool = False) -> Algorithm | None:
    if wire is None:
        out.error(
            "sampling_algorithm",
            "is required: random, grid or bayesian (the SDK leaves it out of the request and Azure's REST API requires it)",
        )
        return None
    fields: dict[str, Any] = {"type": wire} if isinstance(wire, str) else section_from_rest("sampling_algorithm", wire)
    kind = str(fields.get("type") or "").lower()
    if kind not in ALGORITHMS:
        out.error("sampling_algorithm", f"must be random, grid or bayesian (got {shown(fields.get('type'))})")
        return None
    rule = "random"
    if kind == "random":
        rule = str(fields.get("rule") or "random").lower()
        if rule not in RANDOM_RULES:
            out.error("sampling_algorithm.rule", f"must be random or sobol (got {shown(fields.get('rule'))})")
            return None
    seed = fields.get("seed")
    if seed is not None and not ((_int(seed) if integer_seed else _whole(seed)) and seed >= 0):
        out.error("sampling_algorithm.seed", f"must be a whole number >= 0 (got {shown(seed)})")
        return None
    if seed is not None and seed > INT32_MAX:
        out.error("sampling_algorithm.seed", f"must be at most 2**31 - 1, Azure's int32 (got {shown(seed)})")
        return None
    seed = None if seed is None else int(seed)
    if kind != "random":
        return Algorithm(kind=kind, seed=seed)  # a Bayesian seed seeds its first (Sobol) proposals
    try:
        log_base = parse_log_base(fields.get("logbase"))
    except InvalidValue as exc:
        out.invalid(exc)
        return None
    return Algorithm(kind="sobol" if rule == "sobol" else "random", seed=seed, log_base=log_base)


def check_algorithm_rules(
    params: Mapping[str, Distribution], kind: str, *, azure_rules: bool = True, path: str = "search_space"
) -> list[Problem]:
    """The search-space rules of grid and Bayesian sampling (random and sobol have none), as errors.

    ``azure_rules=False`` keeps only what the local samplers need to work: the distribution types, and
    plain choice values (a grid takes no conditional choice, Bayesian no dict values). The rest are
    Azure's: choice values all strings or all numbers, no dict values on a grid, and Bayesian quniform
    with whole numbers and at most 100000 points.
    """
    if kind not in ("grid", "bayesian"):
        return []
    out = _Collector()
    label = "Grid" if kind == "grid" else "Bayesian"
    allowed = ("choice",) if kind == "grid" else BAYESIAN_DISTRIBUTIONS
    for name, dist in params.items():
        where = f"{path}.{name}"
        if dist.wire_type not in allowed:
            out.error(where, f"{label} sampling supports only {', '.join(allowed)} (got {dist.wire_type})")
            continue
        if isinstance(dist, Choice):
            dicts = dist.conditional or any(isinstance(v, Mapping) for v in dist.values)
            if dicts and (azure_rules or dist.conditional or kind == "bayesian"):
                out.error(
                    where, f"{label} sampling needs plain choice values, not dicts (conditional spaces work with random sampling)"
                )
            strings = sum(isinstance(v, str) for v in dist.values)
            if azure_rules and 0 < strings < len(dist.values):
                out.error(
                    where,
                    f"{label} sampling needs choice values that are all strings or all numbers (got {shown(list(dist.values))})",
                )
        if azure_rules and kind == "bayesian" and isinstance(dist, Continuous) and dist.q is not None:
            if not (_whole(dist.a) and _whole(dist.b) and _whole(dist.q)):
                out.error(
                    where,
                    "Bayesian sampling needs whole-number min_value, max_value and q for quniform "
                    f"(got {shown(dist.a)}, {shown(dist.b)}, {shown(dist.q)})",
                )
            elif (dist.b - dist.a) / dist.q > 100000:
                out.error(
                    where,
                    f"too many discrete points for quniform with Bayesian sampling ({(dist.b - dist.a) / dist.q:g} > 100000)",
                )
    return out.problems


def check_policy(wire: Any) -> tuple[Policy | None, list[Problem]]:
    """The REST ``earlyTermination`` as a ``Policy``; None when it is absent or has an error. Problem paths
    start with ``early_termination``."""
    out = _Collector()
    return _policy(wire, out), out.problems


def _policy(wire: Any, out: _Collector) -> Policy | None:
    if wire is None:
        return None
    fields = section_from_rest("early_termination", wire)
    raw_type = str(fields.get("type") or "")
    kind = POLICY_NAMES.get(raw_type.lower().replace("_", ""))
    if kind is None:
        out.error("early_termination.type", f"must be bandit, median_stopping or truncation_selection (got {shown(raw_type)})")
        return None
    ok = True
    ints: dict[str, int] = {}
    for name, default in (("evaluation_interval", 1), ("delay_evaluation", 0)):
        value = fields.get(name)
        if value is None:
            value = default
        if not (_whole(value) and value >= 0) or value > INT32_MAX:
            rule = "at most 2**31 - 1, Azure's int32" if _whole(value) and value >= 0 else "a whole number >= 0"
            out.error(f"early_termination.{name}", f"must be {rule} (got {shown(value)})")
            ok = False
            continue
        ints[name] = int(value)
    if ints.get("evaluation_interval") == 0:
        out.warn(
            "early_termination.evaluation_interval",
            "is 0 (the SDK's default when it is left out); "
            "azsweep treats it as 1, Azure's handling is undocumented: set it explicitly",
        )
        ints["evaluation_interval"] = 1
    slack_factor = slack_amount = None
    percentage: Any = None
    if kind == "bandit":
        factor, amount = fields.get("slack_factor"), fields.get("slack_amount")
        for name, value in (("slack_factor", factor), ("slack_amount", amount)):
            if value is not None and not (
                isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
            ):
                out.error(f"early_termination.{name}", f"must be a number >= 0 (got {shown(value)})")
                ok = False
        if ok:
            given = [(n, v) for n, v in (("slack_factor", factor), ("slack_amount", amount)) if v]
            if len(given) != 1:
                detail = "neither is set" if not given else f"got slack_factor={shown(factor)} and slack_amount={shown(amount)}"
                out.error("early_termination", f"Bandit needs exactly one of slack_factor or slack_amount ({detail})")
                ok = False
            else:
                slack_factor = float(factor) if given[0][0] == "slack_factor" else None  # type: ignore[arg-type]
                slack_amount = float(amount) if given[0][0] == "slack_amount" else None  # type: ignore[arg-type]
    elif kind == "truncation_selection":
        percentage = fields.get("truncation_percentage")
        if not (_whole(percentage) and 1 <= percentage <= 99):
            out.error("early_termination.truncation_percentage", f"must be an integer between 1 and 99 (got {shown(percentage)})")
            ok = False
    if not ok:
        return None
    return Policy(
        kind=kind,
        slack_factor=slack_factor,
        slack_amount=slack_amount,
        truncation_percentage=None if percentage is None else int(percentage),
        **ints,
    )


# --- the whole spec -----------------------------------------------------------------------------


def build_spec(props: Mapping[str, Any], *, base_dir: Path | str = ".") -> tuple[SweepSpec | None, list[Problem]]:
    """Check a REST ``properties`` dict and build the spec; the spec is None when any error was found."""
    top = {name: props.get(key) for name, key in PROPERTIES.items()}
    out = _Collector()
    algorithm = _algorithm(top["sampling_algorithm"], out)
    space = _search_space(top["search_space"], algorithm, out)
    objective = _objective(top["objective"], out)
    limits = _limits(top["limits"], out)
    policy = _policy(top["early_termination"], out)
    if policy is not None and algorithm is not None and algorithm.kind == "bayesian":
        out.warn(
            "early_termination",
            "Azure does not support an early-termination policy with Bayesian "
            f"sampling (got {policy.kind}); it may be rejected or ignored there",
        )
    if algorithm is not None and algorithm.kind == "bayesian" and limits is not None and limits.max_concurrent_trials > 20:
        out.warn(
            "limits.max_concurrent_trials",
            "Bayesian sampling works best with few concurrent trials; "
            f"Azure recommends at most 20 (got {limits.max_concurrent_trials})",
        )
    if algorithm is not None and space is not None and limits is not None:
        _budget_warnings(algorithm.kind, space, limits, out)
    _not_applied_warnings(props, out)
    inputs = _inputs(top["inputs"])
    outputs = {k: str(section_from_rest("outputs", v).get("type") or "uri_folder") for k, v in (top["outputs"] or {}).items()}
    wire_space = top["search_space"]
    names = tuple(wire_space) if isinstance(wire_space, Mapping) else ()
    trial = _trial(top["trial"], names, inputs, outputs, out)
    if out.failed or space is None or algorithm is None or objective is None or limits is None or trial is None:
        return None, out.problems
    spec = SweepSpec(
        search_space=space,
        algorithm=algorithm,
        objective=objective,
        limits=limits,
        trial=trial,
        policy=policy,
        inputs=inputs,
        outputs=outputs,
        **_job_fields(top, base_dir),
    )
    return spec, out.problems


def _job_fields(top: Mapping[str, Any], base_dir: Path | str) -> dict[str, Any]:
    """What every job spec holds besides its own sections: names, description, tags, compute, its folder."""
    compute = top["compute"]
    return {
        "name": top["name"],
        "display_name": top["display_name"],
        "experiment_name": top["experiment_name"],
        "description": top["description"],
        "tags": dict(top["tags"] or {}),
        "compute": str(compute) if compute else None,
        "base_dir": Path(base_dir),
    }


def _budget_warnings(kind: str, space: SearchSpace, limits: Limits, out: _Collector) -> None:
    """A grid larger than the trial budget (only its first points run); a Bayesian budget under Azure's advice."""
    choices = [d for d in space.params.values() if isinstance(d, Choice)]
    if kind == "grid" and len(choices) == len(space.params):
        size = math.prod([len(d.values) for d in choices])
        if size > limits.max_total_trials:
            out.warn(
                "limits.max_total_trials",
                f"is {limits.max_total_trials} but the grid has {size} combinations: "
                f"only the first {limits.max_total_trials} run (raise max_total_trials to {size} to run them all)",
            )
    if kind == "bayesian" and space.params:
        advised = BAYESIAN_TRIALS_PER_PARAMETER * len(space.params)
        if limits.max_total_trials < advised:
            out.warn(
                "limits.max_total_trials",
                f"is {limits.max_total_trials}; for Bayesian sampling Azure advises at least "
                f"{BAYESIAN_TRIALS_PER_PARAMETER} trials per swept parameter ({len(space.params)} parameters: {advised})",
            )


def _not_applied_warnings(props: Mapping[str, Any], out: _Collector) -> None:
    """Fields Azure applies and a local run cannot (each by its YAML path): submission keeps them."""
    for key, path in NOT_APPLIED_LOCALLY.items():
        if props.get(key):
            out.warn(path, "is not applied by a local run (azsweep run ignores it); Azure applies it when submitted")


def check_yaml_integers(raw: Mapping[str, Any]) -> list[Problem]:
    """Integer fields of a sweep YAML given as fractional numbers: azure-ai-ml silently truncates them
    (``seed: 1.5`` is sent as 1, ``max_total_trials: 4.5`` as 4), so they are refused here."""
    out = _Collector()
    for section, name in INTEGER_FIELDS:
        block = raw.get(section)
        value = block.get(name) if isinstance(block, Mapping) else None
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            out.error(
                f"{section}.{name}", f"must be a whole number (got {shown(value)}; azure-ai-ml would send {_truncated(value)})"
            )
    return out.problems


def _truncated(value: float) -> str:
    return str(int(value)) if math.isfinite(value) else "an error"


def spec_from_rest(props: Mapping[str, Any], *, base_dir: Path | str = ".", source: str = "") -> SweepSpec:
    """Like ``build_spec`` but raises ``DefinitionError`` when there are errors."""
    spec, problems = build_spec(props, base_dir=base_dir)
    if spec is None:
        raise DefinitionError(problems, source)
    return spec


COMMAND_TRIAL_KEYS = ("command", "codeId", "environmentId", "environmentVariables", "distribution", "resources")


def is_command_job(props: Mapping[str, Any]) -> bool:
    """Whether REST ``properties`` are a command job's (``jobType: Command``)."""
    return str(props.get("jobType", "")).lower() == "command"


def build_command_spec(props: Mapping[str, Any], *, base_dir: Path | str = ".") -> tuple[CommandSpec | None, list[Problem]]:
    """Check a command job's REST ``properties`` and build its spec (None when any error was found).

    A command job has at its top level what a sweep's ``trial`` holds (command, code, environment,
    variables), so the same rules check it; field paths are the command job's YAML names.
    """
    top = {name: props.get(key) for name, key in PROPERTIES.items()}
    out = _Collector()
    inputs = _inputs(top["inputs"])
    outputs = {k: str(section_from_rest("outputs", v).get("type") or "uri_folder") for k, v in (top["outputs"] or {}).items()}
    trial = _trial({k: props[k] for k in COMMAND_TRIAL_KEYS if k in props}, (), inputs, outputs, out, prefix="")
    _not_applied_warnings(props, out)
    timeout = None
    try:
        timeout = parse_duration(section_from_rest("limits", props.get("limits")).get("timeout"), "limits.timeout")
    except InvalidValue as exc:
        out.invalid(exc)
    if out.failed or trial is None:
        return None, out.problems
    spec = CommandSpec(trial=trial, inputs=inputs, outputs=outputs, timeout=timeout, **_job_fields(top, base_dir))
    return spec, out.problems


def job_spec_from_rest(props: Mapping[str, Any], *, base_dir: Path | str = ".", source: str = "") -> SweepSpec | CommandSpec:
    """The spec of a sweep's or a command job's REST ``properties``; raises ``DefinitionError`` on errors."""
    if not is_command_job(props):
        return spec_from_rest(props, base_dir=base_dir, source=source)
    spec, problems = build_command_spec(props, base_dir=base_dir)
    if spec is None:
        raise DefinitionError(problems, source)
    return spec


def _search_space(wire: Any, algorithm: Algorithm | None, out: _Collector) -> SearchSpace | None:
    if not wire:
        out.error("search_space", "is required and must define at least one hyperparameter")
        return None
    if not isinstance(wire, Mapping):
        out.error("search_space", f"must be a mapping of name -> distribution (got {shown(wire)})")
        return None
    log_base = algorithm.log_base if algorithm else math.e
    params: dict[str, Distribution] = {}
    for name, item in wire.items():
        path = f"search_space.{name}"
        try:
            check_key_name(name, path)
            params[name] = from_wire(path, item, log_base=log_base)
        except InvalidValue as exc:
            out.invalid(exc)
    if algorithm is not None:
        out.extend(check_algorithm_rules(params, algorithm.kind))
    return SearchSpace(params) if len(params) == len(wire) else None


def _objective(wire: Any, out: _Collector) -> Objective | None:
    if not isinstance(wire, Mapping):
        out.error("objective", "is required, with goal (minimize or maximize) and primary_metric")
        return None
    fields = section_from_rest("objective", wire)
    goal, metric = None, fields.get("primary_metric")
    try:
        goal = parse_goal(fields.get("goal"), "objective.goal")
    except InvalidValue as exc:
        out.invalid(exc)
    if not isinstance(metric, str) or not metric.strip():
        out.error("objective.primary_metric", f"is required: the metric name the training script logs (got {shown(metric)})")
        return None
    if not METRIC_CHARACTER.search(metric):
        out.error(
            "objective.primary_metric",
            f"must contain a letter, digit or underscore (Azure's REST pattern [a-zA-Z0-9_]; got {shown(metric)})",
        )
        return None
    if metric != metric.strip():
        out.error(
            "objective.primary_metric",
            f"must not start or end with whitespace: Azure looks the metric up by its exact name (got {shown(metric)})",
        )
        return None
    return Objective(goal=goal, primary_metric=metric) if goal is not None else None


def _limits(wire: Any, out: _Collector) -> Limits | None:
    fields = section_from_rest("limits", wire)
    if fields.get("max_total_trials") is None:
        # The REST schema makes limits optional and the YAML reference documents that default; azure-ai-ml's
        # YAML schema refuses a file without it (that error comes from azure-ai-ml), its Python .sweep() sends none.
        out.warn(
            "limits.max_total_trials",
            f"is not set: Azure's documented default is {DEFAULT_MAX_TOTAL_TRIALS} trials, "
            "which a local run uses too (set it, or pass --max-total-trials to azsweep run)",
        )
        fields["max_total_trials"] = DEFAULT_MAX_TOTAL_TRIALS
    counts: dict[str, int] = {}
    timeouts: dict[str, float | None] = {}
    ok = True
    for name in ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"):
        value, path = fields.get(name), f"limits.{name}"
        try:
            if name in ("timeout", "trial_timeout"):
                timeouts[name] = parse_duration(value, path)
            elif value is not None:
                counts[name] = check_max_total_trials(value, path)
        except InvalidValue as exc:
            out.invalid(exc)
            ok = False
    if not ok:
        return None
    total = counts["max_total_trials"]
    return Limits(max_total_trials=total, max_concurrent_trials=counts.get("max_concurrent_trials") or total, **timeouts)


def _inputs(wire: Any) -> dict[str, InputSpec]:
    inputs: dict[str, InputSpec] = {}
    for name, item in (wire or {}).items():
        fields = section_from_rest("inputs", item)
        kind = str(fields.get("type") or "literal")
        if kind == "literal":
            value = fields.get("value")
            inputs[name] = InputSpec(type="literal", value=None if value is None else str(value))
        else:
            inputs[name] = InputSpec(type=kind, path=fields.get("path"), mode=fields.get("mode"))
    return inputs


def _trial(
    wire: Any,
    space_names: tuple[str, ...],
    inputs: Mapping[str, InputSpec],
    outputs: Mapping[str, str],
    out: _Collector,
    prefix: str = "trial.",
) -> TrialSpec | None:
    """``prefix``: where the fields are in the YAML (``trial.`` in a sweep, the top level of a command job)."""
    fields = section_from_rest("trial", wire)
    command = fields.get("command")
    if not isinstance(command, str) or not command.strip():
        out.error(f"{prefix}command", "is required: the command " + ("each trial runs" if prefix else "the job runs"))
        return None
    command = LEGACY_REFERENCE.sub(lambda m: "${{" + f"{m.group(1)}.{m.group(2)}" + "}}", command)
    families = ("search_space", "inputs", "outputs") if prefix else ("inputs", "outputs")
    _check_reference_syntax(command, families, f"{prefix}command", out)
    optional = {m.group(0) for m in OPTIONAL_BLOCK.finditer(command)}
    used: set[str] = set()
    known = {"search_space": set(space_names), "inputs": set(inputs), "outputs": set(outputs)}
    for m in REFERENCE.finditer(command):
        family, name = m.group(1), m.group(2)
        if family not in families:  # reported by _check_reference_syntax
            continue
        if family == "search_space":
            used.add(name)
        names = known[family]
        if name in names:
            continue
        if family == "inputs" and any(m.group(0) in block for block in optional):
            continue
        defined = ", ".join(sorted(names)) or "none"
        out.error(
            f"{prefix}command",
            f"${{{{{family}.{name}}}}} refers to an undefined {family.replace('_', ' ')} name {shown(name)} (defined: {defined})",
        )
    for name in space_names:
        if name not in used:
            out.warn(
                f"search_space.{name}",
                "is never used in trial.command as ${{search_space." + name + "}} "
                f"(the trial only sees it as $AZUREML_SWEEP_{name})",
            )
    env = check_environment_variables(fields.get("environment_variables"), f"{prefix}environment_variables", out)
    distribution = _distribution(fields.get("distribution"), f"{prefix}distribution", out)
    given = fields.get("resources")
    resources: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    instances: Any = resources.get("instanceCount")
    instances = 1 if instances is None else instances
    if not _whole(instances) or instances < 1:
        out.error(f"{prefix}resources.instance_count", f"must be an integer >= 1 (got {shown(instances)})")
        return None
    if env is None or (fields.get("distribution") is not None and distribution is None):
        return None
    return TrialSpec(
        command=command,
        code=fields.get("code"),
        environment=fields.get("environment"),
        environment_variables=env,
        distribution=distribution,
        instance_count=int(instances),
        instance_type=resources.get("instanceType"),
    )


DISTRIBUTIONS = ("pytorch", "tensorflow", "mpi")


def _distribution(wire: Any, path: str, out: _Collector) -> DistributionSpec | None:
    """``distribution``: a known type and counts >= 1 (``parameter_server_count`` >= 0)."""
    if wire is None:
        return None
    if not isinstance(wire, Mapping):
        out.error(path, f"must be a mapping with a type (pytorch, tensorflow or mpi) (got {shown(wire)})")
        return None
    kind = str(wire.get("distributionType") or wire.get("type") or "").lower()
    if kind not in DISTRIBUTIONS:
        out.error(f"{path}.type", f"must be pytorch, tensorflow or mpi (got {shown(kind)})")
        return None
    counts: dict[str, int] = {}
    for name, key, least in (
        ("process_count_per_instance", "processCountPerInstance", 1),
        ("worker_count", "workerCount", 1),
        ("parameter_server_count", "parameterServerCount", 0),
    ):
        value = wire.get(key)
        if value is None:
            continue
        if not _whole(value) or value < least:
            out.error(f"{path}.{name}", f"must be an integer >= {least} (got {shown(value)})")
            return None
        counts[name] = int(value)
    return DistributionSpec(
        kind=kind,
        process_count_per_instance=counts.get("process_count_per_instance", 1),
        worker_count=counts.get("worker_count"),
        parameter_server_count=counts.get("parameter_server_count", 0),
    )


def _check_reference_syntax(command: str, families: tuple[str, ...], path: str, out: _Collector) -> None:
    """Every ``${{`` opens one well-formed reference ``${{family.name}}`` of a family this job defines."""
    for m in ANY_REFERENCE.finditer(command):
        body = m.group(1)
        ref = REFERENCE_BODY.fullmatch(body)
        if "${{" in body or "{" in body or "}" in body or (ref is None and "." not in body):
            out.error(path, f"has an unbalanced reference: {shown(m.group(0))} (write ${{{{family.name}}}})")
        elif ref is None or ref.group(1) not in families:
            family = ref.group(1) if ref else body.strip()
            out.error(
                path,
                f"{shown('${{' + body + '}}')}: unknown reference {shown(family)} "
                f"(a {'sweep trial' if 'search_space' in families else 'command job'} can refer to "
                f"{', '.join('${{' + f + '.NAME}}' for f in families)})",
            )
    rest = ANY_REFERENCE.sub("", command)
    if "${{" in rest:
        at = rest.index("${{")
        out.error(path, f"has an unbalanced reference: {shown(rest[at : at + 40])} has no closing }}}}")


def check_environment_variables(wire: Any, path: str, out: _Collector) -> dict[str, str] | None:
    """A mapping of names to values a process environment can hold: names without ``=`` or NUL, values without
    NUL, each a string, number or boolean; None (with an error) otherwise."""
    if wire is None:
        return {}
    if not isinstance(wire, Mapping):
        out.error(path, f"must be a mapping of NAME: value (got {type(wire).__name__} {shown(wire)})")
        return None
    env: dict[str, str] = {}
    ok = True
    for name, value in wire.items():
        where = f"{path}.{name}" if isinstance(name, str) and name and "\0" not in name and "." not in name else path
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            out.error(
                where, f"is not a valid environment variable name: it must be non-empty, without '=' or NUL (got {shown(name)})"
            )
            ok = False
            continue
        if isinstance(value, (Mapping, list, tuple)):
            out.error(where, f"must be a string or a number (got {shown(value)})")
            ok = False
            continue
        text = str(value)
        if "\0" in text:
            out.error(where, f"cannot hold a NUL character (got {shown(text)})")
            ok = False
            continue
        env[name] = text
    return env if ok else None
