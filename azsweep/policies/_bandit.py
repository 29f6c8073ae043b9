"""Bandit: stop a trial whose best value falls outside a slack of the best value of any trial."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np

from azsweep.policies._base import EarlyTermination, Ints, Prefix, fmt
from azsweep.spec import best_value


class Bandit(EarlyTermination):
    """With B(k) the best value any trial reached by its interval k and best_t(k) the trial's best:

    * maximize: stop when best_t(k) < B(k) / (1 + s), or best_t(k) < B(k) - a;
    * minimize: stop when best_t(k) > B(k) * (1 + s), or best_t(k) > B(k) + a.

    Our choice where Azure is silent: the slack factor is applied to |B(k)|, so for B(k) > 0 the
    rules are exactly the documented ones and for B(k) < 0 the allowed band still lies on the worse
    side of the best (``B - |B|·s/(1+s)`` when maximizing, ``B + |B|·s`` when minimizing).
    B(k) includes the judged trial and finished trials; a trial shorter than k counts with its best
    over the values it has.
    """

    title = "Bandit"

    def judge_at(self, k: int, mine_curve: Prefix, others: Sequence[Prefix]) -> str | None:
        mine = mine_curve.best(k)
        if mine is None:
            return None
        bests = [b for b in (c.best(k) for c in others) if b is not None] + [mine]
        top = best_value(bests, self.maximize)
        assert top is not None  # bests holds mine
        if self.config.slack_factor is not None:
            s = self.config.slack_factor
            if self.maximize:
                threshold = top - abs(top) * s / (1 + s)
                rule = f"B({k}) / (1 + {s:g})" if top >= 0 else f"B({k}) - |B({k})|·{s:g}/(1 + {s:g})"
            else:
                threshold = top + abs(top) * s
                rule = f"B({k}) × (1 + {s:g})" if top >= 0 else f"B({k}) + |B({k})|·{s:g}"
        else:
            a = self.config.slack_amount or 0.0
            threshold = top - a if self.maximize else top + a
            rule = f"B({k}) {'-' if self.maximize else '+'} {a:g}"
        if self.worse(mine, threshold):
            sign = "<" if self.maximize else ">"
            return f"Bandit at interval {k}: best {fmt(mine)} {sign} {fmt(threshold)} = {rule} with B({k}) = {fmt(top)}"
        return None

    def _possible_stops(self, ks: Ints, mine: Prefix, others: Sequence[Prefix]) -> Ints:
        """The intervals of ``ks`` where ``judge_at`` stops the trial: its arithmetic on arrays, the same float
        operations in the same order (so the same thresholds and comparisons)."""
        if type(self).judge_at is not Bandit.judge_at:
            return ks
        mine_best = mine.bests(ks)
        top = mine_best.copy()
        pick = np.fmax if self.maximize else np.fmin  # NaN (no best) ignored
        for other in others:
            top = pick(top, other.bests(ks))
        s = self.config.slack_factor
        if s is not None:
            threshold = top - np.abs(top) * s / (1 + s) if self.maximize else top + np.abs(top) * s
        else:
            a = self.config.slack_amount or 0.0
            threshold = top - a if self.maximize else top + a
        with np.errstate(invalid="ignore"):
            scored = np.isfinite(threshold) & (np.abs(threshold) < sys.float_info.max)  # spec.better's rule
            worse = mine_best < threshold if self.maximize else mine_best > threshold
        return ks[scored & worse & ~np.isnan(mine_best)]
