"""Reading a config: command-line overrides as YAML values, and YAML syntax errors with file and line."""

import pytest

from toponets.config_io import yaml_syntax_error, yaml_values


@pytest.mark.parametrize("given, meant", [
    ("true", True),  # --config published_checkpoints=true
    ("null", None),  # --config mirror=null
    (["0", "1"], [0, 1]),  # --config seeds=[0,1] (Snakemake's BaseLoader keeps the items strings)
    ({"lora": {"experiments": ["nanogpt"], "steps": "5"}}, {"lora": {"experiments": ["nanogpt"], "steps": 5}}),
    ("../shared/data", "../shared/data"),
    ("a: [b", "a: [b"),  # no valid YAML: kept as given
    (0.5, 0.5),
])
def test_command_line_values_mean_what_they_mean_in_a_config_file(given, meant):
    assert yaml_values(given) == meant


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    path = tmp_path / "preset.yaml"
    path.write_text("experiments:\n  - name: a\n    taus: [0, 1\nseeds: [0]\n")
    problem = yaml_syntax_error(path)
    assert problem.startswith(f"{path}, line 4, column 6: while parsing a flow sequence expected ',' or ']'")
    path.write_text("experiments: []\nseeds: [0]\n")
    assert yaml_syntax_error(path) is None
