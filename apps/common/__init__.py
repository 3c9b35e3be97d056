"""Code shared by the apps: versioned export, serving checks, CLI options and errors,
progress reporting, reports and plots, `tf.distribute` strategy selection.

Modules that import TensorFlow or Keras (`distribute`, `progress`, `reports`) are imported by
the commands that need them, never from here, so `seqapps --help` stays fast:

- `apps.common.errors`: `InputError` (exit code 2, one line) and `input_errors(debug)`.
- `apps.common.options`: click options every app shares (`--data`, `--seed`, `--json`, ...).
- `apps.common.export`: `next_version`, `export_versioned` (atomic, TF Serving layout).
- `apps.common.serving`: `run_in_new_process`, `predict_in_new_process` (fresh interpreter).
- `apps.common.distribute`: `get_strategy("default" | "mirrored" | "multi-worker")`.
- `apps.common.progress`: `EpochProgress`, a Keras callback reporting one line per epoch.
- `apps.common.reports`: classification metrics (scikit-learn), confusion matrix and
  training-curve plots (matplotlib), fold tables, JSON files.
"""
