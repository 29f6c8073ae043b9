"""Which score is better, the best value of a curve, and a ranking: the one home of the goal's direction.

A score is missing when it is None or not finite: NaN, +-inf, or +-1.7976931348623157e308 (the largest float,
which MLflow's database stores in place of +-inf). A missing score is never better, is ignored in a curve and
ranks last, so a diverged trial that logged -inf for a minimized loss never wins. Ties keep the earlier item
first.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def finite_score(value: float | None) -> bool:
    """Whether ``value`` counts as a score: a number that is neither NaN, +-inf nor +-the largest float (MLflow's
    database stores +-inf as +-1.7976931348623157e308)."""
    return value is not None and math.isfinite(value) and abs(value) < sys.float_info.max


def _missing(score: float | None) -> bool:
    return not finite_score(score)


def better(a: float | None, b: float | None, maximize: bool) -> bool:
    """True when score ``a`` is strictly better than ``b``; a tie is not better (the earlier keeps its place).

    ``b`` None (or NaN) means there is no score yet, so any present ``a`` is better; a missing ``a`` never is.
    """
    if _missing(a):
        return False
    if _missing(b):
        return True
    return a > b if maximize else a < b  # type: ignore[operator]


def best_value(values: Iterable[float], maximize: bool) -> float | None:
    """A trial's score: its best value of the primary metric (max or min, not the last); values that are not
    finite (NaN, +-inf, +-the largest float) are ignored."""
    clean = [v for v in values if finite_score(v)]
    if not clean:
        return None
    return max(clean) if maximize else min(clean)


def _scorer(score: Callable[[Any], float | None] | None) -> Callable[[Any], float | None]:
    return score if score is not None else (lambda item: item)


def ranked(items: Iterable[T], *, score: Callable[[T], float | None] | None = None, maximize: bool) -> list[T]:
    """``items`` best first; ties keep their order (the earlier first); items without a score (None or NaN)
    last, in their order. ``score`` gives an item's score; None means the items are the scores."""
    key = _scorer(score)
    scored: list[tuple[T, float]] = []
    rest: list[T] = []
    for item in items:
        s = key(item)
        if _missing(s):
            rest.append(item)
        else:
            scored.append((item, s))  # type: ignore[arg-type]
    scored.sort(key=lambda pair: pair[1], reverse=maximize)  # a stable sort, reversed or not: ties stay in order
    return [item for item, _ in scored] + rest


def best_item(items: Iterable[T], *, score: Callable[[T], float | None] | None = None, maximize: bool) -> T | None:
    """The first item of ``ranked``: the best scored item, the earlier on a tie; None when no item has a score."""
    key = _scorer(score)
    best: T | None = None
    best_score: float | None = None
    for item in items:
        s = key(item)
        if better(s, best_score, maximize):
            best, best_score = item, s
    return best
