"""Sobol sampling: scrambled, seeded Sobol points (scipy.stats.qmc) through each inverse CDF."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from azsweep.samplers._base import Observation, Sampler


class SobolSampler(Sampler):
    """Configuration i is point i of a scrambled Sobol sequence seeded with ``seed``.

    Every unit-cube column (normal dimensions and choice indices included) is one Sobol dimension,
    in search-space order.
    """

    def points(self, start: int, n: int) -> np.ndarray:
        from scipy.stats import qmc  # imported here: scipy.stats is slow to import

        engine = qmc.Sobol(d=self.space.dims, scramble=True, seed=self.seed)
        if start:
            engine.fast_forward(start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for n not a power of 2
            return engine.random(n)

    def ask(self, history: Sequence[Observation], n: int = 1) -> list[dict[str, Any]]:
        return self.space.from_unit(self.points(len(history), n))
