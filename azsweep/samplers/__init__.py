"""Samplers: what to try next. Pure code over ``azsweep.space``; no azure, no mlflow."""

from __future__ import annotations

from azsweep.errors import AzsweepError
from azsweep.samplers._base import Observation, Sampler, fresh_seed
from azsweep.samplers._bayesian import BayesianSampler, SamplerNote
from azsweep.samplers._grid import GridSampler
from azsweep.samplers._random import RandomSampler
from azsweep.samplers._sobol import SobolSampler
from azsweep.space import SearchSpace
from azsweep.spec import Algorithm

__all__ = [
    "BayesianSampler",
    "GridSampler",
    "Observation",
    "RandomSampler",
    "Sampler",
    "SamplerNote",
    "SobolSampler",
    "fresh_seed",
    "make_sampler",
]


def make_sampler(algorithm: Algorithm, space: SearchSpace, *, maximize: bool = False) -> Sampler:
    """The sampler for a spec's sampling algorithm."""
    if algorithm.kind == "random":
        return RandomSampler(space, algorithm.seed)
    if algorithm.kind == "sobol":
        return SobolSampler(space, algorithm.seed)
    if algorithm.kind == "grid":
        return GridSampler(space, algorithm.seed)
    if algorithm.kind == "bayesian":
        return BayesianSampler(space, algorithm.seed, maximize=maximize)
    raise AzsweepError(f"sampling_algorithm: {algorithm.kind} sampling is not available locally yet")
