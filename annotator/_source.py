"""Reading source files and turning `ast` positions into character offsets of the text."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from nasctl.annotator._errors import AnnotationError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """The character offset at which each line of `text` starts (line 1 at index 0)."""
    return [0, *(match.end() for match in _LINE_BREAK.finditer(text))]


def newline_of(text: str) -> str:
    """The line break the file uses (its first one), `\\n` if it has none."""
    match = _LINE_BREAK.search(text)
    return match.group() if match else "\n"


class Positions:
    """Converts `ast`'s (1-based line, UTF-8 byte column) into character offsets of one text."""

    def __init__(self, text: str, starts: list[int]) -> None:
        self.text = text
        self.starts = starts

    def offset(self, line: int, col: int) -> int:
        """Character offset of byte column `col` on 1-based `line`."""
        start = self.starts[line - 1]
        if col == 0:
            return start
        head = self.text[start : start + col]
        if head.isascii():
            return start + col
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        return start + len(self.text[start:end].encode("utf-8")[:col].decode("utf-8", "ignore"))

    def column(self, line: int, col: int) -> int:
        """1-based character column of byte column `col` on `line`."""
        return self.offset(line, col) - self.starts[line - 1] + 1

    def line_end(self, line: int) -> int:
        """Offset just past the line break of 1-based `line` (the end of the text for the last line)."""
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def line_text(self, line: int) -> str:
        """The text of 1-based `line` without its line break."""
        return self.text[self.starts[line - 1] : self.line_end(line)].rstrip("\r\n")


def read_source(path: Path, shown: str) -> tuple[str, str]:
    """The text of a Python file and the encoding to write it back with.

    Honours a PEP 263 coding declaration and a UTF-8 BOM; no newline translation, so that writing
    the text back gives the same bytes. A file that cannot be decoded is an `AnnotationError` that
    names the line and column of the first bad byte.
    """
    data = path.read_bytes()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise AnnotationError(f"cannot read the source encoding: {error}", shown, 1, 1) from None
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        name = "UTF-8" if encoding.startswith("utf-8") else encoding
        raise AnnotationError(
            f"the file is not valid {name} (byte 0x{data[error.start]:02x}); save it as UTF-8 "
            "or declare its encoding in a '# -*- coding: ... -*-' line",
            shown,
            line,
            column,
        ) from None
