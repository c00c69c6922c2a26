"""One darts training step: the nasctl supernet against the same mixed model written by hand.

Both models are a stack of darts layers over the same candidates (3x3, 5x5 and dilated 3x3 convs, a
3x3 max-pool, an identity), each layer mixing its candidates with `softmax(alpha)` and gating one
optional input (the output two layers back) with `sigmoid(beta)`. A step is what a darts script does:
a weight step (forward, backward, SGD) on a training batch, then a first-order architecture step (Adam)
on a validation batch. The nasctl side runs the layers as compiled code does
(`_nas.mutable_layer(..., "darts", self)` through the trial context); the hand-written side is plain
PyTorch in the style of pt.darts. Steps of the two are interleaved in one process; the medians and
their ratio are printed (target: nasctl within 10% of hand-written).

    python benchmarks/supernet_step.py [--steps 30] [--layers 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

C = 16


class ConvBN(nn.Module):
    def __init__(self, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(), nn.Conv2d(C, C, kernel, padding=dilation * (kernel - 1) // 2,
                                                     dilation=dilation, bias=False), nn.BatchNorm2d(C))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Pool(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.op = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


OPS = {"conv3": lambda: ConvBN(3), "conv5": lambda: ConvBN(5), "dil3": lambda: ConvBN(3, 2),
       "pool": Pool, "skip": Identity}


class Candidate(nn.Module):
    """A candidate in NNI's calling convention: the sum of its inputs through one op."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.inner = OPS[name]()

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        fixed, chosen = inputs
        h = fixed[0]
        for x in chosen:
            h = h + x
        return self.inner(h)


CANDIDATES = {name: (Candidate, (), {"name": name}) for name in OPS}


class NasNet(nn.Module):
    """The model as the compiler writes it in darts mode."""

    def __init__(self, layers: int) -> None:
        super().__init__()
        self.layers = layers
        self.stem = nn.Conv2d(3, C, 3, padding=1)
        self.head = nn.Linear(C, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from nasctl.runtime.trial._context import mutable_layer

        prev, h = None, self.stem(x)
        for i in range(self.layers):
            optional = {"prev": prev} if prev is not None else {}
            size = [0, 1] if prev is not None else 0
            prev, h = h, mutable_layer("bench/NasNet.forward/h", f"h{i}", CANDIDATES, [h], optional, size,
                                       "darts", self)
        return self.head(h.mean((2, 3)))


class MixedOp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ops = nn.ModuleList(Candidate(name) for name in OPS)

    def forward(self, h: torch.Tensor, chosen: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op([[h], chosen]) for w, op in zip(weights, self.ops, strict=True))


class HandNet(nn.Module):
    """The same supernet by hand; its architecture weights live outside it, as in pt.darts."""

    def __init__(self, layers: int) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, C, 3, padding=1)
        self.cells = nn.ModuleList(MixedOp() for _ in range(layers))
        self.head = nn.Linear(C, 10)
        self.alphas = [(1e-3 * torch.randn(len(OPS))).requires_grad_() for _ in range(layers)]
        self.betas = [(1e-3 * torch.randn(1)).requires_grad_() for _ in range(layers)]

    def arch_parameters(self) -> list[torch.Tensor]:
        return [*self.alphas, *self.betas[1:]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev, h = None, self.stem(x)
        for i, cell in enumerate(self.cells):
            chosen = [torch.sigmoid(self.betas[i])[0] * prev] if prev is not None else []
            prev, h = h, cell(h, chosen, torch.softmax(self.alphas[i], dim=-1))
        return self.head(h.mean((2, 3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from nasctl.runtime.trial._context import TrialContext, set_context
    from nasctl.runtime.trial._platform import StandalonePlatform

    context = TrialContext(StandalonePlatform(architecture={}), mode_config={"darts": {"report_every": 0}})
    set_context(context)
    x, y = torch.randn(args.batch, 3, 16, 16), torch.randint(0, 10, (args.batch,))
    xv, yv = torch.randn(args.batch, 3, 16, 16), torch.randint(0, 10, (args.batch,))
    loss_fn = nn.CrossEntropyLoss()

    nas_model = NasNet(args.layers)
    nas_model(x)  # candidates exist after the first forward
    nas_opt = torch.optim.SGD(nas_model.parameters(), lr=0.025, momentum=0.9)

    hand = HandNet(args.layers)
    hand_opt = torch.optim.SGD(hand.parameters(), lr=0.025, momentum=0.9)
    hand_arch_opt = torch.optim.Adam(hand.arch_parameters(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    n_nas = sum(p.numel() for p in nas_model.parameters())
    n_hand = sum(p.numel() for p in hand.parameters())
    if n_nas != n_hand:
        raise SystemExit(f"the two models differ: {n_nas} vs {n_hand} weights")

    def nas_step() -> None:
        nas_opt.zero_grad()
        loss_fn(nas_model(x), y).backward()
        nas_opt.step()
        context.training_update(loss=loss_fn(nas_model(xv), yv))

    def hand_step() -> None:
        hand_opt.zero_grad()
        loss_fn(hand(x), y).backward()
        hand_opt.step()
        hand_arch_opt.zero_grad()
        params = hand.arch_parameters()
        grads = torch.autograd.grad(loss_fn(hand(xv), yv), params, retain_graph=True)
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        hand_arch_opt.step()

    for _ in range(3):
        nas_step()
        hand_step()
    nas_times, hand_times = [], []
    for _ in range(args.steps):
        for step, times in ((nas_step, nas_times), (hand_step, hand_times)):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
    nas_ms = 1e3 * statistics.median(nas_times)
    hand_ms = 1e3 * statistics.median(hand_times)
    print(f"darts step, {args.layers} layers x {len(OPS)} candidates, batch {args.batch}, "
          f"{torch.get_num_threads()} thread(s), {args.steps} steps each")
    print(f"hand-written: {hand_ms:8.2f} ms (median)")
    print(f"nasctl:       {nas_ms:8.2f} ms (median)")
    print(f"ratio nasctl / hand-written: {nas_ms / hand_ms:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
