"""Each proxy against a value computed by hand on a two-layer network."""

from __future__ import annotations

import math

import pytest
import torch
from nasctl.runtime import proxies
from torch import nn


def per_example_mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((outputs - targets) ** 2).sum(dim=1)


@pytest.fixture
def net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False)).double()


@pytest.fixture
def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [(torch.randn(5, 3, generator=generator, dtype=torch.float64),
             torch.randn(5, 2, generator=generator, dtype=torch.float64)) for _ in range(3)]


def by_hand_gradients(net: nn.Sequential, batches) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """dL/dW1 and dL/dW2 of each batch's mean loss, from the chain rule written out."""
    w1, w2 = net[0].weight.detach(), net[2].weight.detach()
    gradients = []
    for x, y in batches:
        pre = x @ w1.T
        hidden = pre.clamp(min=0)
        out = hidden @ w2.T
        d_out = 2 * (out - y) / x.shape[0]                 # d mean_i ||f_i - y_i||^2 / d f
        d_w2 = d_out.T @ hidden
        d_pre = (d_out @ w2) * (pre > 0)
        d_w1 = d_pre.T @ x
        gradients.append((d_w1, d_w2))
    return gradients


def test_train_loss_is_the_mean_per_example_loss(net, batches):
    expected = torch.cat([per_example_mse(net(x), y) for x, y in batches]).mean().item()
    assert proxies.train_loss(net, batches, per_example_mse) == pytest.approx(expected, rel=1e-12)


def test_fisher_rao_matches_the_two_layer_identity(net, batches):
    # Liang et al. Lemma 2.1: for a bias-free ReLU net of 2 weight layers, <theta, grad l_i> = 2 <dl_i/df, f>.
    values = []
    for x, y in batches:
        out = net(x).detach()
        values.append(2 * (2 * (out - y) * out).sum(dim=1))
    expected = (torch.cat(values) ** 2).mean().item()
    assert proxies.fisher_rao(net, batches, per_example_mse) == pytest.approx(expected, rel=1e-10)


def test_fisher_rao_matches_one_backward_per_example(batches):
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()   # biases: no identity
    squares = []
    for x, y in batches:
        for i in range(x.shape[0]):
            net.zero_grad()
            per_example_mse(net(x[i:i + 1]), y[i:i + 1]).sum().backward()
            squares.append(sum((p * p.grad).sum() for p in net.parameters()).item() ** 2)
    net.zero_grad(set_to_none=True)
    assert proxies.fisher_rao(net, batches, per_example_mse) == pytest.approx(sum(squares) / len(squares), rel=1e-10)


def test_gradient_proxies_match_the_chain_rule(net, batches):
    gradients = by_hand_gradients(net, batches)
    weights = (net[0].weight.detach(), net[2].weight.detach())
    mean_abs = sum(g.abs().sum() for pair in gradients for g in pair) / sum(g.numel() for pair in gradients for g in pair)
    norm = sum(g.norm() for pair in gradients for g in pair) / len(gradients)
    saliency = sum((w * g).abs().sum() for pair in gradients for w, g in zip(weights, pair, strict=True)) / len(gradients)
    assert proxies.mean_abs_grad(net, batches, per_example_mse) == pytest.approx(mean_abs.item(), rel=1e-10)
    assert proxies.grad_norm(net, batches, per_example_mse) == pytest.approx(norm.item(), rel=1e-10)
    assert proxies.snip(net, batches, per_example_mse) == pytest.approx(saliency.item(), rel=1e-10)


def test_zico_is_the_log_of_mean_over_std_per_layer(net, batches):
    gradients = by_hand_gradients(net, batches)
    expected = 0.0
    for layer in range(2):
        stacked = torch.stack([pair[layer] for pair in gradients])
        std = stacked.std(dim=0, unbiased=False)
        keep = std > 0
        expected += math.log((stacked.abs().mean(dim=0)[keep] / std[keep]).sum().item())
    assert proxies.zico(net, batches, per_example_mse) == pytest.approx(expected, rel=1e-10)


def test_zico_needs_two_batches(net, batches):
    with pytest.raises(proxies.ProxyError, match="zico need at least 2 batches, got 1"):
        proxies.zico(net, batches[:1], per_example_mse)


def test_synflow_is_the_path_norm_of_the_absolute_network(net, batches):
    # R = 1^T |W2| relu(|W1| 1): every term is positive, so dR/dW = (products of the other layer's sums).
    w1, w2 = net[0].weight.detach().abs(), net[2].weight.detach().abs()
    hidden = w1 @ torch.ones(3, dtype=torch.float64)
    d_w2 = torch.ones(2, 1, dtype=torch.float64) * hidden          # dR/dW2[k, j] = hidden_j
    d_w1 = (w2.sum(dim=0)).unsqueeze(1) * torch.ones(1, 3, dtype=torch.float64)   # dR/dW1[j, i] = sum_k W2[k, j]
    expected = (w1 * d_w1).sum() + (w2 * d_w2).sum()
    assert proxies.synflow(net, batches) == pytest.approx(expected.item(), rel=1e-10)


def test_naswot_is_the_log_determinant_of_the_hamming_kernel(net, batches):
    scores = []
    for x, _ in batches:
        codes = (x @ net[0].weight.detach().T > 0).double()
        kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
        scores.append(torch.linalg.slogdet(kernel)[1].item())
    assert proxies.naswot(net, batches) == pytest.approx(sum(scores) / len(scores), rel=1e-12)


def test_naswot_needs_relu_modules(batches):
    with pytest.raises(proxies.ProxyError, match="naswot needs nn.ReLU modules"):
        proxies.naswot(nn.Linear(3, 2).double(), batches)


def test_params_counts_trainable_parameters(net):
    net[0].weight.requires_grad_(False)
    assert proxies.params(net) == 8.0


def test_proxies_leave_the_model_as_it_was(net, batches):
    net.eval()
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    marker = torch.full_like(net[0].weight, 7.0)
    net[0].weight.grad = marker
    proxies.compute(net, batches, per_example_mse, names=tuple(proxies.PROXIES))
    assert not net.training
    assert net[0].weight.grad is marker and net[2].weight.grad is None
    for name, p in net.named_parameters():
        assert torch.equal(p, before[name]), name


def test_compute_gives_the_same_scores_as_each_proxy(net, batches):
    together = proxies.compute(net, batches, per_example_mse, names=tuple(proxies.PROXIES))
    for name, function in proxies.PROXIES.items():
        assert together[name] == pytest.approx(function(net, batches, per_example_mse), rel=1e-12), name


def test_loss_fn_must_return_one_loss_per_example(net, batches):
    with pytest.raises(proxies.ProxyError, match=r"one loss per example .* got \(\)"):
        proxies.train_loss(net, batches, lambda out, y: per_example_mse(out, y).mean())


def test_unknown_proxy_is_named(net, batches):
    with pytest.raises(proxies.ProxyError, match="unknown proxy 'zen'"):
        proxies.compute(net, batches, per_example_mse, names=("zen",))


def test_sigeo_score_combines_the_terms():
    scores = {"zico": 2.0, "fisher_rao": math.e ** 3, "train_loss": 0.5}
    assert proxies.sigeo_score(scores) == pytest.approx(5.0)
    assert proxies.sigeo_score(scores, zico=0.5, fisher_rao=0.0, loss=2.0) == pytest.approx(0.0)
    with pytest.raises(proxies.ProxyError, match="needs the 'train_loss' score"):
        proxies.sigeo_score({"zico": 1.0, "fisher_rao": 1.0}, loss=1.0)


def test_tuple_inputs_reach_the_model_as_arguments():
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(2, 1)
            self.table = nn.Embedding(5, 1)

        def forward(self, dense: torch.Tensor, sparse: torch.Tensor) -> torch.Tensor:
            return self.dense(dense) + self.table(sparse)

    batch = ((torch.randn(4, 2), torch.tensor([0, 1, 2, 3])), torch.randn(4, 1))
    scores = proxies.compute(Two(), [batch, batch], per_example_mse, names=("synflow", "zico", "fisher_rao"))
    assert all(math.isfinite(value) for value in scores.values())


def test_docstring_example_and_the_nas_facade():
    import doctest

    import nas.proxies

    assert doctest.testmod(proxies, verbose=False).failed == 0
    assert nas.proxies.compute is proxies.compute and set(nas.proxies.__all__) == set(proxies.__all__)
