"""Log expected improvement and its multi-start maximization over mixed model coordinates.

logEI follows Ament et al., "Unexpected Improvements to Expected Improvement for Bayesian
Optimization" (NeurIPS 2023): computed in log space so that it stays finite, and its gradient
informative, far from the incumbent where plain EI underflows to 0. Targets are minimized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr

from azsweep.samplers._gp import GaussianProcess

_C1 = 0.5 * math.log(2 * math.pi)
_C2 = 0.5 * math.log(math.pi / 2)
_INV_SQRT_EPS = 1 / math.sqrt(np.finfo(float).eps)


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurately."""
    return np.where(x > -math.log(2), np.log(-np.expm1(np.minimum(x, -1e-300))), np.log1p(-np.exp(x)))


def log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z Phi(z)): the log of EI / sigma for a standardized improvement ``z``."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    upper = z > -1
    zu = z[upper]
    out[upper] = np.log(np.exp(-0.5 * zu * zu - _C1) + zu * ndtr(zu))
    middle = ~upper & (z > -_INV_SQRT_EPS)
    zm = z[middle]
    out[middle] = -0.5 * zm * zm - _C1 + _log1mexp(np.log(erfcx(-zm / math.sqrt(2)) * np.abs(zm)) + _C2)
    lower = ~upper & ~middle
    zl = z[lower]
    out[lower] = -0.5 * zl * zl - _C1 - 2 * np.log(np.abs(zl))
    return out


def log_ei(mean: np.ndarray, var: np.ndarray, best: float) -> np.ndarray:
    """log expected improvement below ``best`` for a minimized target."""
    sigma = np.sqrt(var)
    return log_h((best - mean) / sigma) + np.log(sigma)


def log_ei_with_gradient(gp: GaussianProcess, x: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray]:
    """logEI at ``(m, d)`` points and its gradient with respect to the continuous columns."""
    mean, var, grad_mean, grad_var = gp.predict_with_gradient(x)
    sigma = np.sqrt(var)
    z = (best - mean) / sigma
    lh = log_h(z)
    dlh_dz = np.exp(log_ndtr(z) - lh)  # d/dz log h(z) = Phi(z) / h(z)
    grad_sigma = grad_var / (2 * sigma[:, None])
    grad_z = (-grad_mean - z[:, None] * grad_sigma) / sigma[:, None]
    return lh + np.log(sigma), dlh_dz[:, None] * grad_z + grad_sigma / sigma[:, None]


@dataclass(frozen=True)
class Columns:
    """What the optimizer needs to know about the model coordinates."""

    categorical: np.ndarray  # bool (d,): a category index column
    levels: np.ndarray  # int (d,): categories (categorical), grid levels (grid), 0 for continuous

    @property
    def relaxed(self) -> np.ndarray:
        """Columns optimized by gradient: continuous and grid ones (grid ones snapped afterwards)."""
        return np.flatnonzero(~self.categorical)

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform points; categorical columns get random indices."""
        x = rng.random((n, len(self.levels)))
        cat = np.flatnonzero(self.categorical)
        x[:, cat] = np.floor(x[:, cat] * self.levels[cat])
        return x

    def snap(self, x: np.ndarray) -> np.ndarray:
        """Grid columns rounded to their nearest level, continuous ones clipped to [0, 1]."""
        x = x.copy()
        relaxed = self.relaxed
        x[:, relaxed] = np.clip(x[:, relaxed], 0.0, 1.0)
        for j in np.flatnonzero(~self.categorical & (self.levels > 0)):
            steps = max(int(self.levels[j]) - 1, 1)
            x[:, j] = np.round(x[:, j] * steps) / steps if self.levels[j] > 1 else 0.0
        return x


def _local_candidates(
    columns: Columns, centres: np.ndarray, rng: np.random.Generator, per_centre: int, lengthscales: np.ndarray
) -> np.ndarray:
    """Gaussian perturbations of good points (scaled by the lengthscales), with occasional category changes."""
    if len(centres) == 0:
        return np.empty((0, len(columns.levels)))
    d = len(columns.levels)
    x = np.repeat(centres, per_centre, axis=0)
    widths = rng.choice([0.02, 0.08, 0.25], size=(len(x), 1))
    step = rng.standard_normal(x.shape) * widths * np.minimum(lengthscales, 1.0)[None, :]
    relaxed = columns.relaxed
    # move a random subset of the columns, as in TuRBO / Optuna's local search: at least one
    moved = rng.random(x.shape) < max(0.2, 1.0 / d)
    moved[np.arange(len(x)), rng.integers(0, d, len(x))] = True
    x[:, relaxed] += (step * moved)[:, relaxed]
    for j in np.flatnonzero(columns.categorical):
        change = moved[:, j] & (rng.random(len(x)) < 0.5)
        x[change, j] = rng.integers(0, columns.levels[j], int(change.sum()))
    return columns.snap(x)


def maximize_log_ei(
    gp: GaussianProcess,
    best: float,
    columns: Columns,
    rng: np.random.Generator,
    centres: np.ndarray,
    n_raw: int = 1024,
    n_starts: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates (snapped) sorted by logEI, best first, with their logEI values.

    Raw candidates (uniform points plus perturbations of ``centres``, the best observed points)
    are scored; the best ``n_starts`` are refined by L-BFGS-B on the continuous and grid columns
    (in one batched problem), then by a pass over the categories of each categorical column and
    over the neighbouring levels of each grid column.
    """
    uniform = columns.snap(columns.random(rng, n_raw))
    local = _local_candidates(columns, centres, rng, 64, gp.params.lengthscales)
    uniform_values, local_values = _score(gp, uniform, best), _score(gp, local, best)
    # starts from both pools: the acquisition is multimodal, and the best local candidates would
    # otherwise take every start from a promising region far from the data
    n_local = min(n_starts // 2, len(local))
    starts = np.vstack(
        [
            uniform[np.argsort(-uniform_values, kind="stable")[: n_starts - n_local]],
            local[np.argsort(-local_values, kind="stable")[:n_local]],
        ]
    )
    refined = _refine(gp, starts, best, columns)
    refined = _discrete_pass(gp, columns.snap(refined), best, columns)
    raw = np.vstack([uniform, local])
    order = np.argsort(-np.concatenate([uniform_values, local_values]), kind="stable")
    candidates = np.vstack([refined, raw[order[:256]]])
    values = _score(gp, candidates, best)
    order = np.argsort(-values, kind="stable")
    return candidates[order], values[order]


def _score(gp: GaussianProcess, x: np.ndarray, best: float) -> np.ndarray:
    out = np.empty(len(x))
    for start in range(0, len(x), 512):
        mean, var = gp.predict(x[start : start + 512])
        out[start : start + 512] = log_ei(mean, var, best)
    return out


def _refine(gp: GaussianProcess, starts: np.ndarray, best: float, columns: Columns) -> np.ndarray:
    """L-BFGS-B on the relaxed columns of all starts at once (the objective is a sum of independent terms)."""
    from scipy.optimize import minimize

    relaxed = columns.relaxed
    if len(relaxed) == 0:
        return starts
    m, k = len(starts), len(relaxed)
    template = starts.copy()

    def negative(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = template.copy()
        x[:, relaxed] = flat.reshape(m, k)
        value, grad = log_ei_with_gradient(gp, x, best)
        if not np.all(np.isfinite(value)):
            return 1e10, np.zeros_like(flat)
        return -float(value.sum()), -grad[:, relaxed].ravel()

    result = minimize(
        negative, starts[:, relaxed].ravel(), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * (m * k), options={"maxiter": 100}
    )
    out = starts.copy()
    if np.all(np.isfinite(result.x)):
        out[:, relaxed] = result.x.reshape(m, k)
    # keep a start where the refinement did not help (the sum may trade one start for another)
    before, after = _score(gp, starts, best), _score(gp, out, best)
    return np.where((after >= before)[:, None], out, starts)


def _discrete_pass(gp: GaussianProcess, x: np.ndarray, best: float, columns: Columns) -> np.ndarray:
    """For each point, each categorical column: its best category; each grid column: its best neighbouring level."""
    x = x.copy()
    values = _score(gp, x, best)
    for j in range(len(columns.levels)):
        if columns.categorical[j]:
            options = [np.full(len(x), float(c)) for c in range(int(columns.levels[j]))]
        elif columns.levels[j] > 1:
            step = 1.0 / (int(columns.levels[j]) - 1)
            options = [np.clip(x[:, j] - step, 0.0, 1.0), np.clip(x[:, j] + step, 0.0, 1.0)]
        else:
            continue
        for option in options:
            trial = x.copy()
            trial[:, j] = option
            trial_values = _score(gp, trial, best)
            better = trial_values > values
            x[better], values[better] = trial[better], trial_values[better]
    return x
