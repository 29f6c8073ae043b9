"""The public facade: every name of ``azure.ai.ml.sweep``, with local sampling on distributions.

The distribution classes subclass azure-ai-ml's own, so they are accepted wherever azure-ai-ml
accepts its own and serialize to the identical REST form. Each adds
``sample(size=None, *, rng=None)``. Read the formulas carefully, they are Azure's:

* ``Randint(upper)`` draws integers on [0, upper) — upper is excluded.
* ``LogUniform(min_value, max_value)`` is ``exp(Uniform(min_value, max_value))``: the bounds are
  exponents. For a learning rate in [1e-4, 1e-1] write ``LogUniform(math.log(1e-4), math.log(1e-1))``.
* ``LogNormal(mu, sigma)`` is ``exp(Normal(mu, sigma))``.
* Each Q-variant is ``round(x / q) * q`` (half to even), not clipped to the bounds; values are ints
  when q is a whole number.
* ``Choice`` is uniform over its values; a dict value may hold distributions (a conditional space).

Sobol sampling is ``RandomSamplingAlgorithm(rule="sobol", seed=...)``; there is no Sobol class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from azure.ai.ml import sweep as _azure
from azure.ai.ml.sweep import (
    BanditPolicy,
    BayesianSamplingAlgorithm,
    GridSamplingAlgorithm,
    MedianStoppingPolicy,
    Objective,
    RandomSamplingAlgorithm,
    SamplingAlgorithm,
    SweepJob,
    SweepJobLimits,
    TruncationSelectionPolicy,
)

from azsweep.space import from_wire

__all__ = list(_azure.__all__)


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class _LocalSampling:
    """Adds local sampling to an azure-ai-ml distribution."""

    def sample(self, size: int | tuple[int, ...] | None = None, *, rng: np.random.Generator | int | None = None) -> Any:
        """Draw one value (``size=None``) or a numpy array of values.

        Args:
            size: None for one value, else the shape of the returned array.
            rng: a ``numpy.random.Generator`` or an int seed; None draws fresh entropy.

        Raises:
            InvalidValue: the distribution's arguments break a rule (e.g. min_value > max_value).
        """
        dist = from_wire(type(self).__name__, self._to_rest_object())  # type: ignore[attr-defined]
        n = 1 if size is None else int(np.prod(size))
        values = dist.sample(_generator(rng), n)
        if size is None:
            return values[0]
        if values and (isinstance(values[0], dict) or len({type(v) for v in values}) > 1):
            # dicts, or mixed types (Choice(["a", 3])): numpy would coerce 3 to "3"; keep the values as drawn
            array = np.empty(n, dtype=object)
            array[:] = values
        else:
            array = np.asarray(values)
        return array.reshape(size)


class Choice(_LocalSampling, _azure.Choice):
    __doc__ = _azure.Choice.__doc__


class Randint(_LocalSampling, _azure.Randint):
    __doc__ = _azure.Randint.__doc__


class Uniform(_LocalSampling, _azure.Uniform):
    __doc__ = _azure.Uniform.__doc__


class LogUniform(_LocalSampling, _azure.LogUniform):
    __doc__ = _azure.LogUniform.__doc__


class QUniform(_LocalSampling, _azure.QUniform):
    __doc__ = _azure.QUniform.__doc__


class QLogUniform(_LocalSampling, _azure.QLogUniform):
    __doc__ = _azure.QLogUniform.__doc__


class Normal(_LocalSampling, _azure.Normal):
    __doc__ = _azure.Normal.__doc__


class LogNormal(_LocalSampling, _azure.LogNormal):
    __doc__ = _azure.LogNormal.__doc__


class QNormal(_LocalSampling, _azure.QNormal):
    __doc__ = _azure.QNormal.__doc__


class QLogNormal(_LocalSampling, _azure.QLogNormal):
    __doc__ = _azure.QLogNormal.__doc__


_LOCAL = {
    cls.__name__: cls
    for cls in (Choice, Randint, Uniform, LogUniform, QUniform, QLogUniform, Normal, LogNormal, QNormal, QLogNormal)
}


def local_distribution(dist: Any) -> Any:
    """The azsweep equivalent of an azure-ai-ml distribution (same arguments, same REST form)."""
    if isinstance(dist, _LocalSampling):
        return dist
    cls = _LOCAL.get(type(dist).__name__)
    if cls is None:
        return dist
    if cls is Choice:
        values = (
            [
                {k: local_distribution(v) for k, v in value.items()} if isinstance(value, dict) else value
                for value in (dist.values or [])
            ]
            if dist.values is not None
            else None
        )
        return Choice(values=values)
    attrs = {k: v for k, v in vars(dist).items() if k != "type"}
    return cls(**attrs)


__all__ += ["local_distribution"]
_ = (
    BanditPolicy,
    BayesianSamplingAlgorithm,
    GridSamplingAlgorithm,
    MedianStoppingPolicy,
    Objective,
    RandomSamplingAlgorithm,
    SamplingAlgorithm,
    SweepJob,
    SweepJobLimits,
    TruncationSelectionPolicy,
)
