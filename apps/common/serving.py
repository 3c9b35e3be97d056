"""Runs an export in a new Python process (`apps.serving_check`), as a server would load it.

Only TensorFlow is imported there: neither Keras nor `seqcore` nor the app's own modules,
so a check that passes shows the export serves on its own.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]


class ServingCheckError(RuntimeError):
    """The exported model could not be run in a fresh process."""


def _jsonable(inputs):
    if isinstance(inputs, np.ndarray):
        return inputs.tolist()
    return [x.tolist() if isinstance(x, np.ndarray) else x for x in inputs]


def run_in_new_process(export_dir, inputs, signature="serve", timeout=600):
    """Calls `signature` of the SavedModel `export_dir` on `inputs` in a new interpreter.

    Args:
        export_dir: a SavedModel folder.
        inputs: the batch: numbers (cast to the signature's dtype) or strings.
        signature: the signature name.
        timeout: seconds before giving up.

    Returns:
        A dict output name -> list (strings decoded as UTF-8).

    Raises:
        ServingCheckError: the child failed or timed out.
    """
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The child must import this very source tree, installed or not.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "apps.serving_check", str(export_dir)]
    command += ["--signature", signature]
    try:
        proc = subprocess.run(
            command,
            input=json.dumps(_jsonable(inputs)),
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServingCheckError(f"serving check of {export_dir} took over {timeout} s") from exc
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise ServingCheckError(
            f"serving check of {export_dir} exited with {proc.returncode}: {tail[0]}"
        )
    return json.loads(proc.stdout)["outputs"]


def predict_in_new_process(export_dir, inputs, signature="serve", output=None, timeout=600):
    """Like `run_in_new_process`, returning one output as a float32 array.

    Args:
        output: the output to return; default the only one (an error if there are several).
    """
    outputs = run_in_new_process(export_dir, inputs, signature=signature, timeout=timeout)
    if output is None:
        if len(outputs) != 1:
            raise ServingCheckError(
                f"signature {signature!r} of {export_dir} has outputs {sorted(outputs)}; "
                "name the one to compare with `output=`"
            )
        (output,) = outputs
    if output not in outputs:
        raise ServingCheckError(
            f"signature {signature!r} of {export_dir} has no output {output!r}; "
            f"it has {sorted(outputs)}"
        )
    return np.asarray(outputs[output], dtype=np.float32)
