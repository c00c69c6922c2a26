"""Sub-one-shot search over a torch supernet (SiGeo, seed 001; NASRec): warm-up, checkpoint, evolution.

The flow: train the supernet partly (`oneshot: {strategy: any_path, warmup: {...}}`, counted by
`warmup()`), save it in the trial's folder (`save_supernet`; a later experiment loads it with
`load_supernet`), then run regularized evolution over its subnets (`evolve`): each candidate subnet
is fixed in turn and scored with the inherited weights, by SiGeo's proxy combination on a few batches
(`nasctl.runtime.proxies`), by its validation loss after a short fine-tune, or by both (the proxies
after the fine-tune); the shared weights are restored exactly after each fine-tune. A cost budget
(`max_params`) makes subnets over it invalid. The top-k subnets are exported (`export_architectures`)
as architecture files that a classic experiment retrains (`architecture: <file>`).

The evolution is `nasctl.runtime.modes._spec.evolve_architectures`, the one oneshot's derivation uses.
The cost budget is a parameter count: the backend's exact cost model (`parameters_of`, the searched
layers' and `nas.nn` modules' parameters, as `oneshot.max_params` counts them) or, for a backend
without one, the parameters the subnet's forward pass uses on a probe batch (`active_parameter_count`).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from nasctl.runtime._host import current_host
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._options import EvolutionOptions
from nasctl.runtime.modes._spec import Architecture, evolve_architectures
from nasctl.runtime.modes._warmup import Warmup
from nasctl.runtime.proxies import compute, sigeo_score
from torch import nn

__all__ = [
    "CHECKPOINT_NAME",
    "Candidate",
    "active_parameter_count",
    "evolve",
    "export_architectures",
    "finetune_scorer",
    "load_supernet",
    "oneshot_backend",
    "proxy_scorer",
    "save_supernet",
    "warmup",
]

CHECKPOINT_NAME = "supernet.pt"
_FORMAT = "nasctl-supernet/1"

Batch = tuple[Any, Any]
LossFn = Callable[[Any, Any], torch.Tensor]
Scorer = Callable[[], float]
Candidate = dict[str, Any]


def _context(context: Any) -> Any:
    return context if context is not None else current_host()


def oneshot_backend(context: Any = None) -> Any:
    """The trial's oneshot backend (the engine of its `mutable_layer`s); a `TrialError` in another mode."""
    from nasctl.runtime.modes._derive import _engines

    for engine in _engines(_context(context)):
        if getattr(engine, "mode", None) == "oneshot":
            return engine
    raise TrialError("supernet search needs oneshot mode (nasMode: oneshot) and a forward pass of the "
                     "model first (the layers register on their first call)")


def warmup(epoch_samples: int | None = None, *, context: Any = None) -> Warmup:
    """The warm-up counter of this trial's `oneshot.warmup` budget; unlimited without one (or in
    another mode, so one script also trains fully in a classic retrain). `epoch_samples` (the
    training set's size) sizes a budget given in `epochs`."""
    options = _context(context).mode_options("oneshot")
    return Warmup.of(options.get("warmup") if isinstance(options, Mapping) else None, epoch_samples)


# -- the checkpoint ---------------------------------------------------------------------------------

def _checkpoint_path(path: str | os.PathLike[str] | None, context: Any) -> Path:
    if path is not None:
        return Path(path)
    folder = _context(context).output_dir
    if not folder:
        raise TrialError("save_supernet(): no path given and NAS_OUTPUT_DIR is not set (run the trial in "
                         "an experiment, or pass path=)")
    return Path(folder) / CHECKPOINT_NAME


def save_supernet(model: nn.Module, path: str | os.PathLike[str] | None = None, *,
                  warmup: Warmup | None = None, extra: Mapping[str, Any] | None = None,
                  context: Any = None) -> Path:
    """Write the supernet's weights (every candidate's) to `path`, by default `supernet.pt` in the
    trial's folder (NAS_OUTPUT_DIR), with the warm-up's progress; returns the path. The file is
    replaced atomically, so an interrupted save never leaves half a checkpoint."""
    target = _checkpoint_path(path, context)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": _FORMAT, "state_dict": model.state_dict(),
               "warmup": warmup.state() if warmup is not None else None, "extra": dict(extra or {})}
    partial = target.with_name(target.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, target)
    return target


def load_supernet(model: nn.Module, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by `save_supernet` into `model`; returns its `warmup` and `extra`.

    The model must be the same supernet with its candidates built (run one forward pass first).
    """
    source = Path(path)
    if not source.is_file():
        raise TrialError(f"supernet checkpoint {source}: no such file")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds on a damaged file
        raise TrialError(f"supernet checkpoint {source}: cannot be read ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise TrialError(f"supernet checkpoint {source}: not a nasctl supernet checkpoint")
    state = payload["state_dict"]
    ours = model.state_dict()
    missing = sorted(set(ours) - set(state))
    unexpected = sorted(set(state) - set(ours))
    if missing or unexpected:
        parts = ([f"{len(missing)} key(s) of the model missing from it, e.g. {missing[0]}"] if missing else []) + (
            [f"{len(unexpected)} key(s) the model lacks, e.g. {unexpected[0]}"] if unexpected else [])
        raise TrialError(f"supernet checkpoint {source} does not fit the model: {'; '.join(parts)} "
                         "(run one forward pass before loading: candidates are built on their first call)")
    wrong = [key for key, value in state.items() if tuple(value.shape) != tuple(ours[key].shape)]
    if wrong:
        raise TrialError(f"supernet checkpoint {source} does not fit the model: shape of {wrong[0]} is "
                         f"{tuple(state[wrong[0]].shape)}, the model's {tuple(ours[wrong[0]].shape)}")
    model.load_state_dict(state)
    return {"warmup": payload.get("warmup"), "extra": payload.get("extra") or {}}


# -- scoring one subnet -----------------------------------------------------------------------------

def _call(model: nn.Module, inputs: Any) -> Any:
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _head(inputs: Any, n: int) -> Any:
    return tuple(x[:n] for x in inputs) if isinstance(inputs, tuple) else inputs[:n]


def active_parameter_count(model: nn.Module, inputs: Any) -> int:
    """The parameters the model's forward pass on `inputs` uses (each counted once): on a supernet
    whose mode runs a fixed subnet, the subnet's size. Modules that do not run are not counted."""
    seen: dict[int, int] = {}

    def record(module: nn.Module, _args: Any, _output: Any) -> None:
        for p in module.parameters(recurse=False):
            seen[id(p)] = p.numel()

    handles = [m.register_forward_hook(record) for m in model.modules()
               if any(True for _ in m.parameters(recurse=False))]
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            _call(model, inputs)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return sum(seen.values())


def _weights(options: EvolutionOptions) -> dict[str, float]:
    return dict(options.weights)


def _proxy_names(weights: Mapping[str, float]) -> tuple[str, ...]:
    names = {"zico": "zico", "fisher_rao": "fisher_rao", "loss": "train_loss"}
    return tuple(names[name] for name, weight in weights.items() if weight)


def proxy_scorer(model: nn.Module, batches: Sequence[Batch], loss_fn: LossFn,
                 weights: Mapping[str, float] | None = None) -> Scorer:
    """SiGeo's score of the current subnet on `batches`: `zico * ZiCo + fisher_rao * log FR - loss * L`
    (`nasctl.runtime.proxies.sigeo_score`; default weights 1, 1, 0 as the reference's search)."""
    w = {"zico": 1.0, "fisher_rao": 1.0, "loss": 0.0, **dict(weights or {})}
    names = _proxy_names(w)
    if not names:
        raise TrialError("proxy scoring needs a non-zero weight (oneshot.evolution.weights)")

    def score() -> float:
        return sigeo_score(compute(model, batches, loss_fn, names), zico=w["zico"], fisher_rao=w["fisher_rao"],
                           loss=w["loss"])

    return score


def finetune_scorer(model: nn.Module, train_batches: Iterable[Batch], val_batches: Sequence[Batch],
                    loss_fn: LossFn, *, steps: int, lr: float, then: Scorer | None = None) -> Scorer:
    """The score of the current subnet after `steps` steps of SGD (at `lr`) on `train_batches` (cycled):
    minus its mean validation loss on `val_batches`, or `then()` (e.g. the proxies) when given.

    Every parameter and buffer of the model, their gradients and its train/eval mode are restored
    exactly afterwards, so the next candidate inherits the same shared weights."""
    train_batches = list(train_batches)
    val_batches = list(val_batches)
    if steps and not train_batches:
        raise TrialError("fine-tune scoring needs training batches")
    if then is None and not val_batches:
        raise TrialError("fine-tune scoring needs validation batches")

    def score() -> float:
        saved = {key: value.detach().clone() for key, value in model.state_dict(keep_vars=True).items()}
        grads = [(p, p.grad) for p in model.parameters()]
        training = model.training
        try:
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.SGD(params, lr=lr)
            model.train()
            for inputs, targets in itertools.islice(itertools.cycle(train_batches), steps):
                optimizer.zero_grad(set_to_none=True)
                loss_fn(_call(model, inputs), targets).mean().backward()
                optimizer.step()
            if then is not None:
                return then()
            model.eval()
            with torch.no_grad():
                total = sum(float(loss_fn(_call(model, x), y).sum()) for x, y in val_batches)
                count = sum(len(y) for _, y in val_batches)
            return -total / count
        finally:
            with torch.no_grad():
                for key, value in model.state_dict(keep_vars=True).items():
                    value.copy_(saved[key])
            for p, grad in grads:
                p.grad = grad
            model.train(training)

    return score


# -- the evolution ----------------------------------------------------------------------------------

def evolve(
    model: nn.Module,
    train_batches: Sequence[Batch],
    loss_fn: LossFn,
    *,
    val_batches: Sequence[Batch] = (),
    options: EvolutionOptions | Mapping[str, Any] | None = None,
    backend: Any = None,
    context: Any = None,
) -> list[Candidate]:
    """Proxy-scored regularized evolution over the supernet's subnets; the top-k, best first, as
    `{"architecture", "score", "params"}`.

    `train_batches` are `(inputs, targets)` (inputs a tensor or a tuple passed as `model(*inputs)`);
    the proxies use the first `proxy_batches` of them, the fine-tune cycles over all. `loss_fn`
    returns one loss per example. `options` default to the trial's `oneshot.evolution` (see
    `EvolutionOptions`). The best subnet becomes the trial's derived architecture (reported when it
    ends, like `nas.derive_architecture`). `backend`: the oneshot backend, by default the trial's.
    """
    engine = backend if backend is not None else oneshot_backend(context)
    if not getattr(engine, "specs", None):
        raise TrialError("evolve(): no mutable layer has run yet; run one forward pass of the model first")
    if options is None:
        options = getattr(engine.config, "evolution", None) or EvolutionOptions()
    elif not isinstance(options, EvolutionOptions):
        options = EvolutionOptions.parse(options)
    train_batches = list(train_batches)
    if len(train_batches) < options.proxy_batches and options.score != "finetune":
        raise TrialError(f"evolve(): proxy scoring needs {options.proxy_batches} training batches "
                         f"(oneshot.evolution.proxy_batches), got {len(train_batches)}")
    probe = train_batches[0][0] if train_batches else None
    def proxy() -> Scorer:
        return proxy_scorer(model, train_batches[: options.proxy_batches], loss_fn, _weights(options))

    scorer = proxy() if options.score == "proxy" else finetune_scorer(
        model, train_batches, val_batches, loss_fn, steps=options.finetune_steps, lr=options.finetune_lr,
        then=proxy() if options.score == "both" else None)
    sizes: dict[str, float] = {}
    exact = getattr(engine, "parameters_of", None)

    def size(arch: Architecture) -> float:
        key = json.dumps(arch, sort_keys=True)
        if key not in sizes:
            if callable(exact):
                sizes[key] = float(exact(arch))
            elif probe is None:
                raise TrialError("evolve(): a parameter budget needs at least one training batch to probe")
            else:
                engine.fix(arch)
                sizes[key] = float(active_parameter_count(model, _head(probe, 2)))
        return sizes[key]

    def score(arch: Architecture) -> float:
        engine.fix(arch)
        return scorer()

    budget = options.max_params if options.max_params is not None else getattr(engine.config, "max_params", None)
    valid = None if budget is None else (lambda arch: size(arch) <= budget)
    deadline = None if options.seconds is None else time.monotonic() + options.seconds
    stop = None if deadline is None else (lambda: time.monotonic() >= deadline)
    previous = engine.fixed
    try:
        ranked = evolve_architectures(
            list(engine.specs.values()), score, rng=engine.rng, population=options.population,
            sample_size=options.sample_size, children=options.children, generations=options.generations,
            mutations=options.mutations, valid=valid, stop=stop)
        top = [{"architecture": arch, "score": value,
                "params": size(arch) if callable(exact) or probe is not None else None}
               for arch, value in ranked[: options.top_k]]
    finally:
        engine.fix(previous)
    if not top:
        raise TrialError(f"evolve(): no subnet fits the parameter budget ({budget:g}); raise "
                         "oneshot.evolution.max_params (or oneshot.max_params)")
    engine.best = (top[0]["architecture"], top[0]["score"])
    return top


def export_architectures(found: Sequence[Candidate], directory: str | os.PathLike[str] | None = None, *,
                         context: Any = None) -> list[Path]:
    """Write each found subnet as `arch-<rank>.json` (rank 0 is the best) in `directory`, by default
    `architectures/` in the trial's folder: the trial's parameters (its `variable`s) with the subnet's
    layer choices, the format a retrain's `architecture: <file>` reads. Returns the paths."""
    ctx = _context(context)
    if directory is None:
        if not ctx.output_dir:
            raise TrialError("export_architectures(): no directory given and NAS_OUTPUT_DIR is not set")
        directory = Path(ctx.output_dir) / "architectures"
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    parameters = ctx.current_parameters()
    paths = []
    for rank, candidate in enumerate(found):
        arch = candidate["architecture"]
        document = {key: value for key, value in parameters.items() if key not in arch}
        document.update(arch)
        path = folder / f"arch-{rank}.json"
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths
