"""Classic-mode overhead: a compiled model's forward against the same model written by hand.

Both models are built from the same candidate modules with the same weights; the compiled one comes
from an annotated source through `nasctl.annotator.compile_source` (or, if the compiler is missing, the
compiled shape written by hand, as docs/internals.md gives it) and runs through `nas.mutable_layer`
in classic mode. Forward passes are timed in one process, interleaved, on the same batch; the script
prints both medians and their ratio (target: within 3%), plus the bare cost of one layer call.

    .venv/bin/python benchmarks/classic_overhead.py [--batch 64] [--channels 24] [--rounds 30]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import types

import torch
from nasctl.runtime.trial import StandalonePlatform, TrialContext, use_context
from torch import nn

import nas

OPS = '''
import torch
from torch import nn


class Conv(nn.Module):
    def __init__(self, size, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, size, padding=size // 2, bias=False)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, inputs):
        fixed, chosen = inputs
        x = fixed[0]
        for skip in chosen:
            x = x + skip
        return torch.relu(self.norm(self.conv(x)))


def pool(inputs, size):
    fixed, chosen = inputs
    x = fixed[0]
    for skip in chosen:
        x = x + skip
    return torch.nn.functional.max_pool2d(x, size, stride=1, padding=size // 2)
'''

ANNOTATED = OPS + '''

class Net(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        c = self.channels
        stem = self.stem(x)
        """@nas.mutable_layers(
            {layer_choice: [Conv(size=3, channels=c), Conv(size=5, channels=c), pool(size=3)],
             fixed_inputs: [stem], layer_output: h1},
            {layer_choice: [Conv(size=3, channels=c), pool(size=3)], fixed_inputs: [h1],
             optional_inputs: [stem], optional_input_size: [0, 1], layer_output: h2},
            {layer_choice: [Conv(size=3, channels=c), Conv(size=1, channels=c)], fixed_inputs: [h2],
             optional_inputs: [h1, stem], optional_input_size: [0, 2], layer_output: h3},
            {layer_choice: [pool(size=3), Conv(size=3, channels=c)], fixed_inputs: [h3],
             optional_inputs: [h2], optional_input_size: 1, layer_output: h4}
        )"""
        return self.head(h4.mean(dim=(2, 3)))
'''

# What the compiler writes for ANNOTATED (docs/internals.md, "The compiled code"), used without it.
COMPILED_BY_HAND = "import nas as _nas\n" + OPS + '''

class Net(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        c = self.channels
        stem = self.stem(x)
        h1 = _nas.mutable_layer("bench/Net.forward/h1", "h1", {"Conv(size=3, channels=c)": (Conv, (), {"size": 3, "channels": c}), "Conv(size=5, channels=c)": (Conv, (), {"size": 5, "channels": c}), "pool(size=3)": (pool, (), {"size": 3})}, [stem], {}, 0, "classic", self)
        h2 = _nas.mutable_layer("bench/Net.forward/h1", "h2", {"Conv(size=3, channels=c)": (Conv, (), {"size": 3, "channels": c}), "pool(size=3)": (pool, (), {"size": 3})}, [h1], {"stem": stem}, [0, 1], "classic", self)
        h3 = _nas.mutable_layer("bench/Net.forward/h1", "h3", {"Conv(size=3, channels=c)": (Conv, (), {"size": 3, "channels": c}), "Conv(size=1, channels=c)": (Conv, (), {"size": 1, "channels": c})}, [h2], {"h1": h1, "stem": stem}, [0, 2], "classic", self)
        h4 = _nas.mutable_layer("bench/Net.forward/h1", "h4", {"pool(size=3)": (pool, (), {"size": 3}), "Conv(size=3, channels=c)": (Conv, (), {"size": 3, "channels": c})}, [h3], {"h2": h2}, 1, "classic", self)
        return self.head(h4.mean(dim=(2, 3)))
'''

ARCHITECTURE = {"bench/Net.forward/h1": {
    "h1": {"chosen_layer": "Conv(size=3, channels=c)", "chosen_inputs": []},
    "h2": {"chosen_layer": "pool(size=3)", "chosen_inputs": ["stem"]},
    "h3": {"chosen_layer": "Conv(size=3, channels=c)", "chosen_inputs": ["h1", "stem"]},
    "h4": {"chosen_layer": "Conv(size=3, channels=c)", "chosen_inputs": ["h2"]}}}

# The same network written by hand, calling the same ops the same way.
BY_HAND = OPS + '''

class Net(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.h1 = Conv(size=3, channels=channels)
        self.h3 = Conv(size=3, channels=channels)
        self.h4 = Conv(size=3, channels=channels)
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        stem = self.stem(x)
        h1 = self.h1([[stem], []])
        h2 = pool([[h1], [stem]], size=3)
        h3 = self.h3([[h2], [h1, stem]])
        h4 = self.h4([[h3], [h2]])
        return self.head(h4.mean(dim=(2, 3)))
'''


def _module(name: str, code: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    return module


def compiled_source() -> tuple[str, str]:
    try:
        from nasctl import annotator
    except ImportError:
        return COMPILED_BY_HAND, "compiled shape written by hand (no annotator)"
    return annotator.compile_source(ANNOTATED, "bench").code, "nasctl.annotator.compile_source"


def _time(model: nn.Module, x: torch.Tensor, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        model(x)
    return (time.perf_counter() - start) / repeat


def _interleaved(compiled: nn.Module, hand: nn.Module, x: torch.Tensor, rounds: int,
                 repeat: int) -> tuple[list[float], list[float], tuple[list[float], list[float], None]]:
    """Per-round times of compiled vs hand, and of a hand twin vs hand (the noise floor), interleaved.

    Each round times the models back to back, alternating which goes first, so a per-round ratio
    cancels the machine's drift.
    """
    twin = copy.deepcopy(hand)
    times: dict[str, list[float]] = {"compiled": [], "hand": [], "twin": [], "hand2": []}
    for round_ in range(rounds):
        pairs = [(compiled, "compiled"), (hand, "hand")], [(twin, "twin"), (hand, "hand2")]
        for pair in pairs:
            for model, name in (pair if round_ % 2 == 0 else pair[::-1]):
                times[name].append(_time(model, x, repeat))
    return times["compiled"], times["hand"], (times["twin"], times["hand2"], None)


def layer_call_cost(repeat: int = 200_000) -> tuple[float, float]:
    """Seconds per call of a one-function layer through `nas.mutable_layer`, and of the function itself."""
    def add(inputs, k):
        return inputs[0][0] + k

    start = time.perf_counter()
    for _ in range(repeat):
        nas.mutable_layer("bench/f/h", "h", {"add(k=1)": (add, (), {"k": 1})}, [1], {}, 0, "classic", None)
    layered = (time.perf_counter() - start) / repeat
    start = time.perf_counter()
    for _ in range(repeat):
        add([[1], []], k=1)
    direct = (time.perf_counter() - start) / repeat
    return layered, direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=2, help="forwards per timing")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    code, how = compiled_source()
    architecture = {**ARCHITECTURE, "bench/f/h": {"h": {"chosen_layer": "add(k=1)", "chosen_inputs": []}}}
    with use_context(TrialContext(StandalonePlatform(architecture=architecture))), torch.no_grad():
        torch.manual_seed(0)
        compiled = _module("compiled", code).Net(args.channels).eval()
        hand = _module("by_hand", BY_HAND).Net(args.channels).eval()
        x = torch.randn(args.batch, 1, 8, 8)
        nas.materialize(compiled, x)
        # Same weights in both: the hand model's modules take the compiled model's chosen candidates.
        state = compiled.state_dict()
        renamed = {key.replace("nas_candidates.bench_Net_forward_h1__h1__0", "h1")
                      .replace("nas_candidates.bench_Net_forward_h1__h3__0", "h3")
                      .replace("nas_candidates.bench_Net_forward_h1__h4__1", "h4"): value
                   for key, value in state.items()}
        hand.load_state_dict(renamed)
        if not torch.allclose(compiled(x), hand(x), atol=1e-6):
            raise SystemExit("the compiled and the hand-written model disagree; the comparison would be meaningless")

        for _ in range(3):  # warm-up
            for model in (compiled, hand):
                _time(model, x, args.repeat)
        compiled_times, hand_times, noise = _interleaved(compiled, hand, x, args.rounds, args.repeat)
        layered, direct = layer_call_cost()

    compiled_ms = statistics.median(compiled_times) * 1e3
    hand_ms = statistics.median(hand_times) * 1e3
    ratio = statistics.median(c / h for c, h in zip(compiled_times, hand_times, strict=True))
    best_ratio = min(compiled_times) / min(hand_times)
    twin_times, hand_again, _ = noise
    floor = statistics.median(t / h for t, h in zip(twin_times, hand_again, strict=True))
    print(f"compiled model ({how}): 4 mutable layers, batch {args.batch}, {args.channels} channels, "
          f"{args.threads} thread(s)")
    print(f"forward, compiled:      {compiled_ms:.3f} ms (median of {args.rounds} x {args.repeat})")
    print(f"forward, by hand:       {hand_ms:.3f} ms")
    print(f"ratio compiled/by hand: {ratio:.4f} (median of per-round ratios; of the fastest runs: "
          f"{best_ratio:.4f}); target <= 1.03: {'met' if ratio <= 1.03 else 'NOT met'}")
    print(f"noise floor: the hand model against a copy of itself, measured the same way: {floor:.4f}")
    print(f"one layer call: {layered * 1e6:.2f} us through nas.mutable_layer, {direct * 1e6:.2f} us direct "
          f"(overhead {(layered - direct) * 1e6:.2f} us per layer)")


if __name__ == "__main__":
    main()
