"""The sampler contract: propose configurations from the recorded history, never from counters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from azsweep.space import SearchSpace


@dataclass(frozen=True)
class Observation:
    """One trial as a sampler sees it: what was tried and the best primary-metric value so far."""

    params: dict[str, Any]
    value: float | None = None  # None while running, or when the metric was never logged
    state: str = "completed"  # running | completed | failed | canceled


def fresh_seed() -> int:
    """A new random seed (recorded by the caller so a run can be repeated), within Azure's int32 seed range."""
    entropy = cast(int, np.random.SeedSequence().entropy)  # a SeedSequence made without entropy draws an int
    return entropy % (2**31)


class Sampler(ABC):
    """Proposes configurations for a search space.

    ``history`` is every trial proposed so far, in proposal order; index-based samplers (random,
    Sobol, grid) take their position from ``len(history)``, so a resumed sweep continues exactly
    where it stopped.
    """

    def __init__(self, space: SearchSpace, seed: int | None = None) -> None:
        self.space = space
        self.seed = fresh_seed() if seed is None else int(seed)
        self.notes: list[str] = []  # fallbacks and caveats of the last ``ask``, one line each

    @abstractmethod
    def ask(self, history: Sequence[Observation], n: int = 1) -> list[dict[str, Any]]:
        """Up to ``n`` new configurations; fewer (possibly none) when the space is exhausted."""

    @property
    def size(self) -> int | None:
        """The number of distinct configurations when finite and enumerated (grid), else None."""
        return None

    def is_exhausted(self, history: Sequence[Observation]) -> bool:
        return self.size is not None and len(history) >= self.size
