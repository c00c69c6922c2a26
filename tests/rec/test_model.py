"""DLRM's structure, forward and backward, and the CTR metrics."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from nasctl.runtime.errors import ConfigError

from nasctl import rec


def test_dot_interaction_without_self_interaction():
    torch.manual_seed(0)
    model = rec.DLRM(3, [5, 7], 4, bottom=[4], top=[1])
    dense, sparse = torch.randn(2, 3), torch.tensor([[1, 2], [6, 13]])      # 6 % 5 and 13 % 7: shared rows
    x = model.bottom(dense)
    e = [model.embeddings[0](sparse[:, :1] % 5), model.embeddings[1](sparse[:, 1:] % 7)]
    pairs = [(e[0] * x).sum(1), (e[1] * x).sum(1), (e[1] * e[0]).sum(1)]      # (1,0), (2,0), (2,1)
    expected = model.top(torch.cat([x, torch.stack(pairs, dim=1)], dim=1)).squeeze(1)
    torch.testing.assert_close(model.logits(dense, sparse), expected)
    torch.testing.assert_close(model(dense, sparse), torch.sigmoid(expected))


def test_per_feature_sizes_are_projected_and_hash_sizes_share_rows():
    model = rec.DLRM(13, [1000] * 26, [4] * 13 + [16] * 13, bottom=[32, 16], top=[8, 1], hash_sizes=[10] * 26)
    assert isinstance(model.projections[0], torch.nn.Linear) and isinstance(model.projections[20], torch.nn.Identity)
    assert model.embeddings[0].num_embeddings == 10
    sparse = torch.randint(0, 1000, (8, 26))
    torch.testing.assert_close(model(torch.zeros(8, 13), sparse), model(torch.zeros(8, 13), sparse % 10))


def test_forward_and_backward_reach_every_parameter():
    planted = rec.make_planted("ci", seed=0, rows=256)
    model = rec.DLRM(13, planted.data.cardinalities, 4, bottom=[8, 4], top=[8, 1])
    dense, sparse, labels = next(planted.data.batches(64))
    rec.bce_with_logits(model.logits(dense, sparse), labels).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_training_lowers_the_loss():
    planted = rec.make_planted("ci", seed=1, rows=4000)
    torch.manual_seed(0)
    model = rec.DLRM(13, planted.data.cardinalities, 4, bottom=[8, 4], top=[8, 1])
    optimizer = torch.optim.Adagrad(model.parameters(), lr=0.1)
    before = rec.evaluate(model, planted.data)["log_loss"]
    for epoch in range(3):
        rec.train_epoch(model, planted.data, optimizer, batch_size=256, seed=epoch)
    assert rec.evaluate(model, planted.data)["log_loss"] < before - 0.02


def test_configuration_errors_name_the_key():
    with pytest.raises(ConfigError, match="2 sparse features, but 3 embedding sizes"):
        rec.DLRM(3, [5, 7], [4, 4, 4], bottom=[4], top=[1])
    with pytest.raises(ConfigError, match="the top MLP must end in 1"):
        rec.DLRM(3, [5, 7], 4, bottom=[4], top=[8])


def test_metrics_by_hand():
    labels, p = [1, 0, 1, 1], [0.9, 0.4, 0.6, 0.3]
    loss = -(math.log(0.9) + math.log(0.6) + math.log(0.6) + math.log(0.3)) / 4
    assert rec.log_loss(labels, p) == pytest.approx(loss)
    background = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert rec.normalized_entropy(labels, p) == pytest.approx(loss / background)
    assert rec.accuracy(labels, p) == 0.75
    assert rec.roc_auc(labels, p) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="of one length"):
        rec.log_loss([1, 0], [0.5])


def test_docstring_examples():
    import nasctl.rec._metrics
    import nasctl.rec._model

    for module in (rec, nasctl.rec._model, nasctl.rec._metrics):
        result = doctest.testmod(module, extraglobs={"torch": torch})
        assert result.attempted > 0 and result.failed == 0, module.__name__
