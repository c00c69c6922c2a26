"""The optimizer-before-forward mistake is an error in the one-shot modes, as it is in classic mode."""

from __future__ import annotations

import pytest
import torch
from nasctl.runtime.errors import TrialError
from nasctl.runtime.trial._context import TrialContext, mutable_layer, use_context
from nasctl.runtime.trial._platform import StandalonePlatform
from torch import nn

BLOCK = "m/Net.forward/h"
ARCH = {BLOCK: {"h": {"chosen_layer": "Lin(4)", "chosen_inputs": []}}}


class Lin(nn.Module):
    def __init__(self, size):
        super().__init__()
        self.linear = nn.Linear(size, size)

    def forward(self, inputs):
        fixed, chosen = inputs
        return self.linear(sum(fixed) + sum(chosen))


def net_class(mode: str) -> type[nn.Module]:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Linear(4, 4)

        def forward(self, x):
            candidates = {"Lin(4)": (Lin, (4,), {}), "Lin(4) again": (Lin, (4,), {})}
            return mutable_layer(BLOCK, "h", candidates, [self.stem(x)], {}, 0, mode, self)

    return Net


@pytest.mark.parametrize("mode", ["darts", "enas", "oneshot"])
def test_an_optimizer_built_before_the_first_forward_is_an_error(mode: str) -> None:
    context = TrialContext(StandalonePlatform(architecture=ARCH if mode == "enas" else {}))
    try:
        with use_context(context):
            net = net_class(mode)()
            early = torch.optim.SGD(net.parameters(), lr=0.1)
            net(torch.randn(3, 4)).sum().backward()
            with pytest.raises(TrialError, match=r"the optimizer was built before the first forward pass: it has "
                                                 rf"parameters of Net but not those of candidate 'Lin\(4\)' of layer "
                                                 rf"{BLOCK}/h.*nas.materialize"):
                early.step()
            torch.optim.SGD(net.parameters(), lr=0.1).step()  # built after the forward: fine
            torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1).step()  # another model's optimizer
    finally:
        context.close()
    early.step()  # the check ends with the trial
