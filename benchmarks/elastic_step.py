"""A darts step over a 5-option `nas.nn.Linear` width against the plain max-width `nn.Linear`.

The searched model is `nas.nn.Linear(D, nas.choice(D/16, D/8, D/4, D/2, D)) -> ReLU -> Linear(D, 10)`
in darts mode: one D x D weight, its output masked by `sum_k softmax(alpha)_k * mask_k`. The plain
model is `nn.Linear(D, D) -> ReLU -> nn.Linear(D, 10)`. A step is what a darts script does: a weight
step (forward, backward, SGD) on a training batch, then a pass over a validation batch; for darts that
pass is the architecture step (`nas.training_update(loss=...)`), for the plain model the same forward
and backward (with respect to its weights, no step). Steps are interleaved in one process and the
medians and their ratio printed (target: within 1.5x).

Memory is what one training step keeps: the parameters plus every tensor autograd saves for the
backward pass (counted with `torch.autograd.graph.saved_tensors_hooks`, so it does not depend on the
allocator); on a GPU the peak allocated memory of a step is printed too (target: within 1.2x).

    python benchmarks/elastic_step.py [--dim 512] [--batch 256] [--steps 50] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn


def saved_bytes(run: Callable[[], torch.Tensor], model: nn.Module) -> int:
    """Bytes of the tensors autograd saves for backward while `run()` computes a loss, beyond the
    model's parameters (a saved weight, or a view of one, costs no memory of its own)."""
    seen: dict[tuple[int, int], int] = {}
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage().data_ptr()
        if storage not in weights:
            # one tensor saved by two operations (a ReLU's output, the next layer's input) counts once
            seen[(storage, tensor.storage_offset())] = tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run()
    return sum(seen.values())


def parameter_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)

    from nasctl.runtime.trial import StandalonePlatform, TrialContext, set_context

    import nas
    import nas.nn

    context = TrialContext(StandalonePlatform(architecture={}), mode="darts",
                           mode_config={"darts": {"report_every": 0}})
    set_context(context)
    d = args.dim
    widths = (d // 16, d // 8, d // 4, d // 2, d)
    searched = nn.Sequential(nas.nn.Linear(d, nas.choice(*widths, key="bench/width")), nn.ReLU(),
                             nn.Linear(d, 10)).to(device)
    plain = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 10)).to(device)
    x, y = torch.randn(args.batch, d, device=device), torch.randint(0, 10, (args.batch,), device=device)
    xv, yv = torch.randn(args.batch, d, device=device), torch.randint(0, 10, (args.batch,), device=device)
    loss_fn = nn.CrossEntropyLoss()
    searched(x)
    searched_opt = torch.optim.SGD(searched.parameters(), lr=0.01, momentum=0.9)
    plain_opt = torch.optim.SGD(plain.parameters(), lr=0.01, momentum=0.9)

    def searched_step() -> None:
        searched_opt.zero_grad()
        loss_fn(searched(x), y).backward()
        searched_opt.step()
        context.training_update(loss=loss_fn(searched(xv), yv))  # the architecture step

    def plain_step() -> None:
        plain_opt.zero_grad()
        loss_fn(plain(x), y).backward()
        plain_opt.step()
        torch.autograd.grad(loss_fn(plain(xv), yv), list(plain.parameters()))  # the same validation pass

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(5):
        searched_step()
        plain_step()
    times: dict[str, list[float]] = {"searched": [], "plain": []}
    for _ in range(args.steps):
        for name, step in (("searched", searched_step), ("plain", plain_step)):
            synchronize()
            start = time.perf_counter()
            step()
            synchronize()
            times[name].append(time.perf_counter() - start)
    searched_ms = 1e3 * statistics.median(times["searched"])
    plain_ms = 1e3 * statistics.median(times["plain"])

    searched_mem = parameter_bytes(searched) + saved_bytes(lambda: loss_fn(searched(x), y), searched)
    plain_mem = parameter_bytes(plain) + saved_bytes(lambda: loss_fn(plain(x), y), plain)

    print(f"darts step, nas.nn.Linear({d}, choice{widths}) vs nn.Linear({d}, {d}), batch {args.batch}, "
          f"{args.device}, {torch.get_num_threads()} thread(s), {args.steps} steps each")
    print(f"plain max-width: {plain_ms:8.3f} ms (median)")
    print(f"nas.nn darts:    {searched_ms:8.3f} ms (median)")
    print(f"time ratio nas.nn / plain: {searched_ms / plain_ms:.3f} (target <= 1.5)")
    print(f"memory (parameters + saved for backward): plain {plain_mem / 2**20:.2f} MiB, "
          f"nas.nn {searched_mem / 2**20:.2f} MiB, ratio {searched_mem / plain_mem:.3f} (target <= 1.2)")
    if device.type == "cuda":
        peaks = {}
        for name, step in (("plain", plain_step), ("searched", searched_step)):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            step()
            torch.cuda.synchronize()
            peaks[name] = torch.cuda.max_memory_allocated()
        print(f"peak GPU memory of a step: plain {peaks['plain'] / 2**20:.2f} MiB, nas.nn "
              f"{peaks['searched'] / 2**20:.2f} MiB, ratio {peaks['searched'] / peaks['plain']:.3f}")


if __name__ == "__main__":
    main()
