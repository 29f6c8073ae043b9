"""Shared fixtures: a valid sweep YAML that each test changes in one place."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

# A minimal valid CLI v2 sweep; tests change one field at a time.
BASE_SWEEP: dict[str, Any] = {
    "$schema": "https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json",
    "type": "sweep",
    "trial": {
        "code": "src",
        "command": "python train.py --lr ${{search_space.lr}} --opt ${{search_space.opt}}",
        "environment": "azureml:AzureML-sklearn-1.5@latest",
    },
    "compute": "azureml:cpu-cluster",
    "sampling_algorithm": "random",
    "search_space": {
        "lr": {"type": "uniform", "min_value": 0.01, "max_value": 0.9},
        "opt": {"type": "choice", "values": ["sgd", "adam"]},
    },
    "objective": {"goal": "minimize", "primary_metric": "loss"},
    "limits": {"max_total_trials": 10, "max_concurrent_trials": 2},
}


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data.setdefault(key, {})
    data[last] = value


def _drop(data: dict[str, Any], dotted: str) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        data = data[key]
    del data[last]


@pytest.fixture
def sweep_yaml(tmp_path: Path) -> Callable[..., Path]:
    """``sweep_yaml(changes={"limits.max_total_trials": 0}, drop=["objective"], text=None) -> Path``.

    Writes ``BASE_SWEEP`` with dotted-path ``changes`` applied and ``drop`` keys removed (or ``text``
    verbatim) to a new file in ``tmp_path``, beside an empty ``src/`` folder.
    """
    (tmp_path / "src").mkdir(exist_ok=True)
    counter = itertools.count()

    def write(
        changes: Mapping[str, Any] | None = None, drop: Iterable[str] = (), *, text: str | None = None, name: str | None = None
    ) -> Path:
        path = tmp_path / (name or f"sweep{next(counter)}.yml")
        if text is None:
            data = copy.deepcopy(BASE_SWEEP)
            for dotted, value in (changes or {}).items():
                _set(data, dotted, value)
            for dotted in drop:
                _drop(data, dotted)
            text = yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write
