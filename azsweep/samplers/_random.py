"""Random sampling: a seeded PCG64 stream of unit-cube points mapped through each distribution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from azsweep.samplers._base import Observation, Sampler


class RandomSampler(Sampler):
    """Configuration i is row i of one seeded stream of ``dims`` uniforms per configuration.

    The stream is advanced rather than replayed, so the i-th configuration is the same however the
    configurations were requested (one at a time, in batches, or after a resume).
    """

    def points(self, start: int, n: int) -> np.ndarray:
        bit_generator = np.random.PCG64(self.seed)
        if start:
            bit_generator.advance(start * self.space.dims)  # one 64-bit draw per double
        return np.random.Generator(bit_generator).random((n, self.space.dims))

    def ask(self, history: Sequence[Observation], n: int = 1) -> list[dict[str, Any]]:
        return self.space.from_unit(self.points(len(history), n))
