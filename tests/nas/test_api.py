"""`import nas`: the public trial API of DESIGN.md §5, re-exported from runtime.trial, and cheap to import."""

from __future__ import annotations

import subprocess
import sys

import nasctl.runtime.trial

import nas

API = {"get_next_parameter", "get_current_parameter", "report_intermediate_result", "report_final_result",
       "training_update", "get_experiment_id", "get_trial_id", "get_sequence_id", "get_trial_seed",
       "mutable_layer", "function_choice", "candidates", "report_architecture", "materialize",
       "arch_parameters", "derive_architecture", "loop_key",
       "choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal",
       "lognormal", "qlognormal"}


def test_nas_exports_the_trial_api():
    assert set(nas.__all__) == API
    for name in API:
        assert getattr(nas, name) is getattr(nasctl.runtime.trial, name)
        assert getattr(nas, name).__doc__


def test_importing_nas_imports_no_framework_and_no_compiler():
    code = ("import sys, nas; heavy = [m for m in ('torch', 'tensorflow', 'nasctl.annotator', 'libcst', 'numpy') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_nni_style_keywords():
    import inspect

    for name in ("choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal",
                 "lognormal", "qlognormal", "function_choice"):
        parameters = inspect.signature(getattr(nas, name)).parameters
        assert "key" in parameters and "name" in parameters, name
    assert "labels" in inspect.signature(nas.choice).parameters
