"""A Gaussian process on model coordinates: Matern-5/2 ARD kernel, hyperparameters by marginal likelihood.

Pure numpy/scipy. Columns are either continuous on [0, 1] (squared difference) or categorical
indices (Hamming distance: 1 when the categories differ), each with its own lengthscale.
Targets are expected standardized (mean 0, unit variance); the mean function is zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.linalg.lapack import dpotri

MIN_NOISE = 1e-6  # noise variance floor, in units of the standardized targets
MAX_FIT_POINTS = 250  # hyperparameters are fitted on at most this many points (the posterior uses all)
_JITTERS = (0.0, 1e-8, 1e-6, 1e-4)
_SQRT5 = math.sqrt(5.0)

# Bounds of the fitted hyperparameters, as logs: inverse squared lengthscales (lengthscales from
# 0.01 to 100 in unit-cube units), signal variance, noise variance.
_LOG_ISL_BOUNDS = (math.log(1e-4), math.log(1e4))
_LOG_SCALE_BOUNDS = (math.log(0.05), math.log(20.0))
_LOG_NOISE_BOUNDS = (math.log(MIN_NOISE), math.log(0.5))


def matern52(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Matern-5/2 correlation of squared scaled distances, and its derivative with respect to ``r2``."""
    r = np.sqrt(5.0 * r2)
    e = np.exp(-r)
    return (1.0 + r + (5.0 / 3.0) * r2) * e, (-5.0 / 6.0) * (1.0 + r) * e


def squared_differences(a: np.ndarray, b: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """``(len(a), len(b), d)`` per-column distances: squared for continuous columns, 0/1 for categorical ones."""
    diff = a[:, None, :] - b[None, :, :]
    out = diff * diff
    if categorical.any():
        out[..., categorical] = (out[..., categorical] > 0).astype(float)
    return out


@dataclass(frozen=True)
class Hyperparameters:
    inverse_squared_lengthscales: np.ndarray  # (d,)
    scale: float  # signal variance
    noise: float  # noise variance

    @property
    def lengthscales(self) -> np.ndarray:
        return 1.0 / np.sqrt(self.inverse_squared_lengthscales)

    @classmethod
    def from_vector(cls, theta: np.ndarray) -> Hyperparameters:
        return cls(np.exp(theta[:-2]), float(np.exp(theta[-2])), float(np.exp(theta[-1])))


class GaussianProcess:
    """A GP conditioned on ``(x, y)`` with fixed hyperparameters."""

    def __init__(self, x: np.ndarray, y: np.ndarray, categorical: np.ndarray, params: Hyperparameters) -> None:
        self.x = x
        self.y = y
        self.categorical = categorical
        self.continuous = np.flatnonzero(~categorical)
        self.params = params
        corr, _ = matern52(squared_differences(x, x, categorical) @ params.inverse_squared_lengthscales)
        k = params.scale * corr
        k[np.diag_indices_from(k)] += params.noise
        self.chol = _cholesky(k)
        self.alpha = cho_solve((self.chol, True), y)

    def with_data(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """The same hyperparameters conditioned on more points (fantasies for pending trials)."""
        return GaussianProcess(np.vstack([self.x, x]), np.concatenate([self.y, y]), self.categorical, self.params)

    def _cross(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sqd = squared_differences(xq, self.x, self.categorical)
        corr, dcorr = matern52(sqd @ self.params.inverse_squared_lengthscales)
        return sqd, self.params.scale * corr, self.params.scale * dcorr

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance (of the latent function) at ``(m, d)`` points."""
        _, kq, _ = self._cross(xq)
        mean = kq @ self.alpha
        v = solve_triangular(self.chol, kq.T, lower=True, check_finite=False)
        var = np.maximum(self.params.scale - np.einsum("nm,nm->m", v, v), 1e-12)
        return mean, var

    def predict_with_gradient(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients ``(m, d)`` with respect to the continuous columns (0 elsewhere)."""
        _, kq, dkq = self._cross(xq)
        mean = kq @ self.alpha
        kinv_kq = cho_solve((self.chol, True), kq.T, check_finite=False)  # (n, m)
        var = np.maximum(self.params.scale - np.einsum("mn,nm->m", kq, kinv_kq), 1e-12)
        grad_mean = np.zeros(xq.shape)
        grad_var = np.zeros(xq.shape)
        isl = self.params.inverse_squared_lengthscales
        for j in self.continuous:  # d k(x, X_i) / d x_j = dk/dr2 * 2 (x_j - X_ij) isl_j
            dk = dkq * (2.0 * isl[j]) * (xq[:, j : j + 1] - self.x[None, :, j])
            grad_mean[:, j] = dk @ self.alpha
            grad_var[:, j] = -2.0 * np.einsum("mn,nm->m", dk, kinv_kq)
        return mean, var, grad_mean, grad_var


def _cholesky(k: np.ndarray) -> np.ndarray:
    for jitter in _JITTERS:
        try:
            if jitter:
                k = k + jitter * np.eye(len(k))
            return cholesky(k, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("the kernel matrix is not positive definite, even with jitter")


def _negative_log_posterior(theta: np.ndarray, sqd: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus negative log prior, and its gradient in ``theta``."""
    n, d = len(y), sqd.shape[-1]
    isl = np.exp(theta[:d])
    scale, noise = math.exp(theta[d]), math.exp(theta[d + 1])
    corr, dcorr = matern52(sqd @ isl)
    k = scale * corr
    k[np.diag_indices(n)] += noise
    try:
        chol = cholesky(k, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = cho_solve((chol, True), y, check_finite=False)
    nll = 0.5 * float(y @ alpha) + float(np.log(np.diag(chol)).sum()) + 0.5 * n * math.log(2 * math.pi)
    kinv, info = dpotri(chol, lower=1)  # the lower triangle of K^-1
    if info != 0:
        return 1e25, np.zeros_like(theta)
    kinv = np.tril(kinv) + np.tril(kinv, -1).T
    w = kinv - np.outer(alpha, alpha)
    grad = np.empty_like(theta)
    grad[:d] = 0.5 * isl * ((w * (scale * dcorr)).reshape(-1) @ sqd.reshape(n * n, d))
    grad[d] = 0.5 * float(np.sum(w * (scale * corr)))
    grad[d + 1] = 0.5 * noise * float(np.trace(w))
    # Priors (as in Optuna's GP sampler): lengthscales pulled towards the size of the cube,
    # signal variance ~ Gamma(2, 1), noise variance ~ Gamma(1.1, 30) (a nearly noise-free objective).
    prior = float(np.sum(0.1 / isl + 0.1 * isl)) + (scale - math.log(scale)) + (30.0 * noise - 0.1 * math.log(noise))
    grad[:d] += -0.1 / isl + 0.1 * isl
    grad[d] += scale - 1.0
    grad[d + 1] += 30.0 * noise - 0.1
    return nll + prior, grad


def fit(
    x: np.ndarray, y: np.ndarray, categorical: np.ndarray, rng: np.random.Generator, restarts: int | None = None
) -> GaussianProcess:
    """Fit the hyperparameters by maximizing the (prior-regularized) marginal likelihood, L-BFGS-B with restarts.

    The first start is the prior's centre; ``restarts`` more are drawn from ``rng`` (by default 2 up
    to 60 points, 1 up to 120, then none: with many points the likelihood has one clear optimum).
    With more than ``MAX_FIT_POINTS`` points the fit uses the best half of them and a random half of the rest.
    """
    from scipy.optimize import minimize

    n, d = x.shape
    if restarts is None:
        restarts = 2 if n <= 60 else 1 if n <= 120 else 0
    fit_x, fit_y = x, y
    if n > MAX_FIT_POINTS:
        order = np.argsort(y, kind="stable")
        best, rest = order[: MAX_FIT_POINTS // 2], order[MAX_FIT_POINTS // 2 :]
        keep = np.concatenate([best, rng.choice(rest, MAX_FIT_POINTS - len(best), replace=False)])
        fit_x, fit_y = x[keep], y[keep]
    sqd = squared_differences(fit_x, fit_x, categorical)
    bounds = [_LOG_ISL_BOUNDS] * d + [_LOG_SCALE_BOUNDS, _LOG_NOISE_BOUNDS]
    starts = [np.concatenate([np.zeros(d), [0.0, math.log(1e-3)]])]
    for _ in range(restarts):
        starts.append(np.concatenate([rng.uniform(-2.0, 4.0, d), [rng.uniform(-1.0, 1.0), rng.uniform(-10.0, -3.0)]]))
    best_theta, best_value = starts[0], math.inf
    for theta0 in starts:
        result = minimize(
            _negative_log_posterior,
            theta0,
            args=(sqd, fit_y),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 200, "gtol": 1e-3},
        )
        if np.all(np.isfinite(result.x)) and result.fun < best_value:
            best_theta, best_value = result.x, float(result.fun)
    return GaussianProcess(x, y, categorical, Hyperparameters.from_vector(best_theta))
