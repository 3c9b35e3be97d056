"""The bodies of the `train`, `baseline`, `evaluate` and `export` commands, shared by the apps.

A command in `apps/<app>/cli.py` builds its config objects (from the options), calls
`preflight` (paths checked before TensorFlow is imported), then one function here with the
app's `ClassifierApp`. What goes wrong with the user's input inside raises `ValueError`s
that name it; the command's `input_errors` turns them into one `Error:` line and exit code 2.

- `train(app, configs, report)`: the plan, holdout or K-fold, every file written into a
  staged folder that replaces `--out` only when complete (`apps.common.staging`).
- `baseline(app, data, run, report)`: the app's baseline on the same split or folds.
- `echo_result(result, as_json, lines)`: one JSON object on stdout, or the text lines.
"""

import dataclasses
import json
import pathlib

import click

from apps.common.staging import check_out_folder


@dataclasses.dataclass(frozen=True)
class TrainConfigs:
    """What `train` was asked: the data, model and run configs and the preset's name."""

    data: object
    model: object
    run: object
    preset: str | None = None


def check_source(source):
    """Raises `ValueError` when `--data` is empty or names a path that does not exist."""
    text = str(source or "").strip()
    if not text:
        raise ValueError("--data is empty; give a tfds:NAME, synthetic:NAME, folder or file")
    if text.partition(":")[0] in ("tfds", "synthetic"):
        return
    if not pathlib.Path(text).exists():
        raise ValueError(f"{text}: no such file or folder (--data)")


def preflight(data=None, run=None):
    """The checks of user paths that need no TensorFlow: `--data`, `--out`."""
    if data is not None:
        check_source(data.source)
    if run is not None and run.out is not None:
        check_out_folder(run.out, run.overwrite)


def _report_data(plan, report):
    examples = plan.examples
    if getattr(examples, "detected", None):
        report(examples.detected)
    if getattr(examples, "skipped", 0):
        report(f"skipped {examples.skipped} empty example(s) in {plan.data.source}")


def train(app, configs, report):
    """Trains as `configs.run` says and writes the run into `configs.run.out`.

    Returns:
        The JSON-ready result: holdout metrics, or the cross-validation result.
    """
    import keras

    from apps.common import flow, run_files
    from apps.common.distribute import describe, get_strategy
    from apps.common.staging import staged_folder

    data, model, run = configs.data, configs.model, configs.run
    strategy = get_strategy(run.strategy)
    plan = flow.make_plan(app, data, model, run, strategy=strategy)
    report(f"strategy: {describe(strategy)}; preset {configs.preset}: {model}")
    _report_data(plan, report)
    with staged_folder(run.out, run.overwrite) as folder:
        if run.cv:
            result = flow.cross_validate(
                plan, report, on_fold=_fold_line(run.cv, report),
                end_fold=lambda: keras.backend.clear_session(free_memory=True),
            )  # fmt: skip
            run_files.write_cv(folder, result, run_files.run_description(plan, configs.preset))
            return {"out": str(run.out), **result["cv"], "accuracy": result["accuracy"]}
        fit, metrics, record = flow.holdout(plan, report)
        description = run_files.run_description(plan, configs.preset, fit.model.model_config)
        run_files.write_holdout(folder, fit, metrics, record, description)
    return {"out": str(run.out), **metrics}


def _fold_line(k, report):
    def on_fold(row, fit, parts):
        report(f"fold {row['fold']}/{k}: accuracy {row['accuracy']:.4f}, macro-F1 "
               f"{row['macro_f1']:.4f} (best epoch {row['best_epoch']}, {row['seconds']} s)")

    return on_fold  # fmt: skip


def baseline(app, data, run, report):
    """The app's baseline on the split (or folds) `train` would use with the same seed."""
    from apps.common import flow

    plan = flow.make_plan(app, data, None, run)
    report(f"{len(plan.examples)} examples, classes {plan.class_names}; {app.baseline_name}")
    _report_data(plan, report)
    return {"data": data.source, "model": app.baseline_name, **flow.baseline(plan)}


def echo_result(result, as_json, lines):
    """Prints `result` as one JSON object (`as_json`), else the text `lines(result)` gives."""
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    for line in lines(result):
        click.echo(line)


def summary_lines(result, what="test"):
    """The text of a holdout or CV result: accuracy line(s) and the per-class or fold table."""
    from apps.common.reports import cv_table, per_class_table

    if "folds_run" in result or "cv" in result:
        cv = result.get("cv", result)
        yield cv_table(cv)
        yield (f"{cv['k']}-fold CV, folds {cv['folds_run']}: mean accuracy "
               f"{cv['mean']['accuracy']:.4f} (std {cv['std']['accuracy']:.4f}), mean macro-F1 "
               f"{cv['mean']['macro_f1']:.4f}")  # fmt: skip
        return
    test = result[what] if what in result else result
    yield f"{what} accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f} (n={test['n']})"
    yield per_class_table(test)


def training_test_part(app, data_cls, folder):
    """`(inputs, labels, name)` of the test part a holdout run recorded in `folder`.

    Re-reads the run's data (`config.json`) and takes the indices of `split.json`.

    Raises:
        ValueError: no split record (not a holdout training folder), or the data changed.
    """
    from apps.common.config import from_dict
    from apps.common.run_files import CONFIG_FILE, SPLIT_FILE

    folder = pathlib.Path(folder)
    split_path, config_path = folder / SPLIT_FILE, folder / CONFIG_FILE
    if not (split_path.is_file() and config_path.is_file()):
        raise ValueError(f"{split_path}: missing; --split test needs a training folder written "
                         "by train without --cv")  # fmt: skip
    record = json.loads(split_path.read_text(encoding="utf-8"))
    config = json.loads(config_path.read_text(encoding="utf-8"))
    known = {f.name for f in dataclasses.fields(data_cls)}
    data = from_dict(data_cls, {k: v for k, v in config["data"].items() if k in known})
    examples = app.load_examples(data, seed=config["train"]["seed"])
    if record["n"] != len(examples):
        raise ValueError(f"{split_path}: the split covers {record['n']} examples but "
                         f"{data.source} now gives {len(examples)}; the data has changed")
    idx = record["indices"]["test"]
    labels = [examples.labels[int(i)] for i in idx]
    return app.subset(examples, idx), labels, f"{data.source}:test"
