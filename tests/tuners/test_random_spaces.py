"""Property test: on randomly generated search spaces, every built-in's proposals are valid,
distinct, and decode back to themselves."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasctl import tuners

labels = st.lists(st.from_regex(r"[a-z]{1,6}\(\)", fullmatch=True), min_size=1, max_size=4, unique=True)


@st.composite
def layers(draw):
    inputs = draw(st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), max_size=5, unique=True))
    low = draw(st.integers(0, len(inputs)))
    high = draw(st.integers(low, len(inputs)))
    size = low if low == high and draw(st.booleans()) else [low, high]
    return {"layer_choice": draw(labels), "optional_inputs": inputs, "optional_input_size": size}


@st.composite
def entries(draw):
    kind = draw(st.sampled_from(["mutable_layer", "choice", "randint", "uniform", "quniform", "loguniform",
                                 "qloguniform", "normal", "qnormal", "lognormal", "qlognormal"]))
    if kind == "mutable_layer":
        names = draw(st.lists(st.from_regex(r"h[0-9]", fullmatch=True), min_size=1, max_size=3, unique=True))
        return {"_type": kind, "_value": {name: draw(layers()) for name in names}}
    if kind == "choice":
        options = draw(st.lists(st.one_of(st.integers(-5, 5), st.text("abc", max_size=3), st.booleans()),
                                min_size=1, max_size=5, unique_by=lambda v: (type(v) is bool, v)))
        return {"_type": kind, "_value": options}
    if kind == "randint":
        low = draw(st.integers(-10, 10))
        return {"_type": kind, "_value": [low, low + draw(st.integers(1, 20))]}
    low = draw(st.floats(0.01, 10, allow_nan=False))
    high = low + draw(st.floats(0.5, 50, allow_nan=False))
    q = draw(st.sampled_from([0.1, 0.5, 1.0, 2.0]))
    if kind in ("uniform", "loguniform"):
        return {"_type": kind, "_value": [low, high]}
    if kind in ("quniform", "qloguniform"):
        return {"_type": kind, "_value": [low, high, q]}
    sigma = draw(st.floats(0.1, 3, allow_nan=False))
    return {"_type": kind, "_value": [draw(st.floats(-2, 2, allow_nan=False)), sigma] + ([q] if kind[0] == "q" else [])}


spaces = st.dictionaries(st.from_regex(r"m/[a-z]{1,4}/[a-z]{1,4}", fullmatch=True), entries(), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces, name=st.sampled_from(["Random", "Evolution", "Reinforce", "PPO", "TPE"]), seed=st.integers(0, 99))
def test_valid_distinct_proposals_on_any_space(kit, space, name, seed):
    tuner = tuners.create(name, seed=seed, **({"population_size": 3, "sample_size": 2} if name == "Evolution" else {}))
    tuner.update_search_space(space)
    parsed = tuners.SearchSpace(space)
    n = 12 if parsed.size is None else min(12, parsed.size)
    proposals = kit.drive(tuner, n)
    for arch in proposals:
        kit.check_proposal(space, arch)
        assert parsed.to_architecture(parsed.from_architecture(arch)) == arch
    assert len({json.dumps(p, sort_keys=True) for p in proposals}) == n


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(space=spaces)
def test_grid_enumerates_any_discrete_space(kit, space):
    parsed = tuners.SearchSpace(space)
    if parsed.size is None or parsed.size > 300:
        return
    tuner = tuners.create("GridSearch")
    tuner.update_search_space(space)
    proposals = kit.drive(tuner, parsed.size)
    assert len({json.dumps(p, sort_keys=True) for p in proposals}) == parsed.size
    for arch in proposals:
        kit.check_proposal(space, arch)
