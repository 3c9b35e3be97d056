"""Argument checks shared by the seqcore cells and layers.

Every check raises `ValueError` naming the argument and ending with
`Received: name=value`, the convention of Keras's own layers.
"""

import numbers

import numpy as np

USE_CUDNN_CHOICES = ("auto", True, False)


def _fail(name, value, expected):
    raise ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. Received: {name}={value!r}"
    )


def check_units(units):
    if _is_bool(units) or not isinstance(units, numbers.Integral) or units <= 0:
        _fail("units", units, "a positive integer")
    return int(units)


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not _is_bool(value)


def check_rate(name, value):
    if not _is_real(value) or not 0.0 <= value < 1.0:
        _fail(name, value, "a float in [0, 1)")
    return float(value)


def check_bool(name, value):
    if not _is_bool(value):
        _fail(name, value, "a boolean (True or False)")
    return bool(value)


def check_positive_float(name, value):
    if not _is_real(value) or value <= 0:
        _fail(name, value, "a positive float")
    return float(value)


def check_seed(seed):
    if seed is not None and (_is_bool(seed) or not isinstance(seed, numbers.Integral)):
        _fail("seed", seed, "None or an integer")
    return seed if seed is None else int(seed)


def check_use_cudnn(value):
    if _is_bool(value):
        return bool(value)
    if not (isinstance(value, str) and value == "auto"):
        _fail("use_cudnn", value, "one of 'auto', True, False")
    return value
