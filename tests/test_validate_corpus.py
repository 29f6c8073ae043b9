"""``azsweep validate`` over a corpus of malformed files (``tests/invalid_corpus/``): each gets its exit code, one
line naming the field path (or the file, when it cannot be read), and never a Python exception's name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from azsweep.cli import main

CORPUS = Path(__file__).resolve().parent / "invalid_corpus"
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback")

# file -> (exit code, the field path of the first error line, a fragment of its message); path "" = the file itself
CASES: dict[str, tuple[int, str, str]] = {
    "binary.yml": (1, "", "not UTF-8"),
    "utf16.yml": (1, "", "UTF-16"),
    "utf16_no_bom.yml": (1, "", "UTF-16"),
    "deep_nesting.yml": (1, "", "nests deeper"),
    "nesting_200.yml": (1, "", "levels deep"),
    "alias_bomb_choice.yml": (1, "", "alias bomb"),
    "not_yaml.yml": (1, "", "not valid YAML at line 3"),
    "env_list.yml": (1, "trial.environment_variables", "mapping"),
    "env_name_equals.yml": (1, "trial.environment_variables.A=B", "without '='"),
    "env_value_nul.yml": (1, "trial.environment_variables.A", "NUL"),
    "env_value_mapping.yml": (1, "trial.environment_variables.A", "string or a number"),
    "command_job_env_list.yml": (1, "environment_variables", "mapping"),
    "command_job_unknown_reference.yml": (1, "command", "unknown reference 'search_space'"),
    "randint_huge.yml": (1, "search_space.lr", "upper <= 2**53"),
    "uniform_overflow.yml": (1, "search_space.lr", "overflow to inf"),
    "lognormal_overflow.yml": (1, "search_space.lr", "overflow to inf"),
    "normal_huge_sigma.yml": (1, "search_space.lr", "overflow to inf"),
    "qnormal_tiny_q.yml": (1, "search_space.lr", "divided by q"),
    "quniform_beyond_int64.yml": (1, "search_space.lr", "64 bits"),
    "huge_int_bound.yml": (1, "search_space.lr", "finite number"),
    "seed_beyond_int32.yml": (1, "sampling_algorithm.seed", "2**31 - 1"),
    "seed_float.yml": (1, "sampling_algorithm.seed", "got 1.5"),
    "max_total_trials_float.yml": (1, "limits.max_total_trials", "got 4.5"),
    "max_total_trials_string.yml": (1, "limits.max_total_trials", "integer"),
    "max_concurrent_trials_list.yml": (1, "limits.max_concurrent_trials", "integer"),
    "limits_list.yml": (1, "limits", "type"),
    "objective_string.yml": (1, "objective", "type"),
    "metric_no_word_character.yml": (1, "objective.primary_metric", "[a-zA-Z0-9_]"),
    "metric_trailing_space.yml": (1, "objective.primary_metric", "whitespace"),
    "goal_number.yml": (1, "objective.goal", "minimize"),
    "search_space_list.yml": (1, "search_space", "mapping"),
    "distribution_string.yml": (1, "search_space.lr", "expected a distribution"),
    "bound_string.yml": (1, "search_space.lr", "max_value must be a number"),
    "choice_values_mapping.yml": (1, "search_space.opt", "list of values"),
    "trial_string.yml": (1, "trial", "type"),
    "command_list.yml": (1, "trial.command", "string"),
    "unbalanced_reference.yml": (1, "trial.command", "unbalanced"),
    "unclosed_reference.yml": (1, "trial.command", "no closing"),
    "unknown_reference_family.yml": (1, "trial.command", "unknown reference 'foo'"),
    "eval_interval_beyond_int32.yml": (1, "early_termination.evaluation_interval", "2**31 - 1"),
    "truncation_float.yml": (1, "early_termination.truncation_percentage", "got 10.5"),
    "slack_string.yml": (1, "early_termination.slack_factor", "number"),
    "type_typo.yml": (1, "type", "not an Azure ML job type"),
    "list_document.yml": (0, "", "not an Azure ML job"),
    "scalar_document.yml": (0, "", "not an Azure ML job"),
}


def test_every_corpus_file_has_a_case() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.yml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_file_gets_one_line_naming_the_field(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, path, fragment = CASES[name]
    file = CORPUS / name
    assert main(["validate", str(file)]) == code
    out, err = capsys.readouterr()
    assert not EXCEPTION_NAME.search(out + err), out + err
    lines = out.splitlines()
    assert lines[-1].startswith("azsweep validate: 1 file: ")  # the summary comes last
    severity = "error" if code else "note"
    first = next(line for line in lines if f": {severity}: " in line)
    where, rest = first.split(f": {severity}: ", 1)
    assert where.split(":")[0] == str(file)
    if path:
        assert rest.startswith(f"{path}: "), first
        assert re.fullmatch(re.escape(str(file)) + r":\d+:\d+", where), f"no line:column in {first!r}"
        message = rest[len(path) + 2 :]
    else:
        message = rest
    assert fragment in message, first
    assert max(len(line) for line in lines) < 1000  # echoed values are cut


def test_the_alias_bomb_echoes_no_huge_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 9**4 values behind aliases (a 45 KB repr): under the expansion limit, so the choice rule sees the nested lists
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abc", "bcd"):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    text = (CORPUS / "seed_float.yml").read_text(encoding="utf-8")
    text = text.replace("seed: 1.5", "seed: 1").replace("values: [sgd, adam]", "values: *d")
    (tmp_path / "src").mkdir()
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(levels) + "\n" + text, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if ": error: search_space.opt: " in x]  # (a, b, c, d are unknown fields)
    assert "cannot be lists" in line
    assert len(line) < 400
