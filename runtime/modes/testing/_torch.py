"""The synthetic task in PyTorch: one candidate on one optional input is right.

The layer `h` has three candidates, `tanh(conv(x + chosen))` with kernel 3 (dilation 1), kernel 3
(dilation 2) and kernel 1, and the optional inputs `s1`, `s2` (`optional_input_size` `[0, 1]`). The
target is the first candidate with a fixed kernel applied to `x + s2`: no other candidate can express
that kernel (different taps), and `s1` only adds noise, so each mode must find `Conv(3)` and `s2`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ._run import CHANNELS, LENGTH, BackendFactory, Run, candidate_table, run_layer, summed, task_space

__all__ = ["BLOCK", "CANDIDATES", "LABELS", "TARGET", "SEARCH_SPACE", "Conv", "Net", "Task", "MODES", "search"]

BLOCK = "task/Net.forward/h"


class Conv(nn.Module):
    """`tanh(conv(sum of fixed and chosen inputs))`, a candidate in NNI's calling convention."""

    def __init__(self, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(CHANNELS, CHANNELS, kernel, dilation=dilation,
                              padding=dilation * (kernel - 1) // 2, bias=False)

    def forward(self, inputs: list[list[torch.Tensor]]) -> torch.Tensor:
        return torch.tanh(self.conv(summed(inputs)))


CANDIDATES = candidate_table(Conv)
LABELS = list(CANDIDATES)
TARGET, SEARCH_SPACE = task_space(BLOCK)


class Net(nn.Module):
    """What the compiler makes of a one-layer model: the layer call with `self` as the owner."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend
        self.scale = nn.Parameter(torch.ones(()))  # an ordinary weight beside the candidates

    def forward(self, x: torch.Tensor, s1: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        h = run_layer(self.backend, "torch", BLOCK, "h", CANDIDATES, [x], {"s1": s1, "s2": s2}, [0, 1], self)
        return self.scale * h


class Task:
    """Seeded data: `batch()` draws a fresh training batch, `val` is a fixed validation batch."""

    def __init__(self, seed: int, batch: int = 32) -> None:
        self.generator = torch.Generator().manual_seed(seed)
        self.batch_size = batch
        self.kernel = torch.tensor([[[0.8, -1.2, 0.6], [0.3, 0.9, -0.7]],
                                    [[-0.5, 0.4, 1.1], [1.0, -0.6, 0.2]]])
        self.val = self.batch(256)

    def target(self, x: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        return torch.tanh(nn.functional.conv1d(x + s2, self.kernel, padding=1))

    def batch(self, size: int | None = None) -> tuple[torch.Tensor, ...]:
        n = size or self.batch_size
        x, s1, s2 = (torch.randn(n, CHANNELS, LENGTH, generator=self.generator) for _ in range(3))
        return x, s1, s2, self.target(x, s2)

    def loss(self, model: nn.Module, data: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, s1, s2, y = data
        return nn.functional.mse_loss(model(x, s1, s2), y)

    def evaluator(self, model: nn.Module) -> Callable[[], float]:
        """`evaluate()` for derivation: minus the validation loss of the fixed subnet."""
        def evaluate() -> float:
            with torch.no_grad():
                return -float(self.loss(model, self.val))
        return evaluate


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Tiny tensors: one intra-op thread is fastest, and kinder to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _weights(module: nn.Module) -> list[Any]:
    return [p.detach().numpy().copy() for p in module.parameters()]


def _train(backend: Any, task: Task, steps: int, after_step: Callable[[Net], None] | None = None) -> tuple[Net, Run]:
    """Weight steps on fresh batches (Adam, lr 0.03), each followed by `after_step(model)`."""
    model = Net(backend)
    model(*task.batch()[:3])  # candidates exist after the first forward
    before = dict(model.nas_candidates.items())
    initial = {key: _weights(module) for key, module in before.items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        optimizer.zero_grad()
        task.loss(model, task.batch()).backward()
        optimizer.step()
        if after_step is not None:
            after_step(model)
    after = dict(model.nas_candidates.items())
    run = Run(derived=None, candidates_before=before, candidates_after=after, initial_weights=initial,
              final_weights={key: _weights(module) for key, module in after.items()},
              weight_ids={key: [id(p) for p in module.parameters()] for key, module in after.items()},
              trainable={id(p) for p in model.parameters()})
    return model, run


def _darts(seed: int, factory: BackendFactory | None) -> Run:
    from nasctl.runtime.modes.torch import DartsBackend

    task = Task(seed)
    torch.manual_seed(seed)
    backend = (factory or DartsBackend)({"optimizer": {"lr": 0.05}}, seed=seed)
    _, run = _train(backend, task, 300, lambda model: backend.training_update(loss=task.loss(model, task.batch())))
    run.derived = backend.derived_architecture()
    probs = backend.arch_weight_values()[BLOCK]["h"]
    if not probs["layer"]["Conv(3)"] > 0.5:
        run.problems.append(f"the weight of the right candidate Conv(3) is {probs['layer']['Conv(3)']:.3f}, not above 0.5")
    if not probs["inputs"]["s2"] > 0.5 > probs["inputs"]["s1"]:
        run.problems.append(f"the input weights are s1 {probs['inputs']['s1']:.3f}, s2 {probs['inputs']['s2']:.3f}; "
                            "expected s2 above 0.5 above s1")
    return run


def _enas(seed: int, factory: BackendFactory | None) -> Run:
    from nasctl.runtime.modes.torch import EnasBackend
    from nasctl.tuners._enas import ENASTuner

    task = Task(seed)
    torch.manual_seed(seed)
    backend = (factory or EnasBackend)({}, seed=seed)
    tuner = ENASTuner(optimize_mode="maximize", seed=seed, lr=0.02, batch_size=5, baseline_decay=0.9)
    tuner.update_search_space(SEARCH_SPACE)
    sent: list[dict[str, Any]] = []  # the controller's subgraphs, by parameter id

    def next_subgraph() -> dict[str, Any]:
        sent.append(tuner.generate_parameters(len(sent)))
        return sent[-1]

    backend.fetch_parameters = next_subgraph  # what a trial's dispatcher does, without a trial

    def reward_and_next_subgraph(model: Net) -> None:
        with torch.no_grad():
            reward = -float(task.loss(model, task.batch(64)))
        tuner.receive_trial_result(len(sent) - 1, sent[-1], reward)
        backend.on_final_result(reward)
        backend.training_update()

    _, run = _train(backend, task, 300, reward_and_next_subgraph)
    run.derived = backend.derived_architecture()
    if tuner.best_architecture() != TARGET:
        run.problems.append(f"the controller's best architecture is {tuner.best_architecture()}")
    return run


def _oneshot(strategy: str) -> Callable[[int, BackendFactory | None], Run]:
    def search_oneshot(seed: int, factory: BackendFactory | None) -> Run:
        from nasctl.runtime.modes.torch import OneShotBackend

        task = Task(seed)
        torch.manual_seed(seed)
        backend = (factory or OneShotBackend)({"strategy": strategy}, seed=seed)
        model, run = _train(backend, task, 200)
        model.eval()
        derived = backend.derive(task.evaluator(model), budget=20, search="random")
        run.derived = backend.derived_architecture()
        if derived != run.derived:
            run.problems.append(f"derive() returned {derived} but derived_architecture() is {run.derived}")
        if backend.fixed is not None:
            run.problems.append(f"the subnet {backend.fixed} stays fixed after derivation: the supernet is not back")
        return run
    return search_oneshot


MODES: dict[str, Callable[[int, BackendFactory | None], Run]] = {
    "darts": _darts, "enas": _enas, "oneshot_dropout": _oneshot("dropout"), "oneshot_single_path": _oneshot("single_path"),
}
"""Each one-shot mode (oneshot with each strategy) as a search on the task: `(seed, factory) -> Run`."""


def search(mode: str, seed: int, factory: BackendFactory | None = None) -> Run:
    """Run `mode`'s search on the task with one intra-op thread."""
    with _one_thread():
        return MODES[mode](seed, factory)
