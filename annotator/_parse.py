"""From source text to the IR: find the annotations with `ast` and `re`, then read each one with libcst.

The whole file is parsed once with the stdlib `ast` (fast, with exact positions), which gives the
scopes and the statements around the annotations; comment annotations are found by a line pattern
and checked against the syntax tree (a `#` inside a string is no comment). Each annotation's own
text, the annotation language, is parsed by libcst (`_read.py`), and every label, callee and
argument is the exact code libcst gives back for it. libcst reads only the annotations: a full libcst
parse of a large file costs seconds, these few lines a fraction of that. Files without anything that
looks like an annotation or a hand-written call are not parsed at all.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass, replace

from nasctl.annotator._errors import AnnotationError
from nasctl.annotator._handwritten import HANDWRITTEN_PATTERN, find_handwritten
from nasctl.annotator._ir import Annotation, ModuleIR, Region
from nasctl.annotator._scope import (
    COMPOUND,
    COMPOUND_BODIES,
    COMPOUND_TYPES,
    Context,
    Scopes,
    first_positional,
    is_annotation_string,
)
from nasctl.annotator._source import Positions, line_starts, newline_of

KEY_STYLES = ("stable", "nni")

_QUICK = re.compile(r"@n(?:as|ni)\.|" + HANDWRITTEN_PATTERN)
_COMMENT_ANNOTATION = re.compile(r"^([ \t]*)#[ \t]*@(nas|nni)\.", re.MULTILINE)
_WHOLE_LINE_COMMENT = re.compile(r"[ \t]*#")
_CLAUSE = re.compile(r"(?:else|elif|except|finally)\b")


@dataclass(slots=True)
class _Stmt:
    line: int
    col: int
    node: ast.stmt
    ctx: Context
    body: list[ast.stmt]
    index: int


def _position(stmt: _Stmt) -> tuple[int, int]:
    return (stmt.line, stmt.col)


def _header_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions of a compound statement's header (everything but its nested bodies)."""
    nodes: list[ast.AST] = []
    for name, value in ast.iter_fields(stmt):
        if name in COMPOUND_BODIES:
            continue
        if isinstance(value, ast.AST):
            nodes.append(value)
        elif isinstance(value, list):
            nodes.extend(item for item in value if isinstance(item, ast.AST))
    return nodes


class _Parser:
    def __init__(self, text: str, module: str, path: str, key_style: str) -> None:
        self.text = text
        self.module = module
        self.path = path
        self.key_style = key_style
        self.starts = line_starts(text)
        self.pos = Positions(text, self.starts)
        self.ir = ModuleIR(
            module=module, path=path, text=text, newline=newline_of(text), line_starts=self.starts
        )
        self.statements: list[_Stmt] = []
        self.string_annotations: list[_Stmt] = []
        self.tree: ast.Module | None = None

    # -- errors -------------------------------------------------------------------------------

    def error(self, message: str, line: int, column: int) -> AnnotationError:
        return AnnotationError(
            message,
            self.path,
            line,
            column,
            self.pos.line_text(line) if 0 < line <= len(self.starts) else None,
        )

    # -- the whole file -----------------------------------------------------------------------

    def parse(self) -> ModuleIR:
        if not _QUICK.search(self.text):
            return self.ir
        # Imported here: libcst takes a good part of a second to import, and most files need none of it.
        from nasctl.annotator._read import Reader

        try:
            self.tree = ast.parse(self.text, filename=self.path)
            self.reader = Reader(
                self.module, self.key_style, self.pos, Scopes(self.tree), self.error, self._region
            )
        except SyntaxError as error:
            line = error.lineno or 1
            column = error.offset or 1
            raise self.error(f"invalid Python: {error.msg}", line, column) from None
        except ValueError as error:  # e.g. a null byte
            raise AnnotationError(f"invalid Python: {error}", self.path, 0, 0) from None
        self._walk(self.tree.body, Context())
        self.statements.sort(key=_position)
        self._statement_lines = [s.line for s in self.statements]

        found: list[tuple[int, Annotation]] = []
        for stmt in self.string_annotations:
            found.append((stmt.line, self._string_annotation(stmt)))
        for annotation in self._comment_annotations():
            found.append((annotation.line, annotation))
        found.sort(key=lambda item: item[1].region.start)
        self.ir.annotations = [annotation for _, annotation in found]
        self.ir.handwritten = find_handwritten(
            self.tree, self.text, self.pos, self.module, self.ir.annotations, self.error
        )
        self.ir.insert_at = self._insert_point()
        self._import_slots()
        return self.ir

    def _walk(self, body: list[ast.stmt], ctx: Context) -> None:
        append = self.statements.append
        for index, node in enumerate(body):
            record = _Stmt(node.lineno, node.col_offset, node, ctx, body, index)
            append(record)
            kind = type(node)
            if kind is ast.Expr:
                if is_annotation_string(node):
                    self.string_annotations.append(record)
            elif kind not in COMPOUND_TYPES:
                continue
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = first_positional(node) if ctx.in_class_body else None
                self._walk(node.body, Context((*ctx.scope, node.name), owner, False, (*ctx.chain, node)))
            elif isinstance(node, ast.ClassDef):
                self._walk(node.body, Context((*ctx.scope, node.name), None, True, (*ctx.chain, node)))
            elif isinstance(node, COMPOUND):
                for name in ("body", "orelse", "finalbody"):
                    inner = getattr(node, name, None)
                    if inner:
                        looped = kind is ast.For and name == "body"
                        self._walk(inner, replace(ctx, loops=(*ctx.loops, node)) if looped else ctx)
                for handler in getattr(node, "handlers", None) or []:
                    self._walk(handler.body, ctx)
                for case in getattr(node, "cases", None) or []:
                    self._walk(case.body, ctx)

    def _enclosing(self, line: int) -> tuple[int, int, list[ast.AST]] | None:
        """The statement (or compound header) whose lines strictly contain `line`: (first, last, nodes).

        Statements are sorted by line, so only the last statement starting before `line` can
        contain it without one of its own children starting before `line` too.
        """
        position = bisect.bisect_left(self._statement_lines, line) - 1
        if position < 0:
            return None
        node = self.statements[position].node
        if isinstance(node, COMPOUND):
            nodes = _header_nodes(node)
            if isinstance(node, ast.Match):
                body_start = node.cases[0].pattern.lineno if node.cases else node.lineno + 1
            else:
                body_start = node.body[0].lineno
            last = max((getattr(n, "end_lineno", None) or node.lineno for n in nodes), default=node.lineno)
            if node.lineno < line < body_start and line <= last:
                return node.lineno, last, nodes
            return None
        last = node.end_lineno or node.lineno
        if node.lineno < line <= last:
            return node.lineno, last, [node]
        return None

    # -- string annotations -------------------------------------------------------------------

    def _string_annotation(self, stmt: _Stmt) -> Annotation:
        node = stmt.node
        assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        value: str = node.value.value
        start = self.pos.offset(node.lineno, node.col_offset)
        end = self.pos.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
        segment = self.text[start:end]
        prefix_len = len(segment) - len(segment.lstrip("rRuUbBfF"))
        quote = (
            segment[prefix_len : prefix_len + 3]
            if segment[prefix_len : prefix_len + 3] in ('"""', "'''")
            else segment[prefix_len]
        )
        inner = segment[prefix_len + len(quote) : len(segment) - len(quote)]
        column = start - self.starts[node.lineno - 1]  # 0-based char column of the statement
        # A string literal reads any line break as \n.
        exact = inner.replace("\r\n", "\n").replace("\r", "\n") == value
        code = value[1:]
        content_col = column + prefix_len + len(quote)
        line_map = [(node.lineno, content_col + 1)]
        line_map += [(node.lineno + k, 0) for k in range(1, code.count("\n") + 1)]
        from nasctl.annotator._read import AnnotationText

        source = AnnotationText(code, line_map, exact, (node.lineno, column + 1))
        line_start = self.starts[node.lineno - 1]
        indent_text = self.text[line_start:start]
        first_on_line = indent_text.strip() == ""
        indent = indent_text if first_on_line else self._indent_of(node.lineno)
        after = self.text[end : self.pos.line_end(node.end_lineno or node.lineno)]
        own_line = first_on_line and after.strip() == ""
        base = Annotation(
            kind="",
            prefix=value[1:4],
            form="string",
            region=Region(start, end, node.lineno, column + 1),
            indent=indent,
            own_line=own_line,
            line=node.lineno,
            column=column + 1,
            body=id(stmt.body),
            body_size=len(stmt.body),
        )
        following = stmt.body[stmt.index + 1] if stmt.index + 1 < len(stmt.body) else None
        return self.reader.read(source, base, stmt.ctx, following)

    def _indent_of(self, line: int) -> str:
        text = self.pos.line_text(line)
        return text[: len(text) - len(text.lstrip(" \t"))]

    # -- comment annotations ------------------------------------------------------------------

    def _comment_annotations(self) -> list[Annotation]:
        found: list[Annotation] = []
        consumed_until = 0
        for match in _COMMENT_ANNOTATION.finditer(self.text):
            line = bisect.bisect_right(self.starts, match.start())
            if line <= consumed_until:
                continue
            hash_col = len(match.group(1))
            if self._inside_string(line, hash_col):  # string annotations included
                continue
            if self._inside_statement(line):
                raise self.error(
                    "a comment annotation must stand between statements, not inside one", line, hash_col + 1
                )
            annotation, last_line = self._comment_annotation(match, line)
            consumed_until = last_line
            found.append(annotation)
        return found

    def _inside_string(self, line: int, col: int) -> bool:
        enclosing = self._enclosing(line)
        if enclosing is not None:
            for root in enclosing[2]:
                for node in ast.walk(root):
                    if isinstance(node, (ast.Constant, ast.JoinedStr)) and (
                        isinstance(node, ast.JoinedStr) or isinstance(node.value, (str, bytes))
                    ):
                        end_line = node.end_lineno or node.lineno
                        if node.lineno < line < end_line or (
                            node.lineno < line == end_line and (node.end_col_offset or 0) > col
                        ):
                            return True
        return False

    def _inside_statement(self, line: int) -> bool:
        return self._enclosing(line) is not None

    def _comment_annotation(self, match: re.Match[str], line: int) -> tuple[Annotation, int]:
        indent = match.group(1)
        at = match.end() - len(match.group(2)) - 2  # index of '@'
        first_text = self.text[at + 1 : self.pos.line_end(line)].rstrip("\r\n")
        code_lines = [first_text]
        line_map = [(line, at + 1 - self.starts[line - 1])]
        last = line
        while not _balanced("\n".join(code_lines)):
            nxt = last + 1
            if nxt > len(self.starts) or not _WHOLE_LINE_COMMENT.match(self.pos.line_text(nxt)):
                raise self.error(
                    "this comment annotation never closes its parentheses; continue it on the "
                    "following comment lines",
                    line,
                    len(indent) + 1,
                )
            text = self.pos.line_text(nxt)
            hash_index = text.index("#")
            code_lines.append(text[hash_index + 1 :])
            line_map.append((nxt, hash_index + 1))
            last = nxt
        from nasctl.annotator._read import AnnotationText

        source = AnnotationText("\n".join(code_lines), line_map, True, (line, len(indent) + 1))
        region = Region(self.starts[line - 1], self.pos.line_end(last), line, len(indent) + 1)
        base = Annotation(
            kind="",
            prefix=match.group(2),
            form="comment",
            region=region,
            indent=indent,
            own_line=True,
            line=line,
            column=len(indent) + 1,
        )
        ctx, following = self._comment_context(line, last, len(indent))
        return self.reader.read(source, base, ctx, following), last

    def _comment_context(self, first: int, last: int, col: int) -> tuple[Context, ast.stmt | None]:
        """The scope of a comment annotation and the statement after it, judged by indentation.

        A comment is not a statement, so Python does not check where it stands; the code it becomes
        is. This rejects every placement where that code would not be valid Python: an indentation
        that matches no statement of the block, more indentation than the next line, right before an
        `else:`/`elif`/`except`/`finally` clause of its own level, or between a decorator and its def.
        """
        wrong = self.error(
            "this comment annotation is indented differently from the statements around it",
            first,
            col + 1,
        )
        next_line = self._next_code_line(last)
        if next_line is not None:
            text = self.pos.line_text(next_line)
            indent = len(text) - len(text.lstrip(" \t"))
            if indent > col:
                raise wrong
            if indent == col and _CLAUSE.match(text, indent):
                raise self.error(
                    f"a comment annotation cannot stand right before '{text.strip()}'; move it into the block above",
                    first,
                    col + 1,
                )
        after = bisect.bisect_right(self._statement_lines, last)
        if after < len(self.statements) and self.statements[after].col == col:
            nxt = self.statements[after]
            decorators = getattr(nxt.node, "decorator_list", None)
            if decorators and decorators[0].lineno < first:
                raise self.error(
                    "a comment annotation cannot stand between a decorator and its definition", first, col + 1
                )
            return nxt.ctx, nxt.node
        for position in range(after - 1, -1, -1):
            stmt = self.statements[position]
            if stmt.line >= first:
                continue
            if stmt.col == col:
                return stmt.ctx, None
            if stmt.col < col:
                break
        if after >= len(self.statements) and col == 0:
            return Context(), None
        raise wrong

    def _next_code_line(self, line: int) -> int | None:
        """The first line after `line` that is neither blank nor only a comment."""
        for number in range(line + 1, len(self.starts) + 1):
            text = self.pos.line_text(number).strip()
            if text and not text.startswith("#"):
                return number
        return None

    def _region(self, node: ast.AST) -> Region:
        start = self.pos.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.pos.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return Region(start, end, node.lineno, start - self.starts[node.lineno - 1] + 1)  # type: ignore[attr-defined]

    # the import ------------------------------------------------------------------------------

    def _insert_point(self) -> int:
        assert self.tree is not None
        body = self.tree.body
        index = 0
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
            and not is_annotation_string(body[0])
        ):
            index = 1
        while (
            index < len(body)
            and isinstance(body[index], ast.ImportFrom)
            and body[index].module == "__future__"
        ):
            index += 1
        if index:
            point = self.pos.line_end(body[index - 1].end_lineno or body[index - 1].lineno)
        elif body:
            point = self.starts[_first_line(body[0]) - 1]
        else:
            point = len(self.text)
        if self.ir.annotations:
            first = min(a.region.start for a in self.ir.annotations)
            point = min(point, self.starts[bisect.bisect_right(self.starts, first) - 1])
        return point


    def _import_slots(self) -> None:
        """Where the import can join an existing line (codegen keeps every line number; `ModuleIR`)."""
        assert self.tree is not None
        point = self.ir.insert_at
        for node in self.tree.body:
            first = _first_line(node)
            start = self.pos.offset(node.lineno, node.col_offset) if first == node.lineno else self.starts[first - 1]
            simple = not isinstance(node, COMPOUND)
            if start == point:
                self.ir.simple_at = simple
            end_line = node.end_lineno or node.lineno
            end = self.pos.offset(end_line, node.end_col_offset or 0)
            if simple and end <= point and self.pos.line_end(end_line) == point:
                self.ir.import_after = end
            if start >= point:
                break


def _first_line(node: ast.stmt) -> int:
    """The line a statement starts on, its decorators included."""
    decorators = getattr(node, "decorator_list", None)
    return min([node.lineno, *(d.lineno for d in decorators)]) if decorators else node.lineno


def _balanced(code: str) -> bool:
    """True when `code` closes every bracket it opens (brackets inside strings and comments do not count)."""
    depth = 0
    index = 0
    length = len(code)
    while index < length:
        char = code[index]
        if char == "#":
            newline = code.find("\n", index)
            index = length if newline < 0 else newline
        elif char in "\"'":
            quote = code[index : index + 3] if code[index : index + 3] in ('"""', "'''") else char
            index += len(quote)
            while index < length and not code.startswith(quote, index):
                if quote == char and code[index] == "\n":
                    break  # an unterminated one-line string; the annotation's parser reports it
                index += 2 if code[index] == "\\" else 1
            index += len(quote)
            continue
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        index += 1
    return depth <= 0


def parse_module(text: str, module: str, path: str, key_style: str = "stable") -> ModuleIR:
    """The IR of one module's source `text`; `module` is the dotted name used in keys."""
    if key_style not in KEY_STYLES:
        raise ValueError(f"unknown key_style {key_style!r}; expected one of {', '.join(KEY_STYLES)}")
    return _Parser(text, module, path, key_style).parse()
