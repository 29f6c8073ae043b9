"""Time of one proposal after 200 finished trials in a 6-parameter space, every sampler measured in the same run.

Each repeat builds a fresh sampler (no state carried over) holding the same 200 finished trials of
Hartmann6 on six ``uniform(0, 1)`` parameters, and times one proposal: ``BayesianSampler.ask``,
Optuna's ``study.ask`` (GPSampler and TPE), Hyperopt's ``fmin`` going from 200 to 201 trials. The
median of the repeats is reported. Also: the mixed 6-parameter space (4 uniform, quniform, choice).
"""

from __future__ import annotations

import statistics
import time
import warnings
from typing import Any

import numpy as np
from problems import hartmann6

from azsweep.api import search_space_from
from azsweep.samplers import BayesianSampler, Observation
from azsweep.sweep import Choice, QUniform, Uniform

N_TRIALS = 200
UNIFORM_SPACE = {f"x{i}": Uniform(0, 1) for i in range(6)}
MIXED_SPACE = {
    "x0": Uniform(0, 1),
    "x1": Uniform(0, 1),
    "x2": Uniform(0, 1),
    "x3": Uniform(0, 1),
    "x4": QUniform(0, 10, 1),
    "x5": Choice(["a", "b", "c", "d"]),
}
_LEVELS = {"a": 0.15, "b": 0.45, "c": 0.65, "d": 0.9}


def _value(p: dict[str, Any]) -> float:
    x = [p[f"x{i}"] for i in range(4)] + [p["x4"] / 10 if isinstance(p["x4"], int) else p["x4"], _LEVELS.get(p["x5"], p["x5"])]
    return hartmann6(np.array(x, dtype=float))


def _trials(space: dict[str, Any]) -> list[dict[str, Any]]:
    from azsweep.samplers import RandomSampler

    return RandomSampler(search_space_from(space), 12345).ask([], N_TRIALS)


def _median_ms(times: list[float]) -> float:
    return round(1000 * statistics.median(times), 1)


def time_azsweep(space: dict[str, Any], configs: list[dict[str, Any]], repeats: int) -> float:
    history = [Observation(params=c, value=_value(c), state="completed") for c in configs]
    times = []
    for r in range(repeats):
        sampler = BayesianSampler(search_space_from(space), seed=r)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sampler.ask(history, 1)
        times.append(time.perf_counter() - start)
    return _median_ms(times)


def _optuna_distributions(space: dict[str, Any]) -> dict[str, Any]:
    import optuna

    out = {}
    for name, dist in search_space_from(space).params.items():
        if dist.wire_type == "choice":
            out[name] = optuna.distributions.CategoricalDistribution(list(dist.values))
        elif dist.q is not None:
            out[name] = optuna.distributions.IntDistribution(int(dist.a), int(dist.b), step=int(dist.q))
        else:
            out[name] = optuna.distributions.FloatDistribution(dist.a, dist.b)
    return out


def time_optuna(kind: str, space: dict[str, Any], configs: list[dict[str, Any]], repeats: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    distributions = _optuna_distributions(space)
    frozen = [optuna.trial.create_trial(params=c, distributions=distributions, value=_value(c)) for c in configs]
    times = []
    for r in range(repeats):
        if kind == "gp":
            import torch

            torch.set_num_threads(1)
            sampler = optuna.samplers.GPSampler(seed=r)
        else:
            sampler = optuna.samplers.TPESampler(seed=r)
        study = optuna.create_study(sampler=sampler)
        study.add_trials(frozen)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            study.ask(distributions)
            times.append(time.perf_counter() - start)
    return _median_ms(times)


def time_hyperopt(space: dict[str, Any], configs: list[dict[str, Any]], repeats: int) -> float:
    from hyperopt import Trials, fmin, rand, tpe
    from methods import hyperopt_space

    hspace, convert = hyperopt_space(space)
    times = []
    for r in range(repeats):
        trials = Trials()
        # 200 random trials first (hyperopt cannot be handed arbitrary finished trials simply)
        fmin(
            lambda p: _value(convert(p)),
            hspace,
            algo=rand.suggest,
            max_evals=N_TRIALS,
            trials=trials,
            rstate=np.random.default_rng(r),
            show_progressbar=False,
        )
        start = time.perf_counter()
        fmin(
            lambda p: _value(convert(p)),
            hspace,
            algo=tpe.suggest,
            max_evals=N_TRIALS + 1,
            trials=trials,
            rstate=np.random.default_rng(r),
            show_progressbar=False,
        )
        times.append(time.perf_counter() - start)
    return _median_ms(times)


def measure(repeats: int = 7) -> dict[str, Any]:
    """Median milliseconds per proposal for each sampler and space, and a markdown table of them."""
    out: dict[str, Any] = {"trials": N_TRIALS, "repeats": repeats, "ms": {}}
    for label, space in (("6 uniform", UNIFORM_SPACE), ("4 uniform + quniform + choice", MIXED_SPACE)):
        configs = _trials(space)
        row = {
            "azsweep bayesian": time_azsweep(space, configs, repeats),
            "Optuna GPSampler": time_optuna("gp", space, configs, repeats),
            "Optuna TPE": time_optuna("tpe", space, configs, repeats),
            "Hyperopt TPE": time_hyperopt(space, configs, repeats),
        }
        out["ms"][label] = row
        print(
            f"one proposal after {N_TRIALS} trials, {label}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in row.items()), flush=True
        )
    samplers = list(next(iter(out["ms"].values())))
    lines = [
        f"**Time of one proposal after {N_TRIALS} finished trials** (median of {repeats} fresh samplers, ms, "
        "one thread, measured in the same run)\n",
        "| space | " + " | ".join(samplers) + " |",
        "|---" * (len(samplers) + 1) + "|",
    ]
    for label, row in out["ms"].items():
        lines.append(f"| {label} | " + " | ".join(f"{row[s]:.0f}" for s in samplers) + " |")
    out["markdown"] = "\n".join(lines) + "\n"
    return out
