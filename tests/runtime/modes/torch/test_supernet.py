"""Sub-one-shot search on a torch supernet: any-path sampling, the checkpoint, proxy-scored evolution."""

from __future__ import annotations

import json
import math

import pytest
import torch
from nasctl.runtime.errors import TrialError
from nasctl.runtime.modes._spec import LayerSpec
from nasctl.runtime.modes.torch import OneShotBackend
from nasctl.runtime.modes.torch._supernet import (
    active_parameter_count,
    evolve,
    export_architectures,
    finetune_scorer,
    load_supernet,
    save_supernet,
)
from torch import nn


def per_example(output, target):
    return ((output - target) ** 2).flatten(1).mean(1)


def supernet(kit, seed=0, steps=30, options=None):
    task = kit.Task(seed)
    torch.manual_seed(seed)
    backend = OneShotBackend(options or {"strategy": "any_path", "p": 0.5}, seed=seed)
    model = kit.Net(backend)
    model(*task.batch()[:3])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(steps):
        optimizer.zero_grad()
        task.loss(model, task.batch()).backward()
        optimizer.step()
    batches = [(b[:3], b[3]) for b in (task.batch() for _ in range(4))]
    return backend, model, task, batches


def snapshot(model):
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_any_path_keeps_each_candidate_and_input_with_probability_p():
    backend = OneShotBackend({"strategy": "any_path", "p": 0.3}, seed=7)
    spec = LayerSpec.of_call("m/b", "h", tuple("abcde"), ("s1", "s2", "s3", "s4"), [0, 4])
    draws = 4000
    candidates, inputs = [0] * 5, [0] * 4
    for _ in range(draws):
        kept, chosen = backend.any_path_choice(spec)
        for i in kept:
            candidates[i] += 1
        for i in chosen:
            inputs[i] += 1
    # Kept with probability p, plus (when none is) the uniform fallback: p + (1 - p)^5 / 5.
    p_candidate = 0.3 + 0.7**5 / 5
    for count, p in [(c, p_candidate) for c in candidates] + [(c, 0.3) for c in inputs]:
        assert abs(count / draws - p) < 4 * math.sqrt(p * (1 - p) / draws)


def test_any_path_fits_the_input_count_to_the_size_range():
    backend = OneShotBackend({"strategy": "any_path", "p": 0.9}, seed=1)
    spec = LayerSpec.of_call("m/b", "h", ("a",), ("s1", "s2", "s3", "s4"), [1, 2])
    counts = {len(backend.any_path_choice(spec)[1]) for _ in range(300)}
    assert counts <= {1, 2} and 2 in counts


@pytest.mark.parametrize("strategy", ["any_path", "full_path"])
def test_any_path_and_full_path_train_a_supernet(kit, strategy):
    backend, model, task, _ = supernet(kit, options={"strategy": strategy, "p": 0.5}, steps=60)
    untrained = supernet(kit, options={"strategy": strategy, "p": 0.5}, steps=0)[1]
    with torch.no_grad():
        model.eval()
        untrained.eval()
        assert float(task.loss(model, task.val)) < float(task.loss(untrained, task.val))


def test_the_checkpoint_reloads_into_a_fresh_supernet(kit, tmp_path):
    backend, model, task, _ = supernet(kit)
    path = save_supernet(model, tmp_path / "run" / "supernet.pt", extra={"warmup_level": 0.1})
    fresh_backend = OneShotBackend({"strategy": "any_path"}, seed=5)
    fresh = kit.Net(fresh_backend)
    fresh(*task.batch()[:3])
    assert not same(snapshot(fresh), snapshot(model))
    meta = load_supernet(fresh, path)
    assert meta["extra"] == {"warmup_level": 0.1}
    assert same(snapshot(fresh), snapshot(model))
    backend.fix(kit.TARGET)
    fresh_backend.fix(kit.TARGET)
    x, s1, s2, _ = task.val
    assert torch.equal(model(x, s1, s2), fresh(x, s1, s2))


def test_a_checkpoint_that_does_not_fit_is_a_clear_error(kit, tmp_path):
    _, model, _, _ = supernet(kit, steps=0)
    path = save_supernet(model, tmp_path / "supernet.pt")
    unbuilt = kit.Net(OneShotBackend({}))  # no forward pass yet: its candidates do not exist
    with pytest.raises(TrialError, match=r"does not fit the model: 3 key\(s\) the model lacks"):
        load_supernet(unbuilt, path)
    (tmp_path / "other.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrialError, match="other.pt: cannot be read"):
        load_supernet(model, tmp_path / "other.pt")


def test_the_parameter_count_of_a_subnet_is_what_its_forward_uses(kit):
    backend, model, task, batches = supernet(kit, steps=0)
    backend.fix(kit.TARGET)  # Conv(3): 2 x 2 x 3 weights, plus the model's scale
    assert active_parameter_count(model, batches[0][0]) == 13
    backend.fix({kit.BLOCK: {"h": {"chosen_layer": "Conv(1)", "chosen_inputs": []}}})
    assert active_parameter_count(model, batches[0][0]) == 5


def test_evolution_respects_a_parameter_budget(kit):
    backend, model, _, batches = supernet(kit)
    top = evolve(model, batches, per_example, backend=backend,
                 options={"population": 3, "sample_size": 2, "children": 2, "generations": 3,
                          "max_params": 5, "top_k": 50, "proxy_batches": 3})
    assert top and all(c["params"] <= 5 for c in top)
    assert {c["architecture"][kit.BLOCK]["h"]["chosen_layer"] for c in top} == {"Conv(1)"}
    assert backend.fixed is None and backend.derived_architecture() == top[0]["architecture"]


def test_fine_tuning_a_candidate_restores_the_shared_weights_exactly(kit):
    backend, model, task, batches = supernet(kit)
    model.train()
    before = snapshot(model)
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    backend.fix(kit.TARGET)
    untuned = finetune_scorer(model, batches, batches[:1], per_example, steps=0, lr=0.1)()
    tuned = finetune_scorer(model, batches, batches[:1], per_example, steps=5, lr=0.1)()
    assert tuned != untuned  # the fine-tune trained the subnet ...
    assert same(snapshot(model), before) and model.training  # ... and the supernet is as it was
    assert all((g is None and p.grad is None) or torch.equal(g, p.grad)
               for g, p in zip(grads, model.parameters(), strict=True))
    backend.fix(None)
    top = evolve(model, batches, per_example, val_batches=batches[:1], backend=backend,
                 options={"population": 3, "sample_size": 2, "children": 2, "generations": 2,
                          "score": "finetune", "finetune_steps": 3})
    assert same(snapshot(model), before) and len(top) == 3


def test_evolution_with_both_scores_and_the_export(kit, tmp_path):
    backend, model, _, batches = supernet(kit)
    top = evolve(model, batches, per_example, backend=backend,
                 options={"population": 4, "sample_size": 2, "children": 2, "generations": 2, "score": "both",
                          "finetune_steps": 2, "weights": {"loss": 1.0}, "top_k": 2})
    assert len(top) == 2 and top[0]["score"] >= top[1]["score"]

    class Context:
        output_dir = str(tmp_path)

        def current_parameters(self):
            return {"lr": 0.1, kit.BLOCK: {"h": {"chosen_layer": "Conv(3)", "chosen_inputs": []}}}

    paths = export_architectures(top, context=Context())
    assert [p.name for p in paths] == ["arch-0.json", "arch-1.json"]
    first = json.loads(paths[0].read_text())
    assert first == {"lr": 0.1, **top[0]["architecture"]}


def test_evolution_needs_a_built_supernet(kit):
    with pytest.raises(TrialError, match="no mutable layer has run yet"):
        evolve(nn.Linear(2, 2), [], per_example, backend=OneShotBackend({}))


def test_a_budget_no_subnet_fits_is_a_clear_error(kit):
    backend, model, _, batches = supernet(kit, steps=0)
    with pytest.raises(TrialError, match=r"no subnet fits the parameter budget \(1\)"):
        evolve(model, batches, per_example, backend=backend,
               options={"population": 2, "generations": 1, "max_params": 1, "proxy_batches": 2})
