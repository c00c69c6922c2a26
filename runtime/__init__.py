"""Everything that executes: the trial runtime, the modes, the experiment manager and the CLI."""

from __future__ import annotations

from nasctl.runtime.errors import (
    ArchitectureError,
    ChannelError,
    ConfigError,
    ExperimentError,
    NasError,
    TrialError,
)

__all__ = [
    "ArchitectureError",
    "ChannelError",
    "ConfigError",
    "ExperimentError",
    "NasError",
    "TrialError",
]
