"""Entry points, one per workflow rule: `python -m toponets.cli.<name>`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable


def json_mapping(what: str) -> Callable[[str], dict[str, str]]:
    """An argparse type: a JSON object whose values are strings; `what` names it in errors ("region -> layer")."""

    def parse(text: str) -> dict[str, str]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise argparse.ArgumentTypeError(f"expected a JSON object of {what}, not JSON ({err}): {text!r}") from err
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise argparse.ArgumentTypeError(f"expected a JSON object of {what}, got {text!r}")
        return value

    return parse
