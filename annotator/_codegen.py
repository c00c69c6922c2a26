"""Code generation: splice text into the source at exact offsets, leaving every other byte alone.

The edits that lay out an annotation's code on its own lines are here; which code each kind of
annotation becomes is in its module (`_kinds.py`).
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass

from nasctl.annotator._errors import AnnotationError
from nasctl.annotator._ir import Annotation, ModuleIR, Region
from nasctl.annotator._kinds import kind_of
from nasctl.annotator._literals import python_string
from nasctl.annotator._source import line_starts

IMPORT = "import nas as _nas"

_SEMICOLON_AFTER = re.compile(r"[ \t]*;[ \t]*")
_SEMICOLON_BEFORE = re.compile(r";[ \t]*$")
_COMMENT_AFTER = re.compile(r"[ \t]*(?=#)")
_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=]")  # PEP 263: an encoding declaration on line 1 or 2


@dataclass(frozen=True)
class Edit:
    """Replace `text[start:end]` by `new`; `annotation` is what produced it (for error messages)."""

    start: int
    end: int
    new: str
    annotation: Annotation | None = None


def first_on_line(ir: ModuleIR, annotation: Annotation) -> bool:
    """Whether only whitespace precedes the annotation on its first line."""
    line_start = ir.line_starts[annotation.region.line - 1]
    return ir.text[line_start : annotation.region.start].strip(" \t\f") == ""


def replace_with(ir: ModuleIR, annotation: Annotation, statements: list[str]) -> Edit:
    """Replace an annotation by statements at its indentation."""
    region = annotation.region
    if annotation.form == "comment":
        ending = ir.text[region.start : region.end]
        tail = ending[len(ending.rstrip("\r\n")) :]
        body = ir.newline.join(annotation.indent + statement for statement in statements)
        return Edit(region.start, region.end, body + (tail if tail else ""), annotation)
    separator = ir.newline + annotation.indent if first_on_line(ir, annotation) else "; "
    return Edit(region.start, region.end, separator.join(statements), annotation)


def replace_within(ir: ModuleIR, annotation: Annotation, statements: list[str]) -> Edit:
    """Replace an annotation by statements on the lines it occupied: one statement per line, the
    statements that do not fit joined by `; ` on its last line (`keep_line_numbers` pads the rest)."""
    region = annotation.region
    old = ir.text[region.start : region.end]
    if annotation.form == "comment":
        tail = old[len(old.rstrip("\r\n")) :]
        lines = old.count("\n") - tail.count("\n") + 1
        return Edit(region.start, region.end, _fit(statements, lines, ir.newline, annotation.indent, True) + tail,
                    annotation)
    if not first_on_line(ir, annotation):
        return Edit(region.start, region.end, "; ".join(statements), annotation)
    lines = old.count("\n") + 1
    return Edit(region.start, region.end, _fit(statements, lines, ir.newline, annotation.indent, False), annotation)


def _fit(statements: list[str], lines: int, newline: str, indent: str, indent_first: bool) -> str:
    if len(statements) > lines:
        statements = [*statements[: lines - 1], "; ".join(statements[lines - 1 :])]
    return (indent if indent_first else "") + (newline + indent).join(statements)


def remove(ir: ModuleIR, annotation: Annotation) -> Edit:
    """Delete an annotation (and the lines it stood on, when it had them to itself)."""
    region = annotation.region
    text = ir.text
    if annotation.form == "comment":
        return Edit(region.start, region.end, "", annotation)
    end_line = (
        bisect.bisect_right(ir.line_starts, region.end - 1) if region.end > region.start else region.line
    )
    line_end = ir.line_starts[end_line] if end_line < len(ir.line_starts) else len(text)
    if annotation.own_line:
        return Edit(ir.line_starts[region.line - 1], line_end, "", annotation)
    after = _SEMICOLON_AFTER.match(text, region.end)
    if after and after.end() <= line_end:
        return Edit(region.start, after.end(), "", annotation)
    line_start = ir.line_starts[region.line - 1]
    before = _SEMICOLON_BEFORE.search(text[line_start : region.start])
    if before:
        return Edit(line_start + before.start(), region.end, "", annotation)
    comment = _COMMENT_AFTER.match(text, region.end)
    if comment and first_on_line(ir, annotation):
        return Edit(region.start, comment.end(), "", annotation)  # the line keeps its comment
    return Edit(region.start, region.end, "pass", annotation)


def rewrite_target(removal: Edit, annotation: Annotation, target: Region | None, new: str) -> list[Edit]:
    """`removal` (the edit that deletes the annotation) and `new` in place of the code it rewrites:
    the value of a variable's assignment, the call of a function choice."""
    assert target is not None  # the reader sets it or raises
    return [removal, Edit(target.start, target.end, new, annotation)]


def _tuple(items: list[str]) -> str:
    return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"


def key_code(annotation: Annotation, key: str) -> str:
    """The code of an annotation's key: a string, or inside loops the key of the current iteration."""
    if not annotation.loops:
        return python_string(key)
    indices = _tuple([loop.index for loop in annotation.loops])
    counts = _tuple([str(loop.count) for loop in annotation.loops])
    return f"_nas.loop_key({python_string(key)}, {indices}, {counts})"


def import_in_place(ir: ModuleIR) -> Edit:
    """`import nas as _nas` without a line of its own where the module allows it, so that every line
    of the compiled code keeps its number: on a blank line, after the docstring or `__future__`
    import, before a simple statement or a comment. Before a `def`/`class` on the first line there
    is no such place, and the import gets a line."""
    at, text = ir.insert_at, ir.text
    end = text.find("\n", at)
    line = text[at : len(text) if end < 0 else end].rstrip("\r")
    if at < len(text) and not line.strip(" \t\f"):
        return Edit(at, at + len(line), IMPORT)
    before = text.rfind("\n", 0, max(at - 1, 0)) + 1 if at else at
    if at and ir.import_after is None and not text[before:at].strip(" \t\f\r\n"):
        return Edit(before, before + len(text[before:at].rstrip("\r\n")), IMPORT)
    if ir.import_after is not None:
        return Edit(ir.import_after, ir.import_after, "; " + IMPORT)
    if ir.simple_at or any(a.region.start == at for a in ir.annotations):
        return Edit(at, at, IMPORT + "; ")
    if line.lstrip(" \t\f").startswith("#"):
        return Edit(at, at, IMPORT + "  ")
    previous = text[before:at].rstrip("\r\n")
    first_lines = before == 0 or text.count("\n", 0, before) < 2
    if at and ir.import_after is None and previous.startswith("#") and not (
            first_lines and (previous.startswith("#!") or _CODING.match(previous))):
        return Edit(before, before, IMPORT + "  ")  # before a comment line above the first statement
    return import_edit(ir, [IMPORT])


def one_line(code: str) -> str:
    """An expression's source on one line (the same expression), so generated statements never
    take more lines than the annotation they replace."""
    if "\n" not in code and "\r" not in code:
        return code
    try:
        return ast.unparse(ast.parse(code.strip(), mode="eval"))
    except SyntaxError:
        return " ".join(code.split())


def keep_line_numbers(ir: ModuleIR, edits: list[Edit]) -> list[Edit]:
    """Pad each edit whose new text has fewer lines than the text it replaces, so the code after it
    keeps its line numbers: blank lines after its last line, else line breaks inside its last call."""
    text = ir.text
    out: list[Edit] = []
    for edit in edits:
        missing = text.count("\n", edit.start, edit.end) - edit.new.count("\n")
        if missing <= 0:
            out.append(edit)
            continue
        padding = ir.newline * missing
        if edit.end == 0 or text[edit.end - 1] == "\n":  # it ends a line: blank lines follow it
            out.append(Edit(edit.start, edit.end, edit.new + padding, edit.annotation))
            continue
        line_end = text.find("\n", edit.end)
        line_end = len(text) if line_end < 0 else line_end
        if text[line_end - 1 : line_end] == "\r":
            line_end -= 1
        rest = text[edit.end : line_end].split("#", 1)[0]
        if line_end < len(text) and not any(char in rest for char in "\\'\"([{"):
            out.extend([edit, Edit(line_end, line_end, padding)])  # blank lines after the rest of its line
        elif edit.new.endswith(")"):
            out.append(Edit(edit.start, edit.end, edit.new[:-1] + padding + ")", edit.annotation))
        else:
            out.append(edit)  # nowhere to pad: the lines after it move up
    return out


def import_edit(ir: ModuleIR, lines: list[str]) -> Edit:
    """Insert `lines` at the module's insertion point (after the docstring and `__future__` imports)."""
    at = ir.insert_at
    lead = ""
    if at == len(ir.text) and ir.text and not ir.text.endswith(("\n", "\r")):
        lead = ir.newline
    return Edit(at, at, lead + "".join(line + ir.newline for line in lines))


def apply(ir: ModuleIR, edits: list[Edit], verify: bool = False) -> str:
    """Apply non-overlapping edits; with `verify`, also parse the result and blame a bad annotation.

    Every edit replaces a statement by statements or an expression by an expression, and the parser
    rejects comment annotations placed where their code could not stand, so the result is valid
    Python by construction; a full re-parse costs as much as the first one, so it is left to tests.
    """
    edits = sorted(edits, key=lambda e: (e.start, e.end))
    parts: list[str] = []
    spans: list[tuple[int, int, Edit]] = []  # output offsets of each edit's new text
    cursor = 0
    length = 0
    previous: Edit | None = None
    for edit in edits:
        if edit.start < cursor:
            raise _overlap(ir, previous, edit)
        parts.append(ir.text[cursor : edit.start])
        length += edit.start - cursor
        spans.append((length, length + len(edit.new), edit))
        parts.append(edit.new)
        length += len(edit.new)
        cursor = edit.end
        previous = edit
    parts.append(ir.text[cursor:])
    output = "".join(parts)
    if verify:
        check(ir, output, spans)
    return output


def _overlap(ir: ModuleIR, first: Edit | None, second: Edit) -> AnnotationError:
    """Two annotations rewrite the same code (say a variable and a function_choice on one statement)."""
    annotations = [e.annotation for e in (first, second) if e is not None and e.annotation is not None]
    if len(annotations) < 2:
        raise AssertionError(f"overlapping edits at offset {second.start}")  # a compiler bug, not user input
    earlier, later = sorted(annotations, key=lambda a: a.line)
    return AnnotationError(
        f"this annotation rewrites the same code as the annotation on line {earlier.line}; "
        "give each its own statement",
        ir.path,
        later.line,
        later.column,
        ir.source_line(later.line),
    )


def check(ir: ModuleIR, output: str, spans: list[tuple[int, int, Edit]]) -> None:
    """Parse the generated code; blame the annotation whose code broke it."""
    try:
        ast.parse(output, filename=ir.path)
    except SyntaxError as error:
        starts = line_starts(output)
        line = min(max(error.lineno or 1, 1), len(starts))
        offset = starts[line - 1] + max((error.offset or 1) - 1, 0)
        culprit: Edit | None = None
        for start, end, edit in spans:
            if edit.annotation is None:
                continue
            if start <= offset <= end or (start <= offset and output.count("\n", end, offset) <= 1):
                culprit = edit
        if culprit is not None and culprit.annotation is not None:
            annotation = culprit.annotation
            raise AnnotationError(
                f"the code generated for this annotation is not valid Python here ({error.msg}); "
                "check that the annotation is indented like the statements around it",
                ir.path,
                annotation.line,
                annotation.column,
                ir.source_line(annotation.line),
            ) from None
        shift = sum(len(edit.new) - (edit.end - edit.start) for start, _, edit in spans if start <= offset)
        source_offset = max(min(offset - shift, len(ir.text)), 0)
        source_line = bisect.bisect_right(ir.line_starts, source_offset)
        raise AnnotationError(
            f"the compiled code is not valid Python ({error.msg})",
            ir.path,
            source_line,
            source_offset - ir.line_starts[source_line - 1] + 1,
            ir.source_line(source_line),
        ) from None


def compile_ir(ir: ModuleIR, mode: str, verify: bool = False) -> str:
    """The module's code with every annotation expanded for `mode` (a normalized mode name).

    Every line keeps its number (an expansion stays within the lines of its annotation), so a
    traceback of the compiled code points at the user's line.
    """
    if not ir.annotations:
        return ir.text
    edits = [import_in_place(ir)]
    for annotation in ir.annotations:
        edits.extend(kind_of(annotation.kind).compile(ir, annotation, mode))
    return apply(ir, _import_into_removed_line(ir, keep_line_numbers(ir, edits)), verify)


def _import_into_removed_line(ir: ModuleIR, edits: list[Edit]) -> list[Edit]:
    """Put an import that precedes a removed annotation's lines in their place (`import nas as _nas`,
    not `import nas as _nas; ` before an emptied line)."""
    first = edits[0]
    if first.start != first.end or first.new != IMPORT + "; ":
        return edits
    for index, edit in enumerate(edits[1:], 1):
        whole_lines = edit.end == len(ir.text) or ir.text[edit.end - 1] == "\n"
        if edit.start == first.start and edit.annotation is not None and not edit.new.strip() and whole_lines:
            return [*edits[1:index], Edit(edit.start, edit.end, IMPORT + edit.new, edit.annotation),
                    *edits[index + 1 :]]
    return edits
