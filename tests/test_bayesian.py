"""Bayesian sampling: better than random search, inside the domain, distinct under concurrency, reproducible, robust."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.stats import binomtest, norm

import azsweep
from azsweep import sweep
from azsweep.api import search_space_from
from azsweep.errors import InvalidValue
from azsweep.samplers import BayesianSampler, Observation, SamplerNote, SobolSampler, make_sampler
from azsweep.samplers._acquisition import log_ei_with_gradient, log_h
from azsweep.samplers._bayesian import warp
from azsweep.samplers._gp import _negative_log_posterior, fit, squared_differences
from azsweep.spec import Algorithm

MIXED = {
    "lr": sweep.Uniform(-1.5, 2.5),
    "batch": sweep.QUniform(16, 250, 16),  # 16 .. 256 by 16 (250 / 16 rounds to 16)
    "odd": sweep.QUniform(1, 11, 4),  # {0, 4, 8, 12}: quniform is round(U(1, 11) / 4) * 4, not clipped
    "width": sweep.Choice([64, 16, 32]),
    "opt": sweep.Choice(["sgd", "adam", "rmsprop"]),
}


def branin(p: dict) -> float:
    x1, x2 = p["x1"], p["x2"]
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def mixed_objective(p: dict) -> float:
    """Smooth in lr, batch and width; a categorical offset for opt."""
    return (
        (p["lr"] - 0.7) ** 2
        + ((p["batch"] - 96) / 64) ** 2
        + 0.3 * abs(p["odd"] - 8) / 4
        + {16: 0.5, 32: 0.0, 64: 0.4}[p["width"]]
        + {"sgd": 0.6, "adam": 0.0, "rmsprop": 0.3}[p["opt"]]
    )


def sphere4(p: dict) -> float:
    return sum((p[f"x{i}"] - 0.3 * i) ** 2 for i in range(4))


PROBLEMS = {
    "branin": ({"x1": sweep.Uniform(-5, 10), "x2": sweep.Uniform(0, 15)}, branin, 0.397887),
    "mixed": (MIXED, mixed_objective, 0.0),
    "sphere4": ({f"x{i}": sweep.Uniform(-2, 2) for i in range(4)}, sphere4, 0.0),
}


def run(space: dict, fn, algorithm: str, seed: int, budget: int, goal: str = "minimize") -> azsweep.OptimizeResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerNote)  # a clean run never falls back
        return azsweep.optimize(
            fn, search_space=space, goal=goal, sampling_algorithm=algorithm, max_total_trials=budget, seed=seed
        )


def sampler_for(space: dict, seed: int = 0, **kwargs) -> BayesianSampler:
    return BayesianSampler(search_space_from(space), seed, **kwargs)


def finished(configs: list[dict], fn) -> list[Observation]:
    return [Observation(params=c, value=fn(c), state="completed") for c in configs]


# --- quality --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_beats_random_search_clearly_on_cheap_functions():
    """Same budget, same seeds: Bayesian wins nearly every paired run, and its median regret is far lower."""
    wins, pairs = 0, 0
    for space, fn, optimum in PROBLEMS.values():
        ours, random = [], []
        for seed in range(5):
            ours.append(run(space, fn, "bayesian", seed, 25).best_value - optimum)
            random.append(run(space, fn, "random", seed, 25).best_value - optimum)
        wins += sum(o < r for o, r in zip(ours, random))
        pairs += len(ours)
        assert np.median(ours) < 0.25 * np.median(random)
    # a sign test: under "no better than random", this many wins has probability < 0.1%
    assert binomtest(wins, pairs, 0.5, alternative="greater").pvalue < 0.001


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_a_branin_minimum_within_25_trials(seed):
    result = run(PROBLEMS["branin"][0], branin, "bayesian", seed=seed, budget=25)
    values = [t.value for t in result.trials]
    assert min(values[:5]) > 5  # the Sobol design alone is far from the optimum
    assert result.best_value < 0.40  # optimum 0.397887


def test_no_trial_is_spent_next_to_one_already_tried():
    # seed 3 meets Branin's x1 = 10 boundary near a minimum: the model is sure of itself there and
    # EI would chase tiny improvements at almost the same point; every proposal keeps its distance
    result = run(PROBLEMS["branin"][0], branin, "bayesian", seed=3, budget=30)
    unit = np.array([[(t.params["x1"] + 5) / 15, t.params["x2"] / 15] for t in result.trials])
    for i in range(5, len(unit)):
        assert np.min(np.linalg.norm(unit[:i] - unit[i], axis=1)) >= 1e-3


def test_maximize_is_the_mirror_of_minimize():
    space, fn, _ = PROBLEMS["sphere4"]
    low = run(space, fn, "bayesian", 1, 20)
    high = run(space, lambda p: -fn(p), "bayesian", 1, 20, goal="maximize")
    assert [t.params for t in low.trials] == [t.params for t in high.trials]
    assert high.best_value == -low.best_value


# --- domain ---------------------------------------------------------------------------------------


def test_every_proposal_is_in_its_distribution_domain():
    result = run(MIXED, mixed_objective, "bayesian", 0, 30)
    assert {t.params["opt"] for t in result.trials} == {"sgd", "adam", "rmsprop"}  # every category is tried
    for trial in result.trials:
        p = trial.params
        assert isinstance(p["lr"], float) and -1.5 <= p["lr"] <= 2.5
        assert type(p["batch"]) is int and p["batch"] in range(16, 257, 16)
        assert type(p["odd"]) is int and p["odd"] in (0, 4, 8, 12)
        assert type(p["width"]) is int and p["width"] in (16, 32, 64)
        assert p["opt"] in ("sgd", "adam", "rmsprop")
    assert result.best_value < 0.2  # and it optimizes over the mixed space


def test_a_fractional_q_stays_on_its_grid_as_floats():
    # validation refuses it for Azure's Bayesian sampling; the sampler itself still stays on the grid
    space = {"x": sweep.QUniform(0, 1, 0.25), "y": sweep.Uniform(0, 1)}
    sampler = sampler_for(space, seed=2)
    history = finished(SobolSampler(search_space_from(space), 2).ask([], 8), lambda p: (p["x"] - 0.5) ** 2 + p["y"])
    for config in sampler.ask(history, 3):
        assert isinstance(config["x"], float) and config["x"] in (0.0, 0.25, 0.5, 0.75, 1.0)


def test_unsupported_distributions_are_refused_naming_the_parameter():
    with pytest.raises(InvalidValue) as info:
        BayesianSampler(search_space_from({"lr": sweep.LogUniform(-3, -1)}), 0)
    assert info.value.path == "search_space.lr" and "loguniform" in str(info.value)


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_proposals_are_distinct_and_spread():
    space, fn, _ = PROBLEMS["branin"]
    sampler = sampler_for(space, seed=5)
    history = finished(sampler.ask([], 12), fn)
    batch = sampler.ask(history, 4)
    keys = {tuple(c.values()) for c in batch}
    assert len(keys) == 4
    points = np.array([[c["x1"] / 15, c["x2"] / 15] for c in batch])
    gaps = [np.linalg.norm(a - b) for i, a in enumerate(points) for b in points[i + 1 :]]
    assert min(gaps) > 0.01  # the believer pushes the next proposal away from the running ones


def test_asking_in_a_batch_equals_asking_one_at_a_time_with_running_trials():
    space, fn, _ = PROBLEMS["sphere4"]
    sampler = sampler_for(space, seed=11)
    history = finished(sampler.ask([], 10), fn)
    batch = sampler.ask(history, 3)
    one_by_one = list(history)
    for _ in range(3):
        config = sampler_for(space, seed=11).ask(one_by_one, 1)[0]
        one_by_one.append(Observation(params=config, value=None, state="running"))
    assert [o.params for o in one_by_one[10:]] == batch


def test_a_finite_space_never_proposes_a_running_configuration_twice():
    space = {"a": sweep.Choice([1, 2, 3]), "b": sweep.Choice(["x", "y"])}
    sampler = sampler_for(space, seed=0)
    fn = lambda p: p["a"] + (p["b"] == "y")  # noqa: E731
    history = finished([{"a": 1, "b": "x"}, {"a": 3, "b": "y"}, {"a": 2, "b": "x"}, {"a": 1, "b": "y"}, {"a": 3, "b": "x"}], fn)
    history += [Observation(params=c, value=None, state="running") for c in ({"a": 2, "b": "y"},)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerNote)
        proposals = sampler.ask(history, 5)
    # six configurations, five running at the end: each new one differs from those still running
    running = [{"a": 2, "b": "y"}]
    for config in proposals:
        assert config not in running
        running.append(config)
    assert len({tuple(c.values()) for c in proposals}) == 5


def test_when_every_configuration_is_running_it_says_so_and_still_answers():
    space = {"a": sweep.Choice([1, 2])}
    sampler = sampler_for(space, seed=0)
    history = finished([{"a": 1}, {"a": 2}, {"a": 1}], lambda p: p["a"])
    history += [Observation(params={"a": a}, value=None, state="running") for a in (1, 2)]
    with pytest.warns(SamplerNote, match="already running"):
        (proposal,) = sampler.ask(history, 1)
    assert proposal["a"] in (1, 2) and sampler.notes


# --- reproducibility ------------------------------------------------------------------------------

_CHILD = """
import json, math, sys
from azsweep.api import search_space_from
from azsweep.samplers import BayesianSampler, Observation
from azsweep import sweep
space = search_space_from({"x1": sweep.Uniform(-5, 10), "x2": sweep.Uniform(0, 15), "c": sweep.Choice(["a", "b"]),
                           "q": sweep.QUniform(0, 20, 2)})
history = [Observation(params=o["params"], value=o["value"], state=o["state"]) for o in json.loads(sys.argv[1])]
print(json.dumps(BayesianSampler(space, 77).ask(history, 2)))
"""


def test_same_seed_and_results_give_the_same_proposals_in_a_fresh_process():
    space = {
        "x1": sweep.Uniform(-5, 10),
        "x2": sweep.Uniform(0, 15),
        "c": sweep.Choice(["a", "b"]),
        "q": sweep.QUniform(0, 20, 2),
    }
    fn = lambda p: branin(p) + (p["c"] == "b") + p["q"] / 10  # noqa: E731
    sampler = sampler_for(space, seed=77)
    history: list[Observation] = []
    for _ in range(14):
        config = sampler.ask(history, 1)[0]
        history.append(Observation(params=config, value=fn(config), state="completed"))
    history.append(Observation(params=history[-1].params, value=None, state="running"))
    here = sampler_for(space, seed=77).ask(history, 2)
    wire = json.dumps([{"params": o.params, "value": o.value, "state": o.state} for o in history])
    out = subprocess.run([sys.executable, "-c", _CHILD, wire], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == here
    assert sampler_for(space, seed=78).ask(history, 2) != here


def test_the_proposal_depends_on_the_history_not_on_how_often_ask_was_called():
    space, fn, _ = PROBLEMS["branin"]
    history = finished(SobolSampler(search_space_from(space), 4).ask([], 9), fn)
    sampler = sampler_for(space, seed=4)
    first = sampler.ask(history, 1)
    sampler.ask(history[:5], 3)
    sampler.ask(history, 2)
    assert sampler.ask(history, 1) == first


def test_sample_gives_the_space_filling_design_and_the_cli_agrees(capsys):
    space = {"x": sweep.Uniform(0, 1), "y": sweep.Choice([1, 2, 3]), "z": sweep.QUniform(0, 10, 1)}
    first = azsweep.sample(space, 6, sampling_algorithm="bayesian", seed=3)
    assert first == azsweep.sample(space, 6, sampling_algorithm="sobol", seed=3)
    assert first == azsweep.sample(space, 6, sampling_algorithm=sweep.BayesianSamplingAlgorithm(), seed=3)
    assert isinstance(make_sampler(Algorithm("bayesian", seed=1), search_space_from(space)), BayesianSampler)


# --- robustness -----------------------------------------------------------------------------------


def _fresh_history(n: int = 8) -> list[dict]:
    return SobolSampler(search_space_from(PROBLEMS["branin"][0]), 9).ask([], n)


@pytest.mark.parametrize(
    "values, note",
    [
        ([None] * 8, "finite value"),  # every trial failed or logged nothing
        ([2.5] * 8, "same value"),  # constant results
        ([1.0, math.inf, 3.0, -math.inf, 2.0, 1e300, -1e300, 5.0], "infinite"),
        ([1.0, None, 3.0, None, 2.0, 1e300, 7.0, 5.0], "failed or metric-less"),
        ([float("nan"), 1.0, 2.0, 3.0, 1e-300, 4.0, 2.0, 0.5], "failed or metric-less"),  # NaN is no value
        ([0.5, 1.0, 2.0, 3.0, 1e-300, 4.0, 2.0, 7.0], None),
    ],
)
def test_odd_results_never_crash_or_stall_and_the_fallback_is_explained(values, note):
    space = PROBLEMS["branin"][0]
    sampler = sampler_for(space, seed=9, n_initial=5)
    configs = _fresh_history()
    history = [Observation(params=c, value=v, state="failed" if v is None else "completed") for c, v in zip(configs, values)]
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proposals = sampler.ask(history, 3)
    assert time.perf_counter() - start < 5
    assert len({tuple(p.values()) for p in proposals}) == 3
    assert all(-5 <= p["x1"] <= 10 and 0 <= p["x2"] <= 15 for p in proposals)
    messages = [str(w.message) for w in caught if issubclass(w.category, SamplerNote)]
    if note is None:
        assert not messages and not sampler.notes
    else:
        assert any(note in m for m in messages) and any(note in m for m in sampler.notes)


def test_duplicate_results_and_failures_in_one_spot_do_not_stall_the_search():
    space, fn, _ = PROBLEMS["branin"]
    sampler = sampler_for(space, seed=1, n_initial=4)
    same = {"x1": 1.0, "x2": 2.0}
    history = [Observation(params=same, value=7.0, state="completed") for _ in range(6)]
    history += [Observation(params={"x1": 9.0, "x2": 14.0}, value=None, state="failed") for _ in range(3)]
    history += finished([{"x1": -3.0, "x2": 12.0}, {"x1": 3.0, "x2": 3.0}], fn)
    seen = set()
    for _ in range(6):  # a failing spot is modelled as bad: the sampler moves on instead of retrying it
        with pytest.warns(SamplerNote, match="failed or metric-less"):
            config = sampler.ask(history, 1)[0]
        key = (config["x1"], config["x2"])
        assert key not in seen and key != (9.0, 14.0)
        seen.add(key)
        value = None if config["x1"] > 8 else fn(config)
        history.append(Observation(params=config, value=value, state="failed" if value is None else "completed"))


def test_running_trials_with_partial_values_and_unknown_params_are_handled():
    space, fn, _ = PROBLEMS["branin"]
    sampler = sampler_for(space, seed=2)
    history = finished(_fresh_history(10), fn)
    history.append(Observation(params=history[0].params, value=3.0, state="running"))  # best-so-far of a running trial
    history.append(Observation(params={"x1": 1.0}, value=1.0, state="completed"))  # a parameter missing
    history.append(Observation(params={"x1": 1.0, "x2": 2.0}, value=None, state="canceled"))
    with pytest.warns(SamplerNote, match="outside the search space"):
        (config,) = sampler.ask(history, 1)
    assert config != history[0].params


def test_warp_tames_heavy_tails_keeps_the_order_and_survives_extremes():
    losses = np.array([1.0, 2.0, 3.0, 4.0, 1e6, 1e300])
    y = warp(losses)
    assert y is not None and np.all(np.isfinite(y)) and np.all(np.diff(y) > 0)
    assert y[-1] - y[-2] < 3  # the huge values do not squash the others together
    assert abs(y.mean()) < 1e-12 and abs(y.std() - 1) < 1e-12
    assert warp(np.full(5, 3.0)) is None


# --- numerics -------------------------------------------------------------------------------------


def test_log_h_matches_the_closed_form_and_stays_finite_far_away():
    z = np.array([-5.0, -2.0, -1.0, -0.5, 0.0, 1.0, 4.0])
    assert np.allclose(log_h(z), np.log(norm.pdf(z) + z * norm.cdf(z)), rtol=1e-10, atol=1e-12)
    far = log_h(np.array([-40.0, -1e3, -1e10]))
    assert np.all(np.isfinite(far)) and np.all(np.diff(far) < 0)


def test_gradients_of_the_likelihood_and_of_log_ei_match_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.random((25, 3))
    x[:, 2] = rng.integers(0, 3, 25)
    categorical = np.array([False, False, True])
    y = np.sin(5 * x[:, 0]) + x[:, 1] ** 2 + 0.3 * x[:, 2]
    y = (y - y.mean()) / y.std()
    sqd = squared_differences(x, x, categorical)
    theta = np.array([0.3, -0.5, 0.2, 0.1, -4.0])
    value, grad = _negative_log_posterior(theta, sqd, y)
    numeric = approx_fprime(theta, lambda t: _negative_log_posterior(t, sqd, y)[0], 1e-6)
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-3)
    gp = fit(x, y, categorical, rng)
    point = np.array([[0.3, 0.6, 1.0]])
    _, grad = log_ei_with_gradient(gp, point, float(y.min()))
    numeric = approx_fprime(point[0], lambda p: log_ei_with_gradient(gp, p[None], float(y.min()))[0][0], 1e-7)
    assert np.allclose(grad[0, :2], numeric[:2], rtol=1e-3, atol=1e-4) and grad[0, 2] == 0


# --- speed ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_one_proposal_after_200_trials_in_six_dimensions_takes_well_under_a_second():
    space = {f"x{i}": sweep.Uniform(0, 1) for i in range(6)}
    configs = SobolSampler(search_space_from(space), 1).ask([], 200)
    history = finished(configs, lambda p: sum((p[f"x{i}"] - 0.1 * i) ** 2 for i in range(6)))
    times = []
    for seed in range(3):
        start = time.perf_counter()
        sampler_for(space, seed=seed).ask(history, 1)
        times.append(time.perf_counter() - start)
    assert min(times) < 1.0


# --- end to end -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_bayesian_sweep_runs_end_to_end_through_real_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import yaml

    from azsweep.cli import main
    from azsweep.runner import SweepFolder, SweepRecord

    monkeypatch.setenv("AZSWEEP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(
        "import sys, mlflow\n"
        "x, k = float(sys.argv[1]), sys.argv[2]\n"
        "mlflow.log_metric('loss', (x - 0.3) ** 2 + (0.5 if k == 'b' else 0.0))\n"
    )
    (tmp_path / "sweep.yml").write_text(
        yaml.safe_dump(
            {
                "type": "sweep",
                "trial": {
                    "code": "src",
                    "command": "python train.py ${{search_space.x}} ${{search_space.k}}",
                    "environment": "azureml:env@latest",
                },
                "sampling_algorithm": "bayesian",  # Azure's Bayesian sampling takes no seed: one is drawn and recorded
                "search_space": {
                    "x": {"type": "uniform", "min_value": 0, "max_value": 1},
                    "k": {"type": "choice", "values": ["a", "b"]},
                },
                "objective": {"goal": "minimize", "primary_metric": "loss"},
                "limits": {"max_total_trials": 7, "max_concurrent_trials": 2},
            },
            sort_keys=False,
        )
    )
    assert main(["run", str(tmp_path / "sweep.yml"), "--name", "bayes-e2e", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    record = SweepRecord.load(SweepFolder(tmp_path / "home", "bayes-e2e"))
    assert record is not None
    assert record.algorithm == "bayesian" and record.seed is not None
    assert [t.status for t in record.trials] == ["Completed"] * 7
    assert summary["best_score"] == min(t.score for t in record.trials)
    # the first five are the Sobol design, the last two model proposals (made while another trial ran)
    space = search_space_from({"x": sweep.Uniform(0, 1), "k": sweep.Choice(["a", "b"])})
    design = SobolSampler(space, record.seed).ask([], 5)
    assert [t.params for t in record.trials[:5]] == design
    assert len({json.dumps(t.params, sort_keys=True) for t in record.trials}) == 7
