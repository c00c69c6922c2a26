"""Classic mode with PyTorch: candidate modules on the owner, the registry, the optimizer check."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
from nasctl.runtime.errors import TrialError  # noqa: E402
from torch import nn  # noqa: E402

import nas  # noqa: E402

BLOCK = "m/Net.forward/h1"


class Lin(nn.Module):
    def __init__(self, size, bias=True):
        super().__init__()
        self.linear = nn.Linear(size, size, bias=bias)
        self.norm = nn.BatchNorm1d(size)

    def forward(self, inputs):
        fixed, chosen = inputs
        return self.norm(self.linear(sum(fixed) + sum(chosen)))


def scaled(inputs, factor):
    fixed, chosen = inputs
    return factor * (sum(fixed) + sum(chosen))


CANDIDATES = lambda size: {  # noqa: E731
    "Lin(size)": (Lin, (size,), {}), "Lin(size, bias=False)": (Lin, (size,), {"bias": False}),
    "scaled(2.0)": (scaled, (2.0,), {})}


class Net(nn.Module):
    def __init__(self, size=4):
        super().__init__()
        self.size = size
        self.stem = nn.Linear(size, size)

    def forward(self, x):
        stem = self.stem(x)
        h1 = nas.mutable_layer(BLOCK, "h1", CANDIDATES(self.size), [stem], {"x": x}, [0, 1], "classic", self)
        return nas.mutable_layer(BLOCK, "h2", {"Lin(size)": (Lin, (self.size,), {})}, [h1], {}, 0, "classic", self)


def arch(label, inputs=()):
    return {BLOCK: {"h1": {"chosen_layer": label, "chosen_inputs": list(inputs)},
                    "h2": {"chosen_layer": "Lin(size)", "chosen_inputs": []}}}


def test_candidates_are_registered_on_the_owner(standalone):
    standalone(arch("Lin(size, bias=False)", ["x"]))
    net = Net()
    x = torch.randn(3, 4)
    net(x)
    assert isinstance(net.nas_candidates, nn.ModuleDict)
    assert sorted(net.nas_candidates) == ["m_Net_forward_h1__h1__1", "m_Net_forward_h1__h2__0"]
    keys = set(net.state_dict())
    assert "nas_candidates.m_Net_forward_h1__h1__1.linear.weight" in keys
    assert "nas_candidates.m_Net_forward_h1__h1__1.linear.bias" not in keys  # bias=False was passed
    assert "nas_candidates.m_Net_forward_h1__h2__0.norm.running_mean" in keys
    assert len(list(net.parameters())) == 2 + 3 + 4
    # built once, reused: the same module object on every call, gradients reach it
    module = net.nas_candidates["m_Net_forward_h1__h1__1"]
    net(x).sum().backward()
    assert net.nas_candidates["m_Net_forward_h1__h1__1"] is module
    assert module.linear.weight.grad is not None


def test_the_chosen_inputs_are_used(standalone):
    standalone(arch("scaled(2.0)", ["x"]))
    net = Net()
    x = torch.randn(3, 4)
    expected_h1 = 2.0 * (net.stem(x) + x)
    out = net(x)
    h2 = net.nas_candidates["m_Net_forward_h1__h2__0"]
    assert torch.allclose(out, h2([[expected_h1], []]))


def test_train_eval_dtype_and_copies_follow_the_owner(standalone):
    standalone(arch("Lin(size)"))
    net = Net().double().eval()
    net(torch.randn(3, 4, dtype=torch.float64))
    module = net.nas_candidates["m_Net_forward_h1__h1__0"]
    assert not module.training and module.linear.weight.dtype == torch.float64
    net.train()
    assert module.training
    twin = copy.deepcopy(net)
    twin(torch.randn(3, 4, dtype=torch.float64))
    assert twin.nas_candidates["m_Net_forward_h1__h1__0"] is not module  # the copy runs its own modules
    assert set(twin.state_dict()) == set(net.state_dict())


def test_a_state_dict_loads_into_a_materialized_model(standalone):
    standalone(arch("Lin(size)", ["x"]))
    net = Net()
    x = torch.randn(3, 4)
    net(x)
    net.eval()
    fresh = Net().eval()
    nas.materialize(fresh, x)
    fresh.load_state_dict(net.state_dict())
    assert torch.allclose(fresh(x), net(x))


def test_materialize_keeps_training_flags_and_statistics(standalone):
    standalone(arch("Lin(size)"))
    net = Net()
    nas.materialize(net, torch.randn(3, 4))
    module = net.nas_candidates["m_Net_forward_h1__h1__0"]
    assert net.training and module.training
    assert torch.equal(module.norm.running_mean, torch.zeros(4))  # ran in eval mode
    with pytest.raises(TrialError, match="materialize\\(\\) needs a torch.nn.Module"):
        nas.materialize(lambda x: x, 1)


def test_an_optimizer_built_before_the_first_forward_is_caught(standalone):
    standalone(arch("Lin(size)"))
    net = Net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    net(torch.randn(3, 4)).sum().backward()
    with pytest.raises(TrialError, match=r"the optimizer was built before the first forward pass: it has parameters "
                                         r"of Net but not those of candidate 'Lin\(size\)' of layer "
                                         r"m/Net.forward/h1/h1.*nas.materialize"):
        optimizer.step()
    good = torch.optim.SGD(net.parameters(), lr=0.1)
    good.step()  # built after: fine
    other = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    other.step()  # an optimizer of another model is not our business


def test_without_an_owner_modules_go_to_a_module_dict(standalone):
    standalone(arch("Lin(size)"))
    x = torch.randn(3, 4)
    nas.mutable_layer(BLOCK, "h1", CANDIDATES(4), [x], {"x": x}, [0, 1], "classic", None)
    registry = nas.candidates()
    assert isinstance(registry, nn.ModuleDict) and list(registry) == ["m_Net_forward_h1__h1__0"]
    assert len(list(registry.parameters())) == 4


def test_a_taken_nas_candidates_attribute_is_refused(standalone):
    standalone(arch("Lin(size)"))
    net = Net()
    net.nas_candidates = nn.Linear(1, 1)
    with pytest.raises(TrialError, match="Net.nas_candidates is a Linear, not the nn.ModuleDict"):
        net(torch.randn(3, 4))


def test_a_plain_class_candidate_in_a_torch_model(standalone):
    class Scale:
        def __init__(self, factor):
            self.factor = factor

        def __call__(self, inputs):
            return self.factor * inputs[0][0]

    class Model(nn.Module):
        def forward(self, x):
            return nas.mutable_layer("m/M.forward/h", "h", {"Scale(3)": (Scale, (3,), {})}, [x], {}, 0, "classic", self)

    standalone({"m/M.forward/h": {"h": {"chosen_layer": "Scale(3)", "chosen_inputs": []}}})
    model = Model()
    assert torch.equal(model(torch.ones(2)), torch.full((2,), 3.0))
    assert torch.equal(model(torch.ones(2)), torch.full((2,), 3.0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_candidate_is_created_on_the_device_of_its_inputs(standalone):
    standalone(arch("Lin(size)"))
    net = Net().cuda()
    out = net(torch.randn(3, 4, device="cuda"))
    assert out.is_cuda
    assert all(p.is_cuda for p in net.parameters())
