"""Checks of option values, one message format for every options dataclass: a value is refused
whole (wrong type, NaN, out of range) rather than half used."""
from __future__ import annotations

import math
import numbers

import numpy as np


def check_number(name: str, value, low: float = 0, high: float = math.inf, low_open: bool = False) -> None:
    """A finite real number (numpy scalars too; not True/False) from `low` (excluded when
    `low_open`) to `high`."""
    above_low = _is_number(value, numbers.Real) and math.isfinite(value) and (value > low if low_open else value >= low)
    if above_low and value <= high:
        return
    if high == math.inf:
        wanted = f"a finite number {'more than ' if low_open else ''}{low}{'' if low_open else ' or more'}"
    else:
        wanted = f"a number in {'(' if low_open else '['}{low}, {high}]"
    raise ValueError(f"{name} must be {wanted}, not {value!r}")


def check_whole_number(name: str, value, least: int) -> None:
    if not _is_number(value, numbers.Integral) or value < least:
        raise ValueError(f"{name} must be a whole number, {least} or more, not {value!r}")


def check_switch(name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, not {value!r}")


def _is_number(value, kind: type) -> bool:
    return isinstance(value, kind) and not isinstance(value, (bool, np.bool_))
