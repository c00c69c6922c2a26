"""darts mode for PyTorch: a softmax-mixed layer and its architecture optimizer (Liu et al. 2019).

Per layer the backend owns `alpha` (one logit per candidate) and, when the layer has a real input
choice, `beta` (one logit per optional input). Neither is registered on any module, so
`model.parameters()` and the user's optimizer never see them; `arch_parameters()` returns them.

- forward: `sum_i softmax(alpha)_i * op_i([fixed, [sigmoid(beta_j) * x_j]_j])`. Every optional input is
  passed, scaled by its own gate (a relaxed independent Bernoulli, NNI's darts passes them all too).
  `sampler: gumbel` replaces the softmax by a Gumbel-softmax sample and the gates by binary-concrete
  samples, with the temperature annealed exponentially from `temperature[0]` to `temperature[1]` over
  `anneal_steps` architecture steps (FBNet/DNAS); outside training the plain softmax/sigmoid is used.
- `training_update(loss=val_loss)`: one step of Adam (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3
  by default) on `val_loss + complexity.weight * expected parameter count`, where the expected count
  is `sum_layers sum_i softmax(alpha)_i * params(op_i)`. The gradient is taken with
  `torch.autograd.grad` with respect to the architecture weights only: model weights' `.grad` is left
  untouched, and a tensor `loss` keeps its graph so the script may still call `loss.backward()`.
- relaxed variables: a `choice` of sizes given to a `nas.nn` module (`nas.nn.Linear(16, nas.choice(8, 16,
  32))`) gets its own `alpha`; the module runs its max-size weight once and mixes the options by
  masks, `y = (x W^T) * sum_k softmax(alpha)_k * mask_k` (FBNet/DNAS), and the derived architecture
  reports the argmax option as the variable's value.
- `per_example: true` (with `sampler: gumbel`): a fresh Gumbel sample per example of the batch
  (`[batch, K]` weights) instead of one per forward.
- `hard: true` (with `sampler: gumbel`): the straight-through Gumbel-softmax (GDAS, Dong and Yang
  2019): each sample is the one-hot of its argmax in the forward pass, so every example runs one real
  candidate (one real size of a `nas.nn` module), and the gradient is the soft sample's. Input gates
  are 0 or 1 the same way.
- temperature: `[start, end]` anneals over `anneal_steps` steps; `{start, decay}` is
  `start * decay ** epoch` and `{start, end, epochs, schedule: linear | exponential}` goes from start
  to end over `epochs`, where the epoch is what the script passes as `training_update(epoch=e)`.
- `optimizer: {name: adam | sgd, lr, betas, momentum, weight_decay}` for the architecture weights, and
  `warmup: N`: the first N `training_update` calls leave them where they are.
- `complexity: {metric, weight, form, table}`: the penalty `weight * E[cost]` (`form: linear`) or
  `weight * log(E[cost])` (`form: log`), where `E[cost]` is exact under the current distributions
  for `metric: params | flops | table | "module:function"` (`_cost.py`).
- `order: 2`: the unrolled gradient of Liu et al. 2019, eq. 7-8. It needs the validation loss at other
  weights, so the script passes closures and the weights' learning rate:
  `training_update(loss=lambda: val_loss_fn(), train_loss=lambda: train_loss_fn(), model=model, lr=eta)`.
  The virtual step is plain SGD, `w' = w - eta * dL_train/dw` (eq. 6: no momentum, no weight decay).
- `complexity: {hypernet: {knots: K} | {mlp: H}, lambda: [low, high]}` (DARTS-CC, seed 003): each
  layer's `alpha` (and `beta`) is a function of the normalised complexity parameter `t` in [0, 1]
  (`_hypernet.py`: piecewise linear over K knots, or a small MLP), its parameters `theta` standing where
  `alpha` stands. Each architecture step draws `t ~ U(0, 1)`, i.e. `lambda = low * (high/low)^t`
  log-uniform; the model's forward passes until the next architecture step (the weight step) and that
  step itself use it, and the penalty is `lambda * E[cost]` (`form: log`: `lambda * log E[cost]`) under
  `softmax(alpha(t))`. `derived_architecture(lam=t)` is the architecture at a budget; reports carry
  `theta` and the cost tables (`"hypernet"`) so `nasctl experiment export --lambdas/--frontier` derives
  after the run.
- derived architecture: the argmax of `alpha` per layer; the inputs whose gate `sigmoid(beta_j)` is
  above 0.5, ranked by gate and clamped to `optional_input_size` (so within a range `[low, high]` the
  count is learned from the weights; for an int `k` it is exactly the top `k`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._hypernet import check_t
from nasctl.runtime.modes._options import DartsOptions
from nasctl.runtime.modes._spec import Architecture, LayerSpec, top_inputs
from nasctl.runtime.modes.torch._backend import TorchOneShotBackend
from nasctl.runtime.modes.torch._cost import CostModel
from nasctl.runtime.modes.torch._hypernet import evaluate as hypernet_alpha
from nasctl.runtime.modes.torch._hypernet import init_theta
from nasctl.runtime.modes.torch._layer import LayerCandidates, first_tensor

LossArg = torch.Tensor | Callable[[], torch.Tensor]
_FULL_PRECISION = (torch.float32, torch.float64)


@dataclass
class _ArchWeights:
    spec: LayerSpec
    alpha: torch.Tensor
    beta: torch.Tensor | None


class DartsBackend(TorchOneShotBackend):
    """The darts mode; see the module docstring for the mathematics and the options."""

    mode = "darts"

    def __init__(self, options: Mapping[str, Any] | None = None, *, seed: int | None = None) -> None:
        super().__init__(options, seed=seed)
        self.config = DartsOptions.parse(options)
        self.weights: dict[tuple[str, str], _ArchWeights] = {}
        self.optimizer: torch.optim.Optimizer | None = None
        self.steps = 0
        self.updates = 0  # training_update calls, warm-up included
        self.epoch = 0
        self._gumbel = self.config.sampler == "gumbel"
        c = self.config
        self.hypernet = c.hypernet
        coef = 1.0 if self.hypernet is not None else c.complexity_weight
        self.cost_model = CostModel(c.complexity_metric, form=c.complexity_form, coef=coef,
                                    table=c.complexity_table)
        self.count_flops = self.cost_model.metric == "flops" and coef > 0
        #: hypernet: the normalised complexity parameter of this step, `t ~ U(0, 1)` (see the docstring)
        self.t = self.rng.random()
        #: hypernet: where `derived_architecture()` derives when not told (`nas.derive_architecture(lam=)` sets it)
        self.derive_t = 0.5
        self._reported_step: int | None = None
        self._arch_loss: torch.Tensor | float = 0.0  # the last architecture step's loss, kept on its device

    # -- forward ------------------------------------------------------------------------------------

    def _new_layer_impl(self, spec: LayerSpec) -> None:
        alpha = self._new_weights(len(spec.labels))
        beta = None
        if spec.input_high > 0 and spec.input_low < len(spec.input_labels):
            beta = self._new_weights(len(spec.input_labels))
        if self.weights:  # new weights follow the device and dtype of the existing ones
            existing = next(iter(self.weights.values())).alpha
            alpha.data = alpha.data.to(existing.device, existing.dtype)
            if beta is not None:
                beta.data = beta.data.to(existing.device, existing.dtype)
        self.weights[(spec.block_key, spec.layer_key)] = _ArchWeights(spec, alpha, beta)
        if self.optimizer is not None:
            self.optimizer.add_param_group({"params": [alpha] + ([beta] if beta is not None else [])})

    def _new_weights(self, n: int) -> torch.Tensor:
        """One layer's logits, or with a hypernet the parameters `theta` of its function alpha(t)."""
        if self.hypernet is not None:
            return init_theta(self.hypernet, n, self.generator).requires_grad_()
        return (1e-3 * torch.randn(n, generator=self.generator)).requires_grad_()

    def logits(self, weights: torch.Tensor, n: int, t: float | None = None) -> torch.Tensor:
        """`alpha` itself, or with a hypernet alpha(t) (`t`: this step's unless given)."""
        if self.hypernet is None:
            return weights
        return hypernet_alpha(self.hypernet, weights, n, self.t if t is None else t)

    def _alpha(self, state: _ArchWeights, t: float | None = None) -> torch.Tensor:
        return self.logits(state.alpha, len(state.spec.labels), t)

    def _beta(self, state: _ArchWeights, t: float | None = None) -> torch.Tensor:
        assert state.beta is not None
        return self.logits(state.beta, len(state.spec.input_labels), t)

    @property
    def lam(self) -> float | None:
        """hypernet: this step's complexity parameter, `low * (high/low)^t`; None without a hypernet."""
        return None if self.hypernet is None else self.hypernet.lam(self.t)

    def _forward_impl(self, layer: LayerCandidates, fixed: list[Any], optional: list[Any]) -> Any:
        spec = layer.spec
        state = self.weights[(spec.block_key, spec.layer_key)]
        like = first_tensor(fixed) if fixed else first_tensor(optional)
        if like is not None and (state.alpha.device != like.device
                                 or (like.dtype in _FULL_PRECISION and state.alpha.dtype != like.dtype)):
            # Half-precision activations (autocast) keep float32 weights: a 0-dim weight times a half
            # tensor stays half.
            self._move_to(like.device, like.dtype if like.dtype in _FULL_PRECISION else state.alpha.dtype)
        sample = self._gumbel and layer.training()
        batch = self._batch(like, sample)
        if spec.input_high == 0:
            chosen: list[Any] = []
        elif state.beta is None:
            chosen = optional
        else:
            gates = self._gates(self._beta(state), sample, batch)
            chosen = [_scaled(gate, x) for gate, x in zip(gates.unbind(-1), optional, strict=True)]
        mix = self._mix(self._alpha(state), sample, batch)
        return sum(_scaled(w, layer.call(i, fixed, chosen)) for i, w in enumerate(mix.unbind(-1)))

    def _batch(self, like: torch.Tensor | None, sample: bool) -> int | None:
        """The batch size when each example draws its own Gumbel sample (`per_example`), else None."""
        if sample and self.config.per_example and like is not None and like.dim() > 0:
            return int(like.shape[0])
        return None

    def value_weights(self, spec: LayerSpec, like: torch.Tensor | None, training: bool | None) -> torch.Tensor:
        """The mixing weights of a relaxed variable's options: `softmax(alpha)`, or a Gumbel-softmax
        sample in training with `sampler: gumbel` (`[batch, K]` with `per_example`)."""
        state = self.weights[(spec.block_key, spec.layer_key)]
        if isinstance(like, torch.Tensor) and (state.alpha.device != like.device
                                 or (like.dtype in _FULL_PRECISION and state.alpha.dtype != like.dtype)):
            self._move_to(like.device, like.dtype if like.dtype in _FULL_PRECISION else state.alpha.dtype)
        sample = self._gumbel and (torch.is_grad_enabled() if training is None else training)
        if like is not None and not isinstance(like, torch.Tensor):
            like = None
        return self._mix(self._alpha(state), sample, self._batch(like, sample))

    def temperature(self) -> float:
        """The Gumbel temperature now: by architecture step or by epoch (`DartsOptions.temperature_at`)."""
        return self.config.temperature_at(self.steps, self.epoch)

    def _uniform(self, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator).clamp_(1e-10, 1.0 - 1e-7).to(device)

    def _mix(self, alpha: torch.Tensor, sample: bool, batch: int | None = None) -> torch.Tensor:
        if not sample:
            return torch.softmax(alpha, dim=-1)
        shape = tuple(alpha.shape) if batch is None else (batch, *alpha.shape)
        gumbel = -torch.log(-torch.log(self._uniform(shape, alpha.device)))  # g = -log(-log U)
        soft = torch.softmax((alpha + gumbel) / self.temperature(), dim=-1)  # softmax((alpha + g) / tau)
        if not self.config.hard:
            return soft
        hard = torch.nn.functional.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
        return hard - soft.detach() + soft  # straight-through: one-hot forward, the soft sample's gradient

    def _gates(self, beta: torch.Tensor, sample: bool, batch: int | None = None) -> torch.Tensor:
        if not sample:
            return torch.sigmoid(beta)
        shape = tuple(beta.shape) if batch is None else (batch, *beta.shape)
        u = self._uniform(shape, beta.device)
        logistic = torch.log(u) - torch.log1p(-u)  # binary concrete: sigmoid((beta + L) / tau)
        soft = torch.sigmoid((beta + logistic) / self.temperature())
        if not self.config.hard:
            return soft
        return (soft > 0.5).to(soft.dtype) - soft.detach() + soft  # straight-through, as in _mix

    def _move_to(self, device: torch.device, dtype: torch.dtype) -> None:
        """Follow the model to its device and floating dtype (the weights are not module parameters)."""
        for state in self.weights.values():
            for tensor in (state.alpha, state.beta):
                if tensor is not None:
                    tensor.data = tensor.data.to(device=device, dtype=dtype)
        if self.optimizer is not None:
            for per_param in self.optimizer.state.values():
                for name, value in per_param.items():
                    if isinstance(value, torch.Tensor) and name != "step":
                        per_param[name] = value.to(device=device, dtype=dtype)

    # -- the architecture step ----------------------------------------------------------------------

    def arch_parameters(self) -> list[torch.Tensor]:
        """Every layer's `alpha` and `beta`, in the order the layers first ran."""
        params: list[torch.Tensor] = []
        for state in self.weights.values():
            params.append(state.alpha)
            if state.beta is not None:
                params.append(state.beta)
        return params

    def probabilities(self, t: float | None = None) -> dict[tuple[str, str], torch.Tensor]:
        """`softmax(alpha)` of every layer and relaxed variable, differentiable in `alpha` (hypernet:
        `softmax(alpha(t))`, differentiable in `theta`)."""
        return {key: torch.softmax(self._alpha(state, t), dim=-1) for key, state in self.weights.items()}

    def expected_cost(self, model: CostModel | None = None, t: float | None = None) -> torch.Tensor:
        """`E[cost]` under the current distributions (the configured cost model unless `model`)."""
        model = model or self.cost_model
        return model.expected(self.costs, self.specs, self.probabilities(t))

    def expected_parameters(self) -> torch.Tensor:
        """`sum_layers sum_i softmax(alpha)_i * params(op_i)` (nas.nn modules: their exact expectation)."""
        return self.expected_cost(CostModel("params")).to(self._dtype())

    def _dtype(self) -> torch.dtype:
        return next(iter(self.weights.values())).alpha.dtype if self.weights else torch.float32

    def _penalty(self) -> torch.Tensor | None:
        if self.hypernet is not None:  # lambda * E[cost] (log: lambda * log E[cost]) at this step's lambda
            return (self.hypernet.lam(self.t) * self.cost_model.penalty(self.expected_cost())).to(self._dtype())
        if self.config.complexity_weight == 0.0:
            return None
        return self.cost_model.penalty(self.expected_cost()).to(self._dtype())

    def _training_update_impl(
        self,
        loss: LossArg | None = None,
        train_loss: Callable[[], torch.Tensor] | None = None,
        model: torch.nn.Module | None = None,
        lr: float | None = None,
        epoch: int | None = None,
    ) -> None:
        if loss is None:
            raise TrialError("darts mode: training_update() needs loss=<validation loss> (a tensor or a closure)")
        if epoch is not None:
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise TrialError(f"darts mode: training_update(epoch=...) takes the epoch number (an int >= 0), "
                                 f"got {epoch!r}")
            self.epoch = epoch
        params = self.arch_parameters()
        if not params:
            raise TrialError("darts mode: training_update() was called before any mutable layer ran; "
                             "run one forward pass first")
        self.updates += 1
        if self.updates <= self.config.warmup:
            self._next_lambda()
            return  # warm-up: the model's weights train first, the architecture weights stay
        if self.config.order == 2:
            value, grads = self._second_order(loss, train_loss, model, lr, params)
        else:
            value = loss() if callable(loss) else loss
            retain = not callable(loss)
            grads = list(torch.autograd.grad(value, params, allow_unused=True, retain_graph=retain))
        penalty = self._penalty()
        if penalty is not None:
            extra = torch.autograd.grad(penalty, params, allow_unused=True)
            grads = [_add(g, e) for g, e in zip(grads, extra, strict=True)]
        if self.optimizer is None:
            c = self.config
            if c.optimizer == "sgd":
                self.optimizer = torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
            else:
                self.optimizer = torch.optim.Adam(params, lr=c.lr, betas=c.betas, weight_decay=c.weight_decay)
        for p, g in zip(params, grads, strict=True):
            p.grad = torch.zeros_like(p) if g is None else g.detach()
        self.optimizer.step()
        self.steps += 1
        every = self.config.report_every
        self._arch_loss = value.detach() + (penalty.detach() if penalty is not None else 0.0)
        if self.reporter is not None and every and self.steps % every == 0:
            report = {"default": float(self._arch_loss), "arch_weights": self.arch_weight_values(), "step": self.steps}
            if self.hypernet is not None:
                report["hypernet"] = self.hypernet_state()
            self._reported_step = self.steps
            self.reporter(report)
        self._next_lambda()

    def _next_lambda(self) -> None:
        if self.hypernet is not None:
            self.t = self.rng.random()  # t ~ U(0, 1): lambda log-uniform in [low, high]

    def unrolled_gradient(
        self,
        loss: Callable[[], torch.Tensor],
        train_loss: Callable[[], torch.Tensor],
        model: torch.nn.Module,
        lr: float,
    ) -> list[torch.Tensor]:
        """The second-order architecture gradient of Liu et al. 2019 (eq. 7-8), without taking a step."""
        alphas = self.arch_parameters()
        grads = self._second_order(loss, train_loss, model, lr, alphas)[1]
        return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, alphas, strict=True)]

    def _second_order(
        self,
        loss: LossArg,
        train_loss: Callable[[], torch.Tensor] | None,
        model: torch.nn.Module | None,
        lr: float | None,
        alphas: list[torch.Tensor],
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        if not callable(loss) or not callable(train_loss) or model is None or lr is None:
            raise TrialError(
                "darts mode with order 2: call training_update(loss=<closure of the validation loss>, "
                "train_loss=<closure of the training loss>, model=<the model>, lr=<the weights' learning rate>)"
            )
        weights = [w for w in model.parameters() if w.requires_grad]
        xi = float(lr)
        backup = [w.detach().clone() for w in weights]
        dw_train = torch.autograd.grad(train_loss(), weights, allow_unused=True)
        with torch.no_grad():
            for w, g in zip(weights, dw_train, strict=True):
                if g is not None:
                    w.sub_(xi * g)  # w' = w - xi * dL_train(w, alpha)/dw
        val = loss()  # L_val(w', alpha)
        grads = torch.autograd.grad(val, alphas + weights, allow_unused=True)
        d_alpha, d_wprime = grads[: len(alphas)], grads[len(alphas):]
        d_wprime = [torch.zeros_like(w) if g is None else g for g, w in zip(d_wprime, weights, strict=True)]
        norm = torch.sqrt(sum((g * g).sum() for g in d_wprime))
        eps = 0.01 / float(norm) if float(norm) > 0 else 0.0
        hessian: list[torch.Tensor | None] = [None] * len(alphas)
        if eps > 0.0:
            plus = self._alpha_grad_at(train_loss, weights, backup, d_wprime, eps, alphas)  # w+ = w + eps*dw'
            minus = self._alpha_grad_at(train_loss, weights, backup, d_wprime, -eps, alphas)  # w- = w - eps*dw'
            hessian = [None if p is None else (p - m) / (2.0 * eps) for p, m in zip(plus, minus, strict=True)]
        with torch.no_grad():
            for w, b in zip(weights, backup, strict=True):
                w.copy_(b)
        # dL_val(w', alpha)/dalpha - xi * (dL_train(w+)/dalpha - dL_train(w-)/dalpha) / (2 eps)
        result = [_add(d, None if h is None else -xi * h) for d, h in zip(d_alpha, hessian, strict=True)]
        return val, result

    @staticmethod
    def _alpha_grad_at(
        train_loss: Callable[[], torch.Tensor],
        weights: list[torch.Tensor],
        backup: list[torch.Tensor],
        direction: list[torch.Tensor],
        eps: float,
        alphas: list[torch.Tensor],
    ) -> tuple[torch.Tensor | None, ...]:
        with torch.no_grad():
            for w, b, d in zip(weights, backup, direction, strict=True):
                w.copy_(b + eps * d)
        return torch.autograd.grad(train_loss(), alphas, allow_unused=True)

    # -- what the trial reports ---------------------------------------------------------------------

    def arch_weight_values(self, t: float | None = None) -> dict[str, Any]:
        """`{block: {layer: {"layer": {label: softmax(alpha)}, "inputs": {label: sigmoid(beta)}}}}`, and
        `{key: {"choice": {label: softmax(alpha)}}}` for relaxed variables (hypernet: at `t`, by default
        where `derived_architecture()` derives)."""
        t = self.derive_t if t is None else t
        values: dict[str, Any] = {}
        for state in self.weights.values():
            spec = state.spec
            probs = torch.softmax(self._alpha(state, t).detach(), dim=-1).tolist()
            if spec.variable:  # a relaxed variable: {key: {"choice": {label: p}}}
                values[spec.block_key] = {"choice": {str(label): p for label, p in zip(spec.labels, probs,
                                                                                        strict=True)}}
                continue
            gates = torch.sigmoid(self._beta(state, t).detach()).tolist() if state.beta is not None else []
            values.setdefault(spec.block_key, {})[spec.layer_key] = {
                "layer": dict(zip(spec.labels, probs, strict=True)),
                "inputs": dict(zip(spec.input_labels, gates, strict=False)),
            }
        return values

    def derived_architecture(self, lam: float | None = None) -> Architecture | None:
        """Argmax of `alpha` per layer, and the inputs with gate above 0.5 clamped to the size range
        (None before a layer ran).

        With a hypernet, at the normalised complexity parameter `lam` in [0, 1] (0: the low end of
        `complexity.lambda`), which later calls without `lam` keep (0.5 until set). The final
        architecture weights (and alpha(lambda)) are reported first when the last periodic report was at
        an earlier step, so the pipeline's samples and `export --lambdas/--frontier` use the trial's end.
        """
        if lam is not None:
            if self.hypernet is None:
                raise TrialError("derive_architecture(lam=...) derives at a complexity budget, which needs darts "
                                 "with darts.complexity.hypernet (alpha as a function of lambda)")
            self.derive_t = check_t(lam)
        if not self.specs:
            return None
        if self.reporter is not None and self.config.report_every and self.steps \
                and self._reported_step != self.steps:  # the final weights, whatever step the last report was at
            self._reported_step = self.steps
            report = {"default": float(self._arch_loss), "arch_weights": self.arch_weight_values(), "step": self.steps}
            if self.hypernet is not None:
                report["hypernet"] = self.hypernet_state()
            self.reporter(report)
        arch: Architecture = {}
        for state in self.weights.values():
            spec = state.spec
            best = int(torch.argmax(self._alpha(state, self.derive_t).detach()))
            if state.beta is None:
                inputs = list(range(len(spec.input_labels))) if spec.input_high else []
            else:
                inputs = top_inputs(spec, torch.sigmoid(self._beta(state, self.derive_t).detach()).tolist(), 0.5)
            spec.put(arch, best, inputs)
        return arch

    def hypernet_state(self) -> dict[str, Any]:
        """alpha(lambda) as plain JSON (`nasctl.runtime.modes._hypernet`): each layer's spec and `theta`,
        and the cost tables of `params` and of the configured metric, axes by layer index."""
        assert self.hypernet is not None
        h = self.hypernet
        keys = list(self.weights)
        index = {key: i for i, key in enumerate(keys)}
        layers = []
        for key in keys:
            state = self.weights[key]
            spec = state.spec
            layers.append({
                "spec": {"block_key": spec.block_key, "layer_key": spec.layer_key, "labels": list(spec.labels),
                         "input_labels": list(spec.input_labels), "input_low": spec.input_low,
                         "input_high": spec.input_high, "variable": spec.variable},
                "alpha": state.alpha.detach().double().cpu().tolist(),
                "beta": None if state.beta is None else state.beta.detach().double().cpu().tolist(),
            })
        costs = {"params": self._cost_terms("params", index)}
        metric = self.cost_model.metric
        if metric != "params":
            costs[metric] = self._cost_terms(metric, index)
        return {"lambda": [h.low, h.high], "kind": h.kind, "size": h.size, "metric": metric,
                "form": self.cost_model.form, "layers": layers, "costs": costs}

    def _cost_terms(self, metric: str, index: Mapping[tuple[str, str], int]) -> list[dict[str, Any]]:
        if metric in ("table", "callable"):  # one cost per option of each listed choice
            terms = []
            for key, spec in self.specs.items():
                costs = self.cost_model._label_costs(spec)
                if costs is not None and key in index:
                    terms.append({"axes": [index[key]], "table": costs})
            return terms
        return [{"axes": [index[axis] for axis in term.axes],
                 "table": term.table(metric).detach().double().cpu().tolist()}
                for term in self.costs.values() if all(axis in index for axis in term.axes)]

    def sample_architectures(self, count: int, *, seed: int | None = None) -> list[Architecture]:
        """`count` architectures drawn from the learned distribution (see `sample_architectures` in
        `nasctl.runtime.modes.torch`): a candidate ~ softmax(alpha), each input kept ~ sigmoid(beta)."""
        from nasctl.runtime.modes._derive import sample_architectures

        space: dict[str, Any] = {}
        for spec in self.specs.values():
            if spec.variable:
                space[spec.block_key] = {"_type": "choice", "_value": list(spec.labels)}
                continue
            space.setdefault(spec.block_key, {"_type": "mutable_layer", "_value": {}})["_value"][spec.layer_key] = {
                "layer_choice": list(spec.labels), "optional_inputs": list(spec.input_labels),
                "optional_input_size": [spec.input_low, spec.input_high],
            }
        return sample_architectures(self.arch_weight_values(), space, count,
                                    self.rng.randrange(2**63) if seed is None else seed)


def _scaled(weight: torch.Tensor, value: Any) -> Any:
    """`weight * value`; a per-example weight (`[batch]`) scales each example of `value`."""
    if weight.dim() == 0 or not isinstance(value, torch.Tensor):
        return weight * value
    return weight.reshape(-1, *([1] * (value.dim() - 1))) * value


def _add(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b

