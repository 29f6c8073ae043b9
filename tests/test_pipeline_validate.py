"""Pipelines read and checked: Microsoft's pipeline_with_hyperparameter_sweep as written, and one test per wiring rule,
each naming the field path; the step order; ``azsweep validate`` over a pipeline file."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from azsweep.pipeline_definition import read_pipeline
from azsweep.pipeline_spec import find_cycle, step_order

EXAMPLE = Path(__file__).parent / "azure_examples" / "pipeline-sweep"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "p")
    return tmp_path / "p" / "pipeline.yml"


def changed(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    data = yaml.safe_load(path.read_text())
    change(data)
    out = path.with_name("changed.yml")
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def errors(path: Path) -> list[str]:
    return [f"{p.path}: {p.message}" for p in read_pipeline(path).problems if p.severity == "error"]


def test_microsofts_pipeline_is_read_with_its_steps_wiring_and_order(example: Path) -> None:
    d = read_pipeline(example)
    assert d.problems == [] and d.spec is not None
    spec = d.spec
    assert spec.order() == ["sweep_step", "predict_step"] and spec.default_compute == "cpu-cluster"
    sweep, predict = spec.steps["sweep_step"], spec.steps["predict_step"]
    assert sweep.kind == "sweep" and predict.kind == "command"
    assert sweep.swept == ("c_value", "kernel", "coef0") and set(sweep.outputs) == {"model_output", "test_data"}
    assert {k: (b.kind, b.step, b.name) for k, b in predict.bindings.items()} == {
        "model": ("step_output", "sweep_step", "model_output"),
        "test_data": ("step_output", "sweep_step", "test_data"),
    }
    assert predict.upstream == ["sweep_step"] and spec.downstream("sweep_step") == ["predict_step"]
    data = sweep.bindings["data"].value
    assert data is not None and data.type == "uri_file" and data.path.startswith("wasbs://")
    # the sweep step as the standalone sweep it runs: swept inputs as ${{search_space.x}}, code in the component's folder
    assert sweep.spec is not None and "--C ${{search_space.c_value}}" in sweep.spec.trial.command
    assert sweep.spec.trial.code == str((example.parent / "train-src").resolve())
    assert sweep.spec.limits.max_total_trials == 5 and sweep.spec.objective.primary_metric == "training_f1_score"
    assert predict.spec is not None and predict.spec.trial.code == str((example.parent / "predict-src").resolve())


def test_a_valid_pipeline_has_no_problem_and_its_file_locates_each_field(example: Path) -> None:
    from azsweep.validation import locate

    assert read_pipeline(example).problems == []
    node = yaml.compose(example.read_text())
    assert locate(node, "jobs.predict_step.inputs.model") == (53, 7)


def test_an_undefined_pipeline_input(example: Path) -> None:
    path = changed(example, lambda d: d["jobs"]["predict_step"]["inputs"].update(model="${{parent.inputs.model_in}}"))
    assert errors(path) == [
        "jobs.predict_step.inputs.model: ${{parent.inputs.model_in}} refers to an undefined pipeline input 'model_in' "
        "(pipeline inputs: none)"
    ]


def test_an_undefined_step(example: Path) -> None:
    path = changed(example, lambda d: d["jobs"]["predict_step"]["inputs"].update(model="${{parent.jobs.train.outputs.model}}"))
    assert errors(path) == [
        "jobs.predict_step.inputs.model: ${{parent.jobs.train.outputs.model}} refers to an undefined step 'train' "
        "(steps: sweep_step)"
    ]


def test_an_undefined_step_output(example: Path) -> None:
    path = changed(
        example, lambda d: d["jobs"]["predict_step"]["inputs"].update(model="${{parent.jobs.sweep_step.outputs.model}}")
    )
    assert errors(path) == [
        "jobs.predict_step.inputs.model: ${{parent.jobs.sweep_step.outputs.model}} refers to an undefined output 'model' "
        "of step 'sweep_step' (its outputs: model_output, test_data)"
    ]


def test_a_cycle_between_steps(example: Path) -> None:
    path = changed(
        example,
        lambda d: d["jobs"]["sweep_step"]["inputs"].update(data="${{parent.jobs.predict_step.outputs.predict_result}}"),
    )
    found = errors(path)
    assert len(found) == 1 and "the steps form a cycle: " in found[0] and found[0].startswith("jobs.")
    assert "sweep_step -> predict_step" in found[0] or "predict_step -> sweep_step" in found[0]


def test_a_required_component_input_bound_by_nothing(example: Path) -> None:
    path = changed(example, lambda d: d["jobs"]["predict_step"]["inputs"].pop("test_data"))
    assert errors(path) == [
        "jobs.predict_step.inputs.test_data: is required by the component 'predict_component' (uri_folder, no default) "
        "and bound by nothing: give it a value or a ${{parent...}} binding"
    ]


def test_a_swept_input_the_component_does_not_declare(example: Path) -> None:
    space = {"type": "choice", "values": [1, 2]}
    path = changed(example, lambda d: d["jobs"]["sweep_step"]["search_space"].update(gamma_value=space))
    found = errors(path)
    assert len(found) == 1
    assert found[0].startswith("jobs.sweep_step.search_space.gamma_value: is not an input of the component 'train_model'")


def test_a_search_space_bound_given_as_a_pipeline_binding(example: Path) -> None:
    def bound(d: dict[str, Any]) -> None:
        d["inputs"] = {"c_min": 0.5}
        d["jobs"]["sweep_step"]["search_space"]["c_value"]["min_value"] = "${{parent.inputs.c_min}}"

    found = errors(changed(example, bound))
    assert len(found) == 1
    assert found[0].startswith(
        "jobs.sweep_step.search_space.c_value.min_value: '${{parent.inputs.c_min}}': a search space cannot take its bounds"
    )
    assert "azureml-examples issue 3457" in found[0]


def test_a_binding_of_another_form(example: Path) -> None:
    path = changed(example, lambda d: d["jobs"]["predict_step"]["inputs"].update(model="${{parent.model}}"))
    assert errors(path) == [
        "jobs.predict_step.inputs.model: '${{parent.model}}' is not a binding a pipeline step can take: write "
        "${{parent.inputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}"
    ]


def test_an_undefined_pipeline_output(example: Path) -> None:
    path = changed(example, lambda d: d["jobs"]["predict_step"].update(outputs={"predict_result": "${{parent.outputs.out}}"}))
    assert errors(path) == [
        "jobs.predict_step.outputs.predict_result: ${{parent.outputs.out}} refers to an undefined pipeline output 'out' "
        "(pipeline outputs: none)"
    ]


def test_the_sweep_rules_apply_to_a_sweep_step_with_its_path(example: Path) -> None:
    def broken(d: dict[str, Any]) -> None:
        d["jobs"]["sweep_step"]["search_space"]["c_value"]["min_value"] = 2
        d["jobs"]["sweep_step"]["limits"]["max_total_trials"] = 0

    found = errors(changed(example, broken))
    assert "jobs.sweep_step.search_space.c_value: Uniform needs min_value < max_value (got 2 and 0.9)" in found
    assert any(f.startswith("jobs.sweep_step.limits.max_total_trials: ") for f in found)
    goal = errors(changed(example, lambda d: d["jobs"]["sweep_step"]["objective"].update(goal="maximise")))
    assert goal == ["jobs.sweep_step.objective.goal: must be one of minimize, maximize (got 'maximise')"]


def test_a_command_steps_undefined_input_reference(example: Path) -> None:
    predict = example.with_name("predict.yml")
    predict.write_text(predict.read_text().replace("--model ${{inputs.model}}", "--model ${{inputs.modle}}"))
    found = errors(example)
    assert len(found) == 1 and found[0].startswith("jobs.predict_step.command: ${{inputs.modle}} refers to an undefined")


def test_step_order_and_cycles() -> None:
    assert step_order({"c": ["a", "b"], "a": [], "b": ["a"]}) == ["a", "b", "c"]
    assert step_order({"a": ["b"], "b": ["a"], "c": []}) == ["c"]
    assert find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) is not None
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None


def test_submit_dry_run_of_microsofts_pipeline_is_exact_and_says_what_a_real_submit_registers(tmp_path: Path) -> None:
    import shutil

    from azsweep.submission.dry_run import dry_run

    shutil.copytree(Path(__file__).parent / "azure_examples" / "pipeline-sweep", tmp_path / "p")
    result = dry_run(str(tmp_path / "p" / "pipeline.yml"))
    assert result.method == "PUT" and re.search(r"/jobs/[a-z0-9_]+\?api-version=", result.url)
    assert result.body["properties"]["jobType"] == "Pipeline"
    assert set(result.body["properties"]["jobs"]) == {"sweep_step", "predict_step"}
    assert sum("registers the pipeline's component azureml_anonymous:" in n for n in result.notes) == 2
    # the sklearn-1.5 registry environment travels inside the registered component, as written: the service
    # resolves it, so the job PUT is exact (tests/test_pipeline_submit.py compares it with azure-ai-ml's own)
    assert result.exact and not any(n.startswith("not exact") for n in result.notes)


def test_an_sdk_pipeline_whose_step_reads_a_sweep_nodes_outputs_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1c notebook's shape: the SDK gives the scoring node the sweep node's output objects (the YAML gives
    ``${{parent.jobs.sweep_step.outputs.model_output}}``); both are the same binding."""
    from azure.ai.ml import Input, load_component
    from azure.ai.ml.dsl import pipeline
    from azure.ai.ml.sweep import Choice

    monkeypatch.chdir(EXAMPLE)
    train, score = load_component(source="./train.yml"), load_component(source="./predict.yml")

    @pipeline()
    def tuned() -> None:
        trial = train(data=Input(type="uri_file", path="./iris.csv"), kernel=Choice(["rbf", "linear"]))
        sweep_step = trial.sweep(primary_metric="training_f1_score", goal="minimize", sampling_algorithm="random")
        sweep_step.set_limits(max_total_trials=2)
        score(model=sweep_step.outputs.model_output, test_data=sweep_step.outputs.test_data)

    found = read_pipeline(tuned())
    assert found.errors == [] and found.spec is not None
    (scoring,) = [s for s in found.spec.steps.values() if s.kind == "command"]
    bound = {key: (b.kind, b.step, b.name) for key, b in scoring.bindings.items()}
    assert bound == {
        "model": ("step_output", "sweep_step", "model_output"),
        "test_data": ("step_output", "sweep_step", "test_data"),
    }
