"""Reading a config: YAML syntax errors that name the file and line, command-line overrides
(`snakemake --config key=value`) read as YAML values, and JSON arguments (--spec, --settings).

Snakemake reads each value as an int, a float, True/False, or else with YAML's BaseLoader, which
keeps every scalar a string: `seeds=[0,1]` gives ['0', '1'], `mirror=null` the string 'null' and
`published_checkpoints=true` the string 'true', which the schema then refuses or, worse, takes for a
path. Each string is read again here with YAML's safe loader, so a value means on the command line
what it means in a config file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def yaml_values(value: Any) -> Any:
    """`value` with every string, at any depth, replaced by its YAML reading (a string that is no valid
    YAML stays as it is)."""
    if isinstance(value, dict):
        return {key: yaml_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [yaml_values(item) for item in value]
    if isinstance(value, str):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return yaml_values(parsed) if isinstance(parsed, (dict, list)) else parsed
    return value


def yaml_syntax_error(path: str | Path) -> str | None:
    """Where and why the YAML file `path` cannot be parsed (file, line, column and the parser's reason), or None."""
    try:
        yaml.safe_load(Path(path).read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        reason = " ".join(part for part in (err.context, err.problem) if part)
        return f"{where}: {reason} (YAML syntax)"
    except yaml.YAMLError as err:
        return f"{path}: {err} (YAML syntax)"
    return None


def json_argument(text: str, flag: str) -> dict[str, Any]:
    """The JSON object of command-line argument `flag`: JSON text, or the path of a JSON file
    (ValueError naming the flag otherwise)."""
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"{flag}: {text!r} is neither JSON text nor an existing .json file")
        text = path.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{flag} is not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object")
    return value
