"""The variables a trial gets (the pure table in ``runner.command``) and where the workspace values come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azsweep.errors import SubmitError
from azsweep.runner.command import trial_environment
from azsweep.spec import SweepSpec, spec_from_rest
from azsweep.workspace_config import LOCAL_WORKSPACE, find_config, local_workspace, read_config

WORKSPACE = {"subscription_id": "sub-1", "resource_group_name": "rg-1", "workspace_name": "ws-1"}


def make_spec(environment_variables: dict[str, str] | None = None) -> SweepSpec:
    return spec_from_rest(
        {
            "searchSpace": {"lr": ["uniform", [0, 1]], "k": ["choice", [["a", "b"]]]},
            "samplingAlgorithm": {"samplingAlgorithmType": "random"},
            "objective": {"goal": "minimize", "primaryMetric": "loss"},
            "limits": {"maxTotalTrials": 2, "maxConcurrentTrials": 1},
            "trial": {
                "command": "python train.py --lr ${{search_space.lr}} --k ${{search_space.k}} --bs ${{inputs.bs}} "
                "--data ${{inputs.data}} --model ${{outputs.model}}",
                "environmentVariables": environment_variables or {},
            },
            "inputs": {"bs": {"jobInputType": "literal", "value": "32"}, "data": {"jobInputType": "uri_folder", "uri": "d"}},
            "outputs": {"model": {"jobOutputType": "uri_folder"}},
            "experimentName": "exp",
        }
    )


def test_the_table_names_every_variable_and_where_its_value_comes_from() -> None:
    env = trial_environment(
        make_spec({"MY_FLAG": "on"}),
        {"lr": 0.1, "k": "b"},
        {"bs": "32"},
        job_name="sw_3",
        experiment_name="exp",
        workspace=WORKSPACE,
        inputs={"bs": "32", "data": "/abs/d", "skipped": None},
        outputs={"model": Path("/t/outputs/model")},
    )
    assert env == {
        "AZUREML_SWEEP_lr": "0.1",
        "AZUREML_SWEEP_k": "b",
        "AZUREML_PARAMETER_bs": "32",
        "MY_FLAG": "on",
        "AZUREML_RUN_ID": "sw_3",
        "AZUREML_ARM_SUBSCRIPTION": "sub-1",
        "AZUREML_ARM_RESOURCEGROUP": "rg-1",
        "AZUREML_ARM_WORKSPACE_NAME": "ws-1",
        "AZUREML_ARM_PROJECT_NAME": "exp",
        "AZURE_ML_INPUT_bs": "32",
        "AZURE_ML_INPUT_data": "/abs/d",  # an optional input left out gets no variable
        "AZURE_ML_OUTPUT_model": "/t/outputs/model",
    }


def test_azures_own_variables_win_over_the_users() -> None:
    env = trial_environment(
        make_spec({"AZUREML_RUN_ID": "mine", "AZUREML_ARM_SUBSCRIPTION": "mine", "OTHER": "kept"}),
        {"lr": 0.5, "k": "a"},
        {},
        job_name="sw_0",
        experiment_name="exp",
        workspace=LOCAL_WORKSPACE,
        inputs={},
        outputs={},
    )
    assert env["AZUREML_RUN_ID"] == "sw_0" and env["AZUREML_ARM_SUBSCRIPTION"] == "local" and env["OTHER"] == "kept"


def write_config(folder: Path, data: object, sub: str = ".azureml") -> Path:
    path = folder / sub / "config.json" if sub else folder / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_the_workspace_comes_from_the_first_start_with_a_config(tmp_path: Path) -> None:
    definition, cwd = tmp_path / "project" / "sweeps", tmp_path / "elsewhere"
    definition.mkdir(parents=True)
    cwd.mkdir()
    write_config(cwd, {"subscription_id": "s-cwd", "resource_group": "r-cwd", "workspace_name": "w-cwd"})
    assert local_workspace(definition, cwd) == (
        {"subscription_id": "s-cwd", "resource_group_name": "r-cwd", "workspace_name": "w-cwd"},
        "",
    )
    # a config.json above the definition's folder (as MLClient.from_config searches) comes first
    scope = "/subscriptions/s-def/resourceGroups/r-def/providers/Microsoft.MachineLearningServices/workspaces/w-def"
    write_config(tmp_path / "project", {"Scope": scope}, sub="")
    assert local_workspace(definition, cwd)[0] == {
        "subscription_id": "s-def",
        "resource_group_name": "r-def",
        "workspace_name": "w-def",
    }


def test_without_a_config_the_values_are_local_placeholders(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None  # nothing above the test's folder either
    assert local_workspace(tmp_path) == (
        {"subscription_id": "local", "resource_group_name": "local", "workspace_name": "local"},
        "",
    )


def test_an_unreadable_config_is_a_note_never_an_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"subscription_id": "s"})
    with pytest.raises(SubmitError, match="needs subscription_id, resource_group and workspace_name"):
        read_config(path)  # what azsweep submit reports
    values, note = local_workspace(tmp_path)
    assert values == LOCAL_WORKSPACE
    assert note.startswith(f"{path}: a workspace config needs") and note.endswith(
        "the trials get the local placeholders as AZUREML_ARM_*"
    )
