"""The compiler's errors: data that carries where the problem is and renders like a compiler's message."""

from __future__ import annotations

from collections.abc import Sequence

from nasctl._errors import NasctlError


class AnnotationError(NasctlError):
    """A malformed annotation or an unreadable source file.

    `line` and `column` are 1-based; 0 means the error concerns the whole file. `render()` gives
    `path:line:col: error: message`, then the offending source line and a caret under the column.

    >>> print(AnnotationError("unknown key 'layer_chioce'", "mnist.py", 3, 9, "    {layer_chioce: [f()]}").render())
    mnist.py:3:9: error: unknown key 'layer_chioce'
        {layer_chioce: [f()]}
            ^
    """

    def __init__(
        self, message: str, path: str, line: int, column: int, source_line: str | None = None
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.source_line = source_line
        super().__init__(self._where() + message)

    def _where(self) -> str:
        if self.line <= 0:
            return f"{self.path}: "
        return f"{self.path}:{self.line}:{self.column}: "

    def render(self) -> str:
        """The message as a compiler prints it: location, message, source line, caret."""
        text = f"{self._where()}error: {self.message}"
        if self.source_line is not None and self.line > 0:
            source = self.source_line.rstrip("\r\n")
            # Keep tabs so that the caret lines up under the same column in a terminal.
            pad = "".join(ch if ch == "\t" else " " for ch in source[: max(self.column - 1, 0)])
            text += f"\n{source}\n{pad}^"
        return text


class ArchitectureMismatch(AnnotationError):
    """An architecture given to `inline_architecture` does not fit the annotations; `key` names the entry."""

    def __init__(
        self,
        message: str,
        key: str,
        path: str,
        line: int,
        column: int,
        source_line: str | None = None,
    ) -> None:
        self.key = key
        super().__init__(f"architecture key '{key}': {message}", path, line, column, source_line)


class AnnotationErrors(AnnotationError):
    """Several files failed; one error per bad file, in the order the files were visited.

    Behaves as the first error (its location and message) and renders all of them.
    """

    def __init__(self, errors: Sequence[AnnotationError]) -> None:
        if not errors:
            raise ValueError("AnnotationErrors needs at least one error")
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, first.path, first.line, first.column, first.source_line)

    def render(self) -> str:
        """Every file's error, then a count."""
        parts = [error.render() for error in self.errors]
        files = len({error.path for error in self.errors})
        parts.append(
            f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''} in {files} file{'s' if files != 1 else ''}"
        )
        return "\n".join(parts)

    def __str__(self) -> str:
        return "\n".join(str(error.args[0]) for error in self.errors)
