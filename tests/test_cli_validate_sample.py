"""``azsweep validate`` and ``azsweep sample``: in-process through ``main(argv)``, plus one real subprocess."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import azsweep
from azsweep.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from azsweep.errors import DefinitionError

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "quickstart" / "sweep.yml"
BAD_LOGUNIFORM = {"search_space.lr": {"type": "loguniform", "min_value": -2.0, "max_value": -4.0}}
UNUSED_OPT = {"trial.command": "python train.py --lr ${{search_space.lr}}"}
GRID = {
    "sampling_algorithm": "grid",
    "search_space.lr": {"type": "choice", "values": [0.1, 0.01, 0.001]},
    "search_space.opt": {"type": "choice", "values": ["sgd", "adam"]},
}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return code, out, err


def json_lines(out: str) -> list:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


# --- validate -----------------------------------------------------------------------------------


def problems(out: str) -> list[str]:
    """The problem lines of validate's output (the last line is the summary), without ``:LINE:COL``."""
    lines = out.splitlines()
    assert lines and lines[-1].startswith("azsweep validate: ")
    return [re.sub(r"^(.*?):\d+:\d+: ", r"\1: ", line) for line in lines[:-1]]


def test_validate_prints_file_line_severity_path_message_and_fails_on_an_error(capsys, sweep_yaml):
    path = sweep_yaml(BAD_LOGUNIFORM)
    code, out, err = run(capsys, "validate", path)
    assert code == EXIT_FAILED == 1
    assert re.match(rf"^{re.escape(str(path))}:\d+:\d+: error: search_space.lr: LogUniform needs min_value", out)
    (line,) = problems(out)
    assert line.endswith("(got -2.0 and -4.0)")
    assert out.splitlines()[-1] == "azsweep validate: 1 file: 0 ok, 1 invalid, 0 not checked (1 error, 0 warnings)"


def test_validate_passes_with_only_warnings(capsys, sweep_yaml):
    path = sweep_yaml(UNUSED_OPT)
    code, out, err = run(capsys, "validate", path)
    assert code == EXIT_OK == 0
    (line,) = problems(out)
    assert line.startswith(f"{path}: warning: search_space.opt: is never used")
    assert out.splitlines()[-1] == "azsweep validate: 1 file: 1 ok, 0 invalid, 0 not checked (0 errors, 1 warning)"


def test_validate_a_valid_file_prints_no_problems(capsys, sweep_yaml):
    path = sweep_yaml()
    code, out, err = run(capsys, "validate", path)
    assert code == 0 and problems(out) == []


def test_validate_several_files_fails_if_any_has_an_error(capsys, sweep_yaml):
    good, warned, bad = sweep_yaml(), sweep_yaml(UNUSED_OPT), sweep_yaml({"limits.max_total_trials": 5000})
    code, out, err = run(capsys, "validate", good, warned, bad)
    assert code == 1
    lines = problems(out)
    assert len(lines) == 2
    assert lines[0].startswith(f"{warned}: warning: search_space.opt: ")
    assert lines[1] == f"{bad}: error: limits.max_total_trials: must be an integer between 1 and 1000 (got 5000)"
    assert out.splitlines()[-1].startswith("azsweep validate: 3 files: 2 ok, 1 invalid")


def test_validate_the_quickstart_sample(capsys):
    code, out, _ = run(capsys, "validate", SAMPLE)
    assert code == 0
    assert ": error:" not in out


def test_validate_json_lines(capsys, sweep_yaml):
    path = sweep_yaml({**UNUSED_OPT, "limits.max_total_trials": 5000})
    code, out, err = run(capsys, "validate", "--json", path)
    assert code == 1
    problems = json_lines(out)
    assert {(p["file"], p["severity"], p["path"]) for p in problems} == {
        (str(path), "error", "limits.max_total_trials"),
        (str(path), "warning", "search_space.opt"),
    }
    assert any("(got 5000)" in p["message"] for p in problems)
    assert err == ""


def test_validate_quiet_prints_errors_only(capsys, sweep_yaml):
    path = sweep_yaml({**UNUSED_OPT, "limits.max_concurrent_trials": 0})
    code, out, err = run(capsys, "validate", "-q", path)
    assert code == 1
    assert [re.sub(r":\d+:\d+: ", ": ", line) for line in out.splitlines()] == [
        f"{path}: error: limits.max_concurrent_trials: must be an integer between 1 and 1000 (got 0)"
    ]
    assert err == ""


def test_validate_without_files_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == EXIT_USAGE == 2
    out, err = capsys.readouterr()
    assert "usage:" in err and "PATH" in err
    assert "Traceback" not in err


def test_an_unknown_option_is_a_usage_error(capsys, sweep_yaml):
    with pytest.raises(SystemExit) as info:
        main(["validate", "--strict", str(sweep_yaml())])
    assert info.value.code == 2
    assert "--strict" in capsys.readouterr().err


def test_a_missing_path_is_a_usage_error(capsys, tmp_path):
    code, out, err = run(capsys, "validate", tmp_path / "nope.yml")
    assert code == EXIT_USAGE
    assert err.strip() == f"azsweep validate: error: {tmp_path / 'nope.yml'}: no such file or folder"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("type: sweep\nsearch_space: {lr: [\n", "not valid YAML"),
        ("type: command\n", "command: is required"),
    ],
)
def test_unreadable_or_incomplete_files_get_one_line_per_problem_and_exit_1(capsys, tmp_path, text, fragment):
    path = tmp_path / "broken.yml"
    path.write_text(text, encoding="utf-8")
    code, out, _ = run(capsys, "validate", path)
    assert code == 1
    lines = problems(out)
    assert lines[0].startswith(f"{path}: error: ") and any(fragment in line for line in lines)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"objective.goal": "maximise"}, "objective.goal"),
        ({"search_space.lr": {"type": "beta"}}, "search_space.lr"),
        ({"sampling_algorithm": {"type": "random", "rule": "halton"}}, "sampling_algorithm.rule"),
        ({"early_termination": {"type": "bandit", "evaluation_interval": 1}}, "early_termination"),
        ({"trial.command": "python t.py ${{search_space.lr}} ${{search_space.opt}} ${{inputs.typo}}"}, "trial.command"),
    ],
)
def test_validate_never_prints_a_traceback(capsys, sweep_yaml, changes, expected):
    code, out, err = run(capsys, "validate", sweep_yaml(changes))
    assert code == 1
    assert [line.split(": ")[2] for line in problems(out) if ": error: " in line] == [expected]


# --- sample -------------------------------------------------------------------------------------


def test_sample_json_prints_n_configurations(capsys):
    code, out, err = run(capsys, "sample", SAMPLE, "-n", "7", "--json")
    assert code == 0
    configs = json_lines(out)
    assert len(configs) == 7
    for c in configs:
        assert list(c) == ["learning_rate", "momentum", "optimizer", "layers"]
        assert 0.5 <= c["momentum"] <= 0.99
        assert c["optimizer"] in ("sgd", "adam")
        assert c["layers"] in range(4) and type(c["layers"]) is int


def test_sample_uses_the_files_seed_and_matches_the_library(capsys):
    _, first, _ = run(capsys, "sample", SAMPLE, "-n", "5", "--json")
    _, again, _ = run(capsys, "sample", SAMPLE, "-n", "5", "--json")
    assert first == again
    job = azsweep.load_job(SAMPLE)
    assert json_lines(first) == azsweep.sample(job.search_space, 5, seed=42)


def test_sample_seed_changes_the_values(capsys):
    _, seed1, _ = run(capsys, "sample", SAMPLE, "-n", "5", "--json", "--seed", "1")
    _, seed1_again, _ = run(capsys, "sample", SAMPLE, "-n", "5", "--json", "--seed", "1")
    _, seed2, _ = run(capsys, "sample", SAMPLE, "-n", "5", "--json", "--seed", "2")
    _, file_seed, _ = run(capsys, "sample", SAMPLE, "-n", "5", "--json")
    assert seed1 == seed1_again
    assert len({seed1, seed2, file_seed}) == 3


def test_sample_first_n_is_a_prefix(capsys):
    _, three, _ = run(capsys, "sample", SAMPLE, "-n", "3", "--json")
    _, ten, _ = run(capsys, "sample", SAMPLE, "-n", "10", "--json")
    assert json_lines(three) == json_lines(ten)[:3]


def test_sample_grid_prints_at_most_the_grid(capsys, sweep_yaml):
    path = sweep_yaml(GRID)
    code, out, _ = run(capsys, "sample", path, "-n", "100", "--json")
    assert code == 0
    assert json_lines(out) == [{"lr": lr, "opt": opt} for lr in (0.1, 0.01, 0.001) for opt in ("sgd", "adam")]
    _, few, _ = run(capsys, "sample", path, "-n", "4", "--json")
    assert len(json_lines(few)) == 4


def test_sample_sobol_and_logbase_from_yaml(capsys, sweep_yaml):
    path = sweep_yaml(
        {
            "sampling_algorithm": {"type": "random", "rule": "sobol", "seed": 3, "logbase": 10},
            "search_space.lr": {"type": "loguniform", "min_value": -3, "max_value": -1},
        }
    )
    code, out, _ = run(capsys, "sample", path, "-n", "64", "--json")
    assert code == 0
    configs = json_lines(out)
    assert all(1e-3 <= c["lr"] <= 1e-1 for c in configs)
    assert min(c["lr"] for c in configs) < 0.0498  # base 10, not e
    assert [sum(c["opt"] == o for c in configs) for o in ("sgd", "adam")] == [32, 32]  # Sobol balance


def test_sample_bayesian_starts_from_seeded_random_proposals(capsys, sweep_yaml):
    path = sweep_yaml({"sampling_algorithm": "bayesian"})
    _, a, _ = run(capsys, "sample", path, "-n", "4", "--json", "--seed", "9")
    _, b, _ = run(capsys, "sample", path, "-n", "4", "--json", "--seed", "9")
    assert a == b and len(json_lines(a)) == 4


def test_sample_table(capsys):
    code, out, _ = run(capsys, "sample", SAMPLE, "-n", "3", "--seed", "5")
    assert code == 0
    for name in ("learning_rate", "momentum", "optimizer", "layers"):
        assert name in out
    first = azsweep.sample(azsweep.load_job(SAMPLE).search_space, 1, seed=5)[0]
    assert repr(first["momentum"]) in out


def test_sample_zero(capsys):
    code, out, _ = run(capsys, "sample", SAMPLE, "-n", "0", "--json")
    assert code == 0 and out == ""


def test_sample_negative_n_is_a_usage_error(capsys):
    code, _, err = run(capsys, "sample", SAMPLE, "-n", "-1")
    assert code == 2 and "-n" in err


def test_sample_an_invalid_file_is_one_line(capsys, sweep_yaml):
    path = sweep_yaml(BAD_LOGUNIFORM)
    code, out, err = run(capsys, "sample", path, "-n", "3", "--json")
    assert code == 1 and out == ""
    assert (
        err.strip() == f"azsweep: error: {path}: error: search_space.lr: LogUniform needs min_value <= max_value "
        "(got -2.0 and -4.0)"
    )


def test_debug_lets_the_exception_through(capsys, sweep_yaml):
    with pytest.raises(DefinitionError):
        main(["--debug", "sample", str(sweep_yaml(BAD_LOGUNIFORM)), "-n", "1"])


# --- a real process -----------------------------------------------------------------------------


def azsweep_executable() -> list[str]:
    beside = Path(sys.executable).parent / "azsweep"
    found = str(beside) if beside.exists() else shutil.which("azsweep")
    return [found] if found else [sys.executable, "-m", "azsweep.cli"]


def test_azsweep_validate_in_a_real_process(sweep_yaml):
    bad, warned = sweep_yaml(BAD_LOGUNIFORM), sweep_yaml(UNUSED_OPT)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [*azsweep_executable(), "validate", str(warned), str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = problems(done.stdout)
    assert lines[0].startswith(f"{warned}: warning: search_space.opt: ")
    assert lines[1].startswith(f"{bad}: error: search_space.lr: ") and lines[1].endswith("(got -2.0 and -4.0)")
    ok = subprocess.run(
        [*azsweep_executable(), "validate", str(warned)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stderr
    usage = subprocess.run([*azsweep_executable(), "validate"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
