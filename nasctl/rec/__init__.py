"""`nasctl.rec`: recommendation models and data for CTR prediction (seeds 000 and 002).

- `DLRM`: the DLRM model in plain PyTorch (bottom MLP, one EmbeddingBag per sparse feature, dot
  interaction without self-interaction, top MLP, sigmoid).
- Metrics: `log_loss`, `roc_auc`, `accuracy`, `normalized_entropy`, all four at once with `ctr_metrics`.
- Data: `read_criteo` (the Criteo format, streamed and cached as memory-mapped arrays), `write_criteo`,
  `CTRData`, DLRM's `day_split` and a stratified `random_split`.
- `make_planted`: synthetic data from a DLRM-shaped teacher with a planted embedding rank and hash
  size per feature and an exactly known Bayes-optimal log loss (presets `ci`, `cpu`, `gpu`; `spectrum`:
  how a rank-r table spreads its variance over its r directions).
- `train_epoch`, `predict`, `evaluate`.
- What the DNAS trials of `examples/dnas-ctr/` share: `load_splits` (cached planted splits), `darts_fit`
  (weights on 80% of the training data, architecture steps on the other 20% after a warm-up epoch),
  `retrain_fit`, `model_size` (parameters, FLOPs), `run_trial`, `dot_interaction`.
- `NASRecNet`: NASRec's block-wise search space (dense/sparse operators, dense connections) over a
  one-shot backend; its operators for annotated scripts (`dense_candidates`, `sparse_candidates`).

>>> from nasctl import rec
>>> planted = rec.make_planted("ci", seed=0, rows=2000)
>>> model = rec.DLRM(13, planted.data.cardinalities, 4, bottom=[8, 4], top=[8, 1])
>>> rows = planted.splits()
>>> loss = rec.train_epoch(model, planted.data.subset(rows["train"]), torch.optim.SGD(model.parameters(), lr=0.1))
>>> sorted(rec.evaluate(model, planted.data.subset(rows["test"])))
['accuracy', 'auc', 'log_loss', 'ne']
"""

from __future__ import annotations

from nasctl.rec._criteo import NUM_DENSE, NUM_SPARSE, CriteoFormatError, read_criteo, write_criteo
from nasctl.rec._data import CTRData, day_split, day_split_rows, random_split, random_split_rows
from nasctl.rec._metrics import accuracy, binary_entropy, ctr_metrics, log_loss, normalized_entropy, roc_auc
from nasctl.rec._model import DLRM, bce_with_logits, mlp
from nasctl.rec._nasrec import (
    DenseDot,
    DenseFC,
    DenseGating,
    NASRecNet,
    NASRecStem,
    SparseEFC,
    SparseIdentity,
    dense_candidates,
    sparse_candidates,
)
from nasctl.rec._planted import PRESETS, PlantedCTR, PlantedPreset, PlantedTruth, make_planted
from nasctl.rec._search import (
    CTRSplits,
    darts_fit,
    dot_interaction,
    interaction_dim,
    load_splits,
    model_size,
    retrain_fit,
    run_trial,
    trial_arguments,
    uniform_embedding_init,
)
from nasctl.rec._train import evaluate, predict, train_epoch

__all__ = [
    "DLRM", "NUM_DENSE", "NUM_SPARSE", "PRESETS",
    "CTRData", "CTRSplits", "CriteoFormatError", "PlantedCTR", "PlantedPreset", "PlantedTruth",
    "accuracy", "bce_with_logits", "binary_entropy", "ctr_metrics", "darts_fit", "day_split", "day_split_rows",
    "dot_interaction", "evaluate", "interaction_dim", "load_splits", "log_loss", "make_planted", "mlp", "model_size",
    "normalized_entropy", "predict", "random_split", "random_split_rows", "read_criteo", "retrain_fit", "roc_auc",
    "run_trial", "train_epoch", "trial_arguments", "uniform_embedding_init", "write_criteo",
    # NASRec's block-wise space (nasctl.rec._nasrec)
    "DenseDot", "DenseFC", "DenseGating", "NASRecNet", "NASRecStem", "SparseEFC", "SparseIdentity",
    "dense_candidates", "sparse_candidates",
]
