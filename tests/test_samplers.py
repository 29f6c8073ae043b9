"""Samplers through ``azsweep.sample`` and the sampler classes: reproducibility, Sobol evenness, logbase, grid."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from azure.ai.ml import sweep as azure_sweep
from scipy import stats
from scipy.stats import qmc

import azsweep
from azsweep import sweep
from azsweep.api import search_space_from
from azsweep.errors import DefinitionError, InvalidValue
from azsweep.samplers import GridSampler, Observation, RandomSampler, SobolSampler, make_sampler
from azsweep.spec import Algorithm

# Built from source so the same space can be rebuilt in a fresh interpreter.
SPACE_SOURCE = """
import math
from azsweep.sweep import (Choice, LogNormal, LogUniform, Normal, QLogNormal, QLogUniform, QNormal, QUniform,
                           Randint, Uniform)
SPACE = {
    "lr": LogUniform(math.log(1e-4), math.log(1e-1)),
    "momentum": Uniform(0.5, 0.99),
    "batch": QUniform(16, 256, 16),
    "optimizer": Choice(["sgd", "adam", "rmsprop"]),
    "layers": Randint(6),
    "noise": Normal(0, 0.1),
    "scale": LogNormal(0, 0.5),
    "qn": QNormal(10, 3, 0.5),
    "qlu": QLogUniform(0, 4, 2),
    "qln": QLogNormal(1, 0.5, 1),
    "model": Choice([{"kind": "svm", "C": Uniform(0.1, 10)}, {"kind": "tree", "depth": Randint(8), "crit": "gini"}]),
}
"""


def build_space() -> dict:
    namespace: dict = {}
    exec(SPACE_SOURCE, namespace)
    return namespace["SPACE"]


def history(k: int) -> list[Observation]:
    return [Observation(params={}) for _ in range(k)]


# --- reproducibility ----------------------------------------------------------------------------


def test_random_and_sobol_are_reproducible_in_a_fresh_process():
    seed, n = 20240917, 40
    script = (
        SPACE_SOURCE
        + f"""
import json, azsweep
from azsweep.sweep import RandomSamplingAlgorithm
print(json.dumps({{
    "random": azsweep.sample(SPACE, {n}, seed={seed}),
    "sobol": azsweep.sample(SPACE, {n}, sampling_algorithm=RandomSamplingAlgorithm(rule="sobol", seed={seed})),
}}))
"""
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # a different hash seed than this process
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    fresh = json.loads(done.stdout)
    space = build_space()
    here_random = azsweep.sample(space, n, seed=seed)
    here_sobol = azsweep.sample(space, n, sampling_algorithm=sweep.RandomSamplingAlgorithm(rule="sobol", seed=seed))
    # JSON keeps floats exactly (repr round trip), ints as ints and key order
    assert fresh["random"] == json.loads(json.dumps(here_random)) == here_random
    assert fresh["sobol"] == here_sobol
    assert fresh["random"] != fresh["sobol"]
    assert [list(c) for c in fresh["random"]] == [list(space)] * n


@pytest.mark.parametrize(
    "algorithm",
    [
        "random",
        "sobol",
        sweep.RandomSamplingAlgorithm(seed=5),
        sweep.RandomSamplingAlgorithm(rule="sobol", seed=5),
        sweep.RandomSamplingAlgorithm(rule="Sobol", seed=5, logbase=10),
    ],
    ids=["random", "sobol-string", "random-object", "sobol-object", "sobol-logbase"],
)
def test_first_n_is_a_prefix_of_a_longer_sample(algorithm):
    space = build_space()
    assert (
        azsweep.sample(space, 5, sampling_algorithm=algorithm, seed=5)
        == azsweep.sample(space, 50, sampling_algorithm=algorithm, seed=5)[:5]
    )


@pytest.mark.parametrize("sampler_class", [RandomSampler, SobolSampler])
@pytest.mark.parametrize(("k", "m"), [(0, 7), (1, 1), (3, 10), (17, 5), (32, 32)])
def test_ask_after_k_trials_continues_the_sequence(sampler_class, k, m):
    space = search_space_from(build_space())
    full = sampler_class(space, seed=99).ask([], 64)
    assert sampler_class(space, seed=99).ask(history(k), m) == full[k : k + m]


@pytest.mark.parametrize("sampler_class", [RandomSampler, SobolSampler])
def test_asking_one_at_a_time_equals_one_batch(sampler_class):
    space = search_space_from(build_space())
    sampler = sampler_class(space, seed=4)
    seen: list[Observation] = []
    one_by_one = []
    for _ in range(12):
        (config,) = sampler.ask(seen, 1)
        one_by_one.append(config)
        seen.append(Observation(params=config))
    assert one_by_one == sampler_class(space, seed=4).ask([], 12)


def test_seed_changes_the_values_and_none_draws_a_fresh_one():
    space = build_space()
    assert azsweep.sample(space, 10, seed=1) == azsweep.sample(space, 10, seed=1)
    assert azsweep.sample(space, 10, seed=1) != azsweep.sample(space, 10, seed=2)
    assert azsweep.sample(space, 10) != azsweep.sample(space, 10)


def test_the_algorithm_object_carries_the_seed():
    space = build_space()
    by_object = azsweep.sample(space, 10, sampling_algorithm=sweep.RandomSamplingAlgorithm(seed=8))
    assert by_object == azsweep.sample(space, 10, seed=8)


def test_bayesian_starts_from_its_seeded_sobol_design():
    space = {"x": sweep.Uniform(0, 1), "y": sweep.Choice([1, 2, 3]), "z": sweep.QUniform(0, 10, 1)}
    first = azsweep.sample(space, 5, sampling_algorithm="bayesian", seed=3)
    assert first == azsweep.sample(space, 5, sampling_algorithm=sweep.BayesianSamplingAlgorithm(), seed=3)
    assert first == azsweep.sample(space, 5, sampling_algorithm="sobol", seed=3)


def test_azure_ai_ml_distributions_sample_the_same_as_azsweep_ones():
    ours = {"a": sweep.Uniform(0, 1), "b": sweep.Choice(["x", "y"]), "c": sweep.QLogNormal(0, 1, 0.5)}
    theirs = {"a": azure_sweep.Uniform(0, 1), "b": azure_sweep.Choice(["x", "y"]), "c": azure_sweep.QLogNormal(0, 1, 0.5)}
    for algorithm in ("random", "sobol"):
        assert azsweep.sample(theirs, 20, sampling_algorithm=algorithm, seed=0) == azsweep.sample(
            ours, 20, sampling_algorithm=algorithm, seed=0
        )


def test_wire_lists_are_accepted_as_a_search_space():
    wire = {"a": ["uniform", [0, 1]], "b": ["choice", [["x", "y"]]]}
    assert azsweep.sample(wire, 5, seed=1) == azsweep.sample({"a": sweep.Uniform(0, 1), "b": sweep.Choice(["x", "y"])}, 5, seed=1)


def test_random_sample_values_follow_the_distributions():
    configs = azsweep.sample(build_space(), 4000, seed=77)
    lr = np.array([c["lr"] for c in configs])
    assert stats.kstest(lr, stats.loguniform(1e-4, 1e-1).cdf).pvalue > 1e-4
    assert {c["layers"] for c in configs} == set(range(6))
    assert all(c["batch"] % 16 == 0 and type(c["batch"]) is int for c in configs)
    assert {c["model"]["kind"] for c in configs} == {"svm", "tree"}


@pytest.mark.parametrize(
    ("kwargs", "path"),
    [
        ({"n": -1}, "n"),
        ({"n": 2.5}, "n"),
        ({"n": 3, "seed": -1}, "seed"),
        ({"n": 3, "sampling_algorithm": "halton"}, "sampling_algorithm"),
        ({"n": 3, "sampling_algorithm": sweep.RandomSamplingAlgorithm(rule="halton")}, "sampling_algorithm.rule"),
        ({"n": 3, "sampling_algorithm": sweep.RandomSamplingAlgorithm(logbase=1)}, "sampling_algorithm.logbase"),
    ],
)
def test_sample_rejects_bad_arguments_naming_them(kwargs, path):
    with pytest.raises(InvalidValue) as info:
        azsweep.sample({"a": sweep.Uniform(0, 1)}, **kwargs)
    assert info.value.path == path


def test_sample_rejects_an_invalid_distribution_naming_it():
    with pytest.raises(InvalidValue) as info:
        azsweep.sample({"a": sweep.Uniform(0, 1), "lr": sweep.LogUniform(-2, -4)}, 3, seed=0)
    assert info.value.path == "search_space.lr"
    assert "(got -2 and -4)" in info.value.message


def test_sample_of_zero_is_empty():
    assert azsweep.sample({"a": sweep.Uniform(0, 1)}, 0, seed=0) == []


# --- Sobol --------------------------------------------------------------------------------------

SOBOL_SEEDS = [0, 1, 2, 3, 4, 5]


SMALL_SPACE = {"a": sweep.Uniform(0, 1), "b": sweep.Normal(0, 1), "c": sweep.Choice([1, 2, 3, 4]), "d": sweep.LogUniform(-3, -1)}


@pytest.mark.parametrize(
    ("space", "dims", "n", "max_ratio", "median_ratio"),
    [
        pytest.param(SMALL_SPACE, 4, 64, 0.2, 0.12, id="4d-64"),
        pytest.param(SMALL_SPACE, 4, 100, 0.2, 0.12, id="4d-100"),
        pytest.param(SMALL_SPACE, 4, 256, 0.2, 0.12, id="4d-256"),
        # normal dimensions and conditional columns are Sobol dimensions too; in 13-d the gain is smaller
        pytest.param(build_space(), 13, 256, 0.6, 0.45, id="13d-256"),
    ],
)
def test_sobol_points_are_more_even_than_random_points(space, dims, n, max_ratio, median_ratio):
    space = search_space_from(space)
    assert space.dims == dims
    ratios = []
    for seed in SOBOL_SEEDS:
        random_points = RandomSampler(space, seed).points(0, n)
        sobol_points = SobolSampler(space, seed).points(0, n)
        assert sobol_points.shape == random_points.shape == (n, space.dims)
        assert ((sobol_points >= 0) & (sobol_points < 1)).all()
        ratios.append(qmc.discrepancy(sobol_points) / qmc.discrepancy(random_points))
    assert max(ratios) < max_ratio, ratios
    assert float(np.median(ratios)) < median_ratio, ratios


def test_sobol_is_seeded_and_scrambled():
    space = search_space_from({"a": sweep.Uniform(0, 1), "b": sweep.Uniform(0, 1)})
    a = SobolSampler(space, 1).points(0, 16)
    assert np.array_equal(a, SobolSampler(space, 1).points(0, 16))
    assert not np.array_equal(a, SobolSampler(space, 2).points(0, 16))
    assert not (a == 0).all(axis=1).any()  # scrambled: the unscrambled sequence starts at the origin


def test_sobol_uniform_dimensions_map_the_points_identically():
    space = {"a": sweep.Uniform(2, 5), "b": sweep.Uniform(-1, 1), "c": sweep.LogUniform(-3, 0)}
    configs = azsweep.sample(space, 128, sampling_algorithm=sweep.RandomSamplingAlgorithm(rule="sobol", seed=11))
    points = SobolSampler(search_space_from(space), 11).points(0, 128)
    got = np.array([[c["a"], c["b"], c["c"]] for c in configs])
    np.testing.assert_allclose(got[:, 0], 2 + 3 * points[:, 0], rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], -1 + 2 * points[:, 1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[:, 2], np.exp(-3 + 3 * points[:, 2]), rtol=1e-12)


def test_sobol_mapped_values_are_more_even_than_random_ones():
    space = {"a": sweep.Uniform(0, 10), "n": sweep.Normal(3, 2), "lr": sweep.LogUniform(-5, 0)}

    def to_unit(configs):
        a = np.array([c["a"] for c in configs]) / 10
        n = stats.norm(3, 2).cdf([c["n"] for c in configs])
        lr = (np.log([c["lr"] for c in configs]) + 5) / 5
        return np.column_stack([a, n, lr])

    for seed in SOBOL_SEEDS:
        sobol = to_unit(azsweep.sample(space, 128, sampling_algorithm="sobol", seed=seed))
        rand = to_unit(azsweep.sample(space, 128, sampling_algorithm="random", seed=seed))
        assert qmc.discrepancy(np.clip(sobol, 0, 1)) < 0.5 * qmc.discrepancy(np.clip(rand, 0, 1))


def test_sobol_balances_choice_values_exactly_on_a_power_of_two():
    space = {"opt": sweep.Choice(["a", "b", "c", "d"]), "layers": sweep.Randint(8)}
    sobol = azsweep.sample(space, 64, sampling_algorithm="sobol", seed=3)
    assert [sum(c["opt"] == v for c in sobol) for v in "abcd"] == [16, 16, 16, 16]
    assert [sum(c["layers"] == v for c in sobol) for v in range(8)] == [8] * 8
    unbalanced = 0
    for seed in SOBOL_SEEDS:
        rand = azsweep.sample(space, 64, sampling_algorithm="random", seed=seed)
        unbalanced += [sum(c["opt"] == v for c in rand) for v in "abcd"] != [16, 16, 16, 16]
    assert unbalanced >= len(SOBOL_SEEDS) - 1


# --- logbase ------------------------------------------------------------------------------------


def test_logbase_10_makes_loguniform_exponents_of_10():
    algorithm = sweep.RandomSamplingAlgorithm(seed=21, logbase=10)
    lr = np.array([c["lr"] for c in azsweep.sample({"lr": sweep.LogUniform(-3, -1)}, 5000, sampling_algorithm=algorithm)])
    assert lr.min() >= 1e-3 and lr.max() <= 1e-1
    assert lr.min() < math.exp(-3)  # base e would never go below 0.0498
    assert stats.kstest(np.log10(lr), stats.uniform(-3, 2).cdf).pvalue > 1e-4


def test_logbase_applies_to_every_log_distribution_and_to_sobol():
    algorithm = sweep.RandomSamplingAlgorithm(rule="sobol", seed=2, logbase=2)
    space = {"a": sweep.LogUniform(0, 3), "b": sweep.LogNormal(0, 1), "c": sweep.QLogUniform(0, 3, 1)}
    configs = azsweep.sample(space, 256, sampling_algorithm=algorithm)
    a = np.array([c["a"] for c in configs])
    assert a.min() >= 1 and a.max() <= 8 and a.max() > math.exp(2)  # 2**3, not e**3
    assert stats.kstest(np.log2([c["b"] for c in configs]), stats.norm(0, 1).cdf).pvalue > 1e-4
    assert {c["c"] for c in configs} <= set(range(1, 9))
    default = azsweep.sample(space, 256, sampling_algorithm=sweep.RandomSamplingAlgorithm(rule="sobol", seed=2))
    e = azsweep.sample(space, 256, sampling_algorithm=sweep.RandomSamplingAlgorithm(rule="sobol", seed=2, logbase="e"))
    assert default == e != configs


# --- grid ---------------------------------------------------------------------------------------

GRID_SPACE = {
    "optimizer": sweep.Choice(["sgd", "adam", "rmsprop"]),
    "layers": sweep.Choice([1, 2]),
    "lr": sweep.Choice([0.1, 0.01]),
}


def expected_grid() -> list[dict]:
    values = [list(d.values) for d in GRID_SPACE.values()]
    return [dict(zip(GRID_SPACE, combo)) for combo in itertools.product(*values)]


def test_grid_is_the_cartesian_product_last_parameter_fastest():
    grid = azsweep.sample(GRID_SPACE, 12, sampling_algorithm="grid")
    assert grid == expected_grid()
    assert grid[:3] == [
        {"optimizer": "sgd", "layers": 1, "lr": 0.1},
        {"optimizer": "sgd", "layers": 1, "lr": 0.01},
        {"optimizer": "sgd", "layers": 2, "lr": 0.1},
    ]
    assert len({json.dumps(c) for c in grid}) == 12


def test_grid_n_larger_than_the_grid_returns_the_whole_grid_once():
    assert azsweep.sample(GRID_SPACE, 1000, sampling_algorithm=sweep.GridSamplingAlgorithm()) == expected_grid()


def test_grid_n_smaller_than_the_grid_is_a_prefix():
    assert azsweep.sample(GRID_SPACE, 5, sampling_algorithm="grid") == expected_grid()[:5]


def test_grid_ignores_the_seed():
    assert azsweep.sample(GRID_SPACE, 12, sampling_algorithm="grid", seed=1) == azsweep.sample(
        GRID_SPACE, 12, sampling_algorithm="grid", seed=2
    )


def test_grid_sampler_continues_from_history_and_ends_when_exhausted():
    sampler = GridSampler(search_space_from(GRID_SPACE))
    assert sampler.size == 12
    assert sampler.ask(history(10), 5) == expected_grid()[10:]
    assert sampler.ask(history(12), 5) == []
    assert not sampler.is_exhausted(history(11))
    assert sampler.is_exhausted(history(12))


def test_grid_accepts_azure_ai_ml_choices_and_keeps_values_in_written_order():
    space = {"b": azure_sweep.Choice([3, 1, 2]), "a": azure_sweep.Choice(["z", "y"])}
    assert azsweep.sample(space, 10, sampling_algorithm="grid") == [
        {"b": 3, "a": "z"},
        {"b": 3, "a": "y"},
        {"b": 1, "a": "z"},
        {"b": 1, "a": "y"},
        {"b": 2, "a": "z"},
        {"b": 2, "a": "y"},
    ]


@pytest.mark.parametrize(
    "dist",
    [sweep.Uniform(0, 1), sweep.Randint(3), sweep.LogUniform(-2, -1), sweep.QUniform(0, 4, 1)],
    ids=lambda d: type(d).__name__,
)
def test_grid_with_a_non_choice_distribution_is_a_definition_error_naming_it(dist):
    space = {"optimizer": sweep.Choice(["sgd", "adam"]), "lr": dist}
    with pytest.raises(DefinitionError) as info:
        azsweep.sample(space, 4, sampling_algorithm="grid")
    assert "search_space.lr" in str(info.value)
    assert dist._to_rest_object()[0] in str(info.value)
    assert [p.path for p in info.value.problems if p.severity == "error"] == ["search_space.lr"]


def test_grid_with_a_conditional_choice_is_refused():
    space = {"model": sweep.Choice([{"kind": "svm", "C": sweep.Uniform(0, 1)}])}
    with pytest.raises(DefinitionError) as info:
        azsweep.sample(space, 4, sampling_algorithm="grid")
    assert "search_space.model" in str(info.value)


def test_grid_sampler_refuses_non_choice_directly():
    with pytest.raises(InvalidValue) as info:
        GridSampler(search_space_from({"lr": sweep.Uniform(0, 1)}))
    assert info.value.path == "search_space.lr"


def test_bayesian_refuses_distributions_azure_does_not_support():
    with pytest.raises(DefinitionError) as info:
        azsweep.sample({"lr": sweep.LogUniform(-3, -1)}, 3, sampling_algorithm="bayesian", seed=0)
    assert "search_space.lr" in str(info.value) and "loguniform" in str(info.value)


def test_make_sampler_picks_the_sampler_for_the_algorithm():
    space = search_space_from(GRID_SPACE)
    assert isinstance(make_sampler(Algorithm("random", seed=1), space), RandomSampler)
    assert isinstance(make_sampler(Algorithm("sobol", seed=1), space), SobolSampler)
    assert isinstance(make_sampler(Algorithm("grid"), space), GridSampler)
    assert make_sampler(Algorithm("random"), space).seed is not None  # a fresh seed is drawn and recorded
    assert RandomSampler(space).size is None and not RandomSampler(space).is_exhausted(history(5000))
