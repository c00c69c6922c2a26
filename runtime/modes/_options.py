"""The options of the one-shot modes (`NAS_MODE_CONFIG`, the experiment's `darts:`/`oneshot:`/`enas:`).

Each mode's options are checked here, once, with a `ConfigError` naming the key (`darts.order`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nasctl.runtime.errors import ConfigError

# dropout: Bender et al.'s path dropout; single_path: SPOS; any_path: NASRec's binomial sampling (each
# candidate and optional input kept with probability `p`); full_path: every candidate on every input.
ONESHOT_STRATEGIES = ("dropout", "single_path", "any_path", "full_path")


def _number(section: Mapping[str, Any], mode: str, key: str, default: float, low: float, high: float,
            *, integer: bool = False, open_low: bool = False) -> Any:
    value = section.get(key, default)
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"expected {'an integer' if integer else 'a number'}, got {value!r}", f"{mode}.{key}")
    if value < low or value > high or (open_low and value == low):
        bracket = "(" if open_low else "["
        raise ConfigError(f"expected a value in {bracket}{low}, {high}], got {value!r}", f"{mode}.{key}")
    return value


def _one_of(section: Mapping[str, Any], mode: str, key: str, default: Any, allowed: tuple[Any, ...]) -> Any:
    value = section.get(key, default)
    if value not in allowed:
        raise ConfigError(f"expected one of {', '.join(map(repr, allowed))}, got {value!r}", f"{mode}.{key}")
    return value


def _section(options: Mapping[str, Any] | None, mode: str, known: set[str]) -> Mapping[str, Any]:
    section = options or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"expected a mapping of options, got {section!r}", mode)
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                          f"{mode}.{unknown[0]}")
    return section


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _temperature(value: Any) -> tuple[str, float, float, int]:
    """`darts.temperature` as `(schedule, start, end or decay, epochs)`.

    - `[start, end]`: exponential from start to end over `anneal_steps` architecture steps;
    - `{start: 1.0, decay: 0.956}`: `start * decay ** epoch` (FBNet, DNAS);
    - `{start: 5.0, end: 0.5, epochs: 40, schedule: linear | exponential}`: from start to end over
      `epochs` epochs, then `end`.
    """
    key = "darts.temperature"
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(_positive(t) for t in value):
            raise ConfigError(f"expected [start, end], two positive numbers, got {value!r}", key)
        return "steps", float(value[0]), float(value[1]), 0
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected [start, end] or a mapping {{start, decay}} / {{start, end, epochs, "
                          f"schedule}}, got {value!r}", key)
    section = _section(value, key, {"start", "decay", "end", "epochs", "schedule"})
    start = section.get("start")
    if not _positive(start):
        raise ConfigError(f"expected a positive number, got {start!r}", f"{key}.start")
    if "decay" in section:
        if set(section) - {"start", "decay"}:
            raise ConfigError("give either decay (per epoch) or end and epochs, not both", key)
        decay = _number(section, key, "decay", 1.0, 0.0, 1.0, open_low=True)
        return "decay", float(start), float(decay), 0
    end = section.get("end")
    if not _positive(end):
        raise ConfigError(f"expected a positive number, got {end!r}", f"{key}.end")
    if "epochs" not in section:
        raise ConfigError("expected the number of epochs over which the temperature goes from start to end",
                          f"{key}.epochs")
    epochs = _number(section, key, "epochs", 1, 1, 10**9, integer=True)
    schedule = _one_of(section, key, "schedule", "exponential", ("exponential", "linear"))
    return schedule, float(start), float(end), epochs


@dataclass(frozen=True)
class DartsOptions:
    """`darts: {...}`: see `DartsBackend` and docs/modes.md."""

    order: int = 1
    sampler: str = "softmax"
    per_example: bool = False
    hard: bool = False
    temperature: tuple[float, float] = (5.0, 0.1)
    temperature_schedule: str = "steps"
    temperature_epochs: int = 0
    anneal_steps: int = 1000
    optimizer: str = "adam"
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.999)
    momentum: float = 0.9
    weight_decay: float = 1e-3
    warmup: int = 0
    complexity_weight: float = 0.0
    complexity_metric: Any = "params"
    complexity_form: str = "linear"
    complexity_table: Any = None
    #: `complexity.hypernet` + `complexity.lambda`: alpha(lambda) (`_hypernet.py`), or None
    hypernet: Any = None
    report_every: int = 10

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> DartsOptions:
        """Check `options` (the `darts:` mapping) and fill in the defaults."""
        s = _section(options, "darts", {"order", "sampler", "per_example", "hard", "temperature", "anneal_steps",
                                        "optimizer", "warmup", "complexity", "report_every"})
        schedule, start, end, epochs = _temperature(s.get("temperature", [5.0, 0.1]))
        opt = _section(s.get("optimizer"), "darts.optimizer", {"name", "lr", "betas", "momentum", "weight_decay"})
        betas = opt.get("betas", [0.5, 0.999])
        if (not isinstance(betas, (list, tuple)) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise ConfigError(f"expected [beta1, beta2] in [0, 1), got {betas!r}", "darts.optimizer.betas")
        complexity = _section(s.get("complexity"), "darts.complexity",
                              {"metric", "weight", "form", "table", "hypernet", "lambda"})
        hypernet = None
        if "hypernet" in complexity or "lambda" in complexity:
            from nasctl.runtime.modes._hypernet import HypernetOptions

            if "hypernet" not in complexity:
                raise ConfigError("lambda is the range of the hypernet's complexity parameter; add hypernet: "
                                  "{knots: K} (or remove lambda and give weight)", "darts.complexity.hypernet")
            if "weight" in complexity:
                raise ConfigError("with hypernet the penalty's coefficient is lambda, drawn in "
                                  "darts.complexity.lambda each step; remove weight", "darts.complexity.weight")
            hypernet = HypernetOptions.parse(complexity["hypernet"], complexity.get("lambda"))
        metric = complexity.get("metric", "params")
        if not callable(metric) and not (isinstance(metric, str) and ":" in metric):
            metric = _one_of(complexity, "darts.complexity", "metric", "params", ("params", "flops", "table"))
        table = complexity.get("table")
        if metric == "table" and not isinstance(table, Mapping):
            raise ConfigError("metric 'table' needs table: {'<block>/<layer>' or '<key>': {label: cost}}",
                              "darts.complexity.table")
        per_example = s.get("per_example", False)
        if not isinstance(per_example, bool):
            raise ConfigError(f"expected true or false, got {per_example!r}", "darts.per_example")
        hard = s.get("hard", False)
        if not isinstance(hard, bool):
            raise ConfigError(f"expected true or false, got {hard!r}", "darts.hard")
        sampler = _one_of(s, "darts", "sampler", "softmax", ("softmax", "gumbel"))
        if hard and sampler != "gumbel":
            raise ConfigError("hard samples are drawn by the Gumbel sampler; add sampler: gumbel", "darts.hard")
        return cls(
            order=_one_of(s, "darts", "order", 1, (1, 2)),
            sampler=sampler,
            per_example=per_example,
            hard=hard,
            temperature=(start, end),
            temperature_schedule=schedule,
            temperature_epochs=epochs,
            anneal_steps=_number(s, "darts", "anneal_steps", 1000, 1, 10**12, integer=True),
            optimizer=_one_of(opt, "darts.optimizer", "name", "adam", ("adam", "sgd")),
            lr=float(_number(opt, "darts.optimizer", "lr", 3e-4, 0, 10, open_low=True)),
            betas=(float(betas[0]), float(betas[1])),
            momentum=float(_number(opt, "darts.optimizer", "momentum", 0.9, 0, 1)),
            weight_decay=float(_number(opt, "darts.optimizer", "weight_decay", 1e-3, 0, 10)),
            warmup=_number(s, "darts", "warmup", 0, 0, 10**12, integer=True),
            complexity_weight=float(_number(complexity, "darts.complexity", "weight", 0.0, 0, float("inf"))),
            complexity_metric=metric,
            complexity_form=_one_of(complexity, "darts.complexity", "form", "linear", ("linear", "log")),
            complexity_table=table,
            hypernet=hypernet,
            report_every=_number(s, "darts", "report_every", 10, 0, 10**12, integer=True),
        )

    def temperature_at(self, step: int, epoch: int) -> float:
        """The Gumbel temperature after `step` architecture steps in epoch `epoch` (0-based)."""
        start, end = self.temperature
        if self.temperature_schedule == "steps":
            progress = min(step, self.anneal_steps) / self.anneal_steps
            return start * (end / start) ** progress  # tau = start * (end/start)^(t/T)
        if self.temperature_schedule == "decay":
            return start * end ** epoch  # tau = start * decay^epoch
        progress = min(epoch, self.temperature_epochs) / self.temperature_epochs
        if self.temperature_schedule == "linear":
            return start + (end - start) * progress  # tau = start + (end - start) * e/E
        return start * (end / start) ** progress


@dataclass(frozen=True)
class OneShotOptions:
    """`oneshot: {...}`: see `OneShotBackend`."""

    strategy: str = "dropout"
    r: float = 0.01
    search: str = "random"
    budget: int = 50
    optimize_mode: str = "maximize"
    population: int = 10
    sample_size: int = 3
    p: float = 0.5
    warmup: WarmupBudget | None = None
    evolution: EvolutionOptions | None = None
    max_params: float | None = None

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> OneShotOptions:
        """Check `options` (the `oneshot:` mapping) and fill in the defaults."""
        s = _section(options, "oneshot", {"strategy", "r", "search", "budget", "optimize_mode", "population",
                                          "sample_size", "max_params", "p", "warmup", "evolution"})
        max_params = s.get("max_params")
        if max_params is not None and not _positive(max_params):
            raise ConfigError(f"expected a positive number of parameters, got {max_params!r}", "oneshot.max_params")
        return cls(
            strategy=_one_of(s, "oneshot", "strategy", "dropout", ONESHOT_STRATEGIES),
            p=float(_number(s, "oneshot", "p", 0.5, 0.0, 1.0, open_low=True)),
            warmup=WarmupBudget.parse(s.get("warmup")),
            evolution=EvolutionOptions.parse(s["evolution"]) if "evolution" in s else None,
            r=float(_number(s, "oneshot", "r", 0.01, 0.0, 1.0, open_low=True)),
            search=_one_of(s, "oneshot", "search", "random", ("random", "evolution")),
            budget=_number(s, "oneshot", "budget", 50, 1, 10**9, integer=True),
            optimize_mode=_one_of(s, "oneshot", "optimize_mode", "maximize", ("maximize", "minimize")),
            population=_number(s, "oneshot", "population", 10, 2, 10**6, integer=True),
            sample_size=_number(s, "oneshot", "sample_size", 3, 1, 10**6, integer=True),
            max_params=None if max_params is None else float(max_params),
        )


@dataclass(frozen=True)
class EnasOptions:
    """`enas: {...}` (trial side): how the trial derives its architecture from the rewards it reported."""

    optimize_mode: str = "maximize"
    window: int = 50

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> EnasOptions:
        """Check `options` (the `enas:` mapping) and fill in the defaults."""
        s = _section(options, "enas", {"optimize_mode", "window"})
        return cls(
            optimize_mode=_one_of(s, "enas", "optimize_mode", "maximize", ("maximize", "minimize")),
            window=_number(s, "enas", "window", 50, 1, 10**9, integer=True),
        )


@dataclass(frozen=True)
class WarmupBudget:
    """`oneshot.warmup`: how much the supernet trains before the search (SiGeo's warm-up level).

    Exactly one of `{steps: N}` (optimizer steps), `{samples: N}` (training examples) or
    `{epochs: F}` (a fraction of an epoch, F in (0, 1] for a partial warm-up, more for several epochs;
    counted in samples once the script gives its epoch size). `nasctl.runtime.modes.Warmup` counts it.
    """

    steps: int | None = None
    samples: int | None = None
    epochs: float | None = None

    @classmethod
    def parse(cls, value: Any, where: str = "oneshot.warmup") -> WarmupBudget | None:
        """Check a `warmup:` mapping; None when absent (no limit: the script trains as it likes)."""
        if value is None:
            return None
        s = _section(value, where, {"steps", "samples", "epochs"})
        if len(s) != 1:
            raise ConfigError(f"expected exactly one of steps, samples, epochs, got {dict(s)!r}", where)
        if "steps" in s:
            return cls(steps=_number(s, where, "steps", 0, 0, 10**15, integer=True))
        if "samples" in s:
            return cls(samples=_number(s, where, "samples", 0, 0, 10**15, integer=True))
        return cls(epochs=float(_number(s, where, "epochs", 0.0, 0.0, 10**6)))

    def sample_limit(self, epoch_samples: int | None) -> int | None:
        """The budget in samples (None: counted in steps); `epochs` needs the epoch size."""
        if self.samples is not None:
            return self.samples
        if self.epochs is None:
            return None
        if isinstance(epoch_samples, bool) or not isinstance(epoch_samples, int) or epoch_samples < 1:
            raise ConfigError(f"a warm-up in epochs ({self.epochs}) needs the epoch size in samples: pass "
                              f"epoch_samples=len(training data), got {epoch_samples!r}", "oneshot.warmup.epochs")
        return round(self.epochs * epoch_samples)


SCORINGS = ("proxy", "finetune", "both")


@dataclass(frozen=True)
class EvolutionOptions:
    """`oneshot.evolution`: proxy-scored regularized evolution over the supernet's subnets (SiGeo/NASRec).

    `population` random valid subnets, then `generations` generations of `children` children, each a
    mutation (of `mutations` choices) of the best of `sample_size` random members; each generation's
    children replace the oldest members. `score`: `proxy` (SiGeo's combination of `weights` over
    `proxy_batches` batches), `finetune` (validation loss after `finetune_steps` steps of SGD at
    `finetune_lr`, the shared weights restored afterwards) or `both` (the proxies after the fine-tune).
    `max_params`: a subnet with more parameters is invalid. `top_k`: how many subnets are exported.
    `seconds`: a time budget; the search ends after the first generation that exceeds it.
    """

    population: int = 16
    sample_size: int = 4
    children: int = 4
    generations: int = 8
    mutations: int = 1
    score: str = "proxy"
    weights: tuple[tuple[str, float], ...] = (("zico", 1.0), ("fisher_rao", 1.0), ("loss", 0.0))
    proxy_batches: int = 4
    finetune_steps: int = 20
    finetune_lr: float = 0.01
    max_params: int | None = None
    top_k: int = 3
    seconds: float | None = None

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> EvolutionOptions:
        """Check `options` (the `oneshot.evolution:` mapping) and fill in the defaults."""
        where = "oneshot.evolution"
        s = _section(options, where, {"population", "sample_size", "children", "generations", "mutations",
                                      "score", "weights", "proxy_batches", "finetune_steps", "finetune_lr",
                                      "max_params", "top_k", "seconds"})
        w = _section(s.get("weights"), f"{where}.weights", {"zico", "fisher_rao", "loss"})
        weights = tuple((name, float(_number(w, f"{where}.weights", name, default, -1e6, 1e6)))
                        for name, default in cls.weights)
        max_params = s.get("max_params")
        seconds = s.get("seconds")
        return cls(
            population=_number(s, where, "population", 16, 1, 10**6, integer=True),
            sample_size=_number(s, where, "sample_size", 4, 1, 10**6, integer=True),
            children=_number(s, where, "children", 4, 1, 10**6, integer=True),
            generations=_number(s, where, "generations", 8, 0, 10**6, integer=True),
            mutations=_number(s, where, "mutations", 1, 1, 10**3, integer=True),
            score=_one_of(s, where, "score", "proxy", SCORINGS),
            weights=weights,
            proxy_batches=_number(s, where, "proxy_batches", 4, 2, 10**4, integer=True),
            finetune_steps=_number(s, where, "finetune_steps", 20, 0, 10**7, integer=True),
            finetune_lr=float(_number(s, where, "finetune_lr", 0.01, 0.0, 10.0, open_low=True)),
            max_params=None if max_params is None else _number(s, where, "max_params", 0, 1, 10**15, integer=True),
            top_k=_number(s, where, "top_k", 3, 1, 10**6, integer=True),
            seconds=None if seconds is None else float(_number(s, where, "seconds", 0, 0, 10**9, open_low=True)),
        )


_PARSERS: dict[str, Any] = {"darts": DartsOptions, "oneshot": OneShotOptions, "enas": EnasOptions}


def check_mode_options(mode: str, options: Mapping[str, Any] | None) -> None:
    """Check a mode's options (the experiment's `darts:`/`oneshot:`/`enas:` section) before any trial runs.

    Classic mode takes no options; an error names the key (`darts.lr`).
    """
    parser = _PARSERS.get(mode)
    if parser is not None:
        parser.parse(options)
    elif options:
        raise ConfigError(f"{mode} mode takes no options, got {dict(options)!r}", mode)
