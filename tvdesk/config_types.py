"""Type checks of settings values: each value against its dataclass field's annotation.

TOML gives strings, booleans, integers, floats (inf and nan too) and tables; Python would let
`true` pass as the number 1 and `1.5` as a thread count. Each check names the key and what it
takes, so a wrong value stops with one sentence instead of a traceback later.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from pathlib import Path
from typing import Any


def type_problem(expected: Any, value: Any) -> str | None:
    """What `value` should be for a field annotated `expected`, or None when it fits."""
    if expected is bool:
        return None if isinstance(value, bool) else "true or false"
    if isinstance(value, bool) and expected in (int, float):
        return "a number, not true or false"
    if expected is int:
        return None if isinstance(value, int) else "a whole number"
    if expected is float:
        if not isinstance(value, int | float):
            return "a number"
        return None if math.isfinite(value) else "a finite number"
    if expected is str:
        return None if isinstance(value, str) else "a string in quotes"
    if expected is Path:
        return None if isinstance(value, str | os.PathLike) else "a path in quotes"
    return None  # other field types check themselves


def check_field_types(instance: Any, prefix: str = "", error: type[Exception] = ValueError) -> None:
    """Raise `error` naming the first field of the dataclass `instance` whose value has the
    wrong type, e.g. "confidence must be a number, got 'high'"; `prefix` goes before the key
    (a table's name, as in `retrain.epochs`)."""
    hints = typing.get_type_hints(type(instance))
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        problem = type_problem(hints[field.name], value)
        if problem:
            raise error(f"{prefix}{field.name} must be {problem}, got {value!r}")
