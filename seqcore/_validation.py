"""Argument checks shared by the seqcore cells and layers.

Every check raises `ValueError` naming the argument and ending with
`Received: name=value`, the convention of Keras's own layers.
"""

USE_CUDNN_CHOICES = ("auto", True, False)


def _fail(name, value, expected):
    raise ValueError(
        f"Invalid value for argument `{name}`: expected {expected}. Received: {name}={value!r}"
    )


def check_units(units):
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        _fail("units", units, "a positive integer")
    return units


def check_rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        _fail(name, value, "a float in [0, 1)")
    return float(value)


def check_bool(name, value):
    if not isinstance(value, bool):
        _fail(name, value, "a boolean (True or False)")
    return value


def check_positive_float(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        _fail(name, value, "a positive float")
    return float(value)


def check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        _fail("seed", seed, "None or an integer")
    return seed


def check_use_cudnn(value):
    if not any(value is choice or value == choice for choice in USE_CUDNN_CHOICES) or (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        _fail("use_cudnn", value, "one of 'auto', True, False")
    return value
