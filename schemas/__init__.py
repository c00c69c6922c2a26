"""The JSON Schemas of nasctl's files and messages, and validation with errors that name the key.

>>> from nasctl import schemas
>>> schemas.validate("search_space", {"m/lr/choice": {"_type": "choice", "_value": [0.1, 0.01]}})
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from nasctl._errors import NasctlError

__all__ = ["SchemaError", "load", "validate", "NAMES"]

NAMES = ("search_space", "architecture", "experiment", "message")


class SchemaError(NasctlError, ValueError):
    """A document does not match its schema; `key` is the dotted path of the offending key."""

    def __init__(self, message: str, key: str, source: str | None = None) -> None:
        self.key = key
        self.source = source
        self.detail = message
        where = f"{source}: " if source else ""
        super().__init__(f"{where}key '{key}': {message}" if key else f"{where}{message}")


@functools.cache
def load(name: str) -> dict[str, Any]:
    """The schema called `name` (one of `NAMES`) as a dict."""
    if name not in NAMES:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(NAMES)}")
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _validator(name: str) -> Any:
    import jsonschema

    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _dotted(path: Any) -> str:
    parts: list[str] = []
    for part in path:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def validate(name: str, document: Any, source: str | None = None) -> None:
    """Raise `SchemaError` naming the offending key if `document` does not match schema `name`.

    `source` (a file name, a trial id) is put in front of the message.
    """
    import jsonschema

    errors = sorted(_validator(name).iter_errors(document), key=lambda e: (len(e.path), list(map(str, e.path))))
    if not errors:
        return
    # The deepest error of the first failing branch names the key most precisely.
    error = jsonschema.exceptions.best_match(errors)
    raise SchemaError(error.message, _dotted(error.absolute_path), source)
