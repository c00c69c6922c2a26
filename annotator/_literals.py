"""Literals in annotations: which option texts are JSON values, and how to write texts back as Python."""

from __future__ import annotations

import ast
import json
import math
import re
from typing import Any

_SIMPLE_NUMBER = re.compile(r"-?(?:[1-9][0-9]*|0)(?:(\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)?")
_KEYWORD_LITERALS = {"True": True, "False": False, "None": None}


def json_literal(text: str) -> tuple[bool, Any]:
    """(True, value) when `text` is a number, string, True, False or None literal that JSON can hold."""
    text = text.strip()
    if text in _KEYWORD_LITERALS:
        return True, _KEYWORD_LITERALS[text]
    if text.isidentifier():
        return False, None
    if _SIMPLE_NUMBER.fullmatch(text):
        value = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, float) and not math.isfinite(value):
            return False, None
        return True, value
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None
    if value is None or isinstance(value, (bool, int, str)):
        return True, value
    if isinstance(value, float) and math.isfinite(value):
        return True, value
    return False, None


def number_literal(text: str) -> int | float | None:
    """The number `text` is a literal of, else None (booleans are not numbers here)."""
    ok, value = json_literal(text)
    if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def literal_key(value: Any) -> tuple[str, Any]:
    """Distinguishes 1, 1.0 and True, which compare equal in Python but are different JSON values."""
    return (type(value).__name__, value)


def python_string(text: str) -> str:
    """A Python string literal for `text` (JSON's escaping is valid Python; non-ASCII kept as is)."""
    return json.dumps(text, ensure_ascii=False)
