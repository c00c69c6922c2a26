"""`nas.nn`: PyTorch modules whose sizes are search-space choices, with weights shared across sizes.

A size is an `int` or a `nas.choice(...)` of ints (`Embedding`'s `num` may also be a fraction of the
feature's cardinality). In classic mode `nas.choice` returns the trial's value and the module is
built at exactly that size: its parameters and `state_dict` are those of `torch.nn.Linear` /
`torch.nn.Embedding` of that size, with no trace of the other options. In the one-shot modes the
choice comes as a `RelaxedChoice` and the module holds one weight of the largest size:

- darts: `y = (x W^T + b) * m`, `m = sum_k w_k * mask_k` with `mask_k = [j < size_k]` and `w =
  softmax(alpha)` of the choice (or a Gumbel sample, per example with `per_example`): the FBNet/DNAS
  masking trick, one matmul at the largest size whatever the number of options;
- oneshot (in training) and enas: the option of this step, `y = x W[:size]^T + b[:size]`, a slice of
  the shared weight, zero-padded to the largest size;
- every output has the largest size in the one-shot modes, the exact size in classic mode, so a
  following `nas.nn` module (or a plain module built at the largest size) takes it either way.

Each module records its exact cost per combination of its choices with the mode's backend (`_cost.py`):
`Linear(a, b)` has `a*b + b` parameters and `2*a*b` FLOPs per row of its input.

>>> import nas.nn
>>> layer = nas.nn.Linear(16, 8)  # plain sizes: exactly torch.nn.Linear(16, 8)
>>> sum(p.numel() for p in layer.parameters())
136
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from nasctl.runtime._host import RelaxedChoice, current_host
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes.torch._cost import CostTerm
from torch import nn
from torch.nn import functional as F

__all__ = ["MLP", "Embedding", "Linear"]

Size = Any  # an int, a float fraction (Embedding.num) or a RelaxedChoice of them


def _mode() -> str:
    return current_host().mode


def _relaxed(value: Any) -> RelaxedChoice | None:
    """`value` when it is a choice the current mode relaxes (a one-shot mode), else None."""
    return value if isinstance(value, RelaxedChoice) and _mode() != "classic" else None


def _options(value: Any) -> tuple[Any, ...]:
    return tuple(value.options) if isinstance(value, RelaxedChoice) else (value,)


def _engine() -> Any:
    """The current trial's torch backend of its mode (what serves the relaxed choices)."""
    context = current_host()
    engine = context.backend("torch", context.mode)
    if not hasattr(engine, "value_weights"):
        raise TrialError(f"nas.nn: the {context.mode} backend for torch cannot relax a size choice")
    return engine


def _check_size(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TrialError(f"nas.nn.{what} must be a positive int (or nas.choice of them), got {value!r}")
    return int(value)


class _Choice:
    """One relaxed size of a module: its key, its sizes, and (once a backend serves it) its spec."""

    def __init__(self, choice: RelaxedChoice, sizes: Sequence[int]) -> None:
        self.key = choice.key
        self.options = tuple(choice.options)
        self.sizes = tuple(sizes)
        self.spec: Any = None
        self._masks: dict[tuple[Any, Any], torch.Tensor] = {}

    def weights(self, engine: Any, like: torch.Tensor, training: bool) -> int | torch.Tensor:
        if self.spec is None:
            self.spec = engine.value_choice(self.key, self.options)
        return engine.value_weights(self.spec, like, training)

    def masks(self, like: torch.Tensor) -> torch.Tensor:
        """`[K, max]`: row k is 1 on the first `sizes[k]` positions, 0 after (mask_k)."""
        key = (like.device, like.dtype)
        if key not in self._masks:
            sizes = torch.tensor(self.sizes, device=like.device)
            self._masks[key] = (torch.arange(max(self.sizes), device=like.device) < sizes[:, None]).to(like.dtype)
        return self._masks[key]

    def mask(self, weights: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """`sum_k w_k * mask_k`, shaped to multiply `like` (`[..., max]`); per-example weights `[B, K]`
        give one mask per example."""
        mixed = weights.to(like.dtype) @ self.masks(like)  # m = sum_k w_k * mask_k
        if mixed.dim() == 2:
            mixed = mixed.reshape(mixed.shape[0], *([1] * (like.dim() - 2)), mixed.shape[1])
        return mixed


class _MaskedLinear(torch.autograd.Function):
    """`(x W^T + b) * m` that saves only `x`, `W`, `b`, `m` for backward (not the `[..., out]` product):
    the gradient of `m`, `sum (g * (x W^T + b))`, recomputes the product, so a masked layer keeps no
    more than a plain one."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                mask: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight, bias, mask)
        return F.linear(x, weight, bias) * mask

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight, bias, mask = ctx.saved_tensors
        need_x, need_w, need_b, need_m = ctx.needs_input_grad
        grad_x = (grad * mask) @ weight if need_x else None  # dL/dx = (g * m) W
        flat_g, flat_x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        sum_g = flat_g.sum(0)
        if mask.dim() == 1 and (need_w or need_m):
            # One mask for the batch: G = g^T x serves both, dL/dW = m * G and
            # dL/dm_j = sum_b g_bj (x_b . W_j + b_j) = sum_i W_ji G_ji + b_j sum_b g_bj.
            gram = flat_g.T @ flat_x
            grad_w = mask[:, None] * gram if need_w else None
            grad_m = None
            if need_m:
                grad_m = (weight * gram).sum(1) + (bias * sum_g if bias is not None else 0.0)
        else:  # a mask per example: dL/dm = sum over its rows of g * (x W^T + b), recomputed
            grad_w = (grad * mask).reshape(-1, grad.shape[-1]).T @ flat_x if need_w else None
            grad_m = (grad * F.linear(x, weight, bias)).sum_to_size(mask.shape) if need_m else None
        grad_b = None
        if bias is not None and need_b:
            grad_b = mask * sum_g if mask.dim() == 1 else (grad * mask).reshape(-1, grad.shape[-1]).sum(0)
        return grad_x, grad_w, grad_b, grad_m


def _pad(y: torch.Tensor, size: int) -> torch.Tensor:
    return F.pad(y, (0, size - y.shape[-1])) if y.shape[-1] < size else y


def _pick(index: int | torch.Tensor, values: Sequence[int]) -> int:
    return values[int(index)]


class Linear(nn.Module):
    """`torch.nn.Linear` whose `in_features` and `out_features` may be `nas.choice` sizes.

    An `in_features` choice is the size of the input (usually the `out_features` choice of the module
    before, the same key); the module reads the first columns of its weight that the input has.
    """

    def __init__(self, in_features: Size, out_features: Size, bias: bool = True) -> None:
        super().__init__()
        in_choice, out_choice = _relaxed(in_features), _relaxed(out_features)
        ins = [_check_size(v, "Linear in_features") for v in _options(in_features if in_choice else int(in_features))]
        outs = [_check_size(v, "Linear out_features") for v in _options(out_features if out_choice else
                                                                          int(out_features))]
        self.in_features, self.out_features = max(ins), max(outs)
        self.in_choice = _Choice(in_choice, ins) if in_choice is not None else None
        self.out_choice = _Choice(out_choice, outs) if out_choice is not None else None
        self.weight = nn.Parameter(torch.empty(self.out_features, self.in_features))
        self.bias = nn.Parameter(torch.empty(self.out_features)) if bias else None
        self.depth_gate: tuple[_Choice, int] | None = None  # set by MLP: counted only while depth > index
        self._costed = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn.Linear's initialisation (at the largest size)."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    @property
    def relaxed(self) -> bool:
        """Whether a one-shot mode serves one of this module's sizes."""
        return self.in_choice is not None or self.out_choice is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.relaxed and self.depth_gate is None:
            return F.linear(x, self.weight, self.bias)
        engine = _engine()
        if not self._costed:
            self._record_cost(engine, x)
        weight = self.weight[:, : x.shape[-1]]
        if self.in_choice is not None and self.in_choice.spec is None:
            self.in_choice.weights(engine, x, self.training)  # registers the choice for derivation
        if self.out_choice is None:
            return F.linear(x, weight, self.bias)
        chosen = self.out_choice.weights(engine, x, self.training)
        if isinstance(chosen, torch.Tensor):
            mask = self.out_choice.mask(chosen, x)  # sum_k w_k mask_k
            return _MaskedLinear.apply(x, weight, self.bias, mask)  # y = (x W^T + b) * mask
        size = _pick(chosen, self.out_choice.sizes)
        bias = self.bias[:size] if self.bias is not None else None
        return _pad(F.linear(x, weight[:size], bias), self.out_features)

    def _record_cost(self, engine: Any, x: torch.Tensor) -> None:
        """The exact parameters and FLOPs (per example) for every combination of this module's sizes."""
        axes, ins, outs = [], [self.in_features], [self.out_features]
        for choice, which in ((self.in_choice, "in"), (self.out_choice, "out")):
            if choice is not None:
                if choice.spec is None:
                    choice.spec = engine.value_choice(choice.key, choice.options)
                axes.append((choice.spec.block_key, choice.spec.layer_key))
                if which == "in":
                    ins = list(choice.sizes)
                else:
                    outs = list(choice.sizes)
        a = torch.tensor(ins, dtype=torch.float64)[:, None]
        b = torch.tensor(outs, dtype=torch.float64)[None, :]
        params = a * b + (b if self.bias is not None else 0.0)  # in*out + out
        rows = x.numel() // max(x.shape[-1], 1) // max(x.shape[0] if x.dim() > 1 else 1, 1)
        flops = 2.0 * a * b * rows  # 2 * in * out per row of the input
        keep = [i for i, choice in enumerate((self.in_choice, self.out_choice)) if choice is not None]
        params, flops = _squeeze(params, keep), _squeeze(flops, keep)
        if self.depth_gate is not None:
            params, flops, axes = _gated(params, flops, axes, self.depth_gate, engine)
        engine.add_cost(f"nas.nn.Linear@{id(self)}", CostTerm(tuple(axes), params, flops))
        self._costed = True


def _squeeze(table: torch.Tensor, keep: list[int]) -> torch.Tensor:
    """The table with only the axes of the choices a module has (the others are single sizes)."""
    for axis in (1, 0):
        if axis not in keep:
            table = table.squeeze(axis)
    return table


def _gated(params: torch.Tensor, flops: torch.Tensor, axes: list[Any], gate: tuple[_Choice, int],
           engine: Any) -> tuple[torch.Tensor, torch.Tensor, list[Any]]:
    """A layer of an MLP whose depth is a choice costs only where depth > its index: one more axis."""
    depth, index = gate
    if depth.spec is None:
        depth.spec = engine.value_choice(depth.key, depth.options)
    present = torch.tensor([1.0 if d > index else 0.0 for d in depth.sizes], dtype=torch.float64)
    shape = (*params.shape, len(present))
    return (params.unsqueeze(-1) * present).reshape(shape), (flops.unsqueeze(-1) * present).reshape(shape), [
        *axes, (depth.spec.block_key, depth.spec.layer_key)]


class Embedding(nn.Module):
    """A hashed embedding: row `index % num` of a `num x dim` table, with `num` and `dim` choices.

    `num` is a number of rows, or a fraction (0 < f <= 1) of `cardinality`, the number of distinct
    values of the feature (rows `ceil(f * cardinality)`).
    """

    def __init__(self, num: Size, dim: Size, cardinality: int | None = None) -> None:
        super().__init__()
        num_choice, dim_choice = _relaxed(num), _relaxed(dim)
        rows = [self._rows(v, cardinality) for v in _options(num if num_choice else num)]
        dims = [_check_size(v, "Embedding dim") for v in _options(dim if dim_choice else int(dim))]
        self.num_embeddings, self.embedding_dim = max(rows), max(dims)
        self.num_choice = _Choice(num_choice, rows) if num_choice is not None else None
        self.dim_choice = _Choice(dim_choice, dims) if dim_choice is not None else None
        self.weight = nn.Parameter(torch.empty(self.num_embeddings, self.embedding_dim))
        nn.init.normal_(self.weight)  # torch.nn.Embedding's initialisation
        self._costed = False

    @staticmethod
    def _rows(value: Any, cardinality: int | None) -> int:
        if isinstance(value, float) and not isinstance(value, bool):
            if not 0 < value <= 1 or cardinality is None:
                raise TrialError(f"nas.nn.Embedding num={value!r}: a fraction needs 0 < num <= 1 and "
                                 "cardinality= (the feature's number of distinct values)")
            # round first: 0.1 * 30 is 3.0000000000000004 in floating point, and must give 3 rows, not 4
            return max(1, math.ceil(round(value * cardinality, 9)))
        return _check_size(value, "Embedding num")

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        if self.num_choice is None and self.dim_choice is None:
            return F.embedding(index % self.num_embeddings, self.weight)
        engine = _engine()
        if not self._costed:
            self._record_cost(engine)
        if self.num_choice is None:
            out = F.embedding(index % self.num_embeddings, self.weight)
        else:
            chosen = self.num_choice.weights(engine, index, self.training)
            if isinstance(chosen, torch.Tensor):  # sum_k w_k * E[index % rows_k]
                weights = chosen.to(self.weight.dtype)
                out = 0.0
                for k, rows in enumerate(self.num_choice.sizes):
                    w = weights[..., k]
                    w = w.reshape(-1, *([1] * index.dim())) if w.dim() else w
                    out = out + w * F.embedding(index % rows, self.weight)
            else:
                out = F.embedding(index % _pick(chosen, self.num_choice.sizes), self.weight)
        if self.dim_choice is None:
            return out
        chosen = self.dim_choice.weights(engine, index, self.training)
        if isinstance(chosen, torch.Tensor):
            return out * self.dim_choice.mask(chosen, out)
        return _pad(out[..., : _pick(chosen, self.dim_choice.sizes)], self.embedding_dim)

    def _record_cost(self, engine: Any) -> None:
        axes = []
        rows, dims = [self.num_embeddings], [self.embedding_dim]
        for choice, which in ((self.num_choice, "num"), (self.dim_choice, "dim")):
            if choice is not None:
                if choice.spec is None:
                    choice.spec = engine.value_choice(choice.key, choice.options)
                axes.append((choice.spec.block_key, choice.spec.layer_key))
                rows, dims = (list(choice.sizes), dims) if which == "num" else (rows, list(choice.sizes))
        table = torch.tensor(rows, dtype=torch.float64)[:, None] * torch.tensor(dims, dtype=torch.float64)[None, :]
        keep = [i for i, choice in enumerate((self.num_choice, self.dim_choice)) if choice is not None]
        table = _squeeze(table, keep)
        engine.add_cost(f"nas.nn.Embedding@{id(self)}", CostTerm(tuple(axes), table, torch.zeros_like(table)))
        self._costed = True


class MLP(nn.Module):
    """`Linear` layers of `widths` (each an int or a choice) with an activation after each, the first
    `depth` of them (an int or a choice; default all); the layers after `depth` are skipped (identity).

    In classic mode only the first `depth` layers exist. In the one-shot modes all exist and the
    output mixes (darts) or picks (oneshot, enas) the output after each allowed depth, zero-padded to
    the largest width. `out_features` is the width the next module takes.
    """

    def __init__(self, in_features: Size, widths: Sequence[Size], depth: Size | None = None,
                 activation: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        if not widths:
            raise TrialError("nas.nn.MLP needs at least one width")
        depth_choice = _relaxed(depth)
        depths = [_check_size(d, "MLP depth") for d in _options(depth if depth_choice else
                                                                 (len(widths) if depth is None else int(depth)))]
        if max(depths) > len(widths):
            raise TrialError(f"nas.nn.MLP depth {max(depths)} is more than the {len(widths)} widths given")
        built = max(depths)
        self.depth_choice = _Choice(depth_choice, depths) if depth_choice is not None else None
        layers: list[nn.Module] = []
        previous = in_features
        for index in range(built):
            linear = Linear(previous, widths[index])
            if self.depth_choice is not None:
                linear.depth_gate = (self.depth_choice, index)
            layers += [linear, activation()]
            previous = widths[index]
        self.layers = nn.ModuleList(layers)
        linears = [m for m in self.layers if isinstance(m, Linear)]
        self.out_features = (max(m.out_features for m in linears) if self.depth_choice is not None
                             else linears[-1].out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.depth_choice is None:
            for module in self.layers:
                x = module(x)
            return x
        outputs = []
        h = x
        for i in range(0, len(self.layers), 2):
            h = self.layers[i + 1](self.layers[i](h))
            outputs.append(h)
        chosen = self.depth_choice.weights(_engine(), x, self.training)
        if isinstance(chosen, torch.Tensor):  # sum_d w_d * h_d, each padded to the largest width
            total = 0.0
            for k, d in enumerate(self.depth_choice.sizes):
                w = chosen[..., k]
                h_d = _pad(outputs[d - 1], self.out_features)
                total = total + (w.reshape(-1, *([1] * (h_d.dim() - 1))) if w.dim() else w) * h_d
            return total
        return _pad(outputs[_pick(chosen, self.depth_choice.sizes) - 1], self.out_features)
