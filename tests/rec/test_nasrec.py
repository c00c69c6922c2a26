"""NASRec's block-wise search space over a one-shot backend (`nasctl.rec.NASRecNet`)."""

from __future__ import annotations

import math

import torch
from nasctl.runtime.modes.torch import OneShotBackend

from nasctl import rec

CARDINALITIES = (5, 7, 3)


def build(options=None):
    torch.manual_seed(0)
    backend = OneShotBackend(options or {}, seed=0)
    model = rec.NASRecNet(backend.layer, 4, CARDINALITIES, blocks=3, dense_dim=6, embed_dim=3)
    dense, sparse = torch.randn(5, 4), torch.randint(0, 20, (5, 3))
    return backend, model, dense, sparse


def test_the_space_has_blocks_of_a_sparse_and_a_dense_choice_with_dense_connections():
    backend, model, dense, sparse = build()
    assert model(dense, sparse).shape == (5,)
    layers = {key[1]: spec for key, spec in backend.specs.items()}
    assert sorted(layers) == ["dense1", "dense2", "dense3", "sparse1", "sparse2", "sparse3"]
    assert layers["dense3"].input_labels == ("dense0", "dense1", "dense2")
    assert math.prod(len(spec.subgraphs) for spec in layers.values()) == (2 * 2 * 2) * (3 * 1) * (3 * 3) * (3 * 7)


def test_a_fixed_subnet_runs_only_its_operators():
    backend, model, dense, sparse = build()
    model(dense, sparse)
    arch = {"nasrec": {"sparse1": {"chosen_layer": "identity", "chosen_inputs": []},
                       "dense1": {"chosen_layer": "dot", "chosen_inputs": ["dense0"]},
                       "sparse2": {"chosen_layer": "efc", "chosen_inputs": []},
                       "dense2": {"chosen_layer": "fc", "chosen_inputs": ["dense0", "dense1"]},
                       "sparse3": {"chosen_layer": "identity", "chosen_inputs": []},
                       "dense3": {"chosen_layer": "gating", "chosen_inputs": ["dense2"]}}}
    backend.fix(arch)
    ran = []
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: ran.append(name))
             for name, m in model.nas_candidates.items()]
    model(dense, sparse)
    for hook in hooks:
        hook.remove()
    assert ran == ["nasrec__sparse1__1", "nasrec__dense1__1", "nasrec__sparse2__0", "nasrec__dense2__0",
                   "nasrec__sparse3__1", "nasrec__dense3__2"]


def test_the_dot_operator_is_dlrms_pairwise_interaction():
    op = rec.DenseDot(dim=2, num_sparse=2, embed_dim=2)
    with torch.no_grad():
        op.project.weight.copy_(torch.eye(2))
        op.linear.weight.copy_(torch.eye(2, 3))
        op.linear.bias.zero_()
    x = torch.tensor([[1.0, 2.0]])
    sparse = torch.tensor([[[3.0, 0.0], [0.0, 1.0]]])
    # pairs (1,0), (2,0), (2,1): <s1, x> = 3, <s2, x> = 2, <s2, s1> = 0; the first two pass the identity
    assert torch.equal(op([[sparse], [x]]), torch.tensor([[3.0, 2.0]]))
