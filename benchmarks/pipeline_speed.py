"""Throughput of the text, audio and series pipelines against what a model consumes.

For each domain this builds the pipeline on the real data in `../shared/data` (MR, FSDD,
ETTh1), iterates one epoch to fill its cache, then times the following epochs (no model):
examples/s of the pipeline. Against it: examples/s consumed by `train_on_batch` of a
representative seqcore model of the domain on one batch from the same pipeline, measured in
the same run. The pipeline keeps up when the ratio pipeline/model is well above 1 (the
target is >= 3).

Models (the apps will bring their own; these are representative sizes):
- text: raw strings -> TextVectorization (inside the model) -> Embedding(mask_zero, 128)
  -> Bidirectional(seqcore.LSTM(64)) -> Dense(2), batch 64;
- audio: log-mel (frames x 40) -> seqcore.GRU(64) -> Dense(10), batch 64 (also with the
  augmentations on: speed change, time shift, noise, SpecAugment, applied after the cache);
- series: windows (336 x 7) -> seqcore.LSTM(64) -> Dense(96 * 7), batch 32.

Run: python benchmarks/pipeline_speed.py [--data-root ../shared/data] [--epochs 3]
"""

import argparse
import datetime
import pathlib
import platform
import statistics
import sys
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"


def text_case(data_root):
    import keras

    import seqcore
    from pipelines import splits, text, text_source

    examples = text_source.load_class_files(data_root / "mr_polarity", encoding="windows-1252")
    ids, mapping = text.encode_labels(examples.labels)
    parts = splits.stratified_split(ids, (0.9, 0.1), seed=0)
    train_texts = [examples.texts[i] for i in parts["train"]]
    dataset = text.text_dataset(
        train_texts,
        ids[parts["train"]],
        64,
        shuffle=True,
        seed=0,
        bucket_boundaries=[10, 20, 30, 40],
    )
    vectorizer = text.make_vectorizer(train_texts, max_tokens=20000)
    inputs = keras.Input((), dtype="string")
    tokens = vectorizer(inputs)
    hidden = keras.layers.Embedding(vectorizer.vocabulary_size(), 128, mask_zero=True)(tokens)
    hidden = keras.layers.Bidirectional(seqcore.LSTM(64))(hidden)
    model = keras.Model(inputs, keras.layers.Dense(len(mapping), activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    return "text (MR, raw strings, bucketed)", dataset, model, len(train_texts)


def audio_case(data_root, augment=False):
    import keras

    import seqcore
    from pipelines import audio, audio_source

    examples = audio_source.load_audio_flat(
        data_root / "fsdd" / "recordings", r"^(\d+)_", group_pattern=r"^\d+_([a-z]+)_"
    )
    dataset = audio.audio_dataset(
        examples.paths,
        examples.label_ids(),
        8000,
        8000,
        64,
        shuffle=True,
        seed=0,
        features="log_mel",
        augment=augment,
    )
    frames, bins = dataset.element_spec[0].shape[1:]
    inputs = keras.Input((frames, bins))
    hidden = seqcore.GRU(64)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(len(examples.class_names))(hidden))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    name = "audio (FSDD, log-mel, augmented)" if augment else "audio (FSDD, log-mel)"
    return name, dataset, model, len(examples.paths)


def audio_augmented_case(data_root):
    return audio_case(data_root, augment=True)


def series_case(data_root):
    import keras

    import seqcore
    from pipelines import series, series_source

    data = series_source.load_series_csv(data_root / "ett" / "ETTh1.csv", time_column="date")
    ranges = series.chronological_split(len(data.values), split_rows=(8640, 2880, 2880))
    scaler = series.Standardizer.fit(data.values, rows=ranges.train)
    parts = series.split_windows(scaler.transform(data.values), ranges, 336, 96)
    x, y = parts["train"]
    dataset = series.windows_dataset(x, y, 32, shuffle=True, seed=0)
    inputs = keras.Input(x.shape[1:])
    hidden = seqcore.LSTM(64)(inputs)
    outputs = keras.layers.Reshape(y.shape[1:])(keras.layers.Dense(y.shape[1] * y.shape[2])(hidden))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "mse")
    return "series (ETTh1, L=336, H=96)", dataset, model, len(x)


def pipeline_rate(dataset, epochs):
    """Examples/s of iterating `dataset`, median over `epochs` epochs after a warm-up one."""
    for _ in dataset:  # first epoch: fills the cache
        pass
    rates = []
    for _ in range(epochs):
        start, count = time.perf_counter(), 0
        for batch in dataset:
            count += int(batch[1].shape[0])
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def model_rate(model, dataset, steps):
    """Examples/s a training step consumes, on one batch of `dataset`."""
    x, y = next(iter(dataset))
    for _ in range(2):
        model.train_on_batch(x, y)
    samples = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        samples.append(time.perf_counter() - start)
    return int(y.shape[0]) / statistics.median(samples)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=pathlib.Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=3, help="timed pipeline epochs")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--domains", default="text,audio,audio-augmented,series")
    args = parser.parse_args(argv)
    cases = {
        "text": text_case,
        "audio": audio_case,
        "audio-augmented": audio_augmented_case,
        "series": series_case,
    }
    domains = args.domains.split(",")
    unknown = [d for d in domains if d not in cases]
    if unknown or args.epochs < 1 or args.steps < 1:
        print(
            f"Error: bad --domains/--epochs/--steps. Received: {argv or sys.argv[1:]}",
            file=sys.stderr,
        )
        return 2
    if not args.data_root.is_dir():
        print(f"Error: --data-root {args.data_root} is not a folder", file=sys.stderr)
        return 2
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    print(f"pipeline_speed {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine {platform.platform()}, tensorflow {tf.__version__}, keras {keras.__version__}")
    print(f"{'pipeline':36} {'examples':>9} {'pipeline ex/s':>14} {'model ex/s':>11} {'ratio':>6}")
    for domain in domains:
        print(f"[{domain}] building and warming up", file=sys.stderr)
        name, dataset, model, count = cases[domain](args.data_root)
        pipeline = pipeline_rate(dataset, args.epochs)
        consumed = model_rate(model, dataset, args.steps)
        print(f"{name:36} {count:9d} {pipeline:14.0f} {consumed:11.0f} {pipeline / consumed:6.1f}")
    print(
        "rerun: python benchmarks/pipeline_speed.py "
        f"--epochs {args.epochs} --steps {args.steps} --domains {args.domains}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
