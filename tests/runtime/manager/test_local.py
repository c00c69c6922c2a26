"""The local training service's pieces: command lines, GPU slots, CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

import selectors
from pathlib import Path

import pytest
from nasctl.runtime.manager._local import LocalTrainingService, command_argv


@pytest.mark.parametrize(("command", "argv"), [
    ("python3 mnist.py --epochs 5", ["python3", "mnist.py", "--epochs", "5"]),
    ("python3 'my trial.py'", ["python3", "my trial.py"]),
    ("cd src && python3 t.py", ["/bin/sh", "-c", "cd src && python3 t.py"]),
    ("OMP_NUM_THREADS=1 python3 t.py", ["/bin/sh", "-c", "OMP_NUM_THREADS=1 python3 t.py"]),
    ("python3 t.py > log.txt", ["/bin/sh", "-c", "python3 t.py > log.txt"]),
    ("python3 'unclosed", ["/bin/sh", "-c", "python3 'unclosed"]),
])
def test_plain_commands_run_directly_others_through_a_shell(command: str, argv: list[str]) -> None:
    assert command_argv(command) == argv


def _service(tmp_path: Path, **kw: object) -> LocalTrainingService:
    return LocalTrainingService(experiment_dir=tmp_path, code_dir=tmp_path, command="true", selector=selectors.DefaultSelector(),
                                on_exit=lambda trial: None, **kw)  # type: ignore[arg-type]


def test_gpu_slots(tmp_path: Path) -> None:
    service = _service(tmp_path, concurrency=8, gpu_indices=(0, 1, 2, 3), trial_gpu_number=2,
                       max_trial_number_per_gpu=1)
    assert service.free_slots() == 2
    first, second = service.reserve_gpus(), service.reserve_gpus()
    assert sorted(first + second) == [0, 1, 2, 3]
    assert service.free_slots() == 0
    assert service.cuda_visible_devices(first) == ",".join(map(str, first))
    shared = _service(tmp_path, concurrency=3, gpu_indices=(0,), max_trial_number_per_gpu=2)
    assert shared.free_slots() == 2 and shared.reserve_gpus() == (0,) and shared.free_slots() == 1


def test_cuda_visible_devices_is_left_alone_without_gpu_settings(tmp_path: Path) -> None:
    assert _service(tmp_path, concurrency=2).cuda_visible_devices(()) is None
    assert _service(tmp_path, concurrency=2, trial_gpu_number=0).cuda_visible_devices(()) == ""
    assert _service(tmp_path, concurrency=2, gpu_indices=(0,), trial_gpu_number=0).cuda_visible_devices(()) == ""
