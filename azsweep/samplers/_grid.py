"""Grid sampling: the Cartesian product of the Choice values, in a fixed order."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from azsweep.samplers._base import Observation, Sampler
from azsweep.space import Choice, SearchSpace
from azsweep.spec import check_algorithm_rules, raise_first_error


class GridSampler(Sampler):
    """Every combination once, in search-space order with the last parameter varying fastest
    (``itertools.product`` order; each Choice's values in the order written). Ends when exhausted.

    Raises:
        InvalidValue: the first problem ``azsweep.spec.check_algorithm_rules`` finds that a grid cannot
            sample (a distribution other than choice, a conditional choice).
    """

    def __init__(self, space: SearchSpace, seed: int | None = None) -> None:
        super().__init__(space, seed=0 if seed is None else seed)
        raise_first_error(check_algorithm_rules(space.params, "grid", azure_rules=False))
        self._values = [list(dist.values) for dist in space.params.values() if isinstance(dist, Choice)]

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self._values)

    def configuration(self, index: int) -> dict[str, Any]:
        """The index-th combination (mixed-radix digits, last parameter fastest)."""
        picks = []
        for values in reversed(self._values):
            index, digit = divmod(index, len(values))
            picks.append(values[digit])
        return dict(zip(self.space.names, reversed(picks)))

    def ask(self, history: Sequence[Observation], n: int = 1) -> list[dict[str, Any]]:
        start = len(history)
        return [self.configuration(i) for i in range(start, min(start + n, self.size))]
