"""Early-termination policies on seeded synthetic learning curves, next to Optuna's pruners.

    python benchmarks/early_termination.py [--sets 20] [--trials 50] [--intervals 20]

For each curve family, ``--sets`` seeded sets of ``--trials`` loss curves (minimize) of
``--intervals`` values each are run one trial at a time through each policy (azsweep's replay,
exactly what a live run with the policy decides) and through Optuna's MedianPruner and
SuccessiveHalvingPruner (ask / report / should_prune). Reported: the mean share of intervals
saved, and in how many sets the best trial (best value of its full curve) survived.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from azsweep.policies import RecordedTrial, make_policy, replay_curves
from azsweep.spec import Policy


def curves(family: str, seed: int, trials: int, intervals: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.arange(1, intervals + 1)
    if family == "parallel":  # the same shape, different floors: early rank = final rank
        floor = rng.uniform(0.1, 1.0, trials)[:, None]
        return floor + 1.0 * np.exp(-k / 4.0)
    if family == "noisy":  # parallel, with measurement noise
        floor = rng.uniform(0.1, 1.0, trials)[:, None]
        return floor + 1.0 * np.exp(-k / 4.0) + rng.normal(0, 0.08, (trials, intervals))
    if family == "crossing":  # good configurations converge slowly: early leaders end worse
        floor = rng.uniform(0.1, 1.0, trials)
        tau = 1.0 + 9.0 * (1.0 - (floor - 0.1) / 0.9) + rng.uniform(-0.5, 0.5, trials)
        start = rng.uniform(1.8, 2.2, trials)
        return floor[:, None] + (start - floor)[:, None] * np.exp(-k[None, :] / tau[:, None])
    raise ValueError(family)


POLICIES = {
    "bandit s=0.1 d=5": Policy("bandit", 1, 5, slack_factor=0.1),
    "bandit s=0.3 d=5": Policy("bandit", 1, 5, slack_factor=0.3),
    "median_stopping d=5": Policy("median_stopping", 1, 5),
    "median_stopping d=0": Policy("median_stopping", 1, 0),
    "truncation 20% d=5": Policy("truncation_selection", 1, 5, truncation_percentage=20),
}


def run_azsweep(config: Policy, data: np.ndarray) -> tuple[float, bool]:
    trials = []
    clock = 0.0
    for i, row in enumerate(data):
        stamps = tuple(clock + j for j in range(len(row)))
        clock += len(row) + 1
        trials.append(RecordedTrial(f"t{i}", i, tuple(float(v) for v in row), stamps))
    result = replay_curves(trials, make_policy(config, maximize=False))
    return result.share_saved, result.best_survived


def run_optuna(pruner_name: str, data: np.ndarray) -> tuple[float, bool]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner() if pruner_name == "median" else optuna.pruners.SuccessiveHalvingPruner()
    study = optuna.create_study(direction="minimize", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    used = 0
    stopped = set()
    for i, row in enumerate(data):
        trial = study.ask()
        for step, value in enumerate(row, start=1):
            trial.report(float(value), step)
            used += 1
            if trial.should_prune():
                stopped.add(i)
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, float(row[-1]))
    best = int(np.argmin(data.min(axis=1)))
    return 1.0 - used / data.size, best not in stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", type=int, default=20)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--intervals", type=int, default=20)
    args = parser.parse_args()
    runners = {name: (lambda d, c=config: run_azsweep(c, d)) for name, config in POLICIES.items()}
    runners["optuna MedianPruner (default)"] = lambda d: run_optuna("median", d)
    runners["optuna SuccessiveHalving (default)"] = lambda d: run_optuna("sha", d)
    print(f"{args.sets} sets x {args.trials} trials x {args.intervals} intervals per family, minimize, one trial at a time")
    print("| family | policy | intervals saved (mean) | best trial survived |")
    print("|---|---|---|---|")
    for family in ("parallel", "noisy", "crossing"):
        for name, run in runners.items():
            saved, kept = [], 0
            for s in range(args.sets):
                share, survived = run(curves(family, 1000 + s, args.trials, args.intervals))
                saved.append(share)
                kept += survived
            print(f"| {family} | {name} | {math.fsum(saved) / len(saved):.0%} | {kept} of {args.sets} |")


if __name__ == "__main__":
    main()
