"""The trial API of DESIGN.md §5 (`import nas`): parameters, results, sampling functions, choices.

Every function works on the current trial context (`current_context()`), which finds the platform
from the environment on first use. The sampling functions take the search-space key as `key=` (NNI's
`name=` is an alias) and return the trial's value for it:

>>> import nas
>>> lr = nas.choice(0.1, 0.01, key="mnist/learning_rate/choice")  # doctest: +SKIP
>>> nas.report_final_result(0.93)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nasctl.runtime.errors import ArchitectureError, TrialError
from nasctl.runtime.trial._context import current_context
from nasctl.runtime.trial._value import MixedChoice, relaxed_choice

from nasctl.searchspace import choice_index, indexed_key, loop_mismatch, relaxable_options

__all__ = [
    "candidates",
    "choice",
    "function_choice",
    "get_current_parameter",
    "get_experiment_id",
    "get_next_parameter",
    "get_sequence_id",
    "get_trial_id",
    "get_trial_seed",
    "loop_key",
    "loguniform",
    "lognormal",
    "materialize",
    "normal",
    "qloguniform",
    "qlognormal",
    "qnormal",
    "quniform",
    "randint",
    "report_architecture",
    "report_final_result",
    "report_intermediate_result",
    "training_update",
    "uniform",
]


def get_next_parameter() -> dict[str, Any] | None:
    """Request the next parameter set (the architecture) for this trial; None when there are no more."""
    return current_context().get_next_parameter()


def get_current_parameter(key: str | None = None) -> Any:
    """The current parameter set, or its value for `key`; fetched first if the trial has none yet."""
    return current_context().get_current_parameter(key)


def report_intermediate_result(metric: Any) -> None:
    """Report a per-epoch result: a number or a dict with a `default` number."""
    current_context().report_intermediate_result(metric)


def report_final_result(metric: Any) -> None:
    """Report the trial's final result: a number or a dict with a `default` number."""
    current_context().report_final_result(metric)


def report_architecture(architecture: Mapping[str, Any]) -> None:
    """Report the architecture this trial derived (one-shot modes); standalone prints it."""
    current_context().report_architecture(architecture)


#: NNI's positional order of `training_update(tf, session, loss, feed_dict)` (its generator adds the mode).
TRAINING_UPDATE_POSITIONAL = ("tf", "session", "loss", "feed_dict")


def training_update(*args: Any, **kwargs: Any) -> None:
    """The mode's training step: the next subgraph (enas), an architecture step (darts); else nothing.

    Arguments as NNI documents them, positional or keyword: `training_update(tf, sess)`,
    `training_update(tf, sess, loss)`, `training_update(tf=tf, session=sess, loss=loss, feed_dict=fd)`;
    torch darts takes `loss=` (and `train_loss=`, `model=`, `lr=` for `order: 2`).
    """
    if len(args) > len(TRAINING_UPDATE_POSITIONAL):
        raise TrialError(f"training_update() takes at most {len(TRAINING_UPDATE_POSITIONAL)} positional arguments "
                         f"({', '.join(TRAINING_UPDATE_POSITIONAL)}), got {len(args)}")
    for name, value in zip(TRAINING_UPDATE_POSITIONAL, args, strict=False):
        if name in kwargs:
            raise TrialError(f"training_update() got argument {name!r} both by position and by keyword")
        kwargs[name] = value
    current_context().training_update(**kwargs)


def get_experiment_id() -> str:
    """The experiment's id (`STANDALONE` outside an experiment)."""
    return current_context().platform.experiment_id


def get_trial_id() -> str:
    """This trial's id (`STANDALONE` outside an experiment)."""
    return current_context().platform.trial_id


def get_sequence_id() -> int:
    """This trial's sequence number in its experiment (0 outside an experiment)."""
    return current_context().platform.sequence_id


def get_trial_seed() -> int:
    """This trial's seed (`NAS_TRIAL_SEED`, derived from the experiment's seed; default 0)."""
    return current_context().platform.seed


def candidates(framework: str | None = None) -> Any:
    """The candidate instances of layers without an owner (layers outside a method).

    For PyTorch it is an `nn.ModuleDict`, so `nas.candidates().parameters()` gives their parameters;
    like the candidates themselves, it fills on the first forward pass.
    """
    return current_context().candidates(framework)


def materialize(model: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one forward pass of a `torch.nn.Module` without gradients so that its candidates exist.

    Call it before building the optimizer (or loading a state dict); training flags are kept.
    """
    from nasctl.runtime.modes._torch_classic import materialize as torch_materialize

    return torch_materialize(model, *args, **kwargs)


def loop_key(key: str, indices: Sequence[int], counts: Sequence[int]) -> str:
    """The key of one iteration of a choice repeated over loops: `key[i]` (`[i][j]` for nested loops).

    The compiler writes this for an annotation inside `for` loops; `counts` are the iterations the
    search space holds per loop, and an iteration beyond them is an `ArchitectureError` naming the key
    and both counts.

    >>> loop_key("m/emb_dim/choice", (2,), (3,))
    'm/emb_dim/choice[2]'
    """
    problem = loop_mismatch(key, list(indices), list(counts))
    if problem is not None:
        raise ArchitectureError(problem, key)
    return indexed_key(key, indices)


def _key(function: str, key: str | None, name: str | None) -> str:
    if key is not None and name is not None and key != name:
        raise TrialError(f"{function}(): key={key!r} and name={name!r} disagree; pass one of them")
    key = key if key is not None else name
    if not isinstance(key, str) or not key:
        raise TrialError(f"{function}() needs key= (or NNI's name=): the search-space key it samples")
    return key


def _check_repeat(key: str, repeat: int | None) -> None:
    """A hand-written choice in a loop (`key=f"emb_dim/{i}"`, `repeat=N`): a key beyond the N the
    search space holds is an error naming it and both counts."""
    if repeat is None:
        return
    context = current_context()
    if key not in context.current_parameters() and not context.platform.samples_missing:
        raise ArchitectureError(f"the search space repeats this choice {repeat} times (repeat={repeat}), but the "
                                "loop produced a key beyond them; make repeat= match the loop's iterations", key)


def choice(*options: Any, key: str | None = None, name: str | None = None,
           labels: Sequence[Any] | None = None, repeat: int | None = None, architectural: bool = False) -> Any:
    """One of `options`: the trial's architecture names it by its label (`labels`, else the option).

    In the one-shot modes a choice of distinct numbers comes back as an `IntChoice`/`FloatChoice`
    that `nas.nn` modules relax, and with `architectural=True` a choice of functions comes back as a
    `MixedChoice` that mixes them (darts) or runs the sampled one (runtime/trial/_value.py).
    `repeat=N` is for the compiler (a choice in a loop whose count it cannot see, keyed by an f-string
    of the loop variable); at run time it only words the error for a key beyond those N.
    """
    key = _key("choice", key, name)
    _check_repeat(key, repeat)
    if not options:
        raise TrialError(f"choice() for key '{key}' needs at least one option")
    if labels is None:
        labels = options
    elif len(labels) != len(options):
        raise TrialError(f"choice() for key '{key}': {len(labels)} labels for {len(options)} options")
    context = current_context()
    if context.mode == "classic":
        return options[choice_index(key, labels, context.variable(key, "choice", list(labels)))]
    if architectural and all(callable(option) for option in options):
        parameters = context.current_parameters()
        if key not in parameters and not context.platform.samples_missing:
            parameters[key] = labels[0]  # the backend derives the value; this one stands in until then
        context.variable(key, "choice", list(labels))  # checks a given value
        return MixedChoice(key, options, labels)
    relaxable = list(labels) == list(options) and relaxable_options(options)
    if architectural and not relaxable:
        raise TrialError(f"choice() for key '{key}': architectural=True needs functions (mixed in darts) or "
                         "distinct numbers (sizes for nas.nn)")
    if relaxable:
        # nas.nn modules relax it (runtime/trial/_value.py). Without a value in the architecture (a
        # tunerless darts or oneshot trial) it stands at its largest option, the size nas.nn modules output.
        parameters = context.current_parameters()
        if key not in parameters and not context.platform.samples_missing:
            parameters[key] = max(options)
        value = options[choice_index(key, labels, context.variable(key, "choice", list(labels)))]
        return relaxed_choice(value, key, tuple(options))
    return options[choice_index(key, labels, context.variable(key, "choice", list(labels)))]


def function_choice(functions: Mapping[str, Callable[[], Any]], *, key: str | None = None,
                    name: str | None = None, repeat: int | None = None) -> Any:
    """Call the function the architecture chose among `functions` (label -> zero-argument callable)."""
    key = _key("function_choice", key, name)
    _check_repeat(key, repeat)
    if not isinstance(functions, Mapping) or not functions:
        raise TrialError(f"function_choice() for key '{key}' needs a non-empty dict of label -> function")
    parameters = current_context().current_parameters()
    value = parameters.get(key)
    function = functions.get(value) if isinstance(value, str) else None
    if function is None:
        labels = list(functions)
        function = functions[labels[choice_index(key, labels, current_context().variable(key, "choice", labels))]]
    return function()


def _sampler(type_: str) -> Callable[..., Any]:
    def sample(*spec: Any, key: str | None = None, name: str | None = None) -> Any:
        return current_context().variable(_key(type_, key, name), type_, list(spec))

    return sample


def randint(lower: int, upper: int, *, key: str | None = None, name: str | None = None) -> int:
    """An integer in `[lower, upper)`."""
    return _RANDINT(lower, upper, key=key, name=name)


def uniform(low: float, high: float, *, key: str | None = None, name: str | None = None) -> float:
    """A float in `[low, high]`, uniformly."""
    return _UNIFORM(low, high, key=key, name=name)


def quniform(low: float, high: float, q: float, *, key: str | None = None, name: str | None = None) -> float:
    """`clip(round(uniform(low, high) / q) * q, low, high)`."""
    return _QUNIFORM(low, high, q, key=key, name=name)


def loguniform(low: float, high: float, *, key: str | None = None, name: str | None = None) -> float:
    """`exp(uniform(log(low), log(high)))`."""
    return _LOGUNIFORM(low, high, key=key, name=name)


def qloguniform(low: float, high: float, q: float, *, key: str | None = None, name: str | None = None) -> float:
    """`clip(round(loguniform(low, high) / q) * q, low, high)`."""
    return _QLOGUNIFORM(low, high, q, key=key, name=name)


def normal(mu: float, sigma: float, *, key: str | None = None, name: str | None = None) -> float:
    """A normally distributed float with mean `mu` and standard deviation `sigma`."""
    return _NORMAL(mu, sigma, key=key, name=name)


def qnormal(mu: float, sigma: float, q: float, *, key: str | None = None, name: str | None = None) -> float:
    """`round(normal(mu, sigma) / q) * q`."""
    return _QNORMAL(mu, sigma, q, key=key, name=name)


def lognormal(mu: float, sigma: float, *, key: str | None = None, name: str | None = None) -> float:
    """`exp(normal(mu, sigma))`."""
    return _LOGNORMAL(mu, sigma, key=key, name=name)


def qlognormal(mu: float, sigma: float, q: float, *, key: str | None = None, name: str | None = None) -> float:
    """`round(exp(normal(mu, sigma)) / q) * q`."""
    return _QLOGNORMAL(mu, sigma, q, key=key, name=name)


_RANDINT = _sampler("randint")
_UNIFORM = _sampler("uniform")
_QUNIFORM = _sampler("quniform")
_LOGUNIFORM = _sampler("loguniform")
_QLOGUNIFORM = _sampler("qloguniform")
_NORMAL = _sampler("normal")
_QNORMAL = _sampler("qnormal")
_LOGNORMAL = _sampler("lognormal")
_QLOGNORMAL = _sampler("qlognormal")
