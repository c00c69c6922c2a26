"""The zero-cost proxies, each with its formula and the paper it comes from.

Conventions shared by every proxy:
- `batches` is a sequence of `(inputs, targets)`; `inputs` is a tensor, or a tuple of tensors passed
  to the model as positional arguments (`model(*inputs)`).
- `loss_fn(outputs, targets)` returns one loss per example (a 1-D tensor: `reduction="none"`); the
  batch loss is its mean.
- The model is left as it was: its parameters, their `.grad`, and its train/eval mode. Proxies run in
  the mode the model is in (a supernet scores the subnet its mode currently runs).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from nasctl.runtime.errors import NasError
from torch import nn

__all__ = [
    "PROXIES",
    "ProxyError",
    "compute",
    "fisher_rao",
    "grad_norm",
    "mean_abs_grad",
    "naswot",
    "params",
    "sigeo_score",
    "snip",
    "synflow",
    "train_loss",
    "zico",
]

Batch = tuple[Any, Any]
LossFn = Callable[[Any, Any], torch.Tensor]


class ProxyError(NasError):
    """A proxy cannot be computed on this model, these batches or this loss function."""


def _call(model: nn.Module, inputs: Any) -> Any:
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _losses(model: nn.Module, batch: Batch, loss_fn: LossFn) -> torch.Tensor:
    inputs, targets = batch
    losses = loss_fn(_call(model, inputs), targets)
    if not isinstance(losses, torch.Tensor) or losses.dim() != 1:
        shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
        raise ProxyError(f"loss_fn must return one loss per example (a 1-D tensor: reduction='none'), got {shape}")
    return losses


def _as_list(batches: Iterable[Batch], at_least: int = 1, proxy: str = "proxies") -> list[Batch]:
    batches = list(batches)
    if len(batches) < at_least:
        raise ProxyError(f"{proxy} need at least {at_least} batch{'es' if at_least > 1 else ''}, got {len(batches)}")
    return batches


def _trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ProxyError("the model has no trainable parameters")
    return named


@contextlib.contextmanager
def _untouched(model: nn.Module) -> Iterator[None]:
    """Restores the parameters' `.grad` and the model's mode when the block ends."""
    saved = [(p, p.grad) for p in model.parameters()]
    training = model.training
    for p, _ in saved:
        p.grad = None
    try:
        yield
    finally:
        model.train(training)
        for p, grad in saved:
            p.grad = grad


def _batch_gradients(model: nn.Module, batches: Sequence[Batch], loss_fn: LossFn) -> list[dict[str, torch.Tensor]]:
    """The gradient of each batch's mean loss, per trainable parameter (zeros where unused)."""
    named = _trainable(model)
    gradients = []
    with _untouched(model):
        for batch in batches:
            model.zero_grad(set_to_none=True)
            _losses(model, batch, loss_fn).mean().backward()
            gradients.append({name: torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                              for name, p in named})
    return gradients


def train_loss(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn) -> float:
    """The current training loss: the mean per-example loss over the batches (SiGeo's third term).

    Lower predicts better. SiGeo (Chen et al. 2023) shows it ranks well once the supernet is warmed up.
    """
    batches = _as_list(batches)
    total, count = 0.0, 0
    with _untouched(model), torch.no_grad():
        for batch in batches:
            losses = _losses(model, batch, loss_fn)
            total += float(losses.sum())
            count += losses.numel()
    return total / count


def fisher_rao(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn) -> float:
    """The empirical Fisher-Rao norm (Liang et al. 2019, Eq. 3.2 with the empirical Fisher, Eq. 5.3).

    ||theta||_fr^2 = mean_i <theta, grad_theta l_i>^2, one term per example i. For a bias-free ReLU
    network of L+1 weight layers, <theta, grad_theta l> = (L+1) <dl/df, f> (their Lemma 2.1). Higher
    predicts better (SiGeo's second term).
    """
    batches = _as_list(batches)
    params_ = [p for _, p in _trainable(model)]
    squares, count = 0.0, 0
    with _untouched(model):
        for batch in batches:
            losses = _losses(model, batch, loss_fn)
            # <theta, grad l_i> for every i at once: with g(u) = grad_theta (u . l) = J^T u,
            # d/du <g(u), theta> = J theta, one entry per example.
            weights = torch.ones_like(losses, requires_grad=True)
            grads = torch.autograd.grad((losses * weights).sum(), params_, create_graph=True, allow_unused=True)
            inner = sum((g * p.detach()).sum() for g, p in zip(grads, params_, strict=True) if g is not None)
            if not isinstance(inner, torch.Tensor) or not inner.requires_grad:
                per_example = torch.zeros_like(losses)
            else:
                (per_example,) = torch.autograd.grad(inner, weights)
            squares += float((per_example.detach() ** 2).sum())
            count += losses.numel()
    return squares / count


def zico(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn) -> float:
    """ZiCo (Li et al. 2023, Eq. 5): sum over layers l of log( sum_{theta in l} E|g_theta| / std(g_theta) ).

    Mean and standard deviation are over the K batches' gradients; a layer is each weight tensor of
    two or more dimensions (linear, convolution and embedding weights), and coordinates whose gradient
    does not vary are left out, as in the paper's code. All coordinates count, as published (SiGeo's
    reference keeps one coordinate per layer). Higher predicts better.
    """
    batches = _as_list(batches, at_least=2, proxy="zico")
    return _zico(_batch_gradients(model, batches, loss_fn))


def _zico(gradients: list[dict[str, torch.Tensor]]) -> float:
    score = 0.0
    for name, first in gradients[0].items():
        if first.dim() < 2:
            continue
        stacked = torch.stack([g[name] for g in gradients]).double()
        std = stacked.std(dim=0, unbiased=False)
        varying = std > 0
        ratio = float((stacked.abs().mean(dim=0)[varying] / std[varying]).sum())
        if ratio > 0:
            score += math.log(ratio)
    return score


def mean_abs_grad(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn) -> float:
    """The mean absolute gradient: mean over batches and all parameter coordinates of |g| (SiGeo's first term).

    Higher predicts better: in SiGeo's table its rank correlation with the test loss is negative.
    """
    return _mean_abs_grad(_batch_gradients(model, _as_list(batches), loss_fn))


def _mean_abs_grad(gradients: list[dict[str, torch.Tensor]]) -> float:
    total = sum(float(g.abs().sum()) for batch in gradients for g in batch.values())
    count = sum(g.numel() for batch in gradients for g in batch.values())
    return total / count


def grad_norm(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn) -> float:
    """grad_norm (Abdelfattah et al. 2021): sum over parameter tensors of ||g||_2, averaged over batches."""
    return _grad_norm(_batch_gradients(model, _as_list(batches), loss_fn))


def _grad_norm(gradients: list[dict[str, torch.Tensor]]) -> float:
    return sum(float(g.norm()) for batch in gradients for g in batch.values()) / len(gradients)


def snip(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn) -> float:
    """SNIP saliency (Lee et al. 2019): sum over parameters of |theta * dL/dtheta|, averaged over batches."""
    return _snip(model, _batch_gradients(model, _as_list(batches), loss_fn))


def _snip(model: nn.Module, gradients: list[dict[str, torch.Tensor]]) -> float:
    values = dict(_trainable(model))
    return sum(float((values[name].detach() * g).abs().sum())
               for batch in gradients for name, g in batch.items()) / len(gradients)


def synflow(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn | None = None) -> float:
    """SynFlow (Tanaka et al. 2020): sum over parameters of theta * dR/dtheta, R = 1^T f_|theta|(1).

    Computed on a float64 copy whose parameters are replaced by their absolute values, in eval mode,
    on an all-ones input shaped like one example of the first batch (integer inputs, such as
    embedding indices, keep that example's values). Data-free: `loss_fn` is not used.
    """
    inputs, _ = _as_list(batches)[0]
    probe = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in probe.parameters():
            p.abs_()
    named = _trainable(probe)
    ones = tuple(_ones_like_example(x) for x in (inputs if isinstance(inputs, tuple) else (inputs,)))
    output = _call(probe, ones if isinstance(inputs, tuple) else ones[0])
    total = output.sum() if isinstance(output, torch.Tensor) else sum(o.sum() for o in output)
    grads = torch.autograd.grad(total, [p for _, p in named], allow_unused=True)
    return sum(float((p.detach() * g).abs().sum()) for (_, p), g in zip(named, grads, strict=True) if g is not None)


def _ones_like_example(x: Any) -> Any:
    if not isinstance(x, torch.Tensor):
        return x
    if x.is_floating_point():
        return torch.ones((1, *x.shape[1:]), dtype=torch.float64, device=x.device)
    return x[:1]


def naswot(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn | None = None) -> float:
    """NASWOT (Mellor et al. 2021): log|K_H|, K_H = sum over ReLU layers of c c^T + (1-c)(1-c)^T.

    c is each example's binary activation pattern (which ReLU units are on); the log-determinant is
    averaged over batches. Needs `nn.ReLU` modules (a functional `relu` is invisible to it). Higher
    predicts better. Data only: `loss_fn` is not used.
    """
    batches = _as_list(batches)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ProxyError("naswot needs nn.ReLU modules in the model (functional relu calls are not seen)")
    kernel: list[torch.Tensor] = []

    def record(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        codes = (output.detach() > 0).flatten(1).double()
        kernel[0] += codes @ codes.T + (1 - codes) @ (1 - codes).T

    handles = [m.register_forward_hook(record) for m in relus]
    scores = []
    try:
        with _untouched(model), torch.no_grad():
            for inputs, _ in batches:
                size = (inputs[0] if isinstance(inputs, tuple) else inputs).shape[0]
                kernel[:] = [torch.zeros(size, size, dtype=torch.float64)]
                _call(model, inputs)
                scores.append(float(torch.linalg.slogdet(kernel[0])[1]))
    finally:
        for handle in handles:
            handle.remove()
    return sum(scores) / len(scores)


def params(model: nn.Module, batches: Iterable[Batch] | None = None, loss_fn: LossFn | None = None) -> float:
    """The number of trainable parameters (the size baseline every proxy should beat)."""
    return float(sum(p.numel() for _, p in _trainable(model)))


PROXIES: Mapping[str, Callable[..., float]] = {
    "train_loss": train_loss,
    "fisher_rao": fisher_rao,
    "mean_abs_grad": mean_abs_grad,
    "zico": zico,
    "grad_norm": grad_norm,
    "snip": snip,
    "synflow": synflow,
    "naswot": naswot,
    "params": params,
}

# Proxies computed from the same per-batch gradients; `compute` runs the backward passes once.
_FROM_GRADIENTS: Mapping[str, Callable[[nn.Module, list[dict[str, torch.Tensor]]], float]] = {
    "zico": lambda _model, gradients: _zico(gradients),
    "mean_abs_grad": lambda _model, gradients: _mean_abs_grad(gradients),
    "grad_norm": lambda _model, gradients: _grad_norm(gradients),
    "snip": _snip,
}


def compute(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn,
            names: Sequence[str] = ("train_loss", "fisher_rao", "mean_abs_grad", "zico")) -> dict[str, float]:
    """The named proxies of `model` on `batches`, as `{name: score}`; SiGeo's terms by default."""
    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise ProxyError(f"unknown proxy {unknown[0]!r}; known: {', '.join(PROXIES)}")
    batches = _as_list(batches, at_least=2 if "zico" in names else 1, proxy="zico" if "zico" in names else "proxies")
    gradients = (_batch_gradients(model, batches, loss_fn)
                 if any(name in _FROM_GRADIENTS for name in names) else [])
    return {name: (_FROM_GRADIENTS[name](model, gradients) if name in _FROM_GRADIENTS
                   else PROXIES[name](model, batches, loss_fn))
            for name in names}


def sigeo_score(scores: Mapping[str, float], *, zico: float = 1.0, fisher_rao: float = 1.0,
                loss: float = 0.0) -> float:
    """SiGeo's combination (Chen et al. 2023): zico * ZiCo + fisher_rao * log(FR) - loss * training loss.

    Higher predicts better. The reference's default search uses `zico=1, fisher_rao=1, loss=0`; a
    weight of 0 leaves its term out, so `scores` needs only the terms with a non-zero weight.
    """
    terms = {"zico": zico, "fisher_rao": fisher_rao, "train_loss": loss}
    missing = [name for name, weight in terms.items() if weight and name not in scores]
    if missing:
        raise ProxyError(f"sigeo_score needs the {missing[0]!r} score (compute it, or give it weight 0)")
    total = 0.0
    if zico:
        total += zico * scores["zico"]
    if fisher_rao:
        if scores["fisher_rao"] <= 0:
            raise ProxyError(f"the Fisher-Rao norm is {scores['fisher_rao']}, its log is undefined")
        total += fisher_rao * math.log(scores["fisher_rao"])
    if loss:
        total -= loss * scores["train_loss"]
    return total
