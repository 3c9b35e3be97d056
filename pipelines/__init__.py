"""Input pipelines of the suite: data sources turned into batched `tf.data` datasets.

Each source (TensorFlow Datasets, folders, CSV/TSV files, the suite's own synthetic data)
yields examples that the pipeline caches, shuffles, batches and prefetches. `pipelines`
imports nothing from `apps`.
"""
