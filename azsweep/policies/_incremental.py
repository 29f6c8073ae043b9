"""A live sweep's policy judging, incremental: each trial's running aggregates are kept between looks."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from azsweep.policies._base import Curve, EarlyTermination, Prefix


class IncrementalJudge:
    """``policy.judge(curves[key][:k], k, [every other curve])``, from aggregates kept per trial.

    ``sync(curves)`` takes the curves as they are now (the others in the mapping's order, as ``judge``
    would get them); a value is folded into its trial's aggregates once, so judging a new value costs
    one look at each other trial's aggregates instead of a pass over every curve; and the intervals a
    trial reached since the last look are judged at once, with array operations (``first_stop``).
    """

    def __init__(self, policy: EarlyTermination) -> None:
        self.policy = policy
        self._prefixes: dict[Hashable, Prefix] = {}
        self._others: dict[Hashable, list[Prefix]] = {}  # per judged trial, until the next sync

    def sync(self, curves: Mapping[Any, Curve]) -> None:
        prefixes: dict[Hashable, Prefix] = {}
        for key, curve in curves.items():
            prefix = self._prefixes.get(key)
            if prefix is None:
                prefix = Prefix(curve, self.policy.maximize)
            else:
                prefix.replace(curve)
            prefixes[key] = prefix
        self._prefixes = prefixes
        self._others = {}

    def first_stop(self, key: Hashable, first: int, last: int) -> tuple[int, str] | None:
        """The first interval from ``first`` to ``last`` at which the policy is due and stops trial ``key``,
        with the reason: ``judge`` at each due interval in turn (``policy.first_stop_at``), or None when none
        stops it."""
        others = self._others.get(key)
        if others is None:
            others = self._others[key] = [prefix for other, prefix in self._prefixes.items() if other != key]
        return self.policy.first_stop_at(first, last, self._prefixes[key], others)

    def judge(self, key: Hashable, k: int) -> str | None:
        """The reason to stop trial ``key`` at interval ``k`` (as ``policy.judge`` gives it), or None."""
        others = self._others.get(key)
        if others is None:
            others = self._others[key] = [prefix for other, prefix in self._prefixes.items() if other != key]
        return self.policy.judge_at(k, self._prefixes[key], others)
