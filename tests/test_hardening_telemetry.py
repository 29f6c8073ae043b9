"""MLflow's usage telemetry is off: the driver asks no name server for MLflow's telemetry host."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from azsweep.runner.tracking import TELEMETRY_OFF

AUDIT = textwrap.dedent(
    """
    import sys, time
    seen = []
    sys.addaudithook(lambda event, args: seen.append(str(args[0])) if event == "socket.getaddrinfo" else None)
    from azsweep.cli import main
    main(sys.argv[1:])
    time.sleep(2)  # MLflow's telemetry thread looks up its host shortly after the first client call
    print("LOOKUPS", seen)
    """
)


def test_azsweep_run_looks_up_no_telemetry_host(tmp_path: Path) -> None:
    """The defect: every ``azsweep run`` called ``getaddrinfo('config.mlflow-telemetry.io')``. The environment
    is cleared of the variables MLflow takes as a test or CI run (which switch its telemetry off by themselves)."""
    (tmp_path / "src").mkdir()
    sweep = {
        "type": "sweep",
        "trial": {"code": "src", "command": "echo ${{search_space.x}}", "environment": "azureml:e@latest"},
        "sampling_algorithm": "grid",
        "search_space": {"x": {"type": "choice", "values": [1]}},
        "objective": {"goal": "minimize", "primary_metric": "loss"},
        "limits": {"max_total_trials": 1, "max_concurrent_trials": 1},
    }
    path = tmp_path / "sweep.yml"
    path.write_text(yaml.safe_dump(sweep))
    ci = ("PYTEST_CURRENT_TEST", "CI", "GITHUB_ACTIONS", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "MLFLOW_TRACKING_URI")
    env = {k: v for k, v in os.environ.items() if k not in ci} | {"AZSWEEP_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, "-c", AUDIT, "run", str(path), "--name", "tele"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    lookups = [line for line in proc.stdout.splitlines() if line.startswith("LOOKUPS")]
    assert lookups, proc.stdout + proc.stderr
    assert "telemetry" not in lookups[0], lookups[0]
    assert (tmp_path / "home" / "sweeps" / "tele" / "sweep.json").exists()  # the sweep did run, through MLflow


def test_the_detached_driver_starts_with_telemetry_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from azsweep.runner import lifecycle
    from azsweep.runner.layout import SweepFolder

    started: dict[str, Any] = {}
    monkeypatch.delenv("MLFLOW_DISABLE_TELEMETRY", raising=False)
    monkeypatch.setattr(lifecycle.subprocess, "Popen", lambda command, **kwargs: started.update(kwargs))

    class Prepared:
        folder = SweepFolder(tmp_path, "s")

        def write_definition(self) -> None:
            self.folder.root.mkdir(parents=True)

    lifecycle.launch_background(Prepared())  # type: ignore[arg-type]
    assert started["env"]["MLFLOW_DISABLE_TELEMETRY"] == "true" == TELEMETRY_OFF["MLFLOW_DISABLE_TELEMETRY"]
    assert started["env"]["PATH"] == os.environ["PATH"]
