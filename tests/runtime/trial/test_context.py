"""The trial context: lazy creation from the environment, replacement, standalone parameters and results."""

from __future__ import annotations

import json

import pytest
from nasctl.runtime.errors import ArchitectureError, TrialError
from nasctl.runtime.trial import StandalonePlatform, TrialContext, current_context, set_context, use_context

import nas


def test_the_context_is_created_lazily_from_the_environment(monkeypatch, tmp_path):
    architecture = tmp_path / "arch.json"
    architecture.write_text(json.dumps({"m/lr/choice": 0.01}))
    monkeypatch.delenv("NAS_PLATFORM", raising=False)
    monkeypatch.setenv("NAS_ARCHITECTURE", str(architecture))
    monkeypatch.setenv("NAS_TRIAL_SEED", "5")
    previous = set_context(None)
    try:
        context = current_context()
        assert current_context() is context
        assert isinstance(context.platform, StandalonePlatform)
        assert nas.get_trial_seed() == 5 and nas.get_trial_id() == "STANDALONE"
        assert nas.get_experiment_id() == "STANDALONE" and nas.get_sequence_id() == 0
        assert nas.choice(0.1, 0.01, key="m/lr/choice") == 0.01
    finally:
        set_context(previous).close()


def test_use_context_replaces_and_restores():
    outer = TrialContext(StandalonePlatform(seed=1))
    inner = TrialContext(StandalonePlatform(seed=2))
    with use_context(outer):
        with use_context(inner):
            assert nas.get_trial_seed() == 2
        assert nas.get_trial_seed() == 1


def test_standalone_prints_results_with_the_final_line_last(standalone, capsys):
    standalone({"m/lr/choice": 0.1})
    nas.report_intermediate_result(0.25)
    nas.report_intermediate_result({"default": 0.5, "loss": 0.75})
    nas.report_final_result(0.875)
    assert capsys.readouterr().out.splitlines() == [
        "intermediate result: 0.25",
        'intermediate result: {"default": 0.5, "loss": 0.75}',
        "final result: 0.875",
    ]


def test_numeric_scalars_of_numpy_and_torch_are_numbers(standalone, capsys):
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    standalone({})
    nas.report_intermediate_result(np.float32(0.5))
    nas.report_intermediate_result(torch.tensor(0.25))
    nas.report_final_result({"default": np.int64(3)})
    assert capsys.readouterr().out.splitlines() == [
        "intermediate result: 0.5", "intermediate result: 0.25", 'final result: {"default": 3}']


@pytest.mark.parametrize(("value", "message"), [
    ("0.9", "a result is a number or a dict with a 'default' key, got str '0.9'"),
    (True, "got bool True"),
    ([0.9], "got list"),
    ({"accuracy": 0.9}, "a dict result needs a 'default' key"),
    ({"default": "high"}, r"\['default'\]: a result is a number"),
    ({"default": 1, "extra": object()}, "not JSON-serialisable"),
])
def test_bad_results_are_trial_errors_that_say_why(standalone, value, message):
    standalone({})
    with pytest.raises(TrialError, match=message):
        nas.report_final_result(value)
    with pytest.raises(TrialError, match="report_intermediate_result"):
        nas.report_intermediate_result(value)


@pytest.mark.parametrize(("value", "message"), [
    (float("nan"), "refused, nan is not a finite number"),
    (float("inf"), "refused, inf is not a finite number"),
    (-float("inf"), "refused, -inf is not a finite number"),
    (10**400, "refused, an integer of 401 digits does not fit a float"),
    ({"default": 1.0, "loss": float("nan")}, "refused, 'loss': nan is not a finite number"),
    ({"default": float("-inf")}, r"\['default'\]: refused, -inf is not a finite number"),
    ({"default": 1, "curve": [1, 2, 10**400]}, r"refused, 'curve': \[2\]: an integer of 401 digits"),
], ids=["nan", "inf", "-inf", "10**400", "nan-in-dict", "-inf-default", "10**400-in-list"])
def test_non_finite_and_out_of_range_results_are_refused_naming_the_value(standalone, capsys, value, message):
    standalone({})
    with pytest.raises(TrialError, match=rf"report_final_result.*{message}"):
        nas.report_final_result(value)
    with pytest.raises(TrialError, match=rf"report_intermediate_result.*{message}"):
        nas.report_intermediate_result(value)
    assert capsys.readouterr().out == ""


def test_numpy_nan_is_refused_too(standalone):
    np = pytest.importorskip("numpy")
    standalone({})
    with pytest.raises(TrialError, match="nan is not a finite number"):
        nas.report_final_result(np.float32("nan"))


def test_derived_architecture_is_printed(standalone, capsys):
    standalone({})
    nas.report_architecture({"m/b/h": {"h": {"chosen_layer": "f()", "chosen_inputs": []}}})
    assert capsys.readouterr().out == \
        'derived architecture: {"m/b/h": {"h": {"chosen_layer": "f()", "chosen_inputs": []}}}\n'


def test_standalone_gives_one_parameter_set(standalone):
    standalone({"m/lr/choice": 0.1})
    assert nas.get_next_parameter() == {"m/lr/choice": 0.1}
    assert nas.get_next_parameter() is None
    assert nas.get_current_parameter() == {"m/lr/choice": 0.1}
    assert nas.get_current_parameter("m/lr/choice") == 0.1
    with pytest.raises(ArchitectureError, match="architecture key 'm/x': no such key"):
        nas.get_current_parameter("m/x")


def test_sampled_standalone_parameters_fill_on_demand_and_match_sample_architecture(standalone):
    from nasctl.runtime.trial import sample_architecture

    space = {"m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01, 0.001]},
             "m/n/randint": {"_type": "randint", "_value": [1, 100]}}
    for seed in range(5):
        standalone(seed=seed)
        lazy = (nas.choice(0.1, 0.01, 0.001, key="m/lr/choice"), nas.randint(1, 100, key="m/n/randint"))
        upfront = sample_architecture(space, seed)
        assert lazy == (upfront["m/lr/choice"], upfront["m/n/randint"])
        standalone(search_space=space, seed=seed)
        assert nas.get_current_parameter() == upfront


def test_the_trial_seed_changes_the_sample(standalone):
    values = set()
    for seed in range(20):
        standalone(seed=seed)
        values.add(nas.uniform(0, 1, key="m/x/uniform"))
    assert len(values) == 20


def test_mode_options_accept_both_shapes_of_nas_mode_config():
    def options(config, mode):
        return TrialContext.from_environment({"NAS_MODE_CONFIG": json.dumps(config)}).mode_options(mode)

    assert options({"darts": {"order": 2}}, "darts") == {"order": 2}
    assert options({"order": 2}, "darts") == {"order": 2}  # the mode's section itself, as the manager writes it
    assert options({"darts": {"order": 2}}, "oneshot") == {}
    assert options({}, "enas") == {}


class _Recording(StandalonePlatform):
    """A standalone platform that records what the trial sends instead of printing it."""

    def __init__(self) -> None:
        super().__init__(architecture={})
        self.sent: list[tuple[str, object]] = []

    def send_metric(self, kind, value, parameter_id, sequence):
        self.sent.append((kind, value))

    def send_architecture(self, architecture, parameter_id):
        self.sent.append(("architecture", architecture))


def test_the_derived_architecture_is_sent_only_when_it_changed(monkeypatch):
    """enas derives an architecture at every final result; only a changed one costs a message."""
    from nasctl.runtime.modes import LayerBackend

    first = {"m/b": {"h": {"chosen_layer": "f()", "chosen_inputs": []}}}
    second = {"m/b": {"h": {"chosen_layer": "g()", "chosen_inputs": ["x"]}}}
    derived = iter([first, dict(first), second, second, first])

    class Deriving(LayerBackend):
        mode = "enas"

        def derived_architecture(self):
            return next(derived)

    monkeypatch.setattr("nasctl.runtime.modes._registry.backend_class", lambda framework, mode: Deriving)
    platform = _Recording()
    context = TrialContext(platform)
    context.backend(None, "enas")
    for step in range(5):
        context.report_final_result(step)
    assert platform.sent == [
        ("architecture", first), ("final", 0), ("final", 1),
        ("architecture", second), ("final", 2), ("final", 3),
        ("architecture", first), ("final", 4),  # changed back: the latest is always the one stored
    ]
    context.report_architecture(first)  # an explicit report is always sent
    assert platform.sent[-1] == ("architecture", first)
