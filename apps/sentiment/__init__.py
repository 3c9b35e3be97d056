"""Text sentiment classification with seqcore, from raw strings to a served model.

Built on the application skeleton of `apps.common` (docs/apps.md). Modules (TensorFlow is
imported by all but `config`, `presets` and `cli`):

- `config`: `ModelConfig`, `TextDataConfig`, `SentimentRun`; `presets`: `PRESETS`.
- `layers`: the custom layers and text standardisers saved inside the model (registered
  under the package `seqcore_apps`).
- `model`: `SentimentClassifier` (carries its config and class names), `build_model`,
  `build_hybrid`; `ngram`: the n-gram branch; `embeddings`: pretrained word vectors.
- `data`: reading `--data SRC`; `train`: `SentimentApp`, the app's part of the shared flow.
- `predict`: `load_classifier` (a trained folder or a SavedModel) and `predict_proba`.
- `evaluate`: scoring a classifier on labelled texts; `baseline`: TF-IDF + logistic regression.
- `export`: the SavedModel taking raw strings; `serving`: its check in a fresh process.
- `cli`: the `seqapps sentiment` click group.
"""

APP_NAME = "sentiment"
