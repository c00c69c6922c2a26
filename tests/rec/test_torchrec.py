"""DLRM's outputs through TorchRec's EmbeddingBagCollection match its own (runs with the [rec] extra)."""

from __future__ import annotations

import pytest
import torch

from nasctl import rec

pytest.importorskip("torchrec", reason="the optional [rec] extra (fbgemm-gpu-cpu, torchrec --no-deps) is not installed")


def test_torchrec_lookup_gives_the_same_logits():
    from nasctl.rec._torchrec import torchrec_logits

    planted = rec.make_planted("ci", seed=0, rows=512)
    torch.manual_seed(0)
    model = rec.DLRM(13, planted.data.cardinalities, [4] * 13 + [8] * 13, bottom=[16, 8], top=[8, 1],
                     hash_sizes=[max(2, c // 2) for c in planted.data.cardinalities])
    dense, sparse, _ = next(planted.data.batches(256))
    with torch.no_grad():
        torch.testing.assert_close(torchrec_logits(model, dense, sparse), model.logits(dense, sparse))
