"""The policy contract: given curves, say whether a trial stops at an interval, and why."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from azsweep.spec import Policy, best_value, better

Curve = Sequence[float]  # a trial's primary-metric values in logging order: interval k is curve[k - 1]


def fmt(x: float) -> str:
    return f"{x:.6g}"


class EarlyTermination(ABC):
    """Decides, never acts: the runner (or a replay) stops the trials a policy names.

    ``judge(curve, k, others)`` is asked about a trial that has just reached interval ``k`` (its
    k-th logged value); ``others`` are the curves of every other trial of the sweep as far as they
    are known (finished trials included, stopped trials cut at the interval they were stopped).
    """

    title = ""

    def __init__(self, config: Policy, *, maximize: bool) -> None:
        self.config = config
        self.maximize = maximize
        self.interval = max(1, config.evaluation_interval)  # 0 behaves as 1
        self.delay = config.delay_evaluation

    def due(self, k: int) -> bool:
        """Whether the policy is applied at interval k: ``k % evaluation_interval == 0 and k >= delay``."""
        return k >= 1 and k % self.interval == 0 and k >= self.delay

    @abstractmethod
    def judge(self, curve: Curve, k: int, others: Sequence[Curve]) -> str | None:
        """The reason to stop the trial at interval k (with the numbers compared), or None to go on."""

    # -- helpers ---------------------------------------------------------------------------------

    def best(self, curve: Curve, k: int) -> float | None:
        """The best value in the first k values (NaN ignored): ``azsweep.spec.best_value``."""
        return best_value(curve[:k], self.maximize)

    def worse(self, a: float, b: float) -> bool:
        """a is strictly worse than b: ``azsweep.spec.better(b, a, maximize)``."""
        return better(b, a, self.maximize)

    def describe(self) -> str:
        c = self.config
        parts = [f"evaluation_interval={c.evaluation_interval}", f"delay_evaluation={c.delay_evaluation}"]
        if c.slack_factor is not None:
            parts.insert(0, f"slack_factor={c.slack_factor:g}")
        if c.slack_amount is not None:
            parts.insert(0, f"slack_amount={c.slack_amount:g}")
        if c.truncation_percentage is not None:
            parts.insert(0, f"truncation_percentage={c.truncation_percentage}")
        return f"{c.kind}({', '.join(parts)})"
