"""Text sentiment classification with seqcore, from raw strings to a served model.

Modules (TensorFlow is imported by all but `config`, `cli` and `cli_options`):

- `config`: `DataConfig` and `TrainConfig`, the frozen run settings the CLI fills in.
- `layers`: the custom layers and text standardiser saved inside the model (registered
  under the package `seqcore_apps`).
- `model`: `PRESETS` (plain data), `model_config`, `build_vectorizer`, `build_model`.
- `embeddings`: pretrained word vectors (GloVe / word2vec text format).
- `data`: reading `--data SRC` and the seeded split shared by `train` and `baseline`.
- `train`: `train`, `cross_validate`, `fit_model`.
- `predict`: `load_classifier` (a trained folder or a SavedModel) and `predict_texts`.
- `evaluate`: `evaluate`, scoring a classifier on labelled texts.
- `export`: `export_model`, a SavedModel in TF Serving layout taking raw strings.
- `serving`: `serving_check`, the export run in a fresh process against the Keras model.
- `baseline`: TF-IDF (1-2 grams) + logistic regression on the same split.
- `reports`: the files `train` writes and the tables it prints.
- `cli`: the `seqapps sentiment` click group; `cli_options`: its option groups.
"""

APP_NAME = "sentiment"
