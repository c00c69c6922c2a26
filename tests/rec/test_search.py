"""`nasctl.rec`'s search helpers: the 80/20 weight/architecture split, the warm-up epoch, cached splits."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nasctl import rec  # noqa: E402


class _Recorder(torch.nn.Module):
    """A CTR model that remembers the rows (dense column 0 holds the row number) of its last call."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)
        self.seen: list[int] = []

    def logits(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
        self.seen = dense[:, 0].long().tolist()
        return self.linear(dense[:, 1:2]).squeeze(1)


def _data(n: int) -> rec.CTRData:
    dense = np.stack([np.arange(n, dtype=np.float32), np.random.default_rng(0).normal(size=n).astype(np.float32)], 1)
    labels = (np.arange(n) % 2).astype(np.float32)
    return rec.CTRData(dense, np.zeros((n, 1), dtype=np.int64), labels, (1,))


def test_darts_fit_steps_architecture_on_the_last_fifth_after_the_warm_up() -> None:
    model, calls = _Recorder(), []
    weight_rows: set[int] = set()

    def architecture_step(loss, epoch: int) -> None:
        weight_rows.update(model.seen)  # the weight step that just ran
        value = loss()
        assert value.requires_grad and value.dim() == 0
        calls.append((epoch, list(model.seen)))

    steps = rec.darts_fit(model, _data(100), architecture_step, epochs=3, lr=0.1, batch_size=10, warmup_epochs=1)
    assert steps == 3 * 8  # 80 weight rows a epoch, batches of 10
    assert [epoch for epoch, _ in calls] == [1] * 8 + [2] * 8  # nothing moves in the warm-up epoch
    arch_rows = {row for _, rows in calls for row in rows}
    assert arch_rows == set(range(80, 100))  # every architecture batch from the held-out 20%
    assert weight_rows and max(weight_rows) < 80
    assert all(len(rows) == 10 for _, rows in calls)


def test_darts_fit_takes_larger_architecture_batches_less_often() -> None:
    model, sizes = _Recorder(), []

    def architecture_step(loss, epoch: int) -> None:
        loss()
        sizes.append(len(model.seen))

    rec.darts_fit(model, _data(100), architecture_step, epochs=2, lr=0.1, batch_size=10, warmup_epochs=1,
                  arch_batch_size=20, arch_every=4)
    assert sizes == [20, 20]  # 8 weight steps in the second epoch: steps 12 and 16 of 16
    with pytest.raises(ValueError, match="arch_every .* at least 1, got 0"):
        rec.darts_fit(model, _data(100), architecture_step, epochs=1, lr=0.1, batch_size=10, arch_every=0)


def test_darts_fit_stops_after_max_steps() -> None:
    calls: list[int] = []
    steps = rec.darts_fit(_Recorder(), _data(100), lambda loss, epoch: calls.append(epoch), epochs=5, lr=0.1,
                          batch_size=10, warmup_epochs=0, max_steps=3)
    assert steps == 3 and calls == [0, 0, 0]


def test_cached_splits_load_memory_mapped_and_equal(tmp_path) -> None:
    first = rec.load_splits("ci", seed=3, rows=3000, cache=tmp_path)
    second = rec.load_splits("ci", seed=3, rows=3000, cache=tmp_path)
    assert isinstance(second.train.sparse, np.memmap)
    for a, b in ((first.train, second.train), (first.test, second.test)):
        np.testing.assert_array_equal(np.asarray(a.sparse), np.asarray(b.sparse))
        np.testing.assert_array_equal(np.asarray(a.labels), np.asarray(b.labels))
    assert len(first.train) == 2400 and len(first.validation) == len(first.test) == 300
    assert first.truth == second.truth and len(second.truth["ranks"]) == 26
    fresh = rec.make_planted("ci", seed=3, rows=3000)
    assert first.truth["bayes_test_log_loss"] == pytest.approx(fresh.bayes_log_loss(fresh.splits(seed=3)["test"]))


def test_each_spectrum_has_its_own_cache(tmp_path) -> None:
    gaussian = rec.load_splits("ci", seed=3, rows=2000, cache=tmp_path)
    flat = rec.load_splits("ci", seed=3, rows=2000, cache=tmp_path, spectrum="flat")
    assert len(list(tmp_path.iterdir())) == 2
    # the same rows (the stratified split follows the labels, which differ) and the same truth
    assert len(gaussian.train) == len(flat.train) and gaussian.truth["ranks"] == flat.truth["ranks"]
    assert gaussian.truth["bayes_test_log_loss"] != flat.truth["bayes_test_log_loss"]
    fresh = rec.make_planted("ci", seed=3, rows=2000, spectrum="flat")
    assert flat.truth["bayes_test_log_loss"] == pytest.approx(fresh.bayes_log_loss(fresh.splits(seed=3)["test"]))


def test_dot_interaction_matches_dlrm() -> None:
    torch.manual_seed(0)
    model = rec.DLRM(13, [5] * 26, 4, bottom=[8, 4], top=[8, 1])
    x, embedded = torch.randn(3, 4), [torch.randn(3, 4) for _ in range(26)]
    features = rec.dot_interaction(x, embedded)
    assert features.shape == (3, 4 + 27 * 26 // 2)
    torch.testing.assert_close(model.top(features).squeeze(1), model.interact(x, embedded))  # interact: + top MLP


def test_model_size_counts_parameters_and_flops() -> None:
    model = rec.DLRM(13, [5] * 26, 4, bottom=[8, 4], top=[8, 1])
    size = rec.model_size(model, _planted_like(26))
    assert size["params"] == sum(p.numel() for p in model.parameters())
    mlp_flops = 2 * (13 * 8 + 8 * 4 + (4 + 351) * 8 + 8 * 1)
    assert mlp_flops < size["flops"] < mlp_flops + 2 * 27 * 27 * 4 + 1  # + the interaction's products


def _planted_like(num_sparse: int) -> rec.CTRData:
    n = 8
    return rec.CTRData(np.zeros((n, 13), np.float32), np.zeros((n, num_sparse), np.int64), np.zeros(n, np.float32),
                       (5,) * num_sparse)
