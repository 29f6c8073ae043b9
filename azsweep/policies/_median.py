"""Median stopping: stop a trial whose best value is worse than the median of running averages."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np

from azsweep.policies._base import EarlyTermination, Floats, Ints, Prefix, fmt, positions


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

    def _possible_stops(self, ks: Ints, mine: Prefix, others: Sequence[Prefix]) -> Ints:
        """Every interval of ``ks`` but those where ``judge_at`` provably lets the trial go on, in three steps.

        1. ``Prefix.average_bound`` is, for each trial and interval, a float at least as good as the trial's exact
           average (``Prefix.average``, what ``judge_at`` takes the median of). The median (``_median``: sorting,
           then the middle value or the mean of the two, each step never falling as its inputs rise) of those
           bounds is then at least as good as ``judge_at``'s median, so where the best is no worse than it, the
           trial goes on: for the whole run at once (``_goes_on_throughout``), else interval by interval, most by
           a count (the median is no better than the lower middle value when minimizing, the upper one when
           maximizing), the rest by the median of the bounds.
        2. Where that leaves it open, the exact averages in bulk (``Prefix.exact_averages``) give ``judge_at``'s
           median itself, the same float operations on the same numbers, and so its decision.
        3. The rest is left to ``judge_at``: the intervals where it stops the trial (for the reason), where an
           exact average could not be had in bulk, and where some curve's average raises (as math.fsum does:
           -inf + inf, an overflow)."""
        if type(self).judge_at is not MedianStopping.judge_at:
            return ks
        mine_best = mine.bests(ks)
        trials = [mine, *others]
        if self._goes_on_throughout(ks, float(mine_best[0]), trials):
            return ks[:0]
        bounds = np.full((len(trials), ks.size), np.nan)  # NaN: not in the median
        raises = np.zeros(ks.size, dtype=bool)
        last = int(ks[-1])
        for row, trial in enumerate(trials):
            length = len(trial)
            reached = ks.size if length >= last else int(np.searchsorted(ks, length, side="right"))
            if not reached:
                continue
            bounds[row, :reached] = trial.average_bound()[positions(ks[:reached])]
            limit = trial.raises_after()
            if limit < ks[reached - 1]:
                raises[:reached] |= ks[:reached] > limit
        n = np.count_nonzero(~np.isnan(bounds), axis=0)  # the trials in the median at each interval
        with np.errstate(invalid="ignore"):  # judge_at stops when the median is better than the best
            beyond = np.count_nonzero(bounds > mine_best if self.maximize else bounds < mine_best, axis=0)
        goes_on = np.isnan(mine_best) | (~raises & ((n < 2) | (beyond <= (n - 1) // 2)))
        undecided = np.flatnonzero(~goes_on & ~raises)
        if undecided.size:  # 1: the median of the bounds
            median = _medians(np.sort(bounds[:, undecided], axis=0), n[undecided])
            best = mine_best[undecided]
            goes_on[undecided] = median <= best if self.maximize else median >= best
            undecided = undecided[~goes_on[undecided]]
        if undecided.size:  # 2: the median of the exact averages
            averages = np.full((len(trials), undecided.size), np.nan)
            unknown = np.zeros(undecided.size, dtype=bool)
            for row, trial in enumerate(trials):
                reached = int(np.searchsorted(ks[undecided], len(trial), side="right"))
                if reached:
                    at = ks[undecided[:reached]] - 1
                    exact = trial.exact_averages(at)
                    averages[row, :reached] = exact
                    unknown[:reached] |= np.isnan(exact) & (trial.arrays()[2][at] > 0)
            median = _medians(np.sort(averages, axis=0), n[undecided])
            best = mine_best[undecided]
            with np.errstate(invalid="ignore"):  # spec.better(median, best): a missing median is never better
                stops = np.isfinite(median) & (np.abs(median) < sys.float_info.max)
                stops &= median > best if self.maximize else median < best
            goes_on[undecided] = ~unknown & ~stops
        return ks[~goes_on]

    def _goes_on_throughout(self, ks: Ints, first_best: float, trials: Sequence[Prefix]) -> bool:
        """Whether the trial provably goes on at every interval of ``ks``, from one bound per trial: with every
        trial in the median at all of them or at none (and no average raising), the median at each is no better
        than the median of each trial's best ``average_bound`` over them (the least when minimizing, the greatest
        when maximizing); the judged trial's best only improves, so where it is no worse than that at the first
        interval, it is at all of them."""
        if math.isnan(first_best):
            return False
        first, last, at = int(ks[0]), int(ks[-1]), positions(ks)
        best_bounds: list[float] = []
        for trial in trials:
            length = len(trial)
            if length < first:
                continue
            if length < last or trial.raises_after() < last:
                return False
            bounds = trial.average_bound()[at]
            bound = float(bounds.max() if self.maximize else bounds.min())  # NaN (an average None) propagates
            if math.isnan(bound):
                return False
            best_bounds.append(bound)
        if len(best_bounds) < 2:
            return False
        best_bounds.sort()
        if self.maximize:
            return best_bounds[len(best_bounds) // 2] <= first_best
        return best_bounds[(len(best_bounds) - 1) // 2] >= first_best


def _medians(ordered: Floats, n: Ints) -> Floats:
    """``_median`` of each column of ``ordered`` (sorted, NaN last), over its first ``n`` values (n >= 1)."""
    columns = np.arange(ordered.shape[1])
    low, high = ordered[(n - 1) // 2, columns], ordered[n // 2, columns]
    with np.errstate(invalid="ignore"):  # -inf + inf: NaN
        return np.where(n % 2 == 1, low, (low + high) / 2)


def _median(values: list[float]) -> float:
    """``statistics.median``: the middle value, or the mean of the two middle values of an even count."""
    ordered = sorted(values)
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2
