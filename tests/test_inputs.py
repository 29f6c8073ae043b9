"""A sweep's inputs made local: literals, local paths, http(s) downloads, direct mode, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from azsweep.errors import ArgumentError
from azsweep.runner.inputs import resolve_inputs
from azsweep.spec import spec_from_rest


def _spec(inputs: dict, base_dir: Path) -> object:
    return spec_from_rest(
        {
            "searchSpace": {"x": ["choice", [[1, 2]]]},
            "samplingAlgorithm": {"samplingAlgorithmType": "grid"},
            "objective": {"goal": "minimize", "primaryMetric": "loss"},
            "limits": {"maxTotalTrials": 2},
            "trial": {"command": "python t.py ${{search_space.x}}"},
            "inputs": inputs,
        },
        base_dir=base_dir,
    )


def test_direct_mode_passes_the_uri_through_untouched(tmp_path: Path) -> None:
    url = "https://example.invalid/never-downloaded.csv"
    spec = _spec(
        {
            "data": {"jobInputType": "uri_file", "uri": url, "mode": "Direct"},
            "store": {"jobInputType": "uri_folder", "uri": "azureml://datastores/d/paths/p", "mode": "direct"},
        },
        tmp_path,
    )
    resolved = resolve_inputs(spec, {}, tmp_path / "cache")  # type: ignore[arg-type]
    assert resolved.values == {"data": url, "store": "azureml://datastores/d/paths/p"}
    assert not (tmp_path / "cache").exists()  # nothing was fetched


def test_local_paths_and_literals_and_the_errors_in_python_terms(tmp_path: Path) -> None:
    (tmp_path / "iris.csv").write_text("a,b\n")
    spec = _spec(
        {
            "data": {"jobInputType": "uri_file", "uri": "iris.csv"},
            "lr": {"jobInputType": "literal", "value": "0.1"},
            "remote": {"jobInputType": "uri_file", "uri": "azureml:iris:1"},
        },
        tmp_path,
    )
    with pytest.raises(ArgumentError) as raised:
        resolve_inputs(spec, {}, tmp_path / "cache")  # type: ignore[arg-type]
    assert "inputs.remote" in str(raised.value) and "inputs={'remote': PATH}" in str(raised.value)
    assert raised.value.render(arg="--input remote", give="--input remote=PATH").endswith("--input remote=PATH")
    resolved = resolve_inputs(spec, {"remote": str(tmp_path / "iris.csv")}, tmp_path / "cache")  # type: ignore[arg-type]
    assert resolved.values["data"] == str((tmp_path / "iris.csv").resolve()) and resolved.literals == {"lr": "0.1"}
    with pytest.raises(ArgumentError, match=r"inputs\['nope'\]: the job has no input named 'nope'"):
        resolve_inputs(spec, {"nope": "1"}, tmp_path / "cache")  # type: ignore[arg-type]
