"""Rules from Azure's REST schema (Microsoft.MachineLearningServices ``mfe.json``, stable 2024-04-01) that azure-ai-ml
does not enforce itself, the budget warnings, the fields a local run does not apply, the documented default of
``max_total_trials``, the refusal of samples that overflow to inf, and the rule that non-finite scores never win."""

from __future__ import annotations

import math
import sys

import pytest
from azure.ai.ml import command

from azsweep import sweep
from azsweep.definition import load_job_spec, load_spec
from azsweep.errors import InvalidValue
from azsweep.space import from_wire, shown
from azsweep.spec import best_item, best_value, better, ranked


def problems(definition, severity: str = "error") -> list[tuple[str, str]]:
    _, d = load_spec(definition)
    return [(p.path, p.message) for p in d.problems if p.severity == severity]


def only(definition, path: str, *fragments: str, severity: str = "error") -> str:
    found = [m for p, m in problems(definition, severity) if p == path]
    assert found, f"no {severity} at {path}: {problems(definition, severity)}"
    for fragment in fragments:
        assert fragment in found[0], found[0]
    return found[0]


# --- RandomSamplingAlgorithm.seed: int32 ----------------------------------------------------------


def test_seed_beyond_int32_is_refused(sweep_yaml):
    only(sweep_yaml({"sampling_algorithm": {"type": "random", "seed": 2**32}}), "sampling_algorithm.seed", "2**31 - 1")


def test_seed_at_the_int32_bound_is_valid(sweep_yaml):
    assert problems(sweep_yaml({"sampling_algorithm": {"type": "random", "seed": 2**31 - 1}})) == []


def test_float_seed_is_refused_not_truncated(sweep_yaml):
    # azure-ai-ml sends seed 1.5 as 1 (marshmallow truncates): refused on the YAML's own value
    only(sweep_yaml({"sampling_algorithm": {"type": "random", "seed": 1.5}}), "sampling_algorithm.seed", "got 1.5")


# --- SweepJobLimits / policies: int32 fields given as fractions ---------------------------------


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"limits.max_total_trials": 4.5}, "limits.max_total_trials"),
        ({"limits.max_concurrent_trials": 1.5}, "limits.max_concurrent_trials"),
        (
            {"early_termination": {"type": "truncation_selection", "evaluation_interval": 1, "truncation_percentage": 10.5}},
            "early_termination.truncation_percentage",
        ),
        ({"early_termination": {"type": "median_stopping", "delay_evaluation": 2.5}}, "early_termination.delay_evaluation"),
    ],
)
def test_fractional_integer_fields_are_refused(sweep_yaml, changes, path):
    only(sweep_yaml(changes), path, "whole number")


def test_whole_float_counts_are_accepted(sweep_yaml):
    assert problems(sweep_yaml({"limits.max_total_trials": 4.0})) == []


def test_evaluation_interval_beyond_int32(sweep_yaml):
    policy = {"type": "median_stopping", "evaluation_interval": 2**31}
    only(sweep_yaml({"early_termination": policy}), "early_termination.evaluation_interval", "2**31 - 1")


# --- Objective.primaryMetric: minLength 1, pattern [a-zA-Z0-9_] ----------------------------------


@pytest.mark.parametrize("metric", ["---", " . "])
def test_primary_metric_needs_a_word_character(sweep_yaml, metric):
    only(sweep_yaml({"objective.primary_metric": metric}), "objective.primary_metric", "[a-zA-Z0-9_]")


@pytest.mark.parametrize("metric", ["loss ", " loss", "loss\t"])
def test_primary_metric_with_surrounding_whitespace(sweep_yaml, metric):
    only(sweep_yaml({"objective.primary_metric": metric}), "objective.primary_metric", "whitespace")


def test_primary_metric_from_python_with_a_trailing_space():
    node = command(command="python t.py ${{inputs.lr}}", environment="azureml:env@latest", inputs={"lr": 0.1})
    swept = node(lr=sweep.Uniform(0, 1)).sweep(primary_metric="loss ", goal="minimize", max_total_trials=4)
    swept.sampling_algorithm = "random"
    only(swept, "objective.primary_metric", "whitespace")


# --- TrialComponent.command: references -----------------------------------------------------------


@pytest.mark.parametrize(
    ("command_text", "fragment"),
    [
        ("python t.py ${{search_space.lr} ${{search_space.opt}}", "unbalanced"),
        ("python t.py ${{search_space.lr}} ${{search_space.opt", "no closing"),
        ("python t.py ${{search_space.lr}} ${{search_space.opt}} ${{foo.bar}}", "unknown reference 'foo'"),
        ("python t.py ${{search_space.lr}} ${{search_space.opt}} ${{parent.inputs.x}}", "unknown reference 'parent'"),
    ],
)
def test_malformed_references_in_the_command(sweep_yaml, command_text, fragment):
    only(sweep_yaml({"trial.command": command_text}), "trial.command", fragment)


def test_a_command_job_cannot_refer_to_a_search_space(tmp_path):
    path = tmp_path / "job.yml"
    path.write_text("command: echo ${{search_space.lr}}\nenvironment: azureml:env@latest\n", encoding="utf-8")
    _, d = load_job_spec(path, commands=True)
    assert [(p.path, p.severity) for p in d.problems] == [("command", "error")]
    assert "unknown reference 'search_space'" in d.problems[0].message


def test_plain_braces_in_a_command_are_not_references(sweep_yaml):
    text = 'python t.py --cfg \'{"a": {"b": 1}}\' ${{search_space.lr}} ${{search_space.opt}}'
    assert problems(sweep_yaml({"trial.command": text})) == []


# --- environment variables: checked before anything starts --------------------------------------


@pytest.mark.parametrize(
    ("env", "path", "fragment"),
    [
        ({"A=B": "1"}, "trial.environment_variables.A=B", "'='"),
        ({"A": "x\0y"}, "trial.environment_variables.A", "NUL"),
        ({"A": [1, 2]}, "trial.environment_variables.A", "string or a number"),
    ],
)
def test_environment_variables_a_process_cannot_hold(sweep_yaml, env, path, fragment):
    only(sweep_yaml({"trial.environment_variables": env}), path, fragment)


def test_environment_variables_as_a_list(sweep_yaml):
    only(sweep_yaml({"trial.environment_variables": ["A=1"]}), "trial.environment_variables")


def test_valid_environment_variables_reach_the_spec(sweep_yaml):
    spec, _ = load_spec(sweep_yaml({"trial.environment_variables": {"A": 1, "B": "two"}}))
    assert spec is not None and dict(spec.trial.environment_variables) == {"A": "1", "B": "two"}


# --- warnings -------------------------------------------------------------------------------------


def test_a_grid_larger_than_the_budget_is_a_warning(sweep_yaml):
    grid = {
        "sampling_algorithm": "grid",
        "search_space.lr": {"type": "choice", "values": [0.1, 0.01, 0.001]},
        "search_space.opt": {"type": "choice", "values": ["sgd", "adam", "rmsprop"]},
        "limits.max_total_trials": 4,
    }
    only(sweep_yaml(grid), "limits.max_total_trials", "grid has 9 combinations", "first 4", severity="warning")
    assert problems(sweep_yaml({**grid, "limits.max_total_trials": 9}), "warning") == []


def test_a_small_bayesian_budget_is_a_warning(sweep_yaml):
    bayes = {"sampling_algorithm": "bayesian", "limits.max_total_trials": 5}
    only(sweep_yaml(bayes), "limits.max_total_trials", "is 5", "2 parameters: 40", severity="warning")
    assert problems(sweep_yaml({**bayes, "limits.max_total_trials": 40}), "warning") == []


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"queue_settings": {"job_tier": "spot"}}, "queue_settings"),
        ({"identity": {"type": "user_identity"}}, "identity"),
    ],
)
def test_fields_a_local_run_does_not_apply_are_warnings(sweep_yaml, changes, path):
    only(sweep_yaml(changes), path, "not applied by a local run", severity="warning")


def test_services_of_a_command_job_are_a_warning(tmp_path):
    path = tmp_path / "job.yml"
    path.write_text("command: echo hi\nenvironment: azureml:env@latest\nservices:\n  my_ssh:\n    type: ssh\n", encoding="utf-8")
    _, d = load_job_spec(path, commands=True)
    assert [(p.severity, p.path) for p in d.problems] == [("warning", "services")]


# --- max_total_trials: the documented default ----------------------------------------------------


def test_a_python_sweep_without_limits_gets_the_documented_default_with_a_warning():
    node = command(command="python t.py ${{inputs.lr}}", environment="azureml:env@latest", inputs={"lr": 0.1})
    swept = node(lr=sweep.Uniform(0, 1)).sweep(primary_metric="loss", goal="minimize")
    swept.sampling_algorithm = "random"
    spec, d = load_spec(swept)
    assert spec is not None and spec.limits.max_total_trials == 1000
    assert [(p.severity, p.path) for p in d.problems] == [("warning", "limits.max_total_trials")]
    assert "default is 1000" in d.problems[0].message


def test_a_yaml_without_max_total_trials_is_refused_by_azure_ai_ml(sweep_yaml):
    # azure-ai-ml's YAML schema requires it (az ml job create refuses the file), so it stays an error
    only(sweep_yaml(drop=["limits.max_total_trials"]), "limits.max_total_trials", "required")


# --- samples that overflow to inf ------------------------------------------------------------------


@pytest.mark.parametrize(
    "wire",
    [
        ["uniform", [-1e308, 1e308]],
        ["quniform", [-1e308, 1e308, 1]],
        ["normal", [0, 1e307]],
        ["normal", [1.7e308, 1e307]],
        ["qnormal", [0, 1, 1e-320]],
        ["lognormal", [1000, 1]],
        ["lognormal", [0, 100]],
        ["qlognormal", [700, 1, 1]],
        ["loguniform", [0, 710]],
        ["qloguniform", [0, 710, 1]],
        ["quniform", [0, 1e20, 1]],
    ],
)
def test_every_distribution_that_would_sample_inf_is_refused(wire):
    with pytest.raises(InvalidValue) as info:
        from_wire("search_space.x", wire)
    assert info.value.path == "search_space.x"
    assert "overflow" in info.value.message or "64 bits" in info.value.message


@pytest.mark.parametrize(
    "wire",
    [["uniform", [-1e307, 1e307]], ["lognormal", [0, 10]], ["normal", [0, 1e300]], ["loguniform", [-700, 700]]],
)
def test_wide_distributions_that_stay_finite_are_accepted_and_sample_finite_values(wire):
    import numpy as np

    dist = from_wire("search_space.x", wire)
    u = np.array([[0.0], [1 - 2**-53], [0.5]])
    assert all(math.isfinite(v) for v in dist.from_unit(u))


def test_randint_upper_beyond_2_53_is_refused():
    with pytest.raises(InvalidValue, match=r"2\*\*53"):
        from_wire("search_space.n", ["randint", [1e20]])


# --- echoed values are cut -------------------------------------------------------------------------


def test_shown_cuts_long_and_self_similar_values():
    nested: list = ["lol"] * 9
    for _ in range(30):  # 9**31 leaves: rendering it in full would never finish
        nested = [nested] * 9
    assert len(shown(nested)) <= 200
    assert len(shown("x" * 10_000)) <= 200
    assert shown(0.5) == "0.5"


def test_a_huge_choice_value_is_echoed_cut():
    with pytest.raises(InvalidValue) as info:
        from_wire("search_space.c", ["choice", [[["a" * 5000]]]])
    assert len(info.value.message) < 300


# --- non-finite scores never win ------------------------------------------------------------------

BIG = sys.float_info.max  # what MLflow's database stores for +-inf


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, BIG, -BIG])
def test_non_finite_scores_never_win(bad):
    for maximize in (True, False):
        assert not better(bad, 0.5, maximize)
        assert better(0.5, bad, maximize)
        assert best_value([1.0, bad, 0.5], maximize) == (1.0 if maximize else 0.5)
        assert best_item([bad, 0.7], maximize=maximize) == 0.7
        order = ranked([bad, 0.7, 0.2], maximize=maximize)
        assert order[:2] == ([0.7, 0.2] if maximize else [0.2, 0.7])  # the non-finite score ranks last
        assert len(order) == 3


def test_a_trial_that_only_logged_inf_has_no_score():
    assert best_value([math.inf, -BIG], maximize=False) is None
