"""Architecture weights as a function of the complexity budget, alpha(lambda) (DARTS-CC, seed 003).

Framework-free (numpy and the stdlib): the torch darts backend trains the hypernetwork
(`nasctl.runtime.modes.torch._hypernet`), and `nasctl experiment export --lambdas/--frontier` evaluates
what a trial reported without loading torch. The two evaluate the same formulas, written here once
where they can be and checked against each other by the tests.

- lambda is drawn log-uniform in `[low, high]` (`darts.complexity.lambda`) and normalised,
  `t = (log lambda - log low) / (log high - log low)` in [0, 1]; `lambda = low * (high/low)^t`.
- `knots: K` (the reference): per layer a `[K, n]` table of logits at `t_k = k / (K-1)`;
  `alpha(t) = (1 - w) * A[i] + w * A[i+1]` with `i = min(floor(t (K-1)), K-2)`, `w = t (K-1) - i`:
  piecewise linear, exact at the knots.
- `mlp: H`: per layer a one-hidden-layer network, `alpha(t) = W2 tanh(w1 t + b1) + b2`, its
  parameters one flat vector `theta = [w1 (H), b1 (H), W2 (n x H, row-major), b2 (n)]`.

The state a trial reports (in its `arch_weights` metrics, key `"hypernet"`) is plain JSON:

    {"lambda": [low, high], "kind": "knots" | "mlp", "size": K or H,
     "layers": [{"spec": {block_key, layer_key, labels, input_labels, input_low, input_high, variable},
                 "alpha": [...], "beta": [...] or null}],          # flat parameters of each function
     "costs": {"params": [{"axes": [layer index, ...], "table": nested list}], "<metric>": [...]},
     "metric": "params", "form": "linear"}

so `derive(state, t)` gives the architecture at a budget and its expected and exact cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nasctl.runtime.errors import ConfigError, TrialError

KINDS = ("knots", "mlp")


@dataclass(frozen=True)
class HypernetOptions:
    """`darts.complexity.hypernet` and `darts.complexity.lambda`: the form of alpha(lambda) and lambda's range."""

    kind: str = "knots"
    size: int = 8
    low: float = 1e-4
    high: float = 1e-1

    @classmethod
    def parse(cls, hypernet: Any, lam: Any, key: str = "darts.complexity") -> HypernetOptions:
        """Check `hypernet: {knots: K}` or `{mlp: H}` and `lambda: [low, high]`; ConfigError naming the key."""
        if not isinstance(hypernet, Mapping) or len(hypernet) != 1 or next(iter(hypernet)) not in KINDS:
            raise ConfigError(f"expected {{knots: K}} (piecewise linear over K knots) or {{mlp: H}} (H hidden "
                              f"units), got {hypernet!r}", f"{key}.hypernet")
        kind, size = next(iter(hypernet.items()))
        smallest = 2 if kind == "knots" else 1
        if isinstance(size, bool) or not isinstance(size, int) or not smallest <= size <= 4096:
            raise ConfigError(f"expected an integer in [{smallest}, 4096], got {size!r}", f"{key}.hypernet.{kind}")
        if lam is None:
            raise ConfigError("the hypernet needs the range of the complexity parameter, lambda: [low, high]",
                              f"{key}.lambda")
        if (not isinstance(lam, Sequence) or isinstance(lam, str) or len(lam) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                           for v in lam) or not lam[0] < lam[1]):
            raise ConfigError(f"expected [low, high] with 0 < low < high, got {lam!r}", f"{key}.lambda")
        return cls(kind, size, float(lam[0]), float(lam[1]))

    def lam(self, t: float) -> float:
        """The complexity parameter at normalised `t`: `low * (high/low)^t`."""
        return self.low * (self.high / self.low) ** t

    def normalised(self, lam: float) -> float:
        """`t = (log lambda - log low) / (log high - log low)`."""
        return (math.log(lam) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))

    def n_params(self, n: int) -> int:
        """The number of parameters of one function with `n` outputs."""
        return self.size * n if self.kind == "knots" else self.size * (n + 2) + n


def check_t(t: Any, what: str = "lam") -> float:
    """`t` as a float in [0, 1], else a TrialError naming `what`."""
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0.0 <= t <= 1.0:
        raise TrialError(f"{what} is the normalised complexity parameter, a number in [0, 1] (0: the lower end "
                         f"of darts.complexity.lambda, 1: the upper end), got {t!r}")
    return float(t)


def knot_position(t: float, knots: int) -> tuple[int, float]:
    """`(i, w)` such that `alpha(t) = (1 - w) * A[i] + w * A[i+1]` over `knots` evenly spaced knots."""
    s = t * (knots - 1)  # s = t (K - 1)
    i = min(int(math.floor(s)), knots - 2)
    return i, s - i  # w = s - i, in [0, 1]


def evaluate(options: HypernetOptions, theta: Sequence[float], n: int, t: float) -> Any:
    """alpha(t) (numpy, `n` logits) of one function with flat parameters `theta`."""
    import numpy as np

    theta = np.asarray(theta, dtype=np.float64)
    if options.kind == "knots":
        table = theta.reshape(options.size, n)
        i, w = knot_position(t, options.size)
        return (1.0 - w) * table[i] + w * table[i + 1]
    h = options.size
    w1, b1 = theta[:h], theta[h:2 * h]
    w2, b2 = theta[2 * h:2 * h + n * h].reshape(n, h), theta[2 * h + n * h:]
    return w2 @ np.tanh(w1 * t + b1) + b2  # W2 tanh(w1 t + b1) + b2


# -- what export does with a reported state -------------------------------------------------------


@dataclass
class Derived:
    """The architecture at one budget and its costs."""

    t: float
    lam: float
    architecture: dict[str, Any]
    expected_cost: float  # E[cost] under softmax(alpha(t)), the quantity the search penalised
    cost: float  # the exact cost of `architecture`
    params: float  # its exact parameter count (searched parts)

    def summary(self) -> dict[str, Any]:
        """The JSON record written beside the architecture file."""
        return {"lambda_normalised": self.t, "lambda": self.lam, "expected_cost": self.expected_cost,
                "cost": self.cost, "params": self.params}


def _spec(data: Mapping[str, Any]) -> Any:
    from nasctl.runtime.modes._spec import LayerSpec

    return LayerSpec(str(data["block_key"]), str(data["layer_key"]), tuple(data["labels"]),
                     tuple(data["input_labels"]), int(data["input_low"]), int(data["input_high"]),
                     bool(data.get("variable", False)))


def _softmax(x: Any) -> Any:
    import numpy as np

    z = np.exp(x - x.max())
    return z / z.sum()


def _expected(terms: Sequence[Mapping[str, Any]], probabilities: Sequence[Any]) -> float:
    """`sum_{i,j,...} p_a[i] p_b[j] ... C[i, j, ...]` over every term (the cost models' contraction)."""
    import numpy as np

    total = 0.0
    for term in terms:
        table = np.asarray(term["table"], dtype=np.float64)
        for axis in term["axes"]:
            table = np.tensordot(probabilities[axis], table, axes=([0], [0]))
        total += float(table)
    return total


def derive(state: Mapping[str, Any], t: float) -> Derived:
    """The architecture a reported hypernet state gives at normalised budget `t`, with its costs.

    Per layer the argmax of alpha(t) and the inputs whose gate `sigmoid(beta(t))` is above 0.5
    (clamped to the size range), as darts derives; a relaxed variable: its argmax option.
    """
    import numpy as np
    from nasctl.runtime.modes._spec import top_inputs

    options = HypernetOptions(str(state["kind"]), int(state["size"]), *map(float, state["lambda"]))
    architecture: dict[str, Any] = {}
    soft, hard = [], []
    for layer in state["layers"]:
        spec = _spec(layer["spec"])
        alpha = evaluate(options, layer["alpha"], len(spec.labels), t)
        best = int(np.argmax(alpha))
        if layer.get("beta") is None:
            inputs = list(range(len(spec.input_labels))) if spec.input_high else []
        else:
            beta = evaluate(options, layer["beta"], len(spec.input_labels), t)
            inputs = top_inputs(spec, (1.0 / (1.0 + np.exp(-beta))).tolist(), 0.5)
        spec.put(architecture, best, inputs)
        soft.append(_softmax(alpha))
        hard.append(np.eye(len(spec.labels))[best])
    costs = state["costs"]
    metric = str(state.get("metric", "params"))
    terms = costs.get(metric, costs.get("params", []))
    return Derived(t, options.lam(t), architecture, _expected(terms, soft), _expected(terms, hard),
                   _expected(costs.get("params", []), hard))


def frontier(state: Mapping[str, Any], count: int, *, grid: int = 1001) -> list[Derived]:
    """Up to `count` distinct architectures along alpha(t), t from 0 to 1, each at the middle of
    the interval of t where it is the derived one; when there are more, `count` spread evenly."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise TrialError(f"--frontier: the number of architectures must be a positive integer, got {count!r}")
    runs: list[tuple[float, float, dict[str, Any]]] = []  # (first t, last t, architecture)
    for k in range(grid):
        t = k / (grid - 1)
        architecture = derive(state, t).architecture
        if runs and runs[-1][2] == architecture:
            runs[-1] = (runs[-1][0], t, architecture)
        else:
            runs.append((t, t, architecture))
    distinct: list[tuple[float, float, dict[str, Any]]] = []
    for run in runs:  # an architecture that comes back later keeps its longest stretch
        same = next((i for i, d in enumerate(distinct) if d[2] == run[2]), None)
        if same is None:
            distinct.append(run)
        elif run[1] - run[0] > distinct[same][1] - distinct[same][0]:
            distinct[same] = run
    distinct.sort(key=lambda run: run[0])
    if len(distinct) > count:
        picks = sorted({round(i * (len(distinct) - 1) / max(count - 1, 1)) for i in range(count)})
        distinct = [distinct[i] for i in picks]
    return [derive(state, (first + last) / 2) for first, last, _ in distinct]
