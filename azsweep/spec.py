"""One immutable, validated sweep spec, built from Azure's REST wire form.

``build_spec`` reads the ``properties`` of the body azure-ai-ml would send (``searchSpace``,
``samplingAlgorithm``, ``objective``, ``limits``, ``earlyTermination``, ``trial``, ``inputs``,
``outputs``) and checks every rule Azure applies, plus those the service applies but the SDK lets
through. It returns the spec and the list of problems found, so ``validate`` and the runner share
one set of rules. Field paths in messages use the YAML names users write.

Nothing here imports azure or mlflow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import DefinitionError, InvalidValue, Problem
from azsweep.space import Choice, Continuous, Distribution, SearchSpace, from_wire, parse_log_base

KEY_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")
REFERENCE = re.compile(r"\$\{\{\s*(search_space|inputs|outputs)\.([A-Za-z0-9_.\-]+)\s*\}\}")
LEGACY_REFERENCE = re.compile(r"(?<![$\{])\{(search_space|inputs|outputs)\.([A-Za-z0-9_]+)\}(?!\})")
OPTIONAL_BLOCK = re.compile(r"\[[^\[\]]*\$\{\{\s*inputs\.[^\]]*\]")
MAX_TRIALS = 1000
BAYESIAN_DISTRIBUTIONS = ("choice", "uniform", "quniform")
POLICY_NAMES = {"bandit": "bandit", "medianstopping": "median_stopping", "truncationselection": "truncation_selection"}
_ALGORITHMS = ("random", "grid", "bayesian")


@dataclass(frozen=True)
class Algorithm:
    """``kind`` is random, sobol, grid or bayesian; ``seed`` None means pick one and record it."""

    kind: str
    seed: int | None = None
    log_base: float = math.e


@dataclass(frozen=True)
class Objective:
    goal: str  # "minimize" | "maximize"
    primary_metric: str

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"


def best_value(values: Sequence[float], maximize: bool) -> float | None:
    """A trial's score: its best value of the primary metric (max or min, not the last); NaN is ignored."""
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return None
    return max(clean) if maximize else min(clean)


@dataclass(frozen=True)
class Limits:
    max_total_trials: int
    max_concurrent_trials: int
    timeout: float | None = None  # seconds
    trial_timeout: float | None = None  # seconds


@dataclass(frozen=True)
class Policy:
    """An early-termination policy; ``kind`` is bandit, median_stopping or truncation_selection."""

    kind: str
    evaluation_interval: int = 1
    delay_evaluation: int = 0
    slack_factor: float | None = None
    slack_amount: float | None = None
    truncation_percentage: int | None = None


@dataclass(frozen=True)
class InputSpec:
    """A job input: a literal ``value`` or a ``uri_file`` / ``uri_folder`` / ... ``path``."""

    type: str
    value: str | None = None
    path: str | None = None
    mode: str | None = None

    @property
    def literal(self) -> bool:
        return self.type == "literal"


@dataclass(frozen=True)
class TrialSpec:
    command: str
    code: str | None = None
    environment: str | None = None
    environment_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepSpec:
    search_space: SearchSpace
    algorithm: Algorithm
    objective: Objective
    limits: Limits
    trial: TrialSpec
    policy: Policy | None = None
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # name -> output type
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    compute: str | None = None
    base_dir: Path = Path(".")


def parse_duration(value: Any, path: str) -> float | None:
    """Seconds from an ISO-8601 duration (``PT2H``) or a number of seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = re.fullmatch(r"P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?",
                         str(value).strip())
        if not m or not any(m.groups()):
            raise InvalidValue(path, f"must be a number of seconds or an ISO-8601 duration (got {value!r})")
        d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        seconds = d * 86400 + h * 3600 + mi * 60 + s
    if seconds <= 0:
        raise InvalidValue(path, f"must be > 0 seconds (got {value!r})")
    return seconds


def _get(mapping: Mapping[str, Any] | None, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def _whole(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem("error", path, message))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem("warning", path, message))

    def invalid(self, exc: InvalidValue) -> None:
        self.error(exc.path, exc.message)

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def build_spec(props: Mapping[str, Any], *, base_dir: Path | str = ".") -> tuple[SweepSpec | None, list[Problem]]:
    """Check a REST ``properties`` dict and build the spec; the spec is None when any error was found."""
    out = _Collector()
    algorithm = _algorithm(props.get("samplingAlgorithm"), out)
    space = _search_space(props.get("searchSpace"), algorithm, out)
    objective = _objective(props.get("objective"), out)
    limits = _limits(props.get("limits"), out)
    policy = _policy(props.get("earlyTermination"), out)
    if policy is not None and algorithm is not None and algorithm.kind == "bayesian":
        out.warn("early_termination", "Azure does not support an early-termination policy with Bayesian "
                 f"sampling (got {policy.kind}); it may be rejected or ignored there")
    if algorithm is not None and algorithm.kind == "bayesian" and limits is not None and limits.max_concurrent_trials > 20:
        out.warn("limits.max_concurrent_trials", "Bayesian sampling works best with few concurrent trials; "
                 f"Azure recommends at most 20 (got {limits.max_concurrent_trials})")
    inputs = _inputs(props.get("inputs"), out)
    outputs = {k: str(_get(v, "jobOutputType") or "uri_folder") for k, v in (props.get("outputs") or {}).items()}
    wire_space = props.get("searchSpace")
    names = tuple(wire_space) if isinstance(wire_space, Mapping) else ()
    trial = _trial(props.get("trial"), names, inputs, outputs, out)
    if out.failed or None in (algorithm, space, objective, limits, trial):
        return None, out.problems
    compute = props.get("computeId")
    spec = SweepSpec(
        search_space=space, algorithm=algorithm, objective=objective, limits=limits, trial=trial,  # type: ignore[arg-type]
        policy=policy, inputs=inputs, outputs=outputs, name=props.get("name"),
        display_name=props.get("displayName"), experiment_name=props.get("experimentName"),
        description=props.get("description"), tags=dict(props.get("tags") or {}),
        compute=str(compute) if compute else None, base_dir=Path(base_dir),
    )
    return spec, out.problems


def spec_from_rest(props: Mapping[str, Any], *, base_dir: Path | str = ".", source: str = "") -> SweepSpec:
    """Like ``build_spec`` but raises ``DefinitionError`` when there are errors."""
    spec, problems = build_spec(props, base_dir=base_dir)
    if spec is None:
        raise DefinitionError(problems, source)
    return spec


def _algorithm(wire: Any, out: _Collector) -> Algorithm | None:
    if wire is None:
        out.error("sampling_algorithm", "is required: random, grid or bayesian (the SDK leaves it out of the "
                  "request and Azure's REST API requires it)")
        return None
    if isinstance(wire, str):
        wire = {"samplingAlgorithmType": wire}
    kind = str(_get(wire, "samplingAlgorithmType") or "").lower()
    if kind not in _ALGORITHMS:
        out.error("sampling_algorithm", f"must be random, grid or bayesian (got {_get(wire, 'samplingAlgorithmType')!r})")
        return None
    if kind != "random":
        return Algorithm(kind=kind)
    rule = str(wire.get("rule") or "random").lower()
    if rule not in ("random", "sobol"):
        out.error("sampling_algorithm.rule", f"must be random or sobol (got {wire.get('rule')!r})")
        return None
    seed = wire.get("seed")
    if seed is not None and not (_whole(seed) and seed >= 0):
        out.error("sampling_algorithm.seed", f"must be a whole number >= 0 (got {seed!r})")
        return None
    try:
        log_base = parse_log_base(wire.get("logbase"))
    except InvalidValue as exc:
        out.invalid(exc)
        return None
    return Algorithm(kind="sobol" if rule == "sobol" else "random",
                     seed=None if seed is None else int(seed), log_base=log_base)


def _search_space(wire: Any, algorithm: Algorithm | None, out: _Collector) -> SearchSpace | None:
    if not wire:
        out.error("search_space", "is required and must define at least one hyperparameter")
        return None
    if not isinstance(wire, Mapping):
        out.error("search_space", f"must be a mapping of name -> distribution (got {wire!r})")
        return None
    log_base = algorithm.log_base if algorithm else math.e
    params: dict[str, Distribution] = {}
    for name, item in wire.items():
        path = f"search_space.{name}"
        if not isinstance(name, str) or not KEY_NAME.match(name):
            out.error(path, f"names must be letters, digits and underscores, not starting with a digit "
                      f"(Azure refuses {name!r})")
            continue
        try:
            params[name] = from_wire(path, item, log_base=log_base)
        except InvalidValue as exc:
            out.invalid(exc)
    if algorithm is not None:
        _algorithm_rules(params, algorithm.kind, out)
    return SearchSpace(params) if len(params) == len(wire) else None


def _algorithm_rules(params: Mapping[str, Distribution], kind: str, out: _Collector) -> None:
    if kind not in ("grid", "bayesian"):
        return
    label = "Grid" if kind == "grid" else "Bayesian"
    allowed = ("choice",) if kind == "grid" else BAYESIAN_DISTRIBUTIONS
    for name, dist in params.items():
        path = f"search_space.{name}"
        if dist.wire_type not in allowed:
            out.error(path, f"{label} sampling supports only {', '.join(allowed)} (got {dist.wire_type})")
            continue
        if isinstance(dist, Choice):
            if dist.conditional or any(isinstance(v, Mapping) for v in dist.values):
                out.error(path, f"{label} sampling needs plain choice values, not dicts (conditional spaces "
                          "work with random sampling)")
            strings = sum(isinstance(v, str) for v in dist.values)
            if 0 < strings < len(dist.values):
                out.error(path, f"{label} sampling needs choice values that are all strings or all numbers "
                          f"(got {list(dist.values)!r})")
        if kind == "bayesian" and isinstance(dist, Continuous) and dist.q is not None:
            if not (_whole(dist.a) and _whole(dist.b) and _whole(dist.q)):
                out.error(path, "Bayesian sampling needs whole-number min_value, max_value and q for quniform "
                          f"(got {dist.a!r}, {dist.b!r}, {dist.q!r})")
            elif (dist.b - dist.a) / dist.q > 100000:
                out.error(path, f"too many discrete points for quniform with Bayesian sampling "
                          f"({(dist.b - dist.a) / dist.q:g} > 100000)")


def _objective(wire: Any, out: _Collector) -> Objective | None:
    if not isinstance(wire, Mapping):
        out.error("objective", "is required, with goal (minimize or maximize) and primary_metric")
        return None
    goal, metric = wire.get("goal"), wire.get("primaryMetric")
    ok = True
    if not isinstance(goal, str) or goal.lower() not in ("minimize", "maximize"):
        out.error("objective.goal", f"must be minimize or maximize (got {goal!r})")
        ok = False
    if not isinstance(metric, str) or not metric.strip():
        out.error("objective.primary_metric", f"is required: the metric name the training script logs (got {metric!r})")
        ok = False
    return Objective(goal=goal.lower(), primary_metric=metric) if ok else None  # type: ignore[union-attr]


def _limits(wire: Any, out: _Collector) -> Limits | None:
    total = _get(wire, "maxTotalTrials")
    if not isinstance(wire, Mapping) or total is None:
        out.error("limits.max_total_trials", "is required: an integer between 1 and 1000")
        return None
    ok = True
    if not (_whole(total) and 1 <= total <= MAX_TRIALS):
        out.error("limits.max_total_trials", f"must be an integer between 1 and {MAX_TRIALS} (got {total!r})")
        ok = False
    concurrent = wire.get("maxConcurrentTrials")
    if concurrent is not None and not (_whole(concurrent) and 1 <= concurrent <= MAX_TRIALS):
        out.error("limits.max_concurrent_trials", f"must be an integer between 1 and {MAX_TRIALS} (got {concurrent!r})")
        ok = False
    timeouts = {}
    for key, name in (("timeout", "timeout"), ("trialTimeout", "trial_timeout")):
        try:
            timeouts[name] = parse_duration(wire.get(key), f"limits.{name}")
        except InvalidValue as exc:
            out.invalid(exc)
            ok = False
    if not ok:
        return None
    return Limits(max_total_trials=int(total), max_concurrent_trials=int(concurrent or total), **timeouts)


def _policy(wire: Any, out: _Collector) -> Policy | None:
    if wire is None:
        return None
    raw_type = str(_get(wire, "policyType") or "")
    kind = POLICY_NAMES.get(raw_type.lower().replace("_", ""))
    if kind is None:
        out.error("early_termination.type", "must be bandit, median_stopping or truncation_selection "
                  f"(got {raw_type!r})")
        return None
    ok = True
    ints: dict[str, int] = {}
    for key, name, default in (("evaluationInterval", "evaluation_interval", 1), ("delayEvaluation", "delay_evaluation", 0)):
        value = wire.get(key)
        if value is None:
            value = default
        if not (_whole(value) and value >= 0):
            out.error(f"early_termination.{name}", f"must be a whole number >= 0 (got {value!r})")
            ok = False
            continue
        ints[name] = int(value)
    if ints.get("evaluation_interval") == 0:
        out.warn("early_termination.evaluation_interval", "is 0 (the SDK's default when it is left out); "
                 "azsweep treats it as 1, Azure's handling is undocumented: set it explicitly")
        ints["evaluation_interval"] = 1
    slack_factor = slack_amount = None
    percentage = None
    if kind == "bandit":
        factor, amount = wire.get("slackFactor"), wire.get("slackAmount")
        for name, value in (("slack_factor", factor), ("slack_amount", amount)):
            if value is not None and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                          and math.isfinite(value) and value >= 0):
                out.error(f"early_termination.{name}", f"must be a number >= 0 (got {value!r})")
                ok = False
        if ok:
            given = [(n, v) for n, v in (("slack_factor", factor), ("slack_amount", amount)) if v]
            if len(given) != 1:
                detail = "neither is set" if not given else f"got slack_factor={factor!r} and slack_amount={amount!r}"
                out.error("early_termination", f"Bandit needs exactly one of slack_factor or slack_amount ({detail})")
                ok = False
            else:
                slack_factor = float(factor) if given[0][0] == "slack_factor" else None
                slack_amount = float(amount) if given[0][0] == "slack_amount" else None
    elif kind == "truncation_selection":
        percentage = wire.get("truncationPercentage")
        if not (_whole(percentage) and 1 <= percentage <= 99):
            out.error("early_termination.truncation_percentage", f"must be an integer between 1 and 99 (got {percentage!r})")
            ok = False
    if not ok:
        return None
    return Policy(kind=kind, slack_factor=slack_factor, slack_amount=slack_amount,
                  truncation_percentage=None if percentage is None else int(percentage), **ints)


def _inputs(wire: Any, out: _Collector) -> dict[str, InputSpec]:
    inputs: dict[str, InputSpec] = {}
    for name, item in (wire or {}).items():
        kind = str(_get(item, "jobInputType") or "literal")
        if kind == "literal":
            inputs[name] = InputSpec(type="literal", value=None if item.get("value") is None else str(item.get("value")))
        else:
            inputs[name] = InputSpec(type=kind, path=item.get("uri"), mode=item.get("mode"))
    return inputs


def _trial(wire: Any, space_names: tuple[str, ...], inputs: Mapping[str, InputSpec], outputs: Mapping[str, str],
           out: _Collector) -> TrialSpec | None:
    command = _get(wire, "command")
    if not isinstance(command, str) or not command.strip():
        out.error("trial.command", "is required: the command each trial runs")
        return None
    command = LEGACY_REFERENCE.sub(lambda m: "${{" + f"{m.group(1)}.{m.group(2)}" + "}}", command)
    optional = {m.group(0) for m in OPTIONAL_BLOCK.finditer(command)}
    used: set[str] = set()
    known = {"search_space": set(space_names), "inputs": set(inputs), "outputs": set(outputs)}
    for m in REFERENCE.finditer(command):
        family, name = m.group(1), m.group(2)
        if family == "search_space":
            used.add(name)
        names = known[family]
        if name in names:
            continue
        if family == "inputs" and any(m.group(0) in block for block in optional):
            continue
        defined = ", ".join(sorted(names)) or "none"
        out.error("trial.command", f"${{{{{family}.{name}}}}} refers to an undefined {family.replace('_', ' ')} "
                  f"name {name!r} (defined: {defined})")
    for name in space_names:
        if name not in used:
            out.warn(f"search_space.{name}", "is never used in trial.command as ${{search_space." + name + "}} "
                     f"(the trial only sees it as $AZUREML_SWEEP_{name})")
    env = _get(wire, "environmentVariables") or {}
    return TrialSpec(command=command, code=_get(wire, "codeId"), environment=_get(wire, "environmentId"),
                     environment_variables={str(k): str(v) for k, v in env.items()})
