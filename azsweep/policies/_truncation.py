"""Truncation selection: at each interval, stop the worst percentage of the trials that reached it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from azsweep.policies._base import EarlyTermination, Floats, Ints, Prefix, fmt


class TruncationSelection(EarlyTermination):
    """At interval k, rank the trials that reached k by their value at k; the worst p% stop.

    Our choices where Azure is silent: the count is ``floor(n · p / 100)`` of the n trials that
    reached k (so nothing stops until n >= 100 / p); finished trials are in the pool (v1 sent
    ``exclude_finished_jobs=False``); ties are resolved in the judged trial's favour (it stops only
    when at least n - count trials are strictly better); a NaN value ranks worst.
    """

    title = "TruncationSelection"

    def judge_at(self, k: int, mine_curve: Prefix, others: Sequence[Prefix]) -> str | None:
        if len(mine_curve) < k:
            return None
        pool = [c.value(k) for c in others if len(c) >= k]
        mine = mine_curve.value(k)
        n = len(pool) + 1
        p = self.config.truncation_percentage or 0
        count = n * p // 100
        if count < 1:
            return None
        better = sum(1 for v in pool if self._key(v) > self._key(mine))
        if better >= n - count:
            return (
                f"TruncationSelection at interval {k}: value {fmt(mine)} is in the worst {p}% "
                f"({count} of {n} trials at interval {k}; {better} are better)"
            )
        return None

    def _key(self, value: float) -> float:
        """Larger is better."""
        if math.isnan(value):
            return -math.inf
        return value if self.maximize else -value

    def _possible_stops(self, ks: Ints, mine: Prefix, others: Sequence[Prefix]) -> Ints:
        """The intervals of ``ks`` where ``judge_at`` stops the trial: its counts and comparisons on arrays."""
        if type(self).judge_at is not TruncationSelection.judge_at or type(self)._key is not TruncationSelection._key:
            return ks
        ks = ks[: int(np.searchsorted(ks, len(mine), side="right"))]
        if not ks.size:
            return ks
        mine_key = self._keys(mine.arrays()[0][ks - 1])
        n = np.ones(ks.size, dtype=np.int64)
        better = np.zeros(ks.size, dtype=np.int64)
        for other in others:
            reached = int(np.searchsorted(ks, len(other), side="right"))
            if reached:
                n[:reached] += 1
                better[:reached] += self._keys(other.arrays()[0][ks[:reached] - 1]) > mine_key[:reached]
        count = n * (self.config.truncation_percentage or 0) // 100
        return ks[(count >= 1) & (better >= n - count)]

    def _keys(self, values: Floats) -> Floats:
        """``_key`` of each value."""
        return np.where(np.isnan(values), -np.inf, values if self.maximize else -values)
