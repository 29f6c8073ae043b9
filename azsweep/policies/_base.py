"""The policy contract: given curves, say whether a trial stops at an interval, and why."""

from __future__ import annotations

import math
from collections.abc import Sequence

from azsweep.spec import Policy, best_value, better, finite_score

Curve = Sequence[float]  # a trial's primary-metric values in logging order: interval k is curve[k - 1]


def fmt(x: float) -> str:
    return f"{x:.6g}"


class EarlyTermination:
    """Decides, never acts: the runner (or a replay) stops the trials a policy names.

    ``judge(curve, k, others)`` is asked about a trial that has just reached interval ``k`` (its
    k-th logged value); ``others`` are the curves of every other trial of the sweep as far as they
    are known (finished trials included, stopped trials cut at the interval they were stopped).
    ``judge_at(k, mine, others)`` decides the same from each curve's running aggregates (``Prefix``),
    so that judging a new value costs one look per other trial, not a pass over every curve
    (``IncrementalJudge`` keeps the aggregates of a live sweep); ``judge`` is ``judge_at`` on fresh
    aggregates. A policy defines ``judge_at`` (or, for a custom one, ``judge`` alone).
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

    def judge(self, curve: Curve, k: int, others: Sequence[Curve]) -> str | None:
        """The reason to stop the trial at interval k (with the numbers compared), or None to go on."""
        return self.judge_at(k, Prefix(curve, self.maximize), [Prefix(c, self.maximize) for c in others])

    def judge_at(self, k: int, mine: Prefix, others: Sequence[Prefix]) -> str | None:
        """``judge`` from the aggregates of the judged trial's curve and of every other trial's curve."""
        if type(self).judge is EarlyTermination.judge:
            raise NotImplementedError(f"{type(self).__name__} defines neither judge nor judge_at")
        return self.judge(mine.curve()[:k], k, [o.curve() for o in others])

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


class Prefix:
    """A curve's running aggregates over its first k values, for every k, extended as the curve grows.

    ``best(k)``: the best of the first k values (the whole curve when it is shorter), non-finite values
    ignored, exactly ``spec.best_value(curve[:k])``; ``average(k)``: the mean of the first k values
    without NaN, exactly ``math.fsum(...) / n`` (an exact running sum; correctly rounded as ``fsum`` is).
    Each value is folded in once, when an aggregate first needs it. ``length`` is how much of ``values``
    the policy sees (all of it unless set: a replay shows each curve as far as it had been logged).
    """

    __slots__ = ("_avg", "_best", "_count", "_exact", "_partials", "length", "maximize", "values")

    def __init__(self, values: Curve, maximize: bool) -> None:
        self.values: Curve = values
        self.length = len(values)
        self.maximize = maximize
        self._best: list[float | None] = []
        self._avg: list[float | None] = []
        self._partials: list[float] = []  # the exact sum of the non-NaN values folded in, as non-overlapping floats
        self._count = 0
        self._exact = True  # False once a value is infinite or the running sum overflows: averages from fsum then

    def __len__(self) -> int:
        return self.length

    def curve(self) -> list[float]:
        return list(self.values[: self.length])

    def value(self, k: int) -> float:
        """The k-th value (interval k)."""
        return self.values[k - 1]

    def best(self, k: int) -> float | None:
        n = min(k, self.length)
        if n < 1:
            return None
        if n > len(self._best):
            self._extend(n)
        return self._best[n - 1]

    def average(self, k: int) -> float | None:
        """The mean of the first k values without NaN (None when all are NaN); needs ``len(self) >= k``."""
        if not 1 <= k <= self.length:
            raise IndexError(f"average of the first {k} values of a curve of {self.length}")
        if k > len(self._avg):
            self._extend(k)
        if not self._exact:
            values = [v for v in self.values[:k] if not math.isnan(v)]
            return math.fsum(values) / len(values) if values else None
        return self._avg[k - 1]

    def replace(self, values: Curve) -> None:
        """The curve as it is now: aggregates already folded in are kept when its first values are unchanged
        (a curve that grew, or was cut at a stop), and recomputed otherwise."""
        done = len(self._best)
        if values is not self.values and done and not _same_start(values, self.values, done):
            self._best, self._avg, self._partials, self._count, self._exact = [], [], [], 0, True
        self.values, self.length = values, len(values)

    def _extend(self, n: int) -> None:
        best, avg, values, partials, maximize = self._best, self._avg, self.values, self._partials, self.maximize
        top = best[-1] if best else None
        count, exact, isnan, fsum = self._count, self._exact, math.isnan, math.fsum
        for i in range(len(best), n):
            v = values[i]
            if finite_score(v) and (top is None or (v > top if maximize else v < top)):
                top = v
            best.append(top)
            if not isnan(v):
                count += 1
                if exact:
                    exact = _add_exact(partials, v)
            avg.append(fsum(partials) / count if count and exact else None)
        self._count, self._exact = count, exact


def _add_exact(partials: list[float], x: float) -> bool:
    """Add ``x`` to the exact sum held in ``partials`` (Shewchuk's non-overlapping partials, as ``math.fsum``);
    False when ``x`` is infinite or the sum overflows (the partials are then no longer exact)."""
    if not math.isfinite(x):
        return False
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]
    return math.isfinite(x)


def _same_start(a: Curve, b: Curve, n: int) -> bool:
    """The first n values of a and b are the same (NaN equal to NaN); False when either is shorter."""
    if len(a) < n or len(b) < n:
        return False
    head_a, head_b = list(a[:n]), list(b[:n])
    if head_a == head_b:
        return True
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(head_a, head_b, strict=True))
