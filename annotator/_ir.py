"""The intermediate representation of one module's annotations.

The parser (`_parse.py`) builds it once; code generation for every mode (`_codegen.py`), the search
space (`_search_space.py`) and architecture inlining (`_inline.py`) all read it. `Annotation` holds
what every annotation has; each kind's module (`_kinds.py`) subclasses it with its own fields
(`LayerBlock` in `_layers.py`, `Variable` in `_variable.py`, ...). Source positions are
character offsets into the module's text (`Region.start`/`end`) plus a 1-based line and column for
messages; texts (labels, arguments, callees) are exact slices of what the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Region:
    """A slice of the module's text: `text[start:end]`, starting at 1-based `line`, `column`."""

    start: int
    end: int
    line: int
    column: int


@dataclass(frozen=True)
class LoopIndex:
    """One `for` loop around a repeated annotation: code of its iteration number, and its count."""

    index: str
    count: int


@dataclass
class Annotation:
    """What every annotation has: its kind, where it is, and how its statement sits in the source.

    `region` covers the annotation string statement, or the whole lines of a comment annotation.
    `indent` is the whitespace that starts the annotation's line; `own_line` says that nothing but
    whitespace (and, for a string, an optional comment) shares those lines with it. `body` identifies
    the statement list holding a string annotation and `body_size` its length (0 for comments).
    """

    kind: str
    prefix: str
    form: str  # "string" or "comment"
    region: Region
    indent: str
    own_line: bool
    line: int
    column: int
    body: int = 0
    body_size: int = 0
    loops: tuple[LoopIndex, ...] = ()  # enclosing loops, outermost first: one key per iteration

    @property
    def counts(self) -> list[int]:
        """How many times each enclosing loop runs (empty outside loops)."""
        return [loop.count for loop in self.loops]


@dataclass
class HandWritten:
    """A direct call written by hand (`nas.choice(..., key=...)`, `nni.choice(..., name=...)`, ...)."""

    key: str
    function: str
    entry: dict[str, Any]
    layer_key: str | None
    line: int
    column: int


@dataclass
class ModuleIR:
    """Everything the compiler knows about one source file."""

    module: str
    path: str
    text: str
    annotations: list[Annotation] = field(default_factory=list)
    handwritten: list[HandWritten] = field(default_factory=list)
    insert_at: int = 0  # where `import nas as _nas` (or inline helpers) go
    # Where the import can join a line instead of adding one: just after the statement that ends on
    # the line before `insert_at` (the docstring, a `__future__` import), and whether a simple
    # statement (not `def`, `class`, `if`, ...) starts at `insert_at`.
    import_after: int | None = None
    simple_at: bool = False
    newline: str = "\n"
    line_starts: list[int] = field(default_factory=list)

    def source_line(self, line: int) -> str | None:
        """The text of 1-based `line`, without its line break."""
        if not 1 <= line <= len(self.line_starts):
            return None
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")
