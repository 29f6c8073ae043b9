"""Each rule lives once, in ``azsweep.spec`` / ``azsweep.space``: every caller (YAML ``validate``, the Python API,
the samplers, ``optimize``, the policies, the plots) gives the same answer and the same message."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from azure.ai.ml import sweep as azure_sweep

import azsweep
from azsweep import sweep
from azsweep.api import algorithm_from, search_space_from
from azsweep.definition import load_spec, yaml_to_wire
from azsweep.errors import DefinitionError, InvalidValue, Problem
from azsweep.optimization import optimize
from azsweep.policies import Bandit, RecordedTrial, replay_curves
from azsweep.report.charts import best_so_far
from azsweep.report.replay import policy_from
from azsweep.samplers import BayesianSampler, GridSampler
from azsweep.space import DISTRIBUTION_ARGS, DISTRIBUTION_TYPES, LINEAR_DISTRIBUTIONS, LOG_DISTRIBUTIONS, from_wire
from azsweep.spec import (
    FIELDS,
    MAX_TRIALS,
    PROPERTIES,
    YAML_NAMES,
    Algorithm,
    Objective,
    Policy,
    algorithm_wire,
    best_item,
    best_value,
    better,
    check_algorithm,
    check_algorithm_rules,
    check_key_name,
    check_max_total_trials,
    check_policy,
    format_duration,
    parse_duration,
    parse_goal,
    ranked,
    rest_name,
    section_from_rest,
    section_to_rest,
    yaml_name,
)

NAN = math.nan

# --- scoring ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "maximize", "expected"),
    [
        (2.0, 1.0, True, True),
        (1.0, 2.0, True, False),
        (1.0, 2.0, False, True),
        (2.0, 1.0, False, False),
        (1.0, 1.0, True, False),
        (1.0, 1.0, False, False),  # a tie is not better: the earlier keeps its place
        (1.0, None, True, True),
        (1.0, None, False, True),
        (-math.inf, None, True, False),  # a non-finite score never wins
        (1.0, NAN, True, True),
        (NAN, 1.0, True, False),
        (NAN, None, False, False),
        (None, 1.0, False, False),
        (math.inf, 1e300, True, False),
        (-math.inf, -1e300, False, False),
    ],
)
def test_better(a, b, maximize, expected):
    assert better(a, b, maximize) is expected
    assert Objective("maximize" if maximize else "minimize", "m").better(a, b) is expected


@pytest.mark.parametrize(
    ("values", "maximize", "expected"),
    [
        ([3.0, 1.0, 2.0], True, 3.0),
        ([3.0, 1.0, 2.0], False, 1.0),  # the best, not the last
        ([NAN, 2.0, NAN, 5.0], True, 5.0),
        ([NAN, 2.0, NAN, 5.0], False, 2.0),  # NaN ignored
        ([NAN, NAN], True, None),
        ([], False, None),
        ([-math.inf, 0.0], False, 0.0),
    ],
)
def test_best_value(values, maximize, expected):
    assert best_value(values, maximize) == expected
    assert Objective("maximize" if maximize else "minimize", "m").best(values) == expected


def test_ranked_is_best_first_ties_in_order_and_unscored_last():
    items = [("a", 2.0), ("b", None), ("c", 5.0), ("d", 2.0), ("e", NAN), ("f", 1.0), ("g", 5.0)]
    score = lambda item: item[1]  # noqa: E731
    assert [n for n, _ in ranked(items, score=score, maximize=True)] == ["c", "g", "a", "d", "f", "b", "e"]
    assert [n for n, _ in ranked(items, score=score, maximize=False)] == ["f", "a", "d", "c", "g", "b", "e"]
    assert [n for n, _ in Objective("minimize", "m").ranked(items, score=score)] == ["f", "a", "d", "c", "g", "b", "e"]
    assert ranked([3, 1, 2], maximize=False) == [1, 2, 3]  # no score function: the items are the scores
    assert ranked([], maximize=True) == []


def test_best_item_is_the_first_ranked_scored_item():
    items = [("a", None), ("b", 2.0), ("c", 7.0), ("d", 7.0), ("e", NAN)]
    score = lambda item: item[1]  # noqa: E731
    assert best_item(items, score=score, maximize=True) == ("c", 7.0)
    assert best_item(items, score=score, maximize=False) == ("b", 2.0)
    assert Objective("maximize", "m").best_item(items, score=score) == ("c", 7.0)
    assert best_item([("a", None), ("b", NAN)], score=score, maximize=True) is None
    for maximize in (True, False):
        first = ranked(items, score=score, maximize=maximize)[0]
        assert best_item(items, score=score, maximize=maximize) == first


def test_the_plots_running_best_uses_the_same_rule():
    assert best_so_far([None, 3.0, 1.0, None, 4.0, 4.0], True) == [None, 3.0, 3.0, 3.0, 4.0, 4.0]
    assert best_so_far([None, 3.0, 1.0, None, 4.0], False) == [None, 3.0, 1.0, 1.0, 1.0]


def test_optimize_and_replay_pick_the_leader_by_the_same_rule():
    # ties go to the earlier trial; NaN curves and failed trials never lead
    values = {0: 5.0, 1: 7.0, 2: 7.0, 3: 1.0}
    result = optimize(
        lambda p: values[p["x"]],
        search_space={"x": sweep.Choice([0, 1, 2, 3])},
        goal="maximize",
        sampling_algorithm="grid",
        max_total_trials=4,
    )
    assert (result.best_trial, result.best_value) == (1, 7.0)
    trials = [
        RecordedTrial(f"t{i}", i, values, tuple(range(len(values))))
        for i, values in enumerate([(NAN, NAN), (1.0, 7.0, 2.0), (7.0, NAN), (1.0,)])
    ]
    replay = replay_curves(trials, Bandit(Policy("bandit", slack_factor=100.0), maximize=True))
    assert (replay.best_trial, replay.best_score) == ("t1", 7.0)


# --- grid and Bayesian distribution rules -------------------------------------------------------------


GRID_YAML = """\
type: sweep
trial: {{command: "python t.py ${{{{search_space.opt}}}} ${{{{search_space.lr}}}}", code: src,
        environment: "azureml:AzureML-sklearn-1.5@latest"}}
compute: azureml:cpu
sampling_algorithm: {algorithm}
search_space:
  opt: {{type: choice, values: [sgd, adam]}}
  lr: {lr}
objective: {{goal: minimize, primary_metric: loss}}
limits: {{max_total_trials: 4}}
"""


def _validate_errors(tmp_path: Path, algorithm: str, lr: str) -> list[str]:
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / f"{algorithm}.yml"
    path.write_text(GRID_YAML.format(algorithm=algorithm, lr=lr))
    return [f"{p.path}: {p.message}" for p in azsweep.validate(path) if p.severity == "error"]


@pytest.mark.parametrize(
    ("algorithm", "sampler", "dist", "yaml", "expected"),
    [
        (
            "grid",
            GridSampler,
            sweep.Uniform(0, 1),
            "{type: uniform, min_value: 0, max_value: 1}",
            "search_space.lr: Grid sampling supports only choice (got uniform)",
        ),
        (
            "grid",
            GridSampler,
            sweep.Choice([{"k": sweep.Uniform(0, 1)}]),
            "{type: choice, values: [{k: {type: uniform, min_value: 0, max_value: 1}}]}",
            "search_space.lr: Grid sampling needs plain choice values, not dicts (conditional spaces work with random sampling)",
        ),
        (
            "bayesian",
            BayesianSampler,
            sweep.LogUniform(-3, -1),
            "{type: loguniform, min_value: -3, max_value: -1}",
            "search_space.lr: Bayesian sampling supports only choice, uniform, quniform (got loguniform)",
        ),
        (
            "bayesian",
            BayesianSampler,
            sweep.Choice([{"k": 1}, {"k": 2}]),
            "{type: choice, values: [{k: 1}, {k: 2}]}",
            "search_space.lr: Bayesian sampling needs plain choice values, not dicts "
            "(conditional spaces work with random sampling)",
        ),
    ],
)
def test_a_bad_space_gets_one_message_from_sample_the_sampler_and_validate(tmp_path, algorithm, sampler, dist, yaml, expected):
    space = {"opt": sweep.Choice(["sgd", "adam"]), "lr": dist}
    with pytest.raises(DefinitionError) as from_sample:
        azsweep.sample(space, 2, sampling_algorithm=algorithm, seed=0)
    assert [f"{p.path}: {p.message}" for p in from_sample.value.problems] == [expected]
    with pytest.raises(InvalidValue) as from_sampler:
        sampler(search_space_from(space), 0)
    assert str(from_sampler.value) == expected
    assert _validate_errors(tmp_path, algorithm, yaml) == [expected]


def test_the_samplers_take_what_they_can_sample_that_only_azure_refuses():
    # a fractional quniform step and mixed choice values: Azure's rules, not the local samplers' needs
    space = search_space_from({"x": sweep.QUniform(0, 1, 0.25), "c": sweep.Choice([1, "a"])})
    assert [p.path for p in check_algorithm_rules(space.params, "bayesian")] == ["search_space.x", "search_space.c"]
    assert check_algorithm_rules(space.params, "bayesian", azure_rules=False) == []
    BayesianSampler(space, 0)
    grid = search_space_from({"c": sweep.Choice([1, "a"]), "d": sweep.Choice([{"k": 1}])})
    assert check_algorithm_rules(grid.params, "grid", azure_rules=False) == []
    assert GridSampler(grid).size == 2
    assert check_algorithm_rules(space.params, "random") == check_algorithm_rules(space.params, "sobol") == []


# --- the sampling algorithm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("python", "seed"),
    [
        ("random", None),
        ("sobol", 3),
        ("Grid", 4),
        ("bayesian", None),
        ("RANDOM", 0),
        (azure_sweep.RandomSamplingAlgorithm(rule="sobol", seed=7, logbase=10), None),
        (azure_sweep.RandomSamplingAlgorithm(seed=7, logbase="e"), 9),
        (azure_sweep.GridSamplingAlgorithm(), None),
        (azure_sweep.BayesianSamplingAlgorithm(), 5),
    ],
)
def test_python_algorithms_are_the_wire_form_through_the_same_rule(python, seed):
    wire = algorithm_wire(python, seed)
    assert set(wire) <= set(FIELDS["sampling_algorithm"].values())
    checked, problems = check_algorithm(wire)
    assert problems == []
    assert algorithm_from(python, seed) == checked


def test_algorithm_errors_name_python_arguments_and_yaml_fields():
    with pytest.raises(InvalidValue) as info:
        algorithm_from("halton")
    assert str(info.value) == "sampling_algorithm: must be random, sobol, grid or bayesian (got 'halton')"
    assert check_algorithm({"samplingAlgorithmType": "halton"})[1] == [
        Problem("error", "sampling_algorithm", "must be random, grid or bayesian (got 'halton')")
    ]
    with pytest.raises(InvalidValue) as info:
        algorithm_from("grid", -1)
    assert str(info.value) == "seed: must be an integer >= 0 (got -1)"
    with pytest.raises(InvalidValue, match=r"^seed: must be an integer >= 0 \(got 2.0\)$"):
        algorithm_from("random", 2.0)  # type: ignore[arg-type]
    assert check_algorithm({"samplingAlgorithmType": "random", "seed": 2.0}) == (Algorithm("random", seed=2), [])
    assert check_algorithm({"samplingAlgorithmType": "random", "seed": -1})[1] == [
        Problem("error", "sampling_algorithm.seed", "must be a whole number >= 0 (got -1)")
    ]
    # the fields of an azure-ai-ml object keep the rule's own path and message
    with pytest.raises(InvalidValue) as info:
        algorithm_from(azure_sweep.RandomSamplingAlgorithm(rule="Halton"))
    rule_problem = check_algorithm({"samplingAlgorithmType": "random", "rule": "halton"})[1][0]
    assert (info.value.path, info.value.message) == (rule_problem.path, rule_problem.message)
    # the Python arguments come first, as before: a bad seed is named before the object's bad rule
    with pytest.raises(InvalidValue, match="^seed:"):
        algorithm_from(azure_sweep.RandomSamplingAlgorithm(rule="halton"), -1)


# --- single values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, MAX_TRIALS + 1, 2.5, True, "5", None])
def test_the_trial_limit_is_one_rule_for_yaml_and_python(value):
    with pytest.raises(InvalidValue) as rule:
        check_max_total_trials(value, "max_total_trials", integer_only=True)
    with pytest.raises(InvalidValue) as from_optimize:
        optimize(lambda p: p["x"], search_space={"x": sweep.Uniform(0, 1)}, goal="minimize", max_total_trials=value)
    assert str(from_optimize.value) == str(rule.value)
    if value is not None:
        problems = load_spec_problems({"maxTotalTrials": value})
        assert f"limits.max_total_trials: {rule.value.message}" in problems


def load_spec_problems(limits: dict) -> list[str]:
    from azsweep.spec import build_spec

    props = {
        "samplingAlgorithm": {"samplingAlgorithmType": "random"},
        "searchSpace": {"x": ["uniform", [0, 1]]},
        "objective": {"goal": "minimize", "primaryMetric": "m"},
        "limits": limits,
        "trial": {"command": "python t.py ${{search_space.x}}"},
    }
    return [f"{p.path}: {p.message}" for p in build_spec(props)[1]]


def test_the_trial_limit_takes_whole_numbers_from_yaml_and_ints_from_python():
    assert check_max_total_trials(5.0, "limits.max_total_trials") == 5
    assert check_max_total_trials(MAX_TRIALS, "limits.max_total_trials", integer_only=True) == MAX_TRIALS
    with pytest.raises(InvalidValue, match=rf"^max_total_trials: must be an integer between 1 and {MAX_TRIALS} "):
        check_max_total_trials(5.0, "max_total_trials", integer_only=True)
    assert "limits.max_concurrent_trials: must be an integer between 1 and 1000 (got 0)" in load_spec_problems(
        {"maxTotalTrials": 5, "maxConcurrentTrials": 0}
    )


@pytest.mark.parametrize("goal", ["min", "", None, 1])
def test_the_goal_is_one_rule(goal):
    with pytest.raises(InvalidValue) as rule:
        parse_goal(goal, "goal")
    with pytest.raises(InvalidValue) as from_optimize:
        optimize(lambda p: p["x"], search_space={"x": sweep.Uniform(0, 1)}, goal=goal, max_total_trials=2)
    assert str(from_optimize.value) == str(rule.value) == f"goal: must be minimize or maximize (got {goal!r})"
    assert parse_goal("MAXIMIZE") == "maximize"


def test_key_names_are_one_rule_for_python_objects_and_the_wire(tmp_path):
    from azure.ai.ml.entities import CommandJob

    (tmp_path / "src").mkdir()
    job = azure_sweep.SweepJob(
        trial=CommandJob(code=str(tmp_path / "src"), command="python t.py", environment="azureml:env@latest"),
        compute="cpu",
        search_space={"learning-rate": azure_sweep.Uniform(0, 1)},
        sampling_algorithm="random",
        objective=azure_sweep.Objective(goal="minimize", primary_metric="loss"),
        limits=azure_sweep.SweepJobLimits(max_total_trials=2),
    )
    with pytest.raises(InvalidValue) as rule:
        check_key_name("learning-rate", "search_space.learning-rate")
    problems = [f"{p.path}: {p.message}" for p in load_spec(job)[1].errors]
    assert problems == [str(rule.value)]
    assert check_key_name("lr_2", "x") == "lr_2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be a number of seconds > 0 (got 0)"),
        (-5, "must be a number of seconds > 0 (got -5)"),
        ("PT0S", "must be > 0 seconds (got 'PT0S')"),
        ("soon", "must be a number of seconds or an ISO-8601 duration (got 'soon')"),
    ],
)
def test_timeouts_are_one_rule(value, message):
    with pytest.raises(InvalidValue) as info:
        parse_duration(value, "limits.timeout")
    assert info.value.message == message
    assert parse_duration("PT1H30M", "t") == 5400.0 and parse_duration(90, "t") == 90.0 and parse_duration(None, "t") is None


@pytest.mark.parametrize("seconds", [90.0, 0.5, 7200.0, 1e-3])
def test_timeouts_written_in_the_rest_form_read_back(seconds):
    assert parse_duration(format_duration(seconds), "t") == seconds
    assert format_duration(None) is None and format_duration(600.0) == "PT600S"


def test_the_yaml_timeout_precheck_is_parse_duration(sweep_yaml):
    path = sweep_yaml({"limits.timeout": 0, "limits.trial_timeout": -5})
    errors = [str(p) for p in azsweep.validate(path) if p.severity == "error"]
    assert errors == [
        "error: limits.timeout: must be a number of seconds > 0 (got 0)",
        "error: limits.trial_timeout: must be a number of seconds > 0 (got -5)",
    ]


# --- policies ------------------------------------------------------------------------------------------


def test_policy_from_is_check_policy_on_the_wire_form():
    for python in (
        {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 2},
        azure_sweep.BanditPolicy(slack_factor=0.1, evaluation_interval=2),
    ):
        wire = section_to_rest("early_termination", {"type": "bandit", "slack_factor": 0.1, "evaluation_interval": 2})
        assert policy_from(python) == check_policy(wire)[0] == Policy("bandit", evaluation_interval=2, slack_factor=0.1)
    with pytest.raises(InvalidValue) as info:
        policy_from({"type": "bandit", "slack": 1})
    assert info.value.message == f"unknown field; accepted: {', '.join(FIELDS['early_termination'])}"
    with pytest.raises(DefinitionError) as bad:
        policy_from({"type": "truncation_selection", "truncation_percentage": 0}, path="f.yml: early_termination")
    _, problems = check_policy({"policyType": "truncation_selection", "truncationPercentage": 0})
    assert [(p.path, p.message) for p in bad.value.problems] == [
        (p.path.replace("early_termination", "f.yml: early_termination"), p.message) for p in problems
    ]


# --- vocabulary -----------------------------------------------------------------------------------------


def test_the_yaml_rest_vocabulary_is_one_table():
    assert {yaml_name(rest_name(name)) for name in PROPERTIES} == set(PROPERTIES)
    assert YAML_NAMES["computeId"] == "compute" and yaml_name("displayName") == "display_name"
    assert yaml_name("experimentName") == "experiment_name" and yaml_name("searchSpace") == "search_space"
    assert yaml_name("samplingAlgorithm") == "sampling_algorithm" and rest_name("early_termination") == "earlyTermination"
    assert yaml_name("unknownKey") == "unknownKey"
    for section, fields in FIELDS.items():
        yaml_fields = {name: i for i, name in enumerate(fields)}
        assert section_from_rest(section, section_to_rest(section, yaml_fields)) == yaml_fields
    assert section_to_rest("limits", {"max_total_trials": 3, "bogus": 1}) == {"maxTotalTrials": 3}
    assert section_from_rest("limits", "not a mapping") == {}


def test_local_definition_uses_the_shared_vocabulary():
    import azsweep.submission.from_local as local_definition

    assert vars(local_definition)["yaml_name"] is yaml_name and yaml_name("computeId") == "compute"


@pytest.mark.parametrize("kind", DISTRIBUTION_TYPES)
def test_distribution_argument_names_are_one_table(kind):
    names = DISTRIBUTION_ARGS[kind]
    if kind == "choice":
        assert yaml_to_wire("x", {"type": "choice", "values": [1, 2]}) == ["choice", [[1, 2]]]
        return
    wire = yaml_to_wire("x", {"type": kind, **dict.fromkeys(names[:-1], 1)})  # the last argument is missing
    with pytest.raises(InvalidValue, match=f"missing {names[-1]}"):
        from_wire("x", wire)
    with pytest.raises(InvalidValue, match=f"{kind} takes {', '.join(names)}; unknown field 'bogus'"):
        yaml_to_wire("x", {"type": kind, "bogus": 1})
    assert (kind in LOG_DISTRIBUTIONS) != (kind in LINEAR_DISTRIBUTIONS)


# --- layering ---------------------------------------------------------------------------------------------


def test_the_pure_layer_imports_neither_azure_nor_mlflow():
    code = (
        "import sys, azsweep.spec, azsweep.space, azsweep.samplers, azsweep.policies; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'azure', 'mlflow'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_trial_limit_is_written_in_one_place():
    root = Path(azsweep.__file__).parent
    found = [
        f"{path.relative_to(root)}:{i}"
        for path in sorted(root.rglob("*.py"))
        if "runner" not in path.parts
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\b1000\b", line)
    ]
    assert found == [str(Path("spec", "_rules.py")) + f":{_line_of('MAX_TRIALS = 1000')}"]


def _line_of(text: str) -> int:
    source = (Path(azsweep.__file__).parent / "spec" / "_rules.py").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(source, 1) if line.startswith(text))
