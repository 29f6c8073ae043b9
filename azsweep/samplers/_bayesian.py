"""Bayesian sampling: a Gaussian process with log expected improvement, after a Sobol design.

The method, in short:

* the first ``n_initial`` configurations are the Sobol sampler's (scrambled, seeded), a space-filling design;
* each parameter is one model coordinate: ``uniform`` its position in [min, max]; ``quniform`` and
  a choice of numbers their level on an evenly spaced grid of [0, 1] (ordinal: 16 < 32 < 64);
  a choice of strings a category (Hamming distance);
* results are turned into losses (negated for ``maximize``), robustly scaled (median / IQR),
  Yeo-Johnson transformed (the power fitted by maximum likelihood, which tames heavy tails) and
  standardized; failed or metric-less trials count as the worst result seen, so a crashing region is not
  proposed again;
* a GP with a Matern-5/2 ARD kernel is fitted by maximizing the marginal likelihood (with priors on
  lengthscales, signal and noise; L-BFGS-B with restarts);
* running trials are fantasized at the GP mean (kriging believer), so concurrent proposals spread out;
* the next configuration maximizes log expected improvement: random and local candidates, the best
  refined by L-BFGS-B, grid and categorical columns searched level by level; in a finite space of
  at most 4096 configurations every configuration is scored. A configuration still running is
  never proposed again.

Every proposal is a pure function of the seed and the history: the random numbers for proposal i
come from ``(seed, i)``, so a fresh process with the same results proposes the same configurations
(given the same BLAS thread count: another one changes floating-point sums in the linear algebra).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from azsweep.samplers._base import Observation, Sampler
from azsweep.samplers._sobol import SobolSampler
from azsweep.space import Choice, Continuous, Distribution, SearchSpace
from azsweep.spec import check_algorithm_rules, raise_first_error

if TYPE_CHECKING:
    from azsweep.samplers._gp import GaussianProcess

# The model modules import scipy.linalg / scipy.special, slow to import: they are loaded when a
# Bayesian sampler is built, not when azsweep is imported.

ENUMERATE_LIMIT = 4096  # finite spaces up to this size are scored exhaustively
MIN_DISTANCE = 1e-3  # in the unit cube: closer to a tried point than this is not worth a trial
_FINISHED_WITHOUT_VALUE = ("failed", "completed")  # a canceled trial without a value says nothing about its point


class SamplerNote(UserWarning):
    """The Bayesian sampler fell back from its model (the message says why)."""


def default_initial_design(n_params: int) -> int:
    """Sobol configurations before the model takes over: ``max(5, n_params + 3)``, at most 12."""
    return min(max(5, n_params + 3), 12)


class _Param:
    """One parameter's model coordinate, by ``kind``:

    * ``continuous`` (uniform): its position in [min, max];
    * ``quantized`` (quniform): its level on the q grid, levels evenly spaced on [0, 1];
    * ``ordinal`` (a choice of numbers): its level among the sorted values, evenly spaced on [0, 1];
    * ``categorical`` (any other choice): the index of its value.

    The space is checked first (``check_algorithm_rules``): any other distribution is refused there.
    """

    def __init__(self, name: str, dist: Distribution) -> None:
        self.name = name
        self.dist: Any = dist
        self.first = 0  # quantized: the level of min_value
        self.q = 1.0  # quantized: the step
        self.values: list[Any] = []  # ordinal, categorical: the distinct values, in level order
        if isinstance(dist, Continuous) and dist.wire_type == "uniform":
            self.kind, self.levels = "continuous", 0
        elif isinstance(dist, Continuous) and dist.wire_type == "quniform" and dist.q is not None:
            self.kind, self.q = "quantized", dist.q
            self.first = int(np.round(dist.a / dist.q))
            self.levels = int(np.round(dist.b / dist.q)) - self.first + 1
        elif isinstance(dist, Choice):
            unique: list[Any] = []
            for value in dist.values:
                if not any(value == u and type(value) is type(u) for u in unique):
                    unique.append(value)
            self.kind = "ordinal" if dist.is_numeric else "categorical"
            self.values = sorted(unique, key=float) if dist.is_numeric else unique
            self.levels = len(self.values)
        else:  # refused by check_algorithm_rules before any _Param is built
            raise TypeError(f"{name}: no Bayesian model coordinate for {dist.wire_type}")

    def encode(self, value: Any) -> float | None:
        """The model coordinate of a value, or None when the value is not in this parameter's domain."""
        if self.kind == "categorical":
            for i, v in enumerate(self.values):
                if v == value and isinstance(value, str) == isinstance(v, str):
                    return float(i)
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return None
        value = float(value)
        if not math.isfinite(value):
            return None
        if self.kind == "continuous":
            return min(max((value - self.dist.a) / (self.dist.b - self.dist.a), 0.0), 1.0)
        if self.kind == "quantized":
            level = min(max(int(np.round(value / self.q)) - self.first, 0), self.levels - 1)
        else:  # ordinal
            matches = [i for i, v in enumerate(self.values) if float(v) == value]
            if not matches:
                return None
            level = matches[0]
        return level / (self.levels - 1) if self.levels > 1 else 0.0

    def decode(self, column: np.ndarray) -> list[Any]:
        if self.kind == "continuous":
            return self.dist.values_from_unit(np.clip(column, 0.0, 1.0)).tolist()
        if self.kind == "categorical":
            return [self.values[int(i)] for i in np.clip(column, 0, self.levels - 1)]
        level = np.round(np.clip(column, 0.0, 1.0) * (self.levels - 1)).astype(np.int64)
        if self.kind == "ordinal":
            return [self.values[int(i)] for i in level]
        values = (self.first + level) * self.q
        return values.astype(np.int64).tolist() if self.dist.integral else values.astype(float).tolist()


class BayesianSampler(Sampler):
    """Gaussian-process Bayesian optimization over choice, uniform and quniform parameters.

    Args:
        space: the search space (choice, uniform and quniform only, as Azure requires).
        seed: the seed; None draws one (``self.seed``).
        maximize: the goal of the primary metric.
        n_initial: Sobol configurations before the model is used (default ``default_initial_design``).

    After each ``ask``, ``notes`` lists why the sampler fell back from its model, if it did (these
    are also issued as ``SamplerNote`` warnings).
    """

    def __init__(
        self, space: SearchSpace, seed: int | None = None, *, maximize: bool = False, n_initial: int | None = None
    ) -> None:
        from azsweep.samplers._acquisition import Columns

        super().__init__(space, seed)
        raise_first_error(check_algorithm_rules(space.params, "bayesian", azure_rules=False))
        self.maximize = maximize
        self._params = [_Param(name, dist) for name, dist in space.params.items()]
        self.n_initial = default_initial_design(len(self._params)) if n_initial is None else max(1, int(n_initial))
        self.columns = Columns(
            categorical=np.array([p.kind == "categorical" for p in self._params], dtype=bool),
            levels=np.array([p.levels for p in self._params], dtype=np.int64),
        )
        finite = all(p.kind != "continuous" for p in self._params)
        self._finite_size = math.prod(max(p.levels, 1) for p in self._params) if finite else None
        self._design = SobolSampler(space, self.seed)
        self._fit_cache: tuple[bytes, GaussianProcess] | None = None

    # -- public ----------------------------------------------------------------------------------

    def ask(self, history: Sequence[Observation], n: int = 1) -> list[dict[str, Any]]:
        """``n`` configurations; the k-th is what ``ask`` would propose with the first k still running."""
        from threadpoolctl import threadpool_limits

        self.notes = []
        history = list(history)
        out: list[dict[str, Any]] = []
        # One BLAS thread: the same seed and results give the same proposals whatever the machine's thread
        # count (multi-threaded BLAS sums in a different order), and these small matrices run no slower.
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(n):
                config = self._propose(history)
                out.append(config)
                history.append(Observation(params=config, value=None, state="running"))
        for note in self.notes:
            warnings.warn(note, SamplerNote, stacklevel=2)
        return out

    def encode(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """A configuration's model coordinates, or None when a value is missing or outside the space."""
        out = np.empty(len(self._params))
        for j, p in enumerate(self._params):
            if p.name not in params:
                return None
            z = p.encode(params[p.name])
            if z is None:
                return None
            out[j] = z
        return out

    def decode(self, x: np.ndarray) -> list[dict[str, Any]]:
        """Configurations from ``(n, d)`` model coordinates (grid columns snap to their nearest level)."""
        columns = [p.decode(x[:, j]) for j, p in enumerate(self._params)]
        return [dict(zip(self.space.names, row)) for row in zip(*columns)]

    # -- one proposal ----------------------------------------------------------------------------

    def note(self, message: str) -> None:
        """Record a fallback or a caveat once (the runner reports each note once)."""
        if message not in self.notes:
            self.notes.append(message)

    def _propose(self, history: list[Observation]) -> dict[str, Any]:
        index = len(history)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 2, index]))
        data = _Data(self, history)
        if index < self.n_initial:
            return self._design_point(index, data, rng)
        targets = data.targets(self)
        if targets is None:
            return self._design_point(index, data, rng)
        try:
            return self._model_point(data, *targets, rng)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, ArithmeticError) as exc:
            self.note(f"bayesian: the Gaussian process failed ({type(exc).__name__}: {exc}); this configuration is random")
            return self._random_point(data, rng)

    def _design_point(self, index: int, data: _Data, rng: np.random.Generator) -> dict[str, Any]:
        config = self.space.from_unit(self._design.points(index, 1))[0]
        key = self._key(config)
        if key is not None and key in data.pending_keys:
            return self._random_point(data, rng)
        return config

    def _random_point(self, data: _Data, rng: np.random.Generator) -> dict[str, Any]:
        """A random configuration not running now (and not tried, when possible)."""
        configs = self.decode(self.columns.random(rng, 256))
        config = self._first_free(configs, data)
        if config is not None:
            return config
        self.note("bayesian: every configuration tried is already running; proposing one of them again")
        return configs[0]

    def _first_free(self, configs: list[dict[str, Any]], data: _Data) -> dict[str, Any] | None:
        """The first configuration neither running nor tried; else the first not running; else None."""
        keys = [self._key(c) for c in configs]
        for i, key in enumerate(keys):
            if key not in data.pending_keys and key not in data.tried_keys:
                return configs[i]
        for i, key in enumerate(keys):
            if key not in data.pending_keys:
                return configs[i]
        return None

    def _key(self, config: Mapping[str, Any]) -> tuple[float, ...] | None:
        x = self.encode(config)
        return None if x is None else tuple(x.tolist())

    def _model_point(self, data: _Data, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        from azsweep.samplers._acquisition import log_ei, maximize_log_ei

        gp = self._fit(x, y)
        best = float(y.min())
        if len(data.pending):
            believed, _ = gp.predict(data.pending)  # kriging believer: running trials at the GP mean
            gp = gp.with_data(data.pending, believed)
            best = min(best, float(believed.min()))
        if self._finite_size is not None and self._finite_size <= ENUMERATE_LIMIT:
            candidates = self._all_points()
            mean, var = gp.predict(candidates)
            scores = log_ei(mean, var, best)
            candidates = candidates[np.argsort(-scores, kind="stable")]
        else:
            centres = x[np.argsort(y, kind="stable")[:5]]
            candidates, _ = maximize_log_ei(gp, best, self.columns, rng, centres)
            # a point within MIN_DISTANCE of one already tried or running teaches the model almost
            # nothing (it is where EI chases tiny improvements of an over-confident model): skip it
            near = _near(candidates, np.vstack([x, data.pending]), self.columns.categorical)
            if not near.all():
                candidates = candidates[~near]
        config = self._first_free(self.decode(candidates), data)
        if config is not None:
            return config
        self.note("bayesian: every candidate is already running; this configuration is random")
        return self._random_point(data, rng)

    def _fit(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """The fitted GP for these data (memoized: its random restarts depend only on the data)."""
        key = x.tobytes() + y.tobytes()
        if self._fit_cache is not None and self._fit_cache[0] == key:
            return self._fit_cache[1]
        from azsweep.samplers._gp import fit

        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, len(y)]))
        gp = fit(x, y, self.columns.categorical, rng)
        self._fit_cache = (key, gp)
        return gp

    def _all_points(self) -> np.ndarray:
        axes = []
        for p in self._params:
            if p.kind == "categorical":
                axes.append(np.arange(p.levels, dtype=float))
            else:
                axes.append(np.linspace(0.0, 1.0, p.levels) if p.levels > 1 else np.zeros(1))
        grids = np.meshgrid(*axes, indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1)


class _Data:
    """The history as model inputs: finished points with losses, failed points, running points."""

    def __init__(self, sampler: BayesianSampler, history: Sequence[Observation]) -> None:
        rows: list[np.ndarray] = []
        losses: list[float] = []
        failed: list[np.ndarray] = []
        pending: list[np.ndarray] = []
        self.pending_keys: set[tuple[float, ...]] = set()
        self.tried_keys: set[tuple[float, ...]] = set()
        self.finished = 0
        unknown = 0
        for obs in history:
            x = sampler.encode(obs.params)
            if x is None:
                unknown += 1
                continue
            key = tuple(x.tolist())
            value = _number(obs.value)
            if obs.state == "running":
                pending.append(x)
                self.pending_keys.add(key)
                continue
            self.finished += 1
            self.tried_keys.add(key)
            if value is not None:
                rows.append(x)
                losses.append(-value if sampler.maximize else value)
            elif obs.state in _FINISHED_WITHOUT_VALUE:
                failed.append(x)
        if unknown:
            sampler.note(f"bayesian: {unknown} trial(s) have values outside the search space and are ignored")
        d = len(sampler.columns.levels)
        self.x = np.array(rows).reshape(-1, d)
        self.losses = np.array(losses, dtype=float)
        self.failed = np.array(failed).reshape(-1, d)
        self.pending = np.array(pending).reshape(-1, d)

    def targets(self, sampler: BayesianSampler) -> tuple[np.ndarray, np.ndarray] | None:
        """Model inputs and standardized targets (failed points count as the worst), or None to keep exploring."""
        losses = self.losses
        if len(losses) < 2 or not np.isfinite(losses).any():
            if self.finished:
                usable = int(np.isfinite(losses).sum())
                sampler.note(
                    f"bayesian: {usable} of {self.finished} finished trials reported a finite value; "
                    "the next configurations come from the space-filling design until two do"
                )
            return None
        finite = np.isfinite(losses)
        if not finite.all():
            sampler.note("bayesian: infinite results are modelled as the best / worst finite result")
            losses = np.clip(np.where(np.isnan(losses), np.inf, losses), losses[finite].min(), losses[finite].max())
        y = warp(losses)
        if y is None:
            sampler.note(
                "bayesian: every result so far is the same value; the next configurations come from the space-filling design"
            )
            return None
        if not len(self.failed):
            return self.x, y
        sampler.note(f"bayesian: {len(self.failed)} failed or metric-less trial(s) are modelled as the worst result")
        return np.vstack([self.x, self.failed]), np.concatenate([y, np.full(len(self.failed), y.max())])


def _near(candidates: np.ndarray, points: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Candidates within ``MIN_DISTANCE`` (Euclidean, unit cube) of a point with the same categories."""
    near = np.zeros(len(candidates), dtype=bool)
    for start in range(0, len(points), 256):
        block = points[start : start + 256]
        diff = candidates[:, None, :] - block[None, :, :]
        same = np.all(diff[..., categorical] == 0, axis=-1)
        dist = np.sqrt(np.sum(diff[..., ~categorical] ** 2, axis=-1))
        near |= np.any(same & (dist < MIN_DISTANCE), axis=1)
    return near


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def warp(losses: np.ndarray) -> np.ndarray | None:
    """Robustly scaled, Yeo-Johnson transformed, standardized losses; None when they are all equal.

    Median / IQR scaling keeps a few huge values (1e300) from squashing the rest; the Yeo-Johnson
    power (fitted by maximum likelihood on a grid of powers in [-2, 2]) then compresses heavy tails.
    """
    from scipy.stats import yeojohnson, yeojohnson_llf

    centre = float(np.median(losses))
    q75, q25 = np.percentile(losses, [75, 25])
    scale = (q75 - q25) / 1.349
    if not scale > 0:
        scale = float(np.median(np.abs(losses - centre))) * 1.4826
    if not scale > 0:
        scale = float(losses.max() / 2 - losses.min() / 2)
    if not (scale > 0 and math.isfinite(scale)):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.clip((losses - centre) / scale, -1e6, 1e6)
        powers = np.linspace(-2.0, 2.0, 41)
        llf = np.array([yeojohnson_llf(p, z) for p in powers])
        power = float(powers[np.nanargmax(np.where(np.isfinite(llf), llf, -np.inf))]) if np.isfinite(llf).any() else 1.0
        y = yeojohnson(z, lmbda=power)
    if not np.all(np.isfinite(y)):
        y = z
    std = float(y.std())
    if not (std > 1e-12 * max(1.0, float(np.abs(y).max()))):
        return None
    return (y - y.mean()) / std
