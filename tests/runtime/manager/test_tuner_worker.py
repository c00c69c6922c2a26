"""The tuner's thread: calls run there, in submission order; a failure stops the later ones."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from nasctl.runtime.manager._tuner_worker import TunerWorker


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str]] = []

    def generate_parameters(self, parameter_id: int) -> dict[str, Any]:
        self.calls.append(("generate", parameter_id, threading.current_thread().name))
        return {"x": parameter_id}

    def receive_trial_result(self, parameter_id: int, parameters: dict[str, Any], value: float) -> None:
        self.calls.append(("result", parameter_id, threading.current_thread().name))
        if value < 0:
            raise RuntimeError("negative result")


def test_calls_run_on_the_tuners_thread_in_submission_order() -> None:
    tuner = _Recorder()
    worker = TunerWorker(tuner)
    futures = [worker.submit(tuner.generate_parameters, 0), worker.submit(tuner.receive_trial_result, 0, {}, 1.0),
               worker.submit(tuner.generate_parameters, 1)]
    assert [future.result(timeout=10) for future in futures] == [{"x": 0}, None, {"x": 1}]
    worker.close()
    assert [(kind, pid) for kind, pid, _ in tuner.calls] == [("generate", 0), ("result", 0), ("generate", 1)]
    assert {thread for _, _, thread in tuner.calls} == {"nasctl-tuner"}
    assert not worker.thread.is_alive()


def test_a_failed_call_wakes_the_loop_and_stops_the_later_calls() -> None:
    tuner = _Recorder()
    woken = threading.Event()
    worker = TunerWorker(tuner, wake=woken.set)
    failing = worker.submit(tuner.receive_trial_result, 0, {}, -1.0)
    later = worker.submit(tuner.generate_parameters, 1)
    with pytest.raises(RuntimeError, match="negative result"):
        later.result(timeout=10)
    assert woken.wait(10)
    assert isinstance(worker.error, RuntimeError) and failing.exception() is worker.error
    assert [kind for kind, _, _ in tuner.calls] == ["result"]  # generate(1) never ran
    worker.close()


def test_a_torch_tuner_runs_with_one_intra_op_thread() -> None:
    torch = pytest.importorskip("torch")
    worker = TunerWorker(object())
    try:
        assert worker.call(torch.get_num_threads) == 1
    finally:
        worker.close()
