"""Config keys of the Ray training service: address, channelHost, resourcesPerTrial."""

from __future__ import annotations

from pathlib import Path

import pytest
from nasctl.runtime.errors import ConfigError
from nasctl.runtime.manager import load_config
from nasctl.runtime.manager._config import TrialResources, parse_memory

HEAD = "trialCommand: python3 t.py\nsearchSpaceFile: space.json\ntuner: {name: TPE}\n"


def _load(tmp_path: Path, body: str):
    (tmp_path / "space.json").write_text('{"x": {"_type": "choice", "_value": [1, 2]}}')
    path = tmp_path / "exp.yml"
    path.write_text(HEAD + body, encoding="utf-8")
    return load_config(path)


def test_ray_defaults_to_an_embedded_ray_with_rays_default_resources(tmp_path: Path) -> None:
    config = _load(tmp_path, "trainingService: {platform: ray}\n")
    assert config.platform == "ray" and config.ray_address == "local" and config.channel_host is None
    assert config.resources == TrialResources()


def test_ray_address_channel_host_and_resources(tmp_path: Path) -> None:
    config = _load(tmp_path, "trainingService: {platform: ray, address: 'ray://head:10001', channelHost: 10.0.0.5}\n"
                             "resourcesPerTrial: {cpu: 0.5, gpu: 0.25, memory: 2GiB}\n")
    assert config.ray_address == "ray://head:10001" and config.channel_host == "10.0.0.5"
    assert config.resources == TrialResources(cpu=0.5, gpu=0.25, memory=2 * 2**30)


def test_trial_gpu_number_becomes_the_ray_gpu_request(tmp_path: Path) -> None:
    config = _load(tmp_path, "trainingService: {platform: ray, address: auto}\ntrialGpuNumber: 2\n")
    assert config.resources.gpu == 2 and config.ray_address == "auto"


def test_on_local_resources_per_trial_gpu_is_the_trial_gpu_number(tmp_path: Path) -> None:
    config = _load(tmp_path, "trainingService: {platform: local, gpuIndices: [0, 1]}\nresourcesPerTrial: {gpu: 2}\n")
    assert config.trial_gpu_number == 2 and config.ray_address is None


@pytest.mark.parametrize(("value", "expected"), [
    (1024, 1024), ("512MB", 512 * 10**6), ("512 mib", 512 * 2**20), ("1.5G", 1_500_000_000), ("2GiB", 2 * 2**30),
    ("100", 100), ("100b", 100), ("1TiB", 2**40), ("3k", 3000),
])
def test_memory_sizes(value: object, expected: int) -> None:
    assert parse_memory(value) == expected


@pytest.mark.parametrize("value", ["lots", "-1GB", "2 GiBs", 0, True, 1.5])
def test_bad_memory_sizes(value: object) -> None:
    with pytest.raises(ConfigError, match="key 'resourcesPerTrial.memory': expected a memory size like 512MB"):
        parse_memory(value, "resourcesPerTrial.memory")


@pytest.mark.parametrize(("body", "pattern"), [
    ("trainingService: {platform: ray, gpuIndices: [0]}\n",
     r"exp\.yml:4, key 'trainingService\.gpuIndices': this key is for trainingService\.platform local, not ray; "
     r"Ray assigns GPUs"),
    ("trainingService: {platform: ray, maxTrialNumberPerGpu: 2}\n",
     r"key 'trainingService\.maxTrialNumberPerGpu': this key is for trainingService\.platform local"),
    ("trainingService: {platform: local, address: auto}\n",
     r"exp\.yml:4, key 'trainingService\.address': this key is for trainingService\.platform ray, not local"),
    ("trainingService: {platform: local, channelHost: 0.0.0.0}\n",
     r"key 'trainingService\.channelHost': this key is for trainingService\.platform ray"),
    ("trainingService: {platform: ray}\nresourcesPerTrial: {gpu: 1}\ntrialGpuNumber: 2\n",
     r"exp\.yml:5, key 'resourcesPerTrial\.gpu': resourcesPerTrial\.gpu is 1 but trialGpuNumber is 2; keep one"),
    ("trainingService: {platform: local, gpuIndices: [0]}\nresourcesPerTrial: {gpu: 0.5}\n",
     r"key 'resourcesPerTrial\.gpu': a local trial takes whole GPUs, got 0\.5"),
    ("trainingService: {platform: local, gpuIndices: [0]}\nresourcesPerTrial: {gpu: 2}\n",
     r"key 'resourcesPerTrial\.gpu': a trial needs 2 GPUs but gpuIndices lists 1"),
    ("trainingService: {platform: ray}\nresourcesPerTrial: {cpu: 0}\n",
     r"exp\.yml:5, key 'resourcesPerTrial\.cpu': 0 is less than or equal to the minimum of 0"),
    ("trainingService: {platform: ray}\nresourcesPerTrial: {cpus: 2}\n",
     r"key 'resourcesPerTrial\.cpus': unknown key"),
    ("trainingService: {platform: ray}\nresourcesPerTrial: {memory: lots}\n",
     r"exp\.yml:5, key 'resourcesPerTrial\.memory': expected a memory size like 512MB"),
    ("trainingService: {platform: ray, address: ''}\n",
     r"key 'trainingService\.address': '' should be non-empty"),
])
def test_bad_ray_configs_name_the_key(tmp_path: Path, body: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as error:
        _load(tmp_path, body)
    assert "\n" not in str(error.value)
