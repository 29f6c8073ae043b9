"""The compared optimizers, each run on a problem for one seed: ``run(method, problem, seed, budget) -> Run``.

All see the same search space (uniform -> a float range, quniform -> integers on the q grid, choice ->
a categorical) and minimize the same function, one trial at a time, except ``azsweep-bayesian-c4``,
which keeps 4 trials running: it asks with the running trials pending and tells results as they
finish (simulated durations drawn from the seed, so trials finish out of order).
"""

from __future__ import annotations

import heapq
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from problems import Problem

import azsweep
from azsweep.api import search_space_from
from azsweep.samplers import BayesianSampler, Observation, SamplerNote
from azsweep.space import Choice, Continuous

METHODS = (
    "azsweep-bayesian",
    "azsweep-bayesian-c4",
    "azsweep-random",
    "azsweep-sobol",
    "optuna-tpe",
    "optuna-tpe-mv",
    "optuna-gp",
    "hyperopt-tpe",
)


@dataclass
class Run:
    values: list[float]  # in trial (proposal) order
    sampler_seconds: float  # time spent outside the objective


class _Timed:
    """Wraps the objective to subtract its time from the total."""

    def __init__(self, fn: Callable[[dict[str, Any]], float]) -> None:
        self.fn = fn
        self.seconds = 0.0

    def __call__(self, params: dict[str, Any]) -> float:
        start = time.perf_counter()
        try:
            return self.fn(params)
        finally:
            self.seconds += time.perf_counter() - start


def run(method: str, problem: Problem, seed: int, budget: int) -> Run:
    runner = _RUNNERS[method]
    fn = _Timed(problem.fn)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = runner(problem, fn, seed, budget)
    return Run(values=[float(v) for v in values], sampler_seconds=time.perf_counter() - start - fn.seconds)


# --- azsweep ------------------------------------------------------------------------------------


def _azsweep(algorithm: str) -> Callable[..., list[float]]:
    def go(problem: Problem, fn: _Timed, seed: int, budget: int) -> list[float]:
        result = azsweep.optimize(
            fn, search_space=problem.space, goal="minimize", sampling_algorithm=algorithm, max_total_trials=budget, seed=seed
        )
        return [t.value for t in result.trials]

    return go


def _azsweep_concurrent(problem: Problem, fn: _Timed, seed: int, budget: int, workers: int = 4) -> list[float]:
    warnings.simplefilter("ignore", SamplerNote)
    sampler = BayesianSampler(search_space_from(problem.space), seed, maximize=False)
    durations = np.random.default_rng([seed, 4242])
    history: list[Observation] = []
    running: list[tuple[float, int]] = []
    now = 0.0
    values: list[float] = [float("nan")] * budget
    while len(history) < budget or running:
        while len(history) < budget and len(running) < workers:
            params = sampler.ask(history, 1)[0]
            heapq.heappush(running, (now + float(durations.uniform(0.5, 1.5)), len(history)))
            history.append(Observation(params=params, value=None, state="running"))
        now, index = heapq.heappop(running)
        value = fn(dict(history[index].params))
        history[index] = Observation(params=history[index].params, value=value, state="completed")
        values[index] = value
    return values


# --- Optuna -------------------------------------------------------------------------------------


def _optuna_suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, dist in search_space_from(space).params.items():
        if isinstance(dist, Choice):
            params[name] = trial.suggest_categorical(name, list(dist.values))
        elif isinstance(dist, Continuous) and dist.q is not None:
            q = int(dist.q)
            params[name] = trial.suggest_int(name, int(round(dist.a / q)) * q, int(round(dist.b / q)) * q, step=q)
        else:
            params[name] = trial.suggest_float(name, dist.a, dist.b)
    return params


def _optuna(make: Callable[[int], Any]) -> Callable[..., list[float]]:
    def go(problem: Problem, fn: _Timed, seed: int, budget: int) -> list[float]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(sampler=make(seed), direction="minimize")
        study.optimize(lambda trial: fn(_optuna_suggest(trial, problem.space)), n_trials=budget)
        return [t.value for t in study.trials]

    return go


def _tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def _tpe_multivariate(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, multivariate=True)


def _gp(seed: int) -> Any:
    import optuna
    import torch

    torch.set_num_threads(1)
    return optuna.samplers.GPSampler(seed=seed)


# --- Hyperopt -----------------------------------------------------------------------------------


def hyperopt_space(space: dict[str, Any]) -> tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    """A hyperopt space for an azsweep one, and a function turning hyperopt's values into azsweep's."""
    from hyperopt import hp

    out: dict[str, Any] = {}
    integral: list[str] = []
    for name, dist in search_space_from(space).params.items():
        if isinstance(dist, Choice):
            out[name] = hp.choice(name, list(dist.values))
        elif isinstance(dist, Continuous) and dist.q is not None:
            out[name] = hp.quniform(name, dist.a, dist.b, dist.q)  # Azure's quniform is hyperopt's
            if dist.integral:
                integral.append(name)
        else:
            out[name] = hp.uniform(name, dist.a, dist.b)

    def convert(values: dict[str, Any]) -> dict[str, Any]:
        return {k: int(round(v)) if k in integral else v for k, v in values.items()}

    return out, convert


def _hyperopt(problem: Problem, fn: _Timed, seed: int, budget: int) -> list[float]:
    from hyperopt import Trials, fmin, tpe

    space, convert = hyperopt_space(problem.space)
    trials = Trials()
    fmin(
        lambda p: fn(convert(p)),
        space,
        algo=tpe.suggest,
        max_evals=budget,
        trials=trials,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )
    return list(trials.losses())


_RUNNERS: dict[str, Callable[..., list[float]]] = {
    "azsweep-bayesian": _azsweep("bayesian"),
    "azsweep-bayesian-c4": _azsweep_concurrent,
    "azsweep-random": _azsweep("random"),
    "azsweep-sobol": _azsweep("sobol"),
    "optuna-tpe": _optuna(_tpe),
    "optuna-tpe-mv": _optuna(_tpe_multivariate),
    "optuna-gp": _optuna(_gp),
    "hyperopt-tpe": _hyperopt,
}
