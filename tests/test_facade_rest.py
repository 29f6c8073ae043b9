"""The public facade ``azsweep.sweep`` against azure-ai-ml itself: same names, same REST form, accepted everywhere."""

from __future__ import annotations

import math

import azure.ai.ml
import pytest
from azure.ai.ml import command
from azure.ai.ml import sweep as azure_sweep
from azure.ai.ml.entities import CommandJob
from azure.ai.ml.entities._job.sweep.search_space import SweepDistribution

import azsweep
from azsweep import sweep
from azsweep.definition import rest_body

# (class name, positional args, keyword args): every distribution, both ways of calling it
DISTRIBUTIONS = [
    ("Choice", (["sgd", "adam", 3, 0.5],), {"values": ["a", "b"]}),
    ("Randint", (5,), {"upper": 12}),
    ("Uniform", (0.01, 0.9), {"min_value": -1, "max_value": 1}),
    ("LogUniform", (math.log(1e-4), math.log(1e-1)), {"min_value": -3, "max_value": -1}),
    ("QUniform", (16, 256, 16), {"min_value": 0, "max_value": 1, "q": 0.25}),
    ("QLogUniform", (0, 3, 1), {"min_value": -2, "max_value": 2, "q": 0.5}),
    ("Normal", (0, 1), {"mu": 10, "sigma": 2.5}),
    ("LogNormal", (0, 0.5), {"mu": -1, "sigma": 1}),
    ("QNormal", (0, 3, 2), {"mu": 5, "sigma": 1, "q": 0.5}),
    ("QLogNormal", (1, 0.5, 1), {"mu": 0, "sigma": 1, "q": 0.1}),
]
NAMES = [name for name, _, _ in DISTRIBUTIONS]


def test_every_azure_sweep_name_is_exported():
    assert set(azure_sweep.__all__) <= set(sweep.__all__)
    for name in azure_sweep.__all__:
        ours = getattr(sweep, name)
        theirs = getattr(azure_sweep, name)
        assert ours is theirs or issubclass(ours, theirs), name
    assert set(NAMES) <= set(azure_sweep.__all__)


@pytest.mark.parametrize("name", NAMES)
def test_distributions_subclass_azure_ai_ml_and_add_sample(name):
    ours = getattr(sweep, name)
    assert issubclass(ours, getattr(azure_sweep, name))
    assert callable(ours.sample)
    assert ours is not getattr(azure_sweep, name)


@pytest.mark.parametrize(("name", "args", "kwargs"), DISTRIBUTIONS, ids=NAMES)
def test_rest_form_is_identical_to_azure_ai_ml(name, args, kwargs):
    ours, theirs = getattr(sweep, name), getattr(azure_sweep, name)
    assert ours(*args)._to_rest_object() == theirs(*args)._to_rest_object()
    assert ours(**kwargs)._to_rest_object() == theirs(**kwargs)._to_rest_object()
    assert ours(**kwargs)._to_rest_object() != theirs(*args)._to_rest_object()  # the comparison sees the arguments
    assert ours(*args) == theirs(*args)  # azure-ai-ml compares distributions by REST form


def test_conditional_choice_rest_form_is_identical():
    def build(m):
        return m.Choice(
            [
                {"name": "svm", "C": m.Uniform(0.1, 10), "kernel": m.Choice(["rbf", "linear"])},
                {"name": "rf", "n": m.Randint(10), "depth": m.QUniform(2, 10, 1), "crit": "gini"},
            ]
        )

    assert build(sweep)._to_rest_object() == build(azure_sweep)._to_rest_object()
    assert build(sweep)._to_rest_object()[1][0][0]["C"] == ["uniform", [0.1, 10]]


@pytest.mark.parametrize(("name", "args", "kwargs"), DISTRIBUTIONS, ids=NAMES)
def test_rest_round_trip_and_local_distribution(name, args, kwargs):
    theirs = getattr(azure_sweep, name)(*args)
    ours = sweep.local_distribution(theirs)
    assert type(ours) is getattr(sweep, name)
    assert ours._to_rest_object() == theirs._to_rest_object()
    assert sweep.local_distribution(ours) is ours
    back = SweepDistribution._from_rest_object(ours._to_rest_object())  # azure-ai-ml reads our REST form back
    assert type(back) is type(theirs)
    assert back._to_rest_object() == ours._to_rest_object()


def test_azsweep_command_and_input_are_azure_ai_ml_s():
    assert azsweep.command is azure.ai.ml.command
    assert azsweep.Input is azure.ai.ml.Input


# --- YAML: azsweep.load_job vs azure.ai.ml.load_job ---------------------------------------------

ALL_DISTRIBUTIONS_YAML = """\
$schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
type: sweep
display_name: all-distributions
experiment_name: facade-tests
trial:
  code: src
  command: >-
    python train.py --c ${{search_space.c}} --r ${{search_space.r}} --u ${{search_space.u}}
    --lu ${{search_space.lu}} --qu ${{search_space.qu}} --qlu ${{search_space.qlu}} --n ${{search_space.n}}
    --ln ${{search_space.ln}} --qn ${{search_space.qn}} --qln ${{search_space.qln}} --model ${{search_space.model}}
    --epochs ${{inputs.epochs}} --out ${{outputs.model}}
  environment: azureml:AzureML-sklearn-1.5@latest
inputs:
  epochs: 3
outputs:
  model:
    type: uri_folder
compute: azureml:cpu-cluster
sampling_algorithm:
  type: random
  rule: sobol
  seed: 7
search_space:
  c: {type: choice, values: [sgd, adam, 3, 0.5]}
  r: {type: randint, upper: 5}
  u: {type: uniform, min_value: 0.01, max_value: 0.9}
  lu: {type: loguniform, min_value: -9.21, max_value: -2.3}
  qu: {type: quniform, min_value: 16, max_value: 256, q: 16}
  qlu: {type: qloguniform, min_value: 0, max_value: 3, q: 1}
  n: {type: normal, mu: 0, sigma: 1}
  ln: {type: lognormal, mu: 0, sigma: 0.5}
  qn: {type: qnormal, mu: 0, sigma: 3, q: 2}
  qln: {type: qlognormal, mu: 1, sigma: 0.5, q: 1}
  model:
    type: choice
    values:
      - {name: svm, C: {type: uniform, min_value: 0.1, max_value: 10}, kernel: {type: choice, values: [rbf, linear]}}
      - {name: rf, n: {type: randint, upper: 10}, crit: gini}
objective: {goal: maximize, primary_metric: accuracy}
early_termination: {type: bandit, slack_factor: 0.1, evaluation_interval: 1, delay_evaluation: 2}
limits: {max_total_trials: 20, max_concurrent_trials: 4, timeout: 7200, trial_timeout: 600}
"""

YAML_CLASSES = {
    "c": "Choice",
    "r": "Randint",
    "u": "Uniform",
    "lu": "LogUniform",
    "qu": "QUniform",
    "qlu": "QLogUniform",
    "n": "Normal",
    "ln": "LogNormal",
    "qn": "QNormal",
    "qln": "QLogNormal",
    "model": "Choice",
}


@pytest.fixture
def all_distributions_yaml(sweep_yaml):
    return sweep_yaml(text=ALL_DISTRIBUTIONS_YAML, name="all.yml")


def test_load_job_gives_azsweep_distributions_with_the_same_rest_form(all_distributions_yaml):
    ours = azsweep.load_job(all_distributions_yaml)
    theirs = azure.ai.ml.load_job(all_distributions_yaml)
    assert type(ours) is type(theirs) is azure_sweep.SweepJob
    assert list(ours.search_space) == list(theirs.search_space) == list(YAML_CLASSES)
    for key, class_name in YAML_CLASSES.items():
        assert type(ours.search_space[key]) is getattr(sweep, class_name), key
        assert ours.search_space[key]._to_rest_object() == theirs.search_space[key]._to_rest_object(), key
    nested = ours.search_space["model"].values[0]
    assert type(nested["C"]) is sweep.Uniform and type(nested["kernel"]) is sweep.Choice
    assert rest_body(ours) == rest_body(theirs)


def test_loaded_distributions_sample_locally(all_distributions_yaml):
    job = azsweep.load_job(all_distributions_yaml)
    assert 0 <= job.search_space["r"].sample(rng=0) < 5
    configs = azsweep.sample(job.search_space, 10, sampling_algorithm=job.sampling_algorithm)
    assert configs == azsweep.sample(job.search_space, 10, sampling_algorithm=sweep.RandomSamplingAlgorithm(rule="sobol", seed=7))
    assert list(configs[0]) == list(YAML_CLASSES)


@pytest.mark.parametrize(("name", "args", "kwargs"), DISTRIBUTIONS, ids=NAMES)
def test_each_distribution_built_in_python_equals_the_yaml_one(name, args, kwargs, sweep_yaml):
    dist = getattr(sweep, name)(**kwargs)
    wire_type, wire_args = dist._to_rest_object()
    fields = {"choice": ["values"], "randint": ["upper"]}.get(
        wire_type, ["mu", "sigma"] if "normal" in wire_type else ["min_value", "max_value"]
    )
    if wire_type.startswith("q"):
        fields = [*fields, "q"]
    values = wire_args[0] if wire_type == "choice" else wire_args
    item = {"type": wire_type, **({"values": values} if wire_type == "choice" else dict(zip(fields, values)))}
    path = sweep_yaml({"search_space.lr": item})
    loaded = azsweep.load_job(path).search_space["lr"]
    assert type(loaded) is type(dist)
    assert loaded._to_rest_object() == dist._to_rest_object()
    assert loaded._to_rest_object() == azure.ai.ml.load_job(path).search_space["lr"]._to_rest_object()


# --- whole job bodies: azsweep classes inside azure-ai-ml's builders ----------------------------


NODE_INPUTS = ["c", "r", "u", "lu", "qu", "qlu", "n", "ln", "qn", "qln"]  # one per entry of DISTRIBUTIONS


def node_with(m):
    """A command -> sweep node using distribution classes from module ``m``."""
    job = command(
        code="./src",
        command=" ".join(f"--{k} ${{{{inputs.{k}}}}}" for k in [*NODE_INPUTS, "epochs"]),
        environment="azureml:AzureML-sklearn-1.5@latest",
        inputs={k: 0 for k in [*NODE_INPUTS, "epochs"]},
        compute="cpu-cluster",
        display_name="facade",
        experiment_name="facade-tests",
    )
    called = job(**{k: getattr(m, name)(*args) for k, (name, args, _) in zip(NODE_INPUTS, DISTRIBUTIONS)})
    return called.sweep(
        primary_metric="accuracy",
        goal="maximize",
        sampling_algorithm=m.RandomSamplingAlgorithm(rule="sobol", seed=3, logbase=10),
        max_total_trials=20,
        max_concurrent_trials=4,
        timeout=7200,
        trial_timeout=600,
        early_termination_policy=m.BanditPolicy(slack_amount=0.2, evaluation_interval=2, delay_evaluation=1),
    )


def test_command_sweep_rest_body_is_identical_with_azsweep_classes():
    ours, theirs = node_with(sweep), node_with(azure_sweep)
    body = rest_body(ours._to_job())
    assert body == rest_body(theirs._to_job())
    props = body["properties"]
    assert props["searchSpace"]["lu"] == ["loguniform", [math.log(1e-4), math.log(1e-1)]]
    assert props["trial"]["command"].startswith("--c ${{search_space.c}}")
    assert props["inputs"] == {"epochs": {"jobInputType": "literal", "value": "0"}}


def test_command_sweep_rest_body_with_a_search_space_argument():
    def build(m):
        job = command(
            code="./src",
            command="python t.py --lr ${{inputs.lr}} --b ${{inputs.b}}",
            environment="azureml:env@latest",
            inputs={"lr": 0.1, "b": 1},
            compute="cpu",
        )
        return job.sweep(
            primary_metric="loss",
            goal="minimize",
            sampling_algorithm="grid",
            search_space={"lr": m.Choice([0.1, 0.01]), "b": m.Choice([1, 2])},
            max_total_trials=4,
        )

    assert rest_body(build(sweep)._to_job()) == rest_body(build(azure_sweep)._to_job())


def sweep_job_with(m):
    trial = CommandJob(
        code="./src",
        command="python t.py --lr ${{search_space.lr}} --opt ${{search_space.opt}} --model ${{search_space.model}}",
        environment="azureml:env@latest",
    )
    return m.SweepJob(
        trial=trial,
        compute="cpu-cluster",
        search_space={
            "lr": m.LogUniform(-9, -2),
            "opt": m.Choice(["sgd", "adam"]),
            "model": m.Choice([{"k": "svm", "C": m.Uniform(0, 1)}, {"k": "rf", "n": m.Randint(4)}]),
        },
        sampling_algorithm=m.RandomSamplingAlgorithm(seed=1),
        objective=m.Objective(goal="minimize", primary_metric="loss"),
        limits=m.SweepJobLimits(max_total_trials=8, max_concurrent_trials=2, timeout=3600),
        early_termination=m.TruncationSelectionPolicy(truncation_percentage=20, evaluation_interval=1),
    )


def test_sweep_job_rest_body_is_identical_with_azsweep_classes():
    ours, theirs = sweep_job_with(sweep), sweep_job_with(azure_sweep)
    assert sweep.SweepJob is azure_sweep.SweepJob
    body = rest_body(ours)
    assert body == rest_body(theirs)
    assert body["properties"]["earlyTermination"]["truncationPercentage"] == 20
    assert body["properties"]["searchSpace"]["model"][1][0][1]["n"] == ["randint", [4]]


def test_azsweep_and_azure_nodes_validate_the_same():
    assert azsweep.validate(node_with(sweep)) == azsweep.validate(node_with(azure_sweep))
    assert azsweep.validate(sweep_job_with(sweep)) == azsweep.validate(sweep_job_with(azure_sweep)) == []
