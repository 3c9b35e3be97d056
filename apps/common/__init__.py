"""The application skeleton every app plugs into (see docs/apps.md).

No TensorFlow is imported by `config`, `settings`, `cli_config`, `options`, `errors`,
`staging`, `loading`, `runtime` and `commands` (at import), so `--help` and bad paths or
options answer at once; the others are imported by the commands that need them:

- `apps.common.config`: `setting`, `Checked`, checks; `settings`: `DataConfig`, `RunConfig`.
- `apps.common.cli_config`: click options from config fields, `with_configs`.
- `apps.common.flow`: `ClassifierApp`, `make_plan`, `holdout`, `cross_validate`, `baseline`.
- `apps.common.commands`: the shared command bodies; `run_files`: the files a run writes.
- `apps.common.staging`: `check_out_folder`, `staged_folder` (atomic `--out`).
- `apps.common.export`: `export_versioned` (atomic, TF Serving layout).
- `apps.common.loading`: `find_model`, `load_keras_model` (truncated files named).
- `apps.common.serving`: `run_in_new_process`, `predict_in_new_process`.
- `apps.common.runtime`: `start_tensorflow` (quiet), `AppGroup` (Ctrl-C exits 130).
- `apps.common.errors`: `InputError`, `input_errors`; `options`: shared click options.
- `apps.common.distribute`: `get_strategy`; `progress`: progress bar or lines per epoch.
- `apps.common.reports`: classification metrics, plots, tables, JSON files.
"""
