"""Reading an architecture from a file (the search-space rules themselves are `nasctl.searchspace`'s)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nasctl.searchspace import ArchitectureError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["load_architecture_file"]


def load_architecture_file(path: str | Path) -> dict[str, Any]:
    """An architecture JSON file, read and checked against `schemas/architecture.schema.json`."""
    from pathlib import Path

    from nasctl import schemas

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ArchitectureError(f"cannot read architecture file {str(path)!r}: {error}") from None
    try:
        architecture = json.loads(text)
    except json.JSONDecodeError as error:
        raise ArchitectureError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
    schemas.validate("architecture", architecture, source=str(path))
    return architecture
