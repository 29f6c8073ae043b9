"""Median stopping: stop a trial whose best value is worse than the median of running averages."""

from __future__ import annotations

from collections.abc import Sequence

from azsweep.policies._base import EarlyTermination, Prefix, fmt


class MedianStopping(EarlyTermination):
    """Stop t at interval k when best_t(k) is worse than the median, over every trial that reached k,
    of that trial's running average over intervals 1..k.

    Our choices where Azure is silent: the judged trial is one of the trials in the median; only
    trials with at least k values count; with an even count the median is the mean of the two
    middle averages (``statistics.median``); finished trials count; NaN values are left out of
    averages. With fewer than two trials at k nothing is stopped.
    """

    title = "MedianStopping"

    def judge_at(self, k: int, mine_curve: Prefix, others: Sequence[Prefix]) -> str | None:
        mine = mine_curve.best(k)
        if mine is None:
            return None
        averages = []
        for c in [mine_curve, *others]:
            if len(c) >= k:
                average = c.average(k)  # of the first k values without NaN (math.fsum / n)
                if average is not None:
                    averages.append(average)
        if len(averages) < 2:
            return None
        median = _median(averages)
        if self.worse(mine, median):
            sign = "<" if self.maximize else ">"
            return (
                f"MedianStopping at interval {k}: best {fmt(mine)} {sign} {fmt(median)} = median of the running "
                f"averages of {len(averages)} trials"
            )
        return None


def _median(values: list[float]) -> float:
    """``statistics.median``: the middle value, or the mean of the two middle values of an even count."""
    ordered = sorted(values)
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2
