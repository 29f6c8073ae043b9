"""Distributions: every one sampled through the public facade against Azure's formula, plus the pure transforms.

Continuous distributions are checked with Kolmogorov-Smirnov, discrete ones with chi-square, at fixed
seeds. Q-variants are compared value by value with the probability mass of ``round(x / q) * q`` computed
from the underlying continuous CDF.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from azsweep import sweep
from azsweep.errors import InvalidValue
from azsweep.space import (
    DISTRIBUTION_TYPES,
    Choice,
    Continuous,
    Randint,
    SearchSpace,
    from_wire,
    parse_log_base,
    space_from_wire,
)

N = 20_000
ALPHA = 1e-4  # fixed seeds: a correct formula passes deterministically, a wrong one gives p ~ 0


def loguniform_of_exponents(a: float, b: float):
    """exp(U(a, b)): the bounds are exponents."""
    return stats.loguniform(math.exp(a), math.exp(b))


def lognormal(mu: float, sigma: float):
    """exp(N(mu, sigma))."""
    return stats.lognorm(s=sigma, scale=math.exp(mu))


# --- continuous: Kolmogorov-Smirnov -------------------------------------------------------------

CONTINUOUS = [
    pytest.param(sweep.Uniform(min_value=-2.0, max_value=3.0), stats.uniform(loc=-2.0, scale=5.0), id="uniform"),
    pytest.param(sweep.Uniform(0.01, 0.9), stats.uniform(loc=0.01, scale=0.89), id="uniform-small"),
    pytest.param(sweep.LogUniform(min_value=-3, max_value=-1), loguniform_of_exponents(-3, -1), id="loguniform"),
    pytest.param(
        sweep.LogUniform(math.log(1e-4), math.log(1e-1)),
        loguniform_of_exponents(math.log(1e-4), math.log(1e-1)),
        id="loguniform-lr",
    ),
    pytest.param(sweep.Normal(mu=1.5, sigma=2.0), stats.norm(loc=1.5, scale=2.0), id="normal"),
    pytest.param(sweep.Normal(-10, 0.1), stats.norm(loc=-10, scale=0.1), id="normal-narrow"),
    pytest.param(sweep.LogNormal(mu=0.5, sigma=0.75), lognormal(0.5, 0.75), id="lognormal"),
    pytest.param(sweep.LogNormal(-2, 1.5), lognormal(-2, 1.5), id="lognormal-wide"),
]


@pytest.mark.parametrize(("dist", "reference"), CONTINUOUS)
def test_continuous_distribution_matches_its_formula(dist, reference):
    values = dist.sample(N, rng=20240601)
    assert values.shape == (N,)
    assert values.dtype == np.float64
    result = stats.kstest(values, reference.cdf)
    assert result.pvalue > ALPHA, f"{dist._to_rest_object()} does not follow its formula (KS p={result.pvalue:.2g})"


def test_loguniform_bounds_are_exponents_not_values():
    values = sweep.LogUniform(-3, -1).sample(N, rng=1)
    assert values.min() >= math.exp(-3)
    assert values.max() <= math.exp(-1)
    assert (values > 0).all()  # never in [-3, -1]
    # log(values) is uniform on [min, max]
    assert stats.kstest(np.log(values), stats.uniform(loc=-3, scale=2).cdf).pvalue > ALPHA


def test_lognormal_is_exp_of_normal():
    values = sweep.LogNormal(1.0, 0.5).sample(N, rng=2)
    assert (values > 0).all()
    assert stats.kstest(np.log(values), stats.norm(1.0, 0.5).cdf).pvalue > ALPHA


@pytest.mark.parametrize(
    ("dist", "wrong"),
    [
        pytest.param(
            sweep.LogUniform(-3, -1),
            stats.uniform(loc=math.exp(-3), scale=math.exp(-1) - math.exp(-3)),
            id="loguniform-read-as-uniform",
        ),
        pytest.param(sweep.Normal(0, 2), stats.norm(0, math.sqrt(2)), id="sigma-read-as-variance"),
        pytest.param(sweep.LogNormal(0, 1), stats.norm(0, 1), id="lognormal-read-as-normal"),
        pytest.param(sweep.Uniform(0, 1), stats.uniform(loc=0, scale=1.05), id="uniform-wider"),
    ],
)
def test_the_ks_check_has_power_against_a_misread_formula(dist, wrong):
    """A control: the same check rejects the formulas users (and implementations) get wrong."""
    assert stats.kstest(dist.sample(N, rng=20240601), wrong.cdf).pvalue < 1e-6


# --- discrete: chi-square -----------------------------------------------------------------------


def chi_square(observed_counts: np.ndarray, expected_probs: np.ndarray) -> float:
    """p-value of a chi-square goodness-of-fit test, bins merged so each expects >= 5."""
    observed_counts = np.asarray(observed_counts, dtype=float)
    expected = np.asarray(expected_probs, dtype=float) * observed_counts.sum()
    merged_obs, merged_exp = [], []
    acc_o = acc_e = 0.0
    for o, e in zip(observed_counts, expected):
        acc_o += o
        acc_e += e
        if acc_e >= 5:
            merged_obs.append(acc_o)
            merged_exp.append(acc_e)
            acc_o = acc_e = 0.0
    if acc_e or acc_o:  # a small tail joins the last bin
        merged_obs[-1] += acc_o
        merged_exp[-1] += acc_e
    merged_exp_arr = np.array(merged_exp)
    merged_exp_arr *= sum(merged_obs) / merged_exp_arr.sum()  # remove float drift
    return float(stats.chisquare(merged_obs, merged_exp_arr).pvalue)


def quantised_mass(reference, q: float, k: np.ndarray) -> np.ndarray:
    """P(round(x / q) == k) for x ~ reference: the mass of [(k - 1/2) q, (k + 1/2) q).

    Ties (x / q exactly half-way, where numpy rounds half to even) have probability zero.
    """
    return reference.cdf((k + 0.5) * q) - reference.cdf((k - 0.5) * q)


def check_quantised(values: np.ndarray, q: float, reference) -> float:
    """Check ``values`` lie on the q-lattice and follow round(x / q) * q; returns the chi-square p-value."""
    values = np.asarray(values, dtype=float)
    k = np.rint(values / q)
    assert np.allclose(values, k * q, rtol=0, atol=1e-9 * max(1.0, q)), "values are not multiples of q"
    lo = math.floor(reference.ppf(1e-9) / q) - 1
    hi = math.ceil(reference.ppf(1 - 1e-9) / q) + 1
    assert k.min() >= lo and k.max() <= hi
    support = np.arange(lo, hi + 1)
    probs = quantised_mass(reference, q, support)
    observed = np.array([(k == s).sum() for s in support])
    assert probs[observed > 0].min() > 0, "a value with zero probability mass was drawn"
    return chi_square(observed, probs / probs.sum())


QUANTISED = [
    # (facade distribution, underlying continuous distribution, q, values are ints)
    pytest.param(sweep.QUniform(min_value=0, max_value=11, q=4), stats.uniform(0, 11), 4, True, id="quniform-int"),
    pytest.param(sweep.QUniform(1, 10, 4), stats.uniform(1, 9), 4, True, id="quniform-below-min"),
    pytest.param(sweep.QUniform(-1, 1, 0.25), stats.uniform(-1, 2), 0.25, False, id="quniform-float"),
    pytest.param(sweep.QUniform(0, 10, 2.0), stats.uniform(0, 10), 2.0, True, id="quniform-whole-float-q"),
    pytest.param(sweep.QLogUniform(min_value=0, max_value=3, q=2), loguniform_of_exponents(0, 3), 2, True, id="qloguniform-int"),
    pytest.param(sweep.QLogUniform(-2, 1, 0.1), loguniform_of_exponents(-2, 1), 0.1, False, id="qloguniform-float"),
    pytest.param(sweep.QNormal(mu=0, sigma=3, q=2), stats.norm(0, 3), 2, True, id="qnormal-int"),
    pytest.param(sweep.QNormal(5, 1, 0.5), stats.norm(5, 1), 0.5, False, id="qnormal-float"),
    pytest.param(sweep.QLogNormal(mu=0, sigma=1, q=0.5), lognormal(0, 1), 0.5, False, id="qlognormal-float"),
    pytest.param(sweep.QLogNormal(2, 0.5, 3), lognormal(2, 0.5), 3, True, id="qlognormal-int"),
]


@pytest.mark.parametrize(("dist", "reference", "q", "integral"), QUANTISED)
def test_quantised_distribution_matches_round_x_over_q_times_q(dist, reference, q, integral):
    values = dist.sample(N, rng=7)
    p = check_quantised(values, q, reference)
    assert p > ALPHA, f"{dist._to_rest_object()} does not follow round(x / q) * q (chi-square p={p:.2g})"


@pytest.mark.parametrize(("dist", "reference", "q", "integral"), QUANTISED)
def test_quantised_values_are_ints_exactly_when_q_is_a_whole_number(dist, reference, q, integral):
    one = dist.sample(rng=3)
    many = dist.sample(50, rng=3)
    if integral:
        assert type(one) is int
        assert many.dtype.kind == "i"
    else:
        assert type(one) is float
        assert many.dtype.kind == "f"
    assert one == many[0]  # size=None is the first draw of the same stream


def test_quantised_values_are_not_clipped_to_the_bounds():
    # x in [10, 11) gives round(x / 4) = 3 -> 12 > max_value; x in [1, 2) gives 0 < min_value
    above = set(sweep.QUniform(0, 11, 4).sample(5000, rng=0).tolist())
    assert above == {0, 4, 8, 12}
    below = set(sweep.QUniform(1, 10, 4).sample(5000, rng=0).tolist())
    assert below == {0, 4, 8}
    normal = sweep.QNormal(0, 1, 1).sample(5000, rng=0)
    assert normal.min() <= -3 and normal.max() >= 3  # unbounded


def test_quantising_rounds_half_to_even():
    dist = Continuous(wire_type="quniform", a=0.0, b=20.0, q=4.0)
    # u = 0.5 -> x = 10 -> x / q = 2.5 -> 2; u = 0.7 -> x = 14 -> 3.5 -> 4; u = 0.1 -> 2 -> 0.5 -> 0
    assert dist.values_from_unit(np.array([0.5, 0.7, 0.1])).tolist() == [8, 16, 0]


def test_randint_is_uniform_on_zero_to_upper_exclusive():
    values = sweep.Randint(upper=7).sample(N, rng=11)
    assert values.dtype.kind == "i"
    assert set(values.tolist()) == set(range(7))  # 7 never appears, 0 does
    counts = np.bincount(values, minlength=7)
    assert chi_square(counts, np.full(7, 1 / 7)) > ALPHA
    one = sweep.Randint(3).sample(rng=0)
    assert type(one) is int and 0 <= one < 3


def test_randint_one_always_gives_zero():
    assert set(sweep.Randint(1).sample(1000, rng=0).tolist()) == {0}


def test_the_chi_square_check_has_power_against_an_inclusive_randint():
    values = sweep.Randint(7).sample(N, rng=11)
    counts = np.bincount(values, minlength=8)
    assert chi_square(counts, np.full(8, 1 / 8)) < 1e-6  # [0, upper] would be wrong


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(["a", "b", "c", "d", "e"], id="strings"),
        pytest.param([10, 20, 30], id="ints"),
        pytest.param([0.1, 0.01, 0.001, 1e-4], id="floats"),
        pytest.param([1, 2.5, "x"], id="mixed"),
    ],
)
def test_choice_is_uniform_over_its_values(values):
    drawn = sweep.Choice(values=values).sample(N, rng=5).tolist()
    assert set(map(repr, drawn)) == set(map(repr, values))  # the values themselves, types kept
    counts = np.array([sum(1 for d in drawn if type(d) is type(v) and d == v) for v in values])
    assert counts.sum() == N
    assert chi_square(counts, np.full(len(values), 1 / len(values))) > ALPHA


def test_choice_of_mixed_types_keeps_each_value_as_written():
    drawn = sweep.Choice(["a", 3, 2.5]).sample(200, rng=0)
    assert {type(v) for v in drawn.tolist()} == {str, int, float}
    assert 3 in drawn.tolist() and "3" not in drawn.tolist()


def test_choice_accepts_a_range():
    values = sweep.Choice(range(4)).sample(4000, rng=0)
    assert set(values.tolist()) == {0, 1, 2, 3}


# --- conditional choice -------------------------------------------------------------------------


def conditional_choice():
    return sweep.Choice(
        values=[
            {"model": "svm", "C": sweep.Uniform(0.1, 10), "kernel": sweep.Choice(["rbf", "linear", "poly"])},
            {"model": "forest", "n_estimators": sweep.Randint(5), "depth": 3, "criterion": "gini"},
        ]
    )


def test_conditional_choice_samples_one_dict_then_each_distribution_inside():
    rows = conditional_choice().sample(N, rng=17).tolist()
    assert all(isinstance(r, dict) for r in rows)
    svm = [r for r in rows if r["model"] == "svm"]
    forest = [r for r in rows if r["model"] == "forest"]
    assert len(svm) + len(forest) == N
    assert chi_square([len(svm), len(forest)], [0.5, 0.5]) > ALPHA
    # key order as written, literals kept, distributions replaced by drawn values
    assert all(list(r) == ["model", "C", "kernel"] for r in svm)
    assert all(list(r) == ["model", "n_estimators", "depth", "criterion"] for r in forest)
    assert all(r["depth"] == 3 and r["criterion"] == "gini" for r in forest)
    c = np.array([r["C"] for r in svm])
    assert stats.kstest(c, stats.uniform(0.1, 9.9).cdf).pvalue > ALPHA
    kernels = [r["kernel"] for r in svm]
    assert chi_square([kernels.count(k) for k in ("rbf", "linear", "poly")], np.full(3, 1 / 3)) > ALPHA
    trees = np.array([r["n_estimators"] for r in forest])
    assert all(type(t) is int for t in trees.tolist())
    assert chi_square(np.bincount(trees, minlength=5), np.full(5, 0.2)) > ALPHA


def test_conditional_choice_returns_fresh_dicts():
    dist = conditional_choice()
    rows = dist.sample(50, rng=0).tolist()
    assert len({id(r) for r in rows}) == 50
    for row in rows:
        row["model"] = "changed"
    assert "changed" not in {r["model"] for r in dist.sample(50, rng=0).tolist()}
    assert dist.values[0]["model"] == "svm"


def test_plain_dict_choice_values_are_fresh_dicts_per_row():
    space = space_from_wire({"m": ["choice", [[{"a": 1}, {"a": 2}]]]})
    rows = space.from_unit(np.array([[0.1], [0.2], [0.9], [0.8]]))
    assert [r["m"] for r in rows] == [{"a": 1}, {"a": 1}, {"a": 2}, {"a": 2}]
    assert len({id(r["m"]) for r in rows}) == 4  # no configuration shares a dict with another
    rows[0]["m"]["a"] = 99
    assert rows[1]["m"] == {"a": 1} and space.params["m"].values[0] == {"a": 1}


def test_conditional_choice_scalar_and_shape():
    one = conditional_choice().sample(rng=1)
    assert isinstance(one, dict) and one["model"] in ("svm", "forest")
    grid = conditional_choice().sample((2, 3), rng=1)
    assert grid.shape == (2, 3) and grid.dtype == object
    assert all(isinstance(v, dict) for v in grid.ravel())


# --- sample(): size and rng ---------------------------------------------------------------------

ALL_FACADE = [
    sweep.Choice(["a", "b"]),
    sweep.Randint(4),
    sweep.Uniform(0, 1),
    sweep.LogUniform(-2, 0),
    sweep.QUniform(0, 10, 1),
    sweep.QLogUniform(0, 2, 0.5),
    sweep.Normal(0, 1),
    sweep.LogNormal(0, 1),
    sweep.QNormal(0, 1, 0.5),
    sweep.QLogNormal(0, 1, 1),
]


@pytest.mark.parametrize("dist", ALL_FACADE, ids=lambda d: type(d).__name__)
def test_sample_size_none_is_one_scalar_and_a_tuple_is_a_shape(dist):
    one = dist.sample(rng=0)
    assert not isinstance(one, np.ndarray)
    assert isinstance(one, (int, float, str))
    assert dist.sample(5, rng=0).shape == (5,)
    block = dist.sample((2, 3), rng=0)
    assert block.shape == (2, 3)
    assert block.ravel().tolist() == dist.sample(6, rng=0).tolist()  # row-major reshape of the same draws


@pytest.mark.parametrize("dist", ALL_FACADE, ids=lambda d: type(d).__name__)
def test_rng_seed_and_generator_are_equivalent_and_reproducible(dist):
    by_seed = dist.sample(100, rng=123).tolist()
    assert dist.sample(100, rng=123).tolist() == by_seed
    assert dist.sample(100, rng=np.random.default_rng(123)).tolist() == by_seed
    assert dist.sample(100, rng=124).tolist() != by_seed


def test_a_generator_is_advanced_not_reset():
    rng = np.random.default_rng(9)
    first = sweep.Uniform(0, 1).sample(3, rng=rng)
    second = sweep.Uniform(0, 1).sample(3, rng=rng)
    assert first.tolist() != second.tolist()
    assert np.concatenate([first, second]).tolist() == sweep.Uniform(0, 1).sample(6, rng=9).tolist()


@pytest.mark.parametrize(
    ("dist", "fragments"),
    [
        (sweep.Uniform(1.0, 0.5), ("min_value < max_value", "1.0", "0.5")),
        (sweep.Randint(0), ("upper >= 1", "0")),
        (sweep.Normal(0, -1), ("sigma >= 0", "-1")),
        (sweep.QUniform(0, 1, 0), ("q > 0", "0")),
        (sweep.Choice([]), ("at least one value",)),
        (sweep.Uniform(0, None), ("max_value",)),
    ],
)
def test_sampling_an_invalid_distribution_raises_a_clear_error(dist, fragments):
    with pytest.raises(InvalidValue) as info:
        dist.sample(rng=0)
    assert type(dist).__name__ in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


# --- the pure layer: wire form -> distribution -> unit-cube transform ----------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (["choice", [["a", "b"]]], Choice(values=("a", "b"))),
        (["choice", ["a", "b"]], Choice(values=("a", "b"))),
        (["randint", [5]], Randint(upper=5)),
        (["randint", [5.0]], Randint(upper=5)),
        (["uniform", [0, 1]], Continuous("uniform", 0, 1)),
        (["loguniform", [-3, -1]], Continuous("loguniform", -3, -1)),
        (["quniform", [0, 10, 2]], Continuous("quniform", 0, 10, 2)),
        (["qloguniform", [0, 3, 1]], Continuous("qloguniform", 0, 3, 1)),
        (["normal", [0, 1]], Continuous("normal", 0, 1)),
        (["lognormal", [0, 1]], Continuous("lognormal", 0, 1)),
        (["qnormal", [0, 1, 0.5]], Continuous("qnormal", 0, 1, 0.5)),
        (["qlognormal", [0, 1, 0.5]], Continuous("qlognormal", 0, 1, 0.5)),
        (["Uniform", [0, 1]], Continuous("uniform", 0, 1)),
    ],
)
def test_from_wire_reads_each_rest_form(wire, expected):
    assert from_wire("search_space.x", wire) == expected


def test_every_distribution_type_is_readable():
    assert set(DISTRIBUTION_TYPES) == {
        "choice",
        "randint",
        "uniform",
        "loguniform",
        "quniform",
        "qloguniform",
        "normal",
        "lognormal",
        "qnormal",
        "qlognormal",
    }


@pytest.mark.parametrize(
    ("wire", "fragments"),
    [
        (["beta", [0, 1]], ("unknown distribution type 'beta'", *DISTRIBUTION_TYPES)),
        (["uniform", [2, 1]], ("Uniform needs min_value < max_value", "2", "1")),
        (["quniform", [1, 1, 1]], ("QUniform needs min_value < max_value",)),
        (["loguniform", [-1, -2]], ("LogUniform needs min_value <= max_value", "-1", "-2")),
        (["qlognormal", [0, -0.5, 1]], ("QLogNormal needs sigma >= 0", "-0.5")),
        (["qnormal", [0, 1, -1]], ("QNormal needs q > 0", "-1")),
        (["randint", [2.5]], ("whole-number upper", "2.5")),
        (["randint", [0]], ("upper >= 1", "0")),
        (["choice", [[]]], ("at least one value",)),
        (["choice", [[True, False]]], ("booleans", "True")),
        (["choice", [[[1, 2], [3]]]], ("lists", "[1, 2]")),
        (["uniform", [0, float("nan")]], ("finite", "nan")),
        (["uniform", [0, "1"]], ("must be a number", "'1'")),
        (["uniform", [0]], ("Uniform needs min_value, max_value",)),
        (["loguniform", [0, 1000]], ("exponents", "1000")),
        ("uniform", ("expected a distribution",)),
    ],
)
def test_from_wire_rejects_bad_values_naming_the_path_and_value(wire, fragments):
    with pytest.raises(InvalidValue) as info:
        from_wire("search_space.lr", wire)
    assert info.value.path.startswith("search_space.lr")
    for fragment in fragments:
        assert fragment in info.value.message


def test_nested_distribution_errors_name_the_nested_path():
    with pytest.raises(InvalidValue) as info:
        from_wire("search_space.model", ["choice", [[{"name": "svm", "C": ["uniform", [5, 1]]}]]])
    assert info.value.path == "search_space.model[0].C"
    assert "(got 5 and 1)" in info.value.message


def test_search_space_maps_unit_columns_in_order():
    space = space_from_wire(
        {
            "a": ["uniform", [10, 20]],
            "b": ["choice", [["x", "y", "z", "w"]]],
            "c": ["randint", [10]],
            "d": ["normal", [0, 1]],
            "e": ["loguniform", [0, 1]],
        }
    )
    assert space.names == ("a", "b", "c", "d", "e")
    assert space.dims == 5
    u = np.array([[0.0, 0.0, 0.0, 0.5, 0.0], [0.5, 0.26, 0.95, 0.975, 0.5], [0.999999, 0.999999, 0.999999, 0.025, 1 - 1e-12]])
    rows = space.from_unit(u)
    assert rows[0] == {"a": 10.0, "b": "x", "c": 0, "d": 0.0, "e": 1.0}
    assert rows[1]["a"] == 15.0 and rows[1]["b"] == "y" and rows[1]["c"] == 9
    assert rows[1]["d"] == pytest.approx(1.959964, abs=1e-6)
    assert rows[1]["e"] == pytest.approx(math.exp(0.5))
    assert rows[2]["b"] == "w" and rows[2]["c"] == 9 and rows[2]["d"] == pytest.approx(-1.959964, abs=1e-6)
    assert list(rows[0]) == ["a", "b", "c", "d", "e"]


def test_normal_transform_is_finite_at_zero():
    value = Continuous("normal", 0, 1).values_from_unit(np.array([0.0]))[0]
    assert math.isfinite(value) and value < -30


def test_conditional_choice_uses_one_column_per_nested_distribution():
    space = space_from_wire({"m": ["choice", [[{"k": "a", "x": ["uniform", [0, 1]]}, {"k": "b", "y": ["randint", [3]]}]]]})
    assert space.dims == 3
    rows = space.from_unit(np.array([[0.1, 0.25, 0.9], [0.9, 0.25, 0.9]]))
    assert rows == [{"m": {"k": "a", "x": 0.25}}, {"m": {"k": "b", "y": 2}}]


def test_log_base_replaces_e():
    space = space_from_wire({"lr": ["loguniform", [-3, -1]], "w": ["lognormal", [0, 1]]}, log_base=10)
    rows = space.from_unit(np.array([[0.0, 0.5], [0.5, 0.975]]))
    assert rows[0]["lr"] == pytest.approx(1e-3) and rows[1]["lr"] == pytest.approx(1e-2)
    assert rows[0]["w"] == pytest.approx(1.0) and rows[1]["w"] == pytest.approx(10**1.959964, rel=1e-5)


@pytest.mark.parametrize(("value", "expected"), [(None, math.e), ("e", math.e), (" E ", math.e), (10, 10.0), ("2", 2.0)])
def test_parse_log_base(value, expected):
    assert parse_log_base(value) == expected


@pytest.mark.parametrize("value", [1, 0.5, -2, "ten", float("inf")])
def test_parse_log_base_rejects_bases_that_are_not_above_one(value):
    with pytest.raises(InvalidValue) as info:
        parse_log_base(value)
    assert info.value.path == "sampling_algorithm.logbase"
    assert repr(value) in info.value.message


def test_search_spaces_compare_by_content():
    a = space_from_wire({"x": ["uniform", [0, 1]], "y": ["choice", [[1, 2]]]})
    b = SearchSpace({"x": Continuous("uniform", 0, 1), "y": Choice(values=(1, 2))})
    assert a == b
    assert a != space_from_wire({"x": ["uniform", [0, 2]], "y": ["choice", [[1, 2]]]})
