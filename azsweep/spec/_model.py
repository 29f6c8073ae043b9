"""The value objects of a checked sweep spec."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from azsweep.space import SearchSpace
from azsweep.spec import _score

T = TypeVar("T")


@dataclass(frozen=True)
class Algorithm:
    """``kind`` is random, sobol, grid or bayesian; ``seed`` None means pick one and record it."""

    kind: str
    seed: int | None = None
    log_base: float = math.e


@dataclass(frozen=True)
class Objective:
    """The primary metric and its goal; the scoring helpers apply the goal's direction."""

    goal: str  # "minimize" | "maximize"
    primary_metric: str

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"

    def better(self, a: float | None, b: float | None) -> bool:
        """``azsweep.spec.better`` for this goal: a strictly better than b (b None: a is better)."""
        return _score.better(a, b, self.maximize)

    def best(self, values: Iterable[float]) -> float | None:
        """``azsweep.spec.best_value`` for this goal: a curve's best value, non-finite values ignored."""
        return _score.best_value(values, self.maximize)

    def ranked(self, items: Iterable[T], *, score: Callable[[T], float | None] | None = None) -> list[T]:
        """``azsweep.spec.ranked`` for this goal: best first, ties in order, unscored last."""
        return _score.ranked(items, score=score, maximize=self.maximize)

    def best_item(self, items: Iterable[T], *, score: Callable[[T], float | None] | None = None) -> T | None:
        """``azsweep.spec.best_item`` for this goal: the best scored item, the earlier on a tie."""
        return _score.best_item(items, score=score, maximize=self.maximize)


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
class DistributionSpec:
    """``distribution:``: how many processes a trial runs, and how they find each other."""

    kind: str  # "pytorch", "tensorflow" or "mpi"
    process_count_per_instance: int = 1  # pytorch, mpi
    worker_count: int | None = None  # tensorflow
    parameter_server_count: int = 0  # tensorflow


@dataclass(frozen=True)
class TrialSpec:
    command: str
    code: str | None = None
    environment: str | None = None
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    distribution: DistributionSpec | None = None
    instance_count: int = 1  # resources.instance_count: the nodes of one trial
    instance_type: str | None = None  # resources.instance_type (e.g. Standard_NC6s_v3: a GPU size)

    @property
    def process_count(self) -> int:
        """The processes one trial starts: one, or every rank of its distribution (Azure's numbering)."""
        d = self.distribution
        if d is None:
            return 1
        if d.kind == "tensorflow":
            return (d.worker_count or self.instance_count) + d.parameter_server_count
        return self.instance_count * d.process_count_per_instance


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


@dataclass(frozen=True)
class CommandSpec:
    """A plain command job (``command(...)``, or a YAML ``type: command``): one process, no search space."""

    trial: TrialSpec  # the command, code, environment and variables, as a sweep's trial has them
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)  # name -> output type
    timeout: float | None = None  # limits.timeout, seconds
    name: str | None = None
    display_name: str | None = None
    experiment_name: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    compute: str | None = None
    base_dir: Path = Path(".")


JobSpec = SweepSpec | CommandSpec  # what a local job runs: a sweep, or a command job
