"""azsweep.optimize: the sweep samplers driving an in-process callable."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import numpy as np
import pytest

import azsweep
from azsweep.errors import DefinitionError, InvalidValue, SweepFailed
from azsweep.optimization import OptimizeResult, TrialResult, optimize
from azsweep.sweep import Choice, RandomSamplingAlgorithm, Uniform

SPACE_2D = {"x": Uniform(-1, 1), "y": Uniform(-1, 1)}
OPTIMUM = (0.3, -0.2)


def quadratic(params: dict) -> float:
    return (params["x"] - OPTIMUM[0]) ** 2 + (params["y"] - OPTIMUM[1]) ** 2


def test_exported_lazily_and_not_shadowed_by_the_module():
    assert azsweep.optimize is optimize  # `azsweep.optimization` was imported above: the name still means the function


def test_quadratic_reaches_what_random_search_reaches_with_that_seed():
    seed, budget = 123, 64
    result = optimize(quadratic, search_space=SPACE_2D, goal="minimize", max_total_trials=budget, seed=seed)

    # Independent random search at the same budget: `budget` uniform points on [-1, 1]^2 from numpy's PCG64.
    points = -1 + 2 * np.random.default_rng(seed).random((budget, 2))
    reference = float(np.min(np.sum((points - np.array(OPTIMUM)) ** 2, axis=1)))
    assert result.best_value <= reference + 1e-12
    # Analytic bound for any seed: P(no point within r of the optimum) = (1 - pi r^2 / 4) ** budget < 1e-6.
    r_squared = 4 * (1 - 1e-6 ** (1 / budget)) / math.pi
    assert result.best_value < r_squared
    assert result.best_value == pytest.approx(quadratic(result.best_params))
    assert result.trials[result.best_trial].params == result.best_params
    assert len(result.trials) == budget and all(t.state == "completed" for t in result.trials)


def test_sobol_from_an_azure_algorithm_object():
    result = optimize(
        quadratic,
        search_space=SPACE_2D,
        goal="minimize",
        max_total_trials=32,
        sampling_algorithm=RandomSamplingAlgorithm(rule="sobol", seed=5),
    )
    assert result.seed == 5
    assert result.best_value < 4 * (1 - 1e-6 ** (1 / 32)) / math.pi


@pytest.mark.parametrize("goal", ["minimize", "Maximize", "MAXIMIZE"])
def test_goal_picks_min_or_max(goal):
    result = optimize(lambda p: p["x"], search_space={"x": Uniform(0, 1)}, goal=goal, max_total_trials=20, seed=3)
    values = [t.value for t in result.trials]
    expected = max(values) if goal.lower() == "maximize" else min(values)
    assert result.best_value == expected
    assert result.trials[result.best_trial].value == expected
    assert result.goal == goal.lower()


def test_ties_go_to_the_earlier_trial():
    result = optimize(lambda p: 1.0, search_space={"x": Uniform(0, 1)}, goal="maximize", max_total_trials=5, seed=0)
    assert result.best_trial == 0


def test_failures_are_recorded_and_the_loop_goes_on():
    calls = []

    def flaky(params):
        calls.append(params)
        kind = len(calls) % 5
        if kind == 1:
            raise ValueError(f"boom {len(calls)}")
        if kind == 2:
            return float("nan")
        if kind == 3:
            return "not a number"
        if kind == 4:
            return np.float32(params["x"])
        return math.inf

    result = optimize(flaky, search_space={"x": Uniform(0, 1)}, goal="minimize", max_total_trials=10, seed=1)
    assert len(calls) == len(result.trials) == 10
    states = [t.state for t in result.trials]
    assert states == ["failed", "failed", "failed", "completed", "completed"] * 2
    assert result.trials[0].error == "ValueError: boom 1"
    assert result.trials[0].value is None
    assert "NaN" in result.trials[1].error
    assert "number" in result.trials[2].error and "'not a number'" in result.trials[2].error
    assert result.trials[4].value == math.inf and result.trials[4].error is None  # inf is a valid value
    finite = [t for t in result.trials if t.state == "completed" and math.isfinite(t.value)]
    assert result.best_value == min(t.value for t in finite)


def test_a_non_finite_value_never_wins():
    result = optimize(
        lambda p: -math.inf if p["x"] > 0.5 else p["x"],
        search_space={"x": Uniform(0, 1)},
        goal="minimize",
        max_total_trials=20,
        seed=2,
    )
    # -inf would be the least, but it is no score: the best is the least finite value (x <= 0.5)
    finite = [t.value for t in result.trials if t.value is not None and math.isfinite(t.value)]
    assert len(finite) < 20 and result.best_value == min(finite) <= 0.5


def test_all_failed_raises_with_the_first_error_on_one_line():
    def broken(params):
        raise RuntimeError("CUDA out of memory\nTried to allocate 2 GiB")

    with pytest.raises(SweepFailed) as info:
        optimize(broken, search_space={"x": Uniform(0, 1)}, goal="minimize", max_total_trials=3, seed=0)
    message = str(info.value)
    assert "\n" not in message
    assert "3 trials" in message and "RuntimeError: CUDA out of memory Tried to allocate 2 GiB" in message
    assert isinstance(info.value.__cause__, RuntimeError)


def test_all_nan_raises():
    with pytest.raises(SweepFailed, match="NaN"):
        optimize(lambda p: math.nan, search_space={"x": Uniform(0, 1)}, goal="maximize", max_total_trials=2, seed=0)


def test_grid_stops_when_exhausted():
    space = {"a": Choice([1, 2, 3]), "b": Choice(["u", "v"])}
    result = optimize(lambda p: p["a"], search_space=space, goal="maximize", sampling_algorithm="grid", max_total_trials=100)
    assert [t.params for t in result.trials] == [{"a": a, "b": b} for a in (1, 2, 3) for b in ("u", "v")]
    assert result.best_params == {"a": 3, "b": "u"}  # the tie with b="v" goes to the earlier trial


def test_grid_rules_are_checked():
    with pytest.raises(DefinitionError, match=r"search_space\.x.*Grid sampling supports only choice"):
        optimize(lambda p: 0.0, search_space={"x": Uniform(0, 1)}, goal="minimize", sampling_algorithm="grid", max_total_trials=4)


def test_the_record_is_not_changed_by_fn():
    def mutating(params):
        params["x"] = "changed"
        return 1.0

    result = optimize(mutating, search_space={"x": Uniform(0, 1)}, goal="minimize", max_total_trials=2, seed=0)
    assert all(isinstance(t.params["x"], float) for t in result.trials)


def test_result_records_are_frozen_and_timed():
    result = optimize(
        lambda p: time.sleep(0.02) or p["x"], search_space={"x": Uniform(0, 1)}, goal="minimize", max_total_trials=2, seed=0
    )
    assert isinstance(result, OptimizeResult) and isinstance(result.trials[0], TrialResult)
    assert [t.index for t in result.trials] == [0, 1]
    assert all(t.duration >= 0.02 for t in result.trials)
    with pytest.raises(AttributeError):
        result.best_value = 0.0  # type: ignore[misc]


def test_same_seed_same_run_and_the_fresh_seed_is_reported():
    first = optimize(quadratic, search_space=SPACE_2D, goal="minimize", max_total_trials=8)
    assert isinstance(first.seed, int)
    again = optimize(quadratic, search_space=SPACE_2D, goal="minimize", max_total_trials=8, seed=first.seed)
    assert [t.params for t in again.trials] == [t.params for t in first.trials]
    assert [t.value for t in again.trials] == [t.value for t in first.trials]


def test_same_seed_same_run_in_a_fresh_process():
    code = (
        "import json; from azsweep import optimize; from azsweep.sweep import Uniform, Choice\n"
        "r = optimize(lambda p: p['x'], search_space={'x': Uniform(0, 1), 'c': Choice(['a', 'b'])}, goal='minimize',"
        " sampling_algorithm='sobol', max_total_trials=4, seed=11)\n"
        "print(json.dumps([t.params for t in r.trials]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    here = optimize(
        lambda p: p["x"],
        search_space={"x": Uniform(0, 1), "c": Choice(["a", "b"])},
        goal="minimize",
        sampling_algorithm="sobol",
        max_total_trials=4,
        seed=11,
    )
    assert json.loads(out) == [t.params for t in here.trials]


@pytest.mark.parametrize("goal", ["min", "", None, 1, "maximise"])
def test_bad_goal_is_named_with_its_value(goal):
    with pytest.raises(InvalidValue) as info:
        optimize(quadratic, search_space=SPACE_2D, goal=goal, max_total_trials=2)
    assert info.value.path == "goal"
    assert "minimize or maximize" in str(info.value) and repr(goal) in str(info.value)


@pytest.mark.parametrize("n", [0, -1, 1001, 2.0, True, "5", None])
def test_bad_max_total_trials_is_named_with_its_value(n):
    with pytest.raises(InvalidValue) as info:
        optimize(quadratic, search_space=SPACE_2D, goal="minimize", max_total_trials=n)
    assert info.value.path == "max_total_trials"
    assert "between 1 and 1000" in str(info.value) and repr(n) in str(info.value)


def test_bad_search_space_and_fn_are_named():
    with pytest.raises(InvalidValue, match=r"search_space\.x"):
        optimize(quadratic, search_space={"x": Uniform(1, 0)}, goal="minimize", max_total_trials=2)
    with pytest.raises(InvalidValue, match="^fn: must be callable"):
        optimize(None, search_space=SPACE_2D, goal="minimize", max_total_trials=2)  # type: ignore[arg-type]
