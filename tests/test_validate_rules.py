"""One test per validation rule: severity, field path and offending value, for YAML files and Python objects.

Rules come from azure-ai-ml's own schema (which ``validate`` must keep rejecting) and from the service-side
rules the SDK lets through (semantics doc sections 1.3, 2.4, 2.5, 3.2, 4 and 9 item 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.ai.ml import command
from azure.ai.ml.entities import CommandJob

import azsweep
from azsweep import sweep
from azsweep.definition import load_spec
from azsweep.errors import Problem
from azsweep.space import DISTRIBUTION_TYPES

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "quickstart" / "sweep.yml"


def expect(definition, severity: str, path: str, *fragments: str) -> Problem:
    """Check ``definition`` has a ``severity`` problem at ``path`` whose message holds every fragment.

    Errors must also stop the spec from being built; warnings must not.
    """
    spec, d = load_spec(definition)
    matches = [p for p in d.problems if p.severity == severity and p.path == path]
    assert matches, f"no {severity} at {path!r}; got {[str(p) for p in d.problems]}"
    problem = next((p for p in matches if all(f in p.message for f in fragments)), matches[0])
    for fragment in fragments:
        assert fragment in problem.message, f"{fragment!r} not in {problem.message!r}"
    assert str(problem) == f"{severity}: {path}: {problem.message}"
    assert "Traceback" not in problem.message
    if severity == "error":
        assert spec is None
    else:
        assert spec is not None
        assert [p for p in d.problems if p.severity == "error"] == []
    return problem


def node(lr=None, *, command_text="python train.py --lr ${{inputs.lr}} --opt ${{inputs.opt}}", **sweep_kw):
    """A ``command(...)(...).sweep(...)`` node; ``lr`` replaces the default Uniform."""
    job = command(
        code="./src",
        command=command_text,
        environment="azureml:AzureML-sklearn-1.5@latest",
        inputs={"lr": 0.1, "opt": "sgd"},
        compute="cpu-cluster",
    )
    kw = {"primary_metric": "loss", "goal": "minimize", "sampling_algorithm": "random", "max_total_trials": 10}
    kw.update(sweep_kw)
    return job(lr=sweep.Uniform(0.01, 0.9) if lr is None else lr, opt=sweep.Choice(["sgd", "adam"])).sweep(**kw)


def sweep_job(**overrides):
    """A standalone ``SweepJob``; an override of None removes the argument."""
    args = {
        "trial": CommandJob(
            code="./src",
            command="python train.py --lr ${{search_space.lr}} --opt ${{search_space.opt}}",
            environment="azureml:AzureML-sklearn-1.5@latest",
        ),
        "compute": "cpu-cluster",
        "search_space": {"lr": sweep.Uniform(0.01, 0.9), "opt": sweep.Choice(["sgd", "adam"])},
        "sampling_algorithm": "random",
        "objective": sweep.Objective(goal="minimize", primary_metric="loss"),
        "limits": sweep.SweepJobLimits(max_total_trials=10, max_concurrent_trials=2),
    }
    args.update(overrides)
    return sweep.SweepJob(**{k: v for k, v in args.items() if v is not None})


def with_policy(policy):
    n = node()
    n.early_termination = policy
    return n


LR = "search_space.lr"


# --- valid definitions --------------------------------------------------------------------------


def test_the_base_definitions_are_valid(sweep_yaml):
    assert azsweep.validate(sweep_yaml()) == []
    assert azsweep.validate(node()) == []
    assert azsweep.validate(sweep_job()) == []


def test_the_quickstart_sample_has_no_errors():
    assert [p for p in azsweep.validate(SAMPLE) if p.severity == "error"] == []


# --- distribution values (semantics 1.3) --------------------------------------------------------


@pytest.mark.parametrize(("kind", "lo", "hi"), [("uniform", 1.0, 0.5), ("uniform", 0.3, 0.3), ("quniform", 10, 2)])
def test_uniform_needs_min_below_max(sweep_yaml, kind, lo, hi):
    item = {"type": kind, "min_value": lo, "max_value": hi, **({"q": 1} if kind == "quniform" else {})}
    expect(sweep_yaml({LR: item}), "error", LR, "min_value < max_value", f"(got {lo!r} and {hi!r})")


def test_uniform_min_above_max_from_python():
    expect(node(sweep.Uniform(1.0, 0.5)), "error", LR, "Uniform needs min_value < max_value", "(got 1.0 and 0.5)")


@pytest.mark.parametrize("kind", ["loguniform", "qloguniform"])
def test_loguniform_needs_min_not_above_max(sweep_yaml, kind):
    item = {"type": kind, "min_value": -2.0, "max_value": -4.0, **({"q": 1} if kind == "qloguniform" else {})}
    expect(sweep_yaml({LR: item}), "error", LR, "min_value <= max_value", "(got -2.0 and -4.0)")


def test_loguniform_with_equal_bounds_is_allowed(sweep_yaml):
    assert azsweep.validate(sweep_yaml({LR: {"type": "loguniform", "min_value": -2, "max_value": -2}})) == []


@pytest.mark.parametrize("upper", [0, -3])
def test_randint_upper_below_one(sweep_yaml, upper):
    expect(sweep_yaml({LR: {"type": "randint", "upper": upper}}), "error", LR, "upper >= 1", f"(got {upper})")


def test_randint_upper_not_whole_in_yaml(sweep_yaml):
    # azure-ai-ml silently truncates 2.5 to 2; azsweep refuses it
    expect(sweep_yaml({LR: {"type": "randint", "upper": 2.5}}), "error", LR, "whole-number upper", "(got 2.5)")


@pytest.mark.parametrize(
    ("dist", "fragments"),
    [
        (sweep.Randint(2.5), ("whole-number upper", "(got 2.5)")),
        (sweep.Randint(0), ("upper >= 1", "(got 0)")),
    ],
)
def test_randint_rules_from_python(dist, fragments):
    expect(node(dist), "error", LR, *fragments)


@pytest.mark.parametrize("kind", ["normal", "lognormal", "qnormal", "qlognormal"])
def test_sigma_below_zero(sweep_yaml, kind):
    item = {"type": kind, "mu": 0, "sigma": -0.5, **({"q": 1} if kind.startswith("q") else {})}
    expect(sweep_yaml({LR: item}), "error", LR, "sigma >= 0", "(got -0.5)")


def test_sigma_below_zero_from_python():
    expect(node(sweep.LogNormal(0, -1)), "error", LR, "LogNormal needs sigma >= 0", "(got -1)")


@pytest.mark.parametrize("q", [0, -1])
@pytest.mark.parametrize("kind", ["quniform", "qloguniform", "qnormal", "qlognormal"])
def test_q_not_positive(sweep_yaml, kind, q):
    args = {"mu": 0, "sigma": 1} if "normal" in kind else {"min_value": 0, "max_value": 3}
    expect(sweep_yaml({LR: {"type": kind, **args, "q": q}}), "error", LR, "q > 0", f"(got {q})")


def test_q_not_positive_from_python():
    expect(node(sweep.QUniform(0, 1, 0)), "error", LR, "QUniform needs q > 0", "(got 0)")


def test_empty_choice(sweep_yaml):
    expect(sweep_yaml({LR: {"type": "choice", "values": []}}), "error", LR, "at least one value", "(got [])")


def test_empty_choice_from_python():
    expect(node(sweep.Choice([])), "error", LR, "at least one value", "(got [])")


def test_bool_choice_values(sweep_yaml):
    # azure-ai-ml's schema rejects these with several unrelated "Not a valid ..." lines; ours is one clear line
    problem = expect(sweep_yaml({LR: {"type": "choice", "values": [True, False]}}), "error", LR, "booleans", "(got True")
    assert "Not a valid" not in problem.message


def test_bool_choice_values_from_python():
    # the Python SDK sends [true, false] as is
    expect(node(sweep.Choice([True, False])), "error", LR, "booleans", "(got True at index 0)")


def test_nested_list_choice_values(sweep_yaml):
    expect(sweep_yaml({LR: {"type": "choice", "values": [[1, 2], [3]]}}), "error", LR, "cannot be lists", "(got [1, 2]")


def test_nested_list_choice_values_from_python():
    expect(node(sweep.Choice([[1, 2], [3]])), "error", LR, "cannot be lists", "(got [1, 2] at index 0)")


def test_invalid_nested_distribution_inside_a_conditional_choice(sweep_yaml):
    item = {"type": "choice", "values": [{"name": "svm", "C": {"type": "uniform", "min_value": 5, "max_value": 1}}]}
    spec, d = load_spec(sweep_yaml({LR: item}))
    assert spec is None
    (problem,) = [p for p in d.problems if p.severity == "error"]
    assert problem.path.startswith(LR) and problem.path.endswith(".C")
    assert "(got 5 and 1)" in problem.message


def test_unknown_distribution_type_lists_the_accepted_ones(sweep_yaml):
    problem = expect(sweep_yaml({LR: {"type": "beta", "min_value": 0, "max_value": 1}}), "error", LR, "'beta'")
    for kind in DISTRIBUTION_TYPES:
        assert kind in problem.message


def test_unknown_distribution_field(sweep_yaml):
    expect(sweep_yaml({LR: {"type": "uniform", "min_value": 0, "max_value": 1, "q": 2}}), "error", LR, "unknown field 'q'")


def test_loguniform_bounds_written_as_values_overflow(sweep_yaml):
    expect(sweep_yaml({LR: {"type": "loguniform", "min_value": 0.0001, "max_value": 1000}}), "error", LR, "exponents", "1000")


# --- search-space names -------------------------------------------------------------------------


def test_search_space_key_azure_refuses(sweep_yaml):
    path = sweep_yaml(
        {
            "search_space.learning-rate": {"type": "uniform", "min_value": 0, "max_value": 1},
            "trial.command": "python t.py ${{search_space.lr}} ${{search_space.opt}}",
        }
    )
    expect(path, "error", "search_space.learning-rate", "'learning-rate'", "letters, digits and underscores")


def test_search_space_key_azure_refuses_from_python():
    space = {"learning-rate": sweep.Uniform(0, 1), "lr": sweep.Uniform(0, 1), "opt": sweep.Choice(["a"])}
    expect(sweep_job(search_space=space), "error", "search_space.learning-rate", "'learning-rate'")


# --- sampling algorithm and its allowed distributions (2.4, 2.5) --------------------------------


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ({"type": "uniform", "min_value": 0, "max_value": 1}, "uniform"),
        ({"type": "randint", "upper": 3}, "randint"),
        ({"type": "normal", "mu": 0, "sigma": 1}, "normal"),
    ],
)
def test_grid_with_a_non_choice_distribution(sweep_yaml, item, kind):
    expect(
        sweep_yaml({"sampling_algorithm": "grid", LR: item}), "error", LR, "Grid sampling supports only choice", f"(got {kind})"
    )


def test_grid_with_a_non_choice_distribution_from_python():
    expect(node(sampling_algorithm="grid"), "error", LR, "Grid", "(got uniform)")


def test_grid_of_choices_is_valid(sweep_yaml):
    assert azsweep.validate(sweep_yaml({"sampling_algorithm": "grid", LR: {"type": "choice", "values": [0.1, 0.01]}})) == []


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        ({"type": "loguniform", "min_value": -3, "max_value": -1}, "loguniform"),
        ({"type": "randint", "upper": 4}, "randint"),
        ({"type": "qloguniform", "min_value": 0, "max_value": 2, "q": 1}, "qloguniform"),
        ({"type": "normal", "mu": 0, "sigma": 1}, "normal"),
    ],
)
def test_bayesian_with_an_unsupported_distribution(sweep_yaml, item, kind):
    expect(
        sweep_yaml({"sampling_algorithm": "bayesian", LR: item}),
        "error",
        LR,
        "Bayesian sampling supports only choice, uniform, quniform",
        f"(got {kind})",
    )


def test_bayesian_with_supported_distributions_is_valid(sweep_yaml):
    path = sweep_yaml(
        {
            "sampling_algorithm": {"type": "bayesian"},
            LR: {"type": "quniform", "min_value": 0, "max_value": 10, "q": 1},
            "limits.max_total_trials": 40,  # Azure's advice: 20 trials per swept parameter
        }
    )
    assert azsweep.validate(path) == []


def test_bayesian_quniform_needs_whole_numbers(sweep_yaml):
    path = sweep_yaml({"sampling_algorithm": "bayesian", LR: {"type": "quniform", "min_value": 0, "max_value": 1, "q": 0.5}})
    expect(path, "error", LR, "whole-number", "0.5")


def test_bayesian_with_a_policy_is_a_warning(sweep_yaml):
    path = sweep_yaml(
        {"sampling_algorithm": "bayesian", "early_termination": {"type": "median_stopping", "evaluation_interval": 1}}
    )
    expect(path, "warning", "early_termination", "Bayesian", "(got median_stopping)")


def test_bayesian_with_a_policy_is_a_warning_from_python():
    n = node(sampling_algorithm="bayesian", early_termination_policy=sweep.BanditPolicy(slack_factor=0.1, evaluation_interval=1))
    expect(n, "warning", "early_termination", "Bayesian", "(got bandit)")


def test_missing_sampling_algorithm(sweep_yaml):
    expect(sweep_yaml(drop=["sampling_algorithm"]), "error", "sampling_algorithm", "required", "random, grid or bayesian")


def test_missing_sampling_algorithm_from_python():
    expect(sweep_job(sampling_algorithm=None), "error", "sampling_algorithm", "required")


def test_sampling_algorithm_azure_ai_ml_refuses(sweep_yaml):
    expect(
        sweep_yaml({"sampling_algorithm": {"type": "random", "rule": "halton"}}),
        "error",
        "sampling_algorithm.rule",
        "random, sobol",
        "halton",
    )


def test_unknown_sampling_rule_from_python():
    # the Python object does not check rule; azsweep does
    expect(node(sampling_algorithm=sweep.RandomSamplingAlgorithm(rule="halton")), "error", "sampling_algorithm.rule", "'halton'")


def test_negative_seed(sweep_yaml):
    expect(sweep_yaml({"sampling_algorithm": {"type": "random", "seed": -1}}), "error", "sampling_algorithm.seed", "(got -1)")


def test_logbase_not_above_one(sweep_yaml):
    expect(
        sweep_yaml({"sampling_algorithm": {"type": "random", "logbase": 0.5}}), "error", "sampling_algorithm.logbase", "(got 0.5)"
    )


# --- early termination (3.2) --------------------------------------------------------------------


def test_bandit_with_neither_slack(sweep_yaml):
    path = sweep_yaml({"early_termination": {"type": "bandit", "evaluation_interval": 1}})
    expect(path, "error", "early_termination", "exactly one of slack_factor or slack_amount", "neither")


def test_bandit_with_both_slacks(sweep_yaml):
    path = sweep_yaml(
        {"early_termination": {"type": "bandit", "evaluation_interval": 1, "slack_factor": 0.1, "slack_amount": 0.2}}
    )
    expect(path, "error", "early_termination", "exactly one", "slack_factor=0.1", "slack_amount=0.2")


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        (sweep.BanditPolicy(evaluation_interval=1), "neither"),
        (sweep.BanditPolicy(slack_factor=0.1, slack_amount=0.3, evaluation_interval=1), "slack_amount=0.3"),
    ],
)
def test_bandit_slack_rules_from_python(policy, fragment):
    expect(with_policy(policy), "error", "early_termination", "exactly one", fragment)


@pytest.mark.parametrize("percentage", [0, 150])
def test_truncation_percentage_out_of_range(sweep_yaml, percentage):
    path = sweep_yaml(
        {"early_termination": {"type": "truncation_selection", "evaluation_interval": 1, "truncation_percentage": percentage}}
    )
    expect(path, "error", "early_termination.truncation_percentage", "between 1 and 99", f"(got {percentage})")


@pytest.mark.parametrize("percentage", [0, 150])
def test_truncation_percentage_out_of_range_from_python(percentage):
    policy = sweep.TruncationSelectionPolicy(truncation_percentage=percentage, evaluation_interval=1)
    expect(with_policy(policy), "error", "early_termination.truncation_percentage", f"(got {percentage})")


def test_truncation_percentage_missing(sweep_yaml):
    path = sweep_yaml({"early_termination": {"type": "truncation_selection", "evaluation_interval": 1}})
    expect(path, "error", "early_termination.truncation_percentage", "required")


def test_evaluation_interval_zero_is_a_warning(sweep_yaml):
    path = sweep_yaml({"early_termination": {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 0}})
    problem = expect(path, "warning", "early_termination.evaluation_interval", "is 0")
    assert load_spec(path)[0].policy.evaluation_interval == 1  # treated as 1 locally
    assert "set it explicitly" in problem.message


def test_missing_evaluation_interval_is_sent_as_zero_and_warned(sweep_yaml):
    path = sweep_yaml({"early_termination": {"type": "bandit", "slack_factor": 0.1}})
    expect(path, "warning", "early_termination.evaluation_interval", "is 0")


def test_evaluation_interval_zero_from_python():
    expect(with_policy(sweep.BanditPolicy(slack_factor=0.1)), "warning", "early_termination.evaluation_interval", "is 0")


def test_negative_delay_evaluation(sweep_yaml):
    path = sweep_yaml(
        {"early_termination": {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 1, "delay_evaluation": -2}}
    )
    expect(path, "error", "early_termination.delay_evaluation", ">= 0", "(got -2)")


def test_negative_delay_evaluation_from_python():
    policy = sweep.MedianStoppingPolicy(evaluation_interval=1, delay_evaluation=-1)
    expect(with_policy(policy), "error", "early_termination.delay_evaluation", "(got -1)")


def test_unknown_policy_type(sweep_yaml):
    expect(
        sweep_yaml({"early_termination": {"type": "banditt", "slack_factor": 0.1}}),
        "error",
        "early_termination.type",
        "bandit, median_stopping, truncation_selection",
        "banditt",
    )


# --- objective and limits (4) -------------------------------------------------------------------


def test_goal_typo(sweep_yaml):
    expect(sweep_yaml({"objective.goal": "maximise"}), "error", "objective.goal", "minimize", "maximize", "'maximise'")


def test_goal_typo_from_python():
    # azure-ai-ml sends "maximise" as is
    expect(node(goal="maximise"), "error", "objective.goal", "minimize or maximize", "'maximise'")


def test_goal_is_case_insensitive(sweep_yaml):
    spec, d = load_spec(sweep_yaml({"objective.goal": "MAXIMIZE"}))
    assert d.problems == [] and spec.objective.goal == "maximize"


def test_missing_objective(sweep_yaml):
    expect(sweep_yaml(drop=["objective"]), "error", "objective", "required")


def test_missing_objective_from_python():
    expect(sweep_job(objective=None), "error", "objective", "required", "goal", "primary_metric")


def test_missing_primary_metric(sweep_yaml):
    expect(sweep_yaml(drop=["objective.primary_metric"]), "error", "objective.primary_metric", "required")


def test_missing_limits(sweep_yaml):
    expect(sweep_yaml(drop=["limits"]), "error", "limits", "required")


def test_missing_limits_from_python():
    # the REST schema makes limits optional and the YAML reference documents 1000: a warning, and the default
    expect(sweep_job(limits=None), "warning", "limits.max_total_trials", "is not set", "default is 1000")
    spec, _ = load_spec(sweep_job(limits=None))
    assert spec is not None and spec.limits.max_total_trials == 1000


@pytest.mark.parametrize("total", [0, 5000])
def test_max_total_trials_out_of_range(sweep_yaml, total):
    expect(
        sweep_yaml({"limits.max_total_trials": total}), "error", "limits.max_total_trials", "between 1 and 1000", f"(got {total})"
    )


@pytest.mark.parametrize("total", [0, 5000])
def test_max_total_trials_out_of_range_from_python(total):
    # the SDK accepts 5000 and 0 without complaint
    expect(node(max_total_trials=total), "error", "limits.max_total_trials", f"(got {total})")


def test_max_total_trials_at_the_bounds_is_valid(sweep_yaml):
    assert azsweep.validate(sweep_yaml({"limits.max_total_trials": 1000, "limits.max_concurrent_trials": 1})) == []
    assert azsweep.validate(sweep_yaml({"limits.max_total_trials": 1})) == []


def test_max_concurrent_trials_zero(sweep_yaml):
    expect(sweep_yaml({"limits.max_concurrent_trials": 0}), "error", "limits.max_concurrent_trials", "(got 0)")


def test_max_concurrent_trials_zero_from_python():
    expect(node(max_concurrent_trials=0), "error", "limits.max_concurrent_trials", "between 1 and 1000", "(got 0)")


def test_max_concurrent_trials_defaults_to_max_total_trials(sweep_yaml):
    spec, _ = load_spec(sweep_yaml(drop=["limits.max_concurrent_trials"]))
    assert spec.limits.max_concurrent_trials == spec.limits.max_total_trials == 10


# --- trial command and references (5.4) ---------------------------------------------------------


def test_missing_trial_command(sweep_yaml):
    expect(sweep_yaml(drop=["trial.command"]), "error", "trial.command", "required")


def test_missing_trial_command_from_python():
    trial = CommandJob(code="./src", environment="azureml:AzureML-sklearn-1.5@latest")
    expect(sweep_job(trial=trial), "error", "trial.command", "required")


def test_undefined_search_space_reference(sweep_yaml):
    path = sweep_yaml({"trial.command": "python t.py ${{search_space.lr}} ${{search_space.opt}} ${{search_space.typo}}"})
    expect(path, "error", "trial.command", "${{search_space.typo}}", "'typo'", "defined: lr, opt")


def test_undefined_search_space_reference_from_python():
    trial = CommandJob(
        code="./src",
        command="python t.py ${{search_space.lr}} ${{search_space.opt}} ${{search_space.lrr}}",
        environment="azureml:AzureML-sklearn-1.5@latest",
    )
    expect(sweep_job(trial=trial), "error", "trial.command", "${{search_space.lrr}}", "'lrr'")


def test_undefined_input_reference(sweep_yaml):
    path = sweep_yaml({"trial.command": "python t.py ${{search_space.lr}} ${{search_space.opt}} ${{inputs.typo}}"})
    expect(path, "error", "trial.command", "${{inputs.typo}}", "'typo'")


def test_undefined_input_reference_when_other_inputs_exist(sweep_yaml):
    path = sweep_yaml(
        {"inputs": {"epochs": 3}, "trial.command": "python t.py ${{search_space.lr}} ${{search_space.opt}} ${{inputs.epoch}}"}
    )
    expect(path, "error", "trial.command", "${{inputs.epoch}}", "'epoch'")


def test_search_space_name_never_used_is_a_warning(sweep_yaml):
    path = sweep_yaml({"trial.command": "python train.py --lr ${{search_space.lr}}"})
    expect(path, "warning", "search_space.opt", "never used", "${{search_space.opt}}", "AZUREML_SWEEP_opt")


def test_search_space_name_never_used_from_python():
    expect(node(command_text="python train.py --lr ${{inputs.lr}}"), "warning", "search_space.opt", "never used")


# --- what azure-ai-ml's schema itself rejects, translated ---------------------------------------


def test_unknown_top_level_field(sweep_yaml):
    expect(sweep_yaml({"max_trials": 5}), "error", "max_trials", "Unknown field")


def test_wrong_type_for_a_limit(sweep_yaml):
    expect(sweep_yaml({"limits.max_total_trials": "many"}), "error", "limits.max_total_trials")


def test_every_problem_in_a_file_is_reported(sweep_yaml):
    path = sweep_yaml(
        {
            LR: {"type": "uniform", "min_value": 1, "max_value": 0},
            "limits.max_total_trials": 5000,
            "early_termination": {"type": "bandit", "evaluation_interval": 1},
        }
    )
    paths = {p.path for p in azsweep.validate(path) if p.severity == "error"}
    assert paths == {LR, "limits.max_total_trials", "early_termination"}


def test_a_schema_error_does_not_hide_the_other_problems_of_the_file(sweep_yaml):
    # azure-ai-ml's load_job stops at the goal typo; our own rules still report the rest in the same pass
    path = sweep_yaml(
        {
            "objective.goal": "maximise",
            "trial.command": "python train.py --lr ${{search_space.lr}} --opt ${{search_space.opt}} --x ${{search_space.typo}}",
            "early_termination": {"type": "bandit", "evaluation_interval": 1},
            "limits.max_total_trials": 5000,
        }
    )
    errors = {p.path: p.message for p in azsweep.validate(path) if p.severity == "error"}
    assert "maximise" in errors["objective.goal"]
    assert "'typo'" in errors["trial.command"]
    assert "neither is set" in errors["early_termination"]
    assert "(got 5000)" in errors["limits.max_total_trials"]
    assert len(errors) == 4  # each once, not twice (schema and ours)
