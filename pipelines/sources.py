"""One entry point for every `--data SRC` of the CLI contract: `load_source(spec, domain)`.

`spec` is `tfds:NAME[:SPLIT]`, `synthetic:NAME`, or a path; `domain` (`"text"`, `"audio"` or
`"series"`) is the app's, and picks the reader for a path:

- text: `text_source.load_text_source` (class folders, class files, CSV/TSV, fastText;
  `format=` one of `text_source.FORMATS`, else from the path or the file's content);
- audio: `audio_source.load_audio_flat` when `label_pattern` is given, else
  `audio_source.load_audio_folders`;
- series: `series_source.load_series_csv`.

Options set to `None` are dropped (the CLI passes unset options as `None`); options that the
chosen reader does not take are an error naming them. A `synthetic:` or `tfds:` source of
another domain (e.g. `synthetic:speech` for the text app) is an error too, and so is an empty
`spec` (`""` is not the current folder).

What comes back: `TextExamples` (text), `AudioExamples` (audio files) or `WaveExamples`
(audio already in memory: synthetic and TFDS), `Series` (series).

Example:

>>> data = load_source("synthetic:sentiment", "text", n=20)
>>> type(data).__name__, len(data.texts)
('TextExamples', 20)
"""

import inspect
import pathlib

from pipelines import audio_source, series_source, synthetic_tasks, text_source, tfds_source

DOMAINS = ("text", "audio", "series")
_SYNTHETIC_DOMAIN = {"sentiment": "text", "speech": "audio", "forecast": "series"}
_TFDS_DOMAIN = {"imdb_reviews": "text", "speech_commands": "audio", "spoken_digit": "audio"}


class SourceError(ValueError):
    """A data source that cannot be read as asked."""


def _call(function, spec, options):
    accepted = inspect.signature(function).parameters
    extra = sorted(set(options) - set(accepted))
    if extra:
        raise SourceError(
            f"{spec}: option(s) {', '.join(extra)} do not apply to this source; it takes "
            f"{', '.join(name for name in accepted if name not in ('spec', 'root', 'path'))}"
        )
    return function(**options)


def _check_domain(spec, expected, domain):
    if expected is not None and expected != domain:
        raise SourceError(f"{spec}: this is {expected} data, but the {domain} app reads it")


def load_source(spec, domain, **options):
    """Reads the data source `spec` for an app of `domain` (see the module docstring).

    Raises:
        SourceError: unknown domain, wrong domain, options that do not apply, an empty spec,
            a missing path.
        ValueError: the reader's own errors (they name file, line and column).
    """
    if domain not in DOMAINS:
        raise SourceError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    options = {key: value for key, value in options.items() if value is not None}
    text = str(spec)
    if not text.strip():
        raise SourceError(
            f"the data source is empty (--data {text!r}); pass a path, tfds:NAME or synthetic:NAME"
        )
    if text.startswith("synthetic:"):
        _check_domain(text, _SYNTHETIC_DOMAIN.get(text.split(":", 1)[1]), domain)
        return _call(synthetic_tasks.load_synthetic, text, {"spec": text, **options})
    if text.startswith("tfds:"):
        name = tfds_source.parse_tfds_spec(text).name
        _check_domain(text, _TFDS_DOMAIN.get(name), domain)
        return _call(tfds_source.load_tfds, text, {"spec": text, **options})
    path = pathlib.Path(spec)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if domain == "text":
        return text_source.load_text_source(path, **options)
    if domain == "audio":
        if "label_pattern" in options:
            return _call(audio_source.load_audio_flat, path, {"root": path, **options})
        return _call(audio_source.load_audio_folders, path, {"root": path, **options})
    return _call(series_source.load_series_csv, path, {"path": path, **options})
