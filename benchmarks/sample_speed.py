"""How fast is ``azsweep.sample``? Ratios measured in one run, against Optuna and against raw numpy.

The space has 6 parameters: 2 uniform, loguniform, quniform, a choice of 4 and randint. Compared:

* ``azsweep.sample`` of 100,000 random configurations (and the same with Sobol);
* Optuna's ``RandomSampler`` through ask/tell on an in-memory study (2,000 trials; it is about 1000x
  slower per configuration, so 100,000 would take minutes), compared per configuration;
* the same numbers drawn with raw numpy: 6 vectorised columns, no per-configuration Python objects
  (and, for reference, the same followed by the list of per-configuration dicts ``sample`` returns).

Each timing is the best of several repeats. Nothing is asserted; absolute times depend on the machine,
the ratios much less. Run: ``python benchmarks/sample_speed.py`` (about 10 s).
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import azsweep
from azsweep.api import search_space_from
from azsweep.samplers import RandomSampler
from azsweep.space import _row_builder
from azsweep.sweep import Choice, LogUniform, QUniform, Randint, RandomSamplingAlgorithm, Uniform

LR_LOW, LR_HIGH = math.log(1e-4), math.log(1e-1)  # LogUniform bounds are exponents
OPTIMIZERS = ["sgd", "adam", "rmsprop", "adagrad"]
SPACE = {
    "dropout": Uniform(0.0, 0.5),
    "momentum": Uniform(0.5, 0.99),
    "lr": LogUniform(LR_LOW, LR_HIGH),
    "batch_size": QUniform(16, 256, 16),
    "optimizer": Choice(OPTIMIZERS),
    "layers": Randint(8),
}
SEED = 12345


def best_of(repeats: int, fn: Callable[[], Any]) -> float:
    """The fastest of ``repeats`` calls, in seconds."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def azsweep_random(n: int) -> list[dict]:
    return azsweep.sample(SPACE, n, seed=SEED)


def azsweep_sobol(n: int) -> list[dict]:
    return azsweep.sample(SPACE, n, sampling_algorithm=RandomSamplingAlgorithm(rule="sobol", seed=SEED))


def raw_numpy(n: int) -> dict[str, np.ndarray]:
    """The same six distributions as vectorised numpy columns."""
    rng = np.random.default_rng(SEED)
    return {
        "dropout": rng.uniform(0.0, 0.5, n),
        "momentum": rng.uniform(0.5, 0.99, n),
        "lr": np.exp(rng.uniform(LR_LOW, LR_HIGH, n)),
        "batch_size": (np.round(rng.uniform(16, 256, n) / 16) * 16).astype(np.int64),
        "optimizer": np.array(OPTIMIZERS)[rng.integers(0, len(OPTIMIZERS), n)],
        "layers": rng.integers(0, 8, n),
    }


def raw_numpy_to_dicts(n: int) -> list[dict]:
    """Raw numpy, then the list of per-configuration dicts that ``sample`` returns: the floor for that output."""
    columns = {name: column.tolist() for name, column in raw_numpy(n).items()}
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


def optuna_ask_tell(trials: int) -> None:
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=SEED))
    for _ in range(trials):
        trial = study.ask()
        trial.suggest_float("dropout", 0.0, 0.5)
        trial.suggest_float("momentum", 0.5, 0.99)
        trial.suggest_float("lr", math.exp(LR_LOW), math.exp(LR_HIGH), log=True)
        trial.suggest_float("batch_size", 16, 256, step=16)
        trial.suggest_categorical("optimizer", OPTIMIZERS)
        trial.suggest_int("layers", 0, 7)
        study.tell(trial, 0.0)


def breakdown(n: int, repeats: int) -> dict[str, float]:
    """azsweep's random path split into its stages (seconds for n configurations)."""
    space = search_space_from(SPACE)
    sampler = RandomSampler(space, SEED)
    u = sampler.points(0, n)
    spans = []
    start = 0
    for dist in space.params.values():
        spans.append((dist, start, start + dist.dims))
        start += dist.dims

    def columns() -> list[list[Any]]:
        return [dist.from_unit(u[:, a:b]) for dist, a, b in spans]

    built = columns()
    build_rows = _row_builder(space.names)

    def rows() -> list[dict]:
        gc.disable()  # as SearchSpace.from_unit does
        try:
            return build_rows(*built)
        finally:
            gc.enable()

    return {
        "unit-cube points (PCG64)": best_of(repeats, lambda: sampler.points(0, n)),
        "transforms to value columns": best_of(repeats, columns),
        "building the per-configuration dicts": best_of(repeats, rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="configurations for azsweep and numpy (default 100,000)")
    parser.add_argument("--optuna-trials", type=int, default=2_000, help="ask/tell trials for Optuna (default 2,000)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per timing; the best counts (default 5)")
    args = parser.parse_args()
    n, trials, repeats = args.n, args.optuna_trials, args.repeats

    import optuna
    import scipy

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    # warm up: imports (scipy.stats.qmc for Sobol), caches, and a check that the outputs agree in shape
    assert len(azsweep_random(100)) == len(azsweep_sobol(100)) == 100
    assert len(raw_numpy(100)["lr"]) == 100
    optuna_ask_tell(20)

    times = {
        "azsweep.sample, random": best_of(repeats, lambda: azsweep_random(n)) / n,
        "azsweep.sample, sobol": best_of(repeats, lambda: azsweep_sobol(n)) / n,
        "raw numpy, 6 vectorised columns": best_of(repeats, lambda: raw_numpy(n)) / n,
        "raw numpy + .tolist() + dict per configuration": best_of(repeats, lambda: raw_numpy_to_dicts(n)) / n,
        f"optuna RandomSampler, ask/tell ({trials:,} trials)": best_of(max(2, repeats // 2), lambda: optuna_ask_tell(trials))
        / trials,
    }
    stages = breakdown(n, repeats)

    us = 1e6
    print(
        f"azsweep.sample speed: {n:,} configurations of a 6-parameter space "
        "(2 uniform, loguniform, quniform, choice of 4, randint)"
    )
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"optuna {optuna.__version__}, azsweep {azsweep.__version__}; best of {repeats} repeats\n"
    )
    print(f"{'':48}per configuration")
    for label, seconds in times.items():
        print(f"  {label:46}{seconds * us:10.3f} us")

    random_t = times["azsweep.sample, random"]
    optuna_t = next(v for k, v in times.items() if k.startswith("optuna"))
    numpy_t = times["raw numpy, 6 vectorised columns"]
    print("\nratios (same run)")
    print(f"  Optuna ask/tell / azsweep.sample random : {optuna_t / random_t:8.0f}x  (azsweep faster; issue asks >= 100x)")
    print(f"  azsweep.sample random / raw numpy       : {random_t / numpy_t:8.1f}x  (azsweep slower; issue asks <= 10x)")
    print(f"  azsweep.sample sobol / random           : {times['azsweep.sample, sobol'] / random_t:8.2f}x")
    floor = times["raw numpy + .tolist() + dict per configuration"]
    print(f"  azsweep.sample random / numpy + dicts   : {random_t / floor:8.2f}x  (the same list[dict] output)")

    print("\nazsweep.sample random, where the time goes (per configuration)")
    total = random_t * n
    for label, seconds in stages.items():
        print(f"  {label:46}{seconds / n * us:10.3f} us  {seconds / total:6.1%}")
    rest = max(total - sum(stages.values()), 0.0)
    print(
        f"  {'argument checks, space set-up, the rest':46}{rest / n * us:10.3f} us  {rest / total:6.1%}"
        "  (stages are timed apart, so this is approximate)"
    )
    sampling = stages["unit-cube points (PCG64)"] + stages["transforms to value columns"]
    print(
        f"  => unit-cube sampling + transforms {sampling / total:.0%}, "
        f"per-configuration dicts {stages['building the per-configuration dicts'] / total:.0%}"
    )


if __name__ == "__main__":
    main()
