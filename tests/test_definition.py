"""Every form of sweep definition (YAML, ``command().sweep()`` node, ``SweepJob``) reads into the same spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from azure.ai.ml import Input, command
from azure.ai.ml import sweep as azure_sweep
from azure.ai.ml.entities import CommandJob

import azsweep
from azsweep import sweep
from azsweep.definition import load_spec, read_definition, require_spec, yaml_to_wire
from azsweep.errors import DefinitionError, InvalidValue
from azsweep.space import from_wire
from azsweep.spec import Algorithm, Limits, Objective, Policy

COMPARED = ("search_space", "algorithm", "objective", "limits", "policy", "inputs")

# Each case: the YAML fields, and the same sweep as Python arguments. The YAML command uses
# ${{search_space.x}}; the Python node uses ${{inputs.x}}, which azure-ai-ml rewrites.
CASES = {
    "sobol-bandit": {
        "yaml": {
            "sampling_algorithm": {"type": "random", "rule": "sobol", "seed": 7},
            "search_space": {
                "lr": {"type": "loguniform", "min_value": -9.2, "max_value": -0.7},
                "opt": {"type": "choice", "values": ["sgd", "adam"]},
                "layers": {"type": "randint", "upper": 4},
            },
            "objective": {"goal": "maximize", "primary_metric": "acc"},
            "early_termination": {"type": "bandit", "slack_factor": 0.2, "evaluation_interval": 1, "delay_evaluation": 3},
            "limits": {"max_total_trials": 12, "max_concurrent_trials": 2, "timeout": 600, "trial_timeout": 120},
        },
        "space": {"lr": sweep.LogUniform(-9.2, -0.7), "opt": sweep.Choice(["sgd", "adam"]), "layers": sweep.Randint(4)},
        "algorithm": sweep.RandomSamplingAlgorithm(rule="sobol", seed=7),
        "objective": ("maximize", "acc"),
        "policy": sweep.BanditPolicy(slack_factor=0.2, evaluation_interval=1, delay_evaluation=3),
        "limits": {"max_total_trials": 12, "max_concurrent_trials": 2, "timeout": 600, "trial_timeout": 120},
        "expected": {
            "algorithm": Algorithm("sobol", seed=7),
            "objective": Objective("maximize", "acc"),
            "limits": Limits(12, 2, 600.0, 120.0),
            "policy": Policy("bandit", evaluation_interval=1, delay_evaluation=3, slack_factor=0.2),
        },
    },
    "grid-median": {
        "yaml": {
            "sampling_algorithm": "grid",
            "search_space": {
                "opt": {"type": "choice", "values": ["sgd", "adam", "rmsprop"]},
                "batch": {"type": "choice", "values": [16, 32]},
            },
            "objective": {"goal": "minimize", "primary_metric": "val_loss"},
            "early_termination": {"type": "median_stopping", "evaluation_interval": 2, "delay_evaluation": 5},
            "limits": {"max_total_trials": 6, "max_concurrent_trials": 3},
        },
        "space": {"opt": sweep.Choice(["sgd", "adam", "rmsprop"]), "batch": sweep.Choice([16, 32])},
        "algorithm": "grid",
        "objective": ("minimize", "val_loss"),
        "policy": sweep.MedianStoppingPolicy(evaluation_interval=2, delay_evaluation=5),
        "limits": {"max_total_trials": 6, "max_concurrent_trials": 3},
        "expected": {
            "algorithm": Algorithm("grid"),
            "limits": Limits(6, 3),
            "policy": Policy("median_stopping", evaluation_interval=2, delay_evaluation=5),
        },
    },
    "bayesian": {
        "yaml": {
            "sampling_algorithm": "bayesian",
            "search_space": {
                "x": {"type": "uniform", "min_value": -5, "max_value": 5},
                "k": {"type": "quniform", "min_value": 0, "max_value": 20, "q": 2},
                "act": {"type": "choice", "values": ["relu", "tanh"]},
            },
            "objective": {"goal": "maximize", "primary_metric": "score"},
            "limits": {"max_total_trials": 60, "max_concurrent_trials": 1},
        },
        "space": {"x": sweep.Uniform(-5, 5), "k": sweep.QUniform(0, 20, 2), "act": sweep.Choice(["relu", "tanh"])},
        "algorithm": sweep.BayesianSamplingAlgorithm(),
        "objective": ("maximize", "score"),
        "policy": None,
        "limits": {"max_total_trials": 60, "max_concurrent_trials": 1},
        "expected": {"algorithm": Algorithm("bayesian"), "limits": Limits(60, 1), "policy": None},
    },
    "random-truncation": {
        "yaml": {
            "sampling_algorithm": {"type": "random", "seed": 123},
            "search_space": {
                "w": {"type": "normal", "mu": 0, "sigma": 0.1},
                "s": {"type": "lognormal", "mu": 0, "sigma": 1},
                "qn": {"type": "qnormal", "mu": 10, "sigma": 2, "q": 1},
                "qlu": {"type": "qloguniform", "min_value": 0, "max_value": 4, "q": 5},
                "qln": {"type": "qlognormal", "mu": 1, "sigma": 0.5, "q": 0.5},
            },
            "objective": {"goal": "minimize", "primary_metric": "loss"},
            "early_termination": {"type": "truncation_selection", "truncation_percentage": 25, "evaluation_interval": 1},
            "limits": {"max_total_trials": 20},
        },
        "space": {
            "w": sweep.Normal(0, 0.1),
            "s": sweep.LogNormal(0, 1),
            "qn": sweep.QNormal(10, 2, 1),
            "qlu": sweep.QLogUniform(0, 4, 5),
            "qln": sweep.QLogNormal(1, 0.5, 0.5),
        },
        "algorithm": sweep.RandomSamplingAlgorithm(seed=123),
        "objective": ("minimize", "loss"),
        "policy": sweep.TruncationSelectionPolicy(truncation_percentage=25, evaluation_interval=1),
        "limits": {"max_total_trials": 20},
        "expected": {
            "algorithm": Algorithm("random", seed=123),
            "limits": Limits(20, 20),
            "policy": Policy("truncation_selection", evaluation_interval=1, truncation_percentage=25),
        },
    },
}


def command_text(names, family: str) -> str:
    return "python train.py " + " ".join(f"--{n} ${{{{{family}.{n}}}}}" for n in names) + " --epochs ${{inputs.epochs}}"


def write_case(tmp_path: Path, case: dict) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    data = {
        "type": "sweep",
        "trial": {
            "code": "src",
            "command": command_text(case["space"], "search_space"),
            "environment": "azureml:AzureML-sklearn-1.5@latest",
        },
        "inputs": {"epochs": 3},
        "compute": "azureml:cpu-cluster",
        **case["yaml"],
    }
    path = tmp_path / "sweep.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def node_case(case: dict):
    names = list(case["space"])
    job = command(
        code="./src",
        command=command_text(names, "inputs"),
        environment="azureml:AzureML-sklearn-1.5@latest",
        inputs={**{n: 0 for n in names}, "epochs": 3},
        compute="azureml:cpu-cluster",
    )
    goal, metric = case["objective"]
    node = job(**case["space"]).sweep(
        primary_metric=metric,
        goal=goal,
        sampling_algorithm=case["algorithm"],
        early_termination_policy=case["policy"],
        **case["limits"],
    )
    return node


def sweep_job_case(case: dict):
    goal, metric = case["objective"]
    trial = CommandJob(
        code="./src", command=command_text(case["space"], "search_space"), environment="azureml:AzureML-sklearn-1.5@latest"
    )
    return sweep.SweepJob(
        trial=trial,
        inputs={"epochs": 3},
        compute="azureml:cpu-cluster",
        search_space=case["space"],
        sampling_algorithm=case["algorithm"],
        objective=sweep.Objective(goal=goal, primary_metric=metric),
        limits=sweep.SweepJobLimits(**case["limits"]),
        early_termination=case["policy"],
    )


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("form", ["node", "sweep_job"])
def test_yaml_and_python_forms_give_equal_specs(name, form, tmp_path):
    case = CASES[name]
    from_yaml, d_yaml = load_spec(write_case(tmp_path, case))
    assert from_yaml is not None, d_yaml.problems
    obj = node_case(case) if form == "node" else sweep_job_case(case)
    from_python, d_python = load_spec(obj)
    assert from_python is not None, d_python.problems
    for field in COMPARED:
        assert getattr(from_yaml, field) == getattr(from_python, field), field
    assert from_yaml.trial.command == from_python.trial.command == command_text(case["space"], "search_space")
    assert d_yaml.problems == d_python.problems
    for field, expected in case["expected"].items():
        assert getattr(from_yaml, field) == expected, field
    assert from_yaml.search_space.names == tuple(case["space"])
    assert from_yaml.inputs["epochs"].literal and from_yaml.inputs["epochs"].value == "3"


def test_forms_with_different_content_give_different_specs(tmp_path):
    case = CASES["sobol-bandit"]
    from_yaml, _ = load_spec(write_case(tmp_path, case))
    changed = dict(case, space={**case["space"], "layers": sweep.Randint(5)})
    from_python, _ = load_spec(node_case(changed))
    assert from_python.search_space != from_yaml.search_space


def test_azure_ai_ml_objects_give_the_same_spec_as_azsweep_objects():
    def build(m):
        job = command(
            code="./src",
            command="python t.py --lr ${{inputs.lr}}",
            environment="azureml:env@latest",
            inputs={"lr": 0.1},
            compute="cpu",
        )
        return job(lr=m.QLogUniform(0, 3, 1)).sweep(
            primary_metric="m",
            goal="minimize",
            max_total_trials=3,
            sampling_algorithm=m.RandomSamplingAlgorithm(seed=1, logbase=10),
        )

    ours, _ = load_spec(build(sweep))
    theirs, _ = load_spec(build(azure_sweep))
    assert ours == theirs
    assert ours.algorithm == Algorithm("random", seed=1, log_base=10.0)
    assert ours.search_space.params["lr"].log_base == 10.0


def test_base_dir_is_the_yaml_folder(sweep_yaml):
    path = sweep_yaml()
    spec, d = load_spec(path)
    assert spec.base_dir == path.parent.resolve() == d.base_dir
    assert d.path == path and d.source == str(path)


def test_the_sample_quickstart_reads_without_problems():
    path = Path(__file__).resolve().parents[1] / "samples" / "quickstart" / "sweep.yml"
    spec, d = load_spec(path)
    assert [p for p in d.problems if p.severity == "error"] == []
    assert spec.algorithm == Algorithm("random", seed=42)
    assert spec.limits.max_total_trials == 12


def test_legacy_single_braces_are_upgraded(sweep_yaml):
    spec, d = load_spec(sweep_yaml({"trial.command": "python t.py --lr {search_space.lr} --opt {search_space.opt}"}))
    assert spec is not None, d.problems
    assert spec.trial.command == "python t.py --lr ${{search_space.lr}} --opt ${{search_space.opt}}"
    assert d.problems == []  # both names count as used


def test_optional_input_blocks_may_name_undefined_inputs(sweep_yaml):
    command_ = "python t.py --lr ${{search_space.lr}} --opt ${{search_space.opt}} [--init ${{inputs.init}}]"
    spec, d = load_spec(sweep_yaml({"trial.command": command_}))
    assert spec is not None and d.problems == []


def test_inputs_and_outputs_are_read(tmp_path):
    (tmp_path / "src").mkdir()
    job = command(
        code=str(tmp_path / "src"),
        command="python t.py --lr ${{inputs.lr}} --data ${{inputs.data}} --n ${{inputs.n}} --out ${{outputs.model}}",
        environment="azureml:env@latest",
        inputs={"lr": 0.1, "n": True, "data": Input(type="uri_file", path="https://example.com/iris.csv")},
        outputs={"model": {"type": "uri_folder"}},
        compute="cpu",
    )
    spec, d = load_spec(job(lr=sweep.Uniform(0, 1)).sweep(primary_metric="m", goal="minimize", max_total_trials=2))
    assert spec is not None, d.problems
    assert spec.inputs["n"].literal and spec.inputs["n"].value == "True"  # azure-ai-ml stringifies literals
    assert spec.inputs["data"].type == "uri_file" and spec.inputs["data"].path == "https://example.com/iris.csv"
    assert spec.outputs == {"model": "uri_folder"}
    assert "lr" not in spec.inputs


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ("type: sweep\nsearch_space: [\n", "", "not valid YAML at line"),
        ("- just\n- a list\n", "", "expected a mapping"),
        ("type: command\ncommand: echo hi\n", "type", "'command'"),
        ("", "", "got NoneType"),
    ],
)
def test_files_that_are_not_sweeps_get_one_clear_problem(text, path, fragment, sweep_yaml):
    spec, d = load_spec(sweep_yaml(text=text))
    assert spec is None
    assert len(d.problems) == 1
    (problem,) = d.problems
    assert problem.severity == "error" and problem.path == path and fragment in problem.message


def test_a_missing_file_is_a_problem_not_an_exception(tmp_path):
    d = read_definition(tmp_path / "nope.yml")
    assert d.job is None and d.props is None
    assert "cannot read the file" in d.problems[0].message


def test_an_object_that_is_not_a_sweep_is_a_problem():
    spec, d = load_spec(command(command="echo hi", environment="azureml:env@latest"))
    assert spec is None
    assert "expected a sweep" in d.problems[0].message


def test_require_spec_raises_a_definition_error_naming_the_file(sweep_yaml):
    path = sweep_yaml({"search_space.lr": {"type": "uniform", "min_value": 2, "max_value": 1}})
    with pytest.raises(DefinitionError) as info:
        require_spec(path)
    assert str(info.value).startswith(f"{path}: error: search_space.lr: ")
    assert [p.path for p in info.value.problems] == ["search_space.lr"]


def test_load_job_raises_a_definition_error_for_files_azure_ai_ml_refuses(sweep_yaml):
    with pytest.raises(DefinitionError) as info:
        azsweep.load_job(sweep_yaml({"objective.goal": "maximise"}))
    assert "objective.goal" in str(info.value) and "maximise" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_validate_accepts_str_and_path(sweep_yaml):
    path = sweep_yaml({"limits.max_total_trials": 0})
    assert azsweep.validate(str(path)) == azsweep.validate(path)
    assert [p.path for p in azsweep.validate(path)] == ["limits.max_total_trials"]


@pytest.mark.parametrize(
    ("item", "wire"),
    [
        ({"type": "choice", "values": [1, "a"]}, ["choice", [[1, "a"]]]),
        ({"type": "randint", "upper": 3}, ["randint", [3]]),
        ({"type": "Uniform", "min_value": 0, "max_value": 1}, ["uniform", [0, 1]]),
        ({"type": "qlognormal", "mu": 0, "sigma": 1, "q": 2}, ["qlognormal", [0, 1, 2]]),
        (
            {"type": "choice", "values": [{"k": "a", "x": {"type": "uniform", "min_value": 0, "max_value": 1}}]},
            ["choice", [[{"k": "a", "x": ["uniform", [0, 1]]}]]],
        ),
    ],
)
def test_yaml_distributions_become_the_rest_form(item, wire):
    assert yaml_to_wire("search_space.x", item) == wire
    from_wire("search_space.x", wire)  # and the wire form is valid


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"type": "beta", "a": 1}, "unknown distribution type 'beta'; accepted: choice, randint, uniform"),
        ({"type": "uniform", "min_value": 0, "max_value": 1, "q": 2}, "unknown field 'q'"),
        ({"min_value": 0}, "expected a distribution with a type"),
        ({"type": "choice", "values": "abc"}, "choice needs a list of values (got 'abc')"),
    ],
)
def test_yaml_distribution_errors(item, fragment):
    with pytest.raises(InvalidValue) as info:
        yaml_to_wire("search_space.x", item)
    assert info.value.path == "search_space.x"
    assert fragment in info.value.message
