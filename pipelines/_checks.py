"""Argument checks shared by the pipelines modules.

Each raises `ValueError` naming the argument and ending `Received: name=value`, the
convention of Keras's own layers.
"""

import numpy as np


def fail(name, value, expected):
    raise ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. Received: {name}={value!r}"
    )


def check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        fail(name, value, f"an integer >= {minimum}")
    return int(value)


def check_float(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        fail(name, value, f"a number >= {minimum}")
    return float(value)
