"""Median stopping: stop a trial whose best value is worse than the median of running averages."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from azsweep.policies._base import Curve, EarlyTermination, fmt


class MedianStopping(EarlyTermination):
    """Stop t at interval k when best_t(k) is worse than the median, over every trial that reached k,
    of that trial's running average over intervals 1..k.

    Our choices where Azure is silent: the judged trial is one of the trials in the median; only
    trials with at least k values count; with an even count the median is the mean of the two
    middle averages (``statistics.median``); finished trials count; NaN values are left out of
    averages. With fewer than two trials at k nothing is stopped.
    """

    title = "MedianStopping"

    def judge(self, curve: Curve, k: int, others: Sequence[Curve]) -> str | None:
        mine = self.best(curve, k)
        if mine is None:
            return None
        averages = []
        for c in [curve, *others]:
            if len(c) >= k:
                values = [v for v in c[:k] if not math.isnan(v)]
                if values:
                    averages.append(math.fsum(values) / len(values))
        if len(averages) < 2:
            return None
        median = statistics.median(averages)
        if self.worse(mine, median):
            sign = "<" if self.maximize else ">"
            return (
                f"MedianStopping at interval {k}: best {fmt(mine)} {sign} {fmt(median)} = median of the running "
                f"averages of {len(averages)} trials"
            )
        return None
