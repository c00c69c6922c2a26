"""From source text to the IR: find the annotations with `ast`, `re` and `tokenize`, then read each one.

The whole file is parsed once with the stdlib `ast` (fast, with exact positions); comment
annotations are found by a line pattern and checked against the syntax tree (a `#` inside a string
is no comment). Each annotation's own text is parsed on its own, and every label, callee and argument
is an exact slice of the text the user wrote. Files without anything that looks like an annotation
or a hand-written call are not parsed at all.
"""

from __future__ import annotations

import ast
import bisect
import builtins
import difflib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from annotator._errors import AnnotationError
from annotator._ir import (
    ANNOTATIONS,
    SAMPLING_ARITY,
    Annotation,
    Candidate,
    FunctionChoice,
    HandWritten,
    Layer,
    LayerBlock,
    ModuleIR,
    Option,
    PlainCall,
    Region,
    Variable,
)
from annotator._source import Positions, line_starts, newline_of

KEY_STYLES = ("stable", "nni")

_PREFIXES = ("nas", "nni")
_HANDWRITTEN_FUNCTIONS = (*SAMPLING_ARITY, "function_choice", "mutable_layer")
_LAYER_KEYS = ("layer_choice", "fixed_inputs", "optional_inputs", "optional_input_size", "layer_output")
_BUILTINS = frozenset(dir(builtins))

_QUICK = re.compile(
    r"@n(?:as|ni)\.|\b_?n(?:as|ni)\s*\.\s*(?:" + "|".join(_HANDWRITTEN_FUNCTIONS) + r")\s*\("
)
_COMMENT_ANNOTATION = re.compile(r"^([ \t]*)#[ \t]*@(nas|nni)\.", re.MULTILINE)
_HANDWRITTEN = re.compile(r"\b_?n(?:as|ni)\s*\.\s*(?:" + "|".join(_HANDWRITTEN_FUNCTIONS) + r")\s*\(")
_WHOLE_LINE_COMMENT = re.compile(r"[ \t]*#")
_CTX = re.compile(r", ctx=(?:Load|Store|Del)\(\)")
_CLAUSE = re.compile(r"(?:else|elif|except|finally)\b")


def _shape(node: ast.AST) -> str:
    """A dump of `node` that ignores load/store context, to compare a target with a `name=`."""
    return _CTX.sub("", ast.dump(node))


def _suggest(word: str, choices: Iterator[str] | tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


_SIMPLE_NUMBER = re.compile(r"-?(?:[1-9][0-9]*|0)(?:(\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)?")
_KEYWORD_LITERALS = {"True": True, "False": False, "None": None}


def _json_literal(text: str) -> tuple[bool, Any]:
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
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None
    if value is None or isinstance(value, (bool, int, str)):
        return True, value
    if isinstance(value, float) and math.isfinite(value):
        return True, value
    return False, None


def _number(text: str) -> int | float | None:
    ok, value = _json_literal(text)
    if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _literal_key(value: Any) -> tuple[str, Any]:
    """Distinguishes 1, 1.0 and True, which compare equal in Python but are different JSON values."""
    return (type(value).__name__, value)


@dataclass(frozen=True)
class _Context:
    """Where a statement sits: the qualified scope, the layer owner, the enclosing defs."""

    scope: tuple[str, ...] = ()
    owner: str | None = None
    in_class_body: bool = False
    chain: tuple[ast.AST, ...] = ()  # enclosing FunctionDef/ClassDef nodes, outermost first


@dataclass
class _Stmt:
    line: int
    col: int
    node: ast.stmt
    ctx: _Context
    body: list[ast.stmt]
    index: int


def _position(stmt: _Stmt) -> tuple[int, int]:
    return (stmt.line, stmt.col)


def _first_positional(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Name) and decorator.id in ("staticmethod", "classmethod"):
            return None
    params = [*node.args.posonlyargs, *node.args.args]
    return params[0].arg if params else None


def _is_annotation_string(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and node.value.value.startswith(("@nas.", "@nni."))
    )


_COMPOUND_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.TryStar,
    ast.Match,
)


def _header_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions of a compound statement's header (everything but its nested bodies)."""
    nodes: list[ast.AST] = []
    for name, value in ast.iter_fields(stmt):
        if name in _COMPOUND_BODIES:
            continue
        if isinstance(value, ast.AST):
            nodes.append(value)
        elif isinstance(value, list):
            nodes.extend(item for item in value if isinstance(item, ast.AST))
    return nodes


def _bindings(node: ast.AST, out: list[tuple[int, str]]) -> None:
    """Every name `node`'s own scope binds, with the line: assignments, imports, defs, loop targets, ..."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((child.lineno, child.name))
            continue
        if isinstance(child, ast.Lambda):
            continue
        if isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
            out.append((child.lineno, child.id))
        elif isinstance(child, ast.ExceptHandler) and child.name:
            out.append((child.lineno, child.name))
        elif isinstance(child, (ast.Import, ast.ImportFrom)):
            for alias in child.names:
                out.append((child.lineno, alias.asname or alias.name.split(".")[0]))
        elif isinstance(child, (ast.Global, ast.Nonlocal)):
            out.extend((child.lineno, name) for name in child.names)
        elif isinstance(child, (ast.MatchAs, ast.MatchStar)) and child.name:
            out.append((child.lineno, child.name))
        elif isinstance(child, ast.MatchMapping) and child.rest:
            out.append((child.lineno, child.rest))
        _bindings(child, out)


def _target_names(target: ast.AST, line: int, out: list[tuple[int, str]]) -> None:
    if isinstance(target, ast.Name):
        out.append((line, target.id))
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _target_names(element, line, out)
    elif isinstance(target, ast.Starred):
        _target_names(target.value, line, out)


def _statement_bindings(body: list[ast.stmt], out: list[tuple[int, str]]) -> None:
    """The names the statements of a scope bind, looking only at statement-level targets (fast)."""
    for stmt in body:
        line = stmt.lineno
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((line, stmt.name))
            continue
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _target_names(target, line, out)
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            _target_names(stmt.target, line, out)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    _target_names(item.optional_vars, line, out)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            out.extend((line, alias.asname or alias.name.split(".")[0]) for alias in stmt.names)
        elif isinstance(stmt, (ast.Global, ast.Nonlocal)):
            out.extend((line, name) for name in stmt.names)
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, name, None)
            if inner:
                _statement_bindings(inner, out)
        for handler in getattr(stmt, "handlers", None) or []:
            if handler.name:
                out.append((handler.lineno, handler.name))
            _statement_bindings(handler.body, out)
        for case in getattr(stmt, "cases", None) or []:
            _statement_bindings(case.body, out)


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


class _AnnotationText:
    """One annotation's code (without the `@`), parsed by `ast`, with a map back to file positions.

    Texts of its parts are exact slices of the code (`segment`), so labels, callees and arguments
    are what the user wrote, comments and line breaks inside them included.
    """

    def __init__(self, code: str, line_map: list[tuple[int, int]], exact: bool, fallback: tuple[int, int]) -> None:
        self.code = code
        self.line_map = line_map  # per code line: (file line, 0-based file column of the code's column 0)
        self.exact = exact
        self.fallback = fallback
        self.positions = Positions(code, line_starts(code))

    def where(self, line: int, column: int) -> tuple[int, int]:
        """File (line, 1-based column) of 1-based code `line` and 0-based character `column`."""
        if not self.exact or not 1 <= line <= len(self.line_map):
            return self.fallback
        file_line, base = self.line_map[line - 1]
        return file_line, base + column + 1

    def position(self, node: ast.AST) -> tuple[int, int]:
        """File position of a node of the parsed annotation."""
        line = getattr(node, "lineno", None)
        if line is None:
            return self.fallback
        offset = self.positions.offset(line, node.col_offset)  # type: ignore[attr-defined]
        return self.where(line, offset - self.positions.starts[line - 1])

    def segment(self, node: ast.AST) -> str:
        """The exact text of `node`."""
        start = self.positions.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.positions.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return self.code[start:end]


class _Parser:
    def __init__(self, text: str, module: str, path: str, key_style: str) -> None:
        self.text = text
        self.module = module
        self.path = path
        self.key_style = key_style
        self.starts = line_starts(text)
        self.pos = Positions(text, self.starts)
        self.ir = ModuleIR(module=module, path=path, text=text, newline=newline_of(text), line_starts=self.starts)
        self.statements: list[_Stmt] = []
        self.string_annotations: list[_Stmt] = []
        self._scope_bindings: dict[tuple[int, bool], list[tuple[int, str]]] = {}
        self.tree: ast.Module | None = None

    # -- errors -------------------------------------------------------------------------------

    def error(self, message: str, line: int, column: int) -> AnnotationError:
        return AnnotationError(message, self.path, line, column, self.pos.line_text(line) if 0 < line <= len(self.starts) else None)

    # -- the whole file -----------------------------------------------------------------------

    def parse(self) -> ModuleIR:
        if not _QUICK.search(self.text):
            return self.ir
        try:
            self.tree = ast.parse(self.text, filename=self.path)
        except SyntaxError as error:
            line = error.lineno or 1
            column = error.offset or 1
            raise self.error(f"invalid Python: {error.msg}", line, column) from None
        except ValueError as error:  # e.g. a null byte
            raise AnnotationError(f"invalid Python: {error}", self.path, 0, 0) from None
        self._walk(self.tree.body, _Context())
        self.statements.sort(key=_position)
        self._statement_lines = [s.line for s in self.statements]

        found: list[tuple[int, Annotation]] = []
        for stmt in self.string_annotations:
            found.append((stmt.line, self._string_annotation(stmt)))
        for annotation in self._comment_annotations():
            found.append((annotation.line, annotation))
        found.sort(key=lambda item: item[1].region.start)
        self.ir.annotations = [annotation for _, annotation in found]
        self.ir.handwritten = self._handwritten()
        self.ir.insert_at = self._insert_point()
        return self.ir

    def _walk(self, body: list[ast.stmt], ctx: _Context) -> None:
        for index, node in enumerate(body):
            record = _Stmt(node.lineno, node.col_offset, node, ctx, body, index)
            self.statements.append(record)
            if isinstance(node, ast.Expr) and _is_annotation_string(node):
                self.string_annotations.append(record)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                owner = _first_positional(node) if ctx.in_class_body else None
                self._walk(node.body, _Context((*ctx.scope, node.name), owner, False, (*ctx.chain, node)))
            elif isinstance(node, ast.ClassDef):
                self._walk(node.body, _Context((*ctx.scope, node.name), None, True, (*ctx.chain, node)))
            elif isinstance(node, _COMPOUND):
                for name in ("body", "orelse", "finalbody"):
                    inner = getattr(node, name, None)
                    if inner:
                        self._walk(inner, ctx)
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
        if isinstance(node, _COMPOUND):
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
        quote = segment[prefix_len : prefix_len + 3] if segment[prefix_len : prefix_len + 3] in ('"""', "'''") else segment[prefix_len]
        inner = segment[prefix_len + len(quote) : len(segment) - len(quote)]
        column = start - self.starts[node.lineno - 1]  # 0-based char column of the statement
        exact = inner == value
        code = value[1:]
        content_col = column + prefix_len + len(quote)
        line_map = [(node.lineno, content_col + 1)]
        line_map += [(node.lineno + k, 0) for k in range(1, code.count("\n") + 1)]
        source = _AnnotationText(code, line_map, exact, (node.lineno, column + 1))
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
        return self._annotation(source, base, stmt.ctx, following)

    def _indent_of(self, line: int) -> str:
        text = self.pos.line_text(line)
        return text[: len(text) - len(text.lstrip(" \t"))]

    # -- comment annotations ------------------------------------------------------------------

    def _comment_annotations(self) -> list[Annotation]:
        found: list[Annotation] = []
        consumed_until = 0
        annotation_lines = [
            (s.node.lineno, s.node.end_lineno or s.node.lineno) for s in self.string_annotations
        ]
        for match in _COMMENT_ANNOTATION.finditer(self.text):
            line = bisect.bisect_right(self.starts, match.start())
            if line <= consumed_until:
                continue
            hash_col = len(match.group(1))
            if self._inside_string(line, hash_col) or any(a < line <= b for a, b in annotation_lines):
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
        source = _AnnotationText("\n".join(code_lines), line_map, True, (line, len(indent) + 1))
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
        return self._annotation(source, base, ctx, following), last

    def _comment_context(self, first: int, last: int, col: int) -> tuple[_Context, ast.stmt | None]:
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
                raise self.error("a comment annotation cannot stand between a decorator and its definition", first, col + 1)
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
            return _Context(), None
        raise wrong

    def _next_code_line(self, line: int) -> int | None:
        """The first line after `line` that is neither blank nor only a comment."""
        for number in range(line + 1, len(self.starts) + 1):
            text = self.pos.line_text(number).strip()
            if text and not text.startswith("#"):
                return number
        return None

    # -- one annotation -----------------------------------------------------------------------

    def _annotation(
        self, source: _AnnotationText, base: Annotation, ctx: _Context, following: ast.stmt | None
    ) -> Annotation:
        try:
            tree = ast.parse(source.code, mode="eval")
        except SyntaxError as error:
            line, column = source.where(error.lineno or 1, max((error.offset or 1) - 1, 0))
            raise self.error(f"syntax error in annotation: {error.msg}", line, column) from None
        call = tree.body
        if not (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id in _PREFIXES
        ):
            raise self.error("an annotation must be a call such as @nas.variable(...)", *source.fallback)
        kind = call.func.attr
        if kind not in ANNOTATIONS:
            raise self.error(
                f"unknown annotation '@{base.prefix}.{kind}'{_suggest(kind, ANNOTATIONS)}", *source.position(call)
            )
        common = {field: getattr(base, field) for field in Annotation.__dataclass_fields__}
        common["kind"] = kind
        if kind in ("mutable_layers", "mutable_layer"):
            return self._layers(source, call, common, ctx)
        if kind == "variable":
            return self._variable(source, call, common, following)
        if kind == "function_choice":
            return self._function_choice(source, call, common, following)
        return self._plain(source, call, common)

    def _arguments(self, source: _AnnotationText, call: ast.Call) -> list[str]:
        """The call's arguments as written, in their order: `x`, `*xs`, `k=v`, `**kw`."""
        parts: list[tuple[int, int, str]] = []
        for arg in call.args:
            parts.append((arg.lineno, arg.col_offset, source.segment(arg)))
        for keyword in call.keywords:
            text = source.segment(keyword.value)
            parts.append((keyword.lineno, keyword.col_offset, f"{keyword.arg}={text}" if keyword.arg else f"**{text}"))
        return [text for _, _, text in sorted(parts)]

    def _plain(self, source: _AnnotationText, call: ast.Call, common: dict[str, Any]) -> PlainCall:
        kind = common["kind"]
        if kind in ("report_intermediate_result", "report_final_result"):
            if len(call.args) != 1 or call.keywords or isinstance(call.args[0], ast.Starred):
                raise self.error_at(source, call, f"{kind} takes exactly one argument, the metric value")
        return PlainCall(**common, arguments=self._arguments(source, call))

    def error_at(self, source: _AnnotationText, node: ast.AST, message: str) -> AnnotationError:
        return self.error(message, *source.position(node))

    # mutable layers ------------------------------------------------------------------------------

    def _layers(self, source: _AnnotationText, call: ast.Call, common: dict[str, Any], ctx: _Context) -> LayerBlock:
        kind = common["kind"]
        block_name: str | None = None
        for keyword in call.keywords:
            if keyword.arg != "name":
                what = f"'{keyword.arg}'" if keyword.arg else "**"
                raise self.error_at(source, keyword, f"unknown argument {what} of {kind}; only name= is allowed")
            value = keyword.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value):
                raise self.error_at(source, value, f"name= of {kind} must be a non-empty string literal")
            block_name = value.value
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                raise self.error_at(source, arg, f"{kind} takes layer specs written out, not *args")
        specs = list(call.args)
        if not specs:
            raise self.error_at(
                source, call, f"{kind} needs at least one layer spec {{layer_choice: [...], layer_output: name}}"
            )
        if kind == "mutable_layer" and len(specs) > 1:
            raise self.error_at(source, specs[1], "mutable_layer takes one layer spec; use mutable_layers for several")
        defined = self._defined_names(ctx, common["line"])
        layers: list[Layer] = []
        outputs: dict[str, Layer] = {}
        for index, spec in enumerate(specs):
            layer = self._layer(source, spec, index, defined, outputs, (common["line"], common["column"]), ctx)
            outputs[layer.output] = layer
            layers.append(layer)
        scope = ".".join(ctx.scope)
        if self.key_style == "nni":
            key = f"{self.module}/mutable_block_{common['line']}"
        else:
            name = block_name or layers[0].output
            key = f"{self.module}/{scope}/{name}" if scope else f"{self.module}/{name}"
        return LayerBlock(**common, key=key, scope=scope, owner=ctx.owner, layers=layers)

    def _layer(
        self,
        source: _AnnotationText,
        spec: ast.expr,
        index: int,
        defined: set[str],
        previous: dict[str, Layer],
        where: tuple[int, int],
        context: _Context,
    ) -> Layer:
        line, column = where
        if not isinstance(spec, ast.Dict):
            raise self.error_at(source, spec, "a layer spec must be a dict such as {layer_choice: [...], layer_output: h}")
        fields: dict[str, ast.expr] = {}
        for key_node, value in zip(spec.keys, spec.values, strict=False):
            if key_node is None:
                raise self.error_at(source, value, "a layer spec cannot use ** unpacking")
            if isinstance(key_node, ast.Name):
                key = key_node.id
            elif isinstance(key_node, ast.Constant) and isinstance(key_node.value, str):
                key = key_node.value
            else:
                raise self.error_at(source, key_node, f"a layer spec key must be one of {', '.join(_LAYER_KEYS)}")
            if key not in _LAYER_KEYS:
                raise self.error_at(source, key_node, f"unknown key '{key}' in layer spec{_suggest(key, _LAYER_KEYS)}")
            if key in fields:
                raise self.error_at(source, key_node, f"duplicate key '{key}' in layer spec")
            fields[key] = value
        for required in ("layer_choice", "layer_output"):
            if required not in fields:
                raise self.error_at(source, spec, f"layer spec has no '{required}'")

        output_node = fields["layer_output"]
        if not isinstance(output_node, ast.Name):
            raise self.error_at(source, output_node, "layer_output must be a plain name, such as h1")
        output = output_node.id
        if output in previous:
            raise self.error_at(
                source, output_node, f"duplicate layer_output '{output}': an earlier layer of this block writes it"
            )

        choice_node = fields["layer_choice"]
        if not isinstance(choice_node, (ast.List, ast.Tuple)) or not choice_node.elts:
            raise self.error_at(source, choice_node, "layer_choice must be a non-empty list of calls")
        candidates: list[Candidate] = []
        labels: set[str] = set()
        for candidate in choice_node.elts:
            if not isinstance(candidate, ast.Call):
                raise self.error_at(
                    source,
                    candidate,
                    f"candidate '{source.segment(candidate)}' in layer_choice is not a call such as ops.conv(size=3)",
                )
            label = source.segment(candidate)
            if label in labels:
                raise self.error_at(source, candidate, f"duplicate candidate '{label}' in layer_choice")
            labels.add(label)
            args = [
                "*" + source.segment(arg.value) if isinstance(arg, ast.Starred) else source.segment(arg)
                for arg in candidate.args
            ]
            kwargs = [(keyword.arg, source.segment(keyword.value)) for keyword in candidate.keywords]
            candidates.append(Candidate(label, source.segment(candidate.func), args, kwargs, line, column))

        fixed = self._inputs(source, fields.get("fixed_inputs"), "fixed_inputs", defined, previous, context, line)
        optional = self._inputs(
            source, fields.get("optional_inputs"), "optional_inputs", defined, previous, context, line
        )
        seen: set[str] = set()
        for label, node in optional:
            if label in seen:
                raise self.error_at(source, node, f"duplicate optional input '{label}'")
            seen.add(label)
        size_node = fields.get("optional_input_size")
        size: int | tuple[int, int]
        if size_node is None:
            if optional:
                raise self.error_at(
                    source,
                    fields["optional_inputs"],
                    "optional_inputs needs optional_input_size (an int, or [low, high]) to say how many to choose",
                )
            size = 0
        else:
            size = self._input_size(source, size_node, len(optional))
        key = f"mutable_layer_{index}" if self.key_style == "nni" else output
        return Layer(
            key=key,
            output=output,
            candidates=candidates,
            fixed_inputs=[text for text, _ in fixed],
            optional_inputs=[text for text, _ in optional],
            optional_input_size=size,
            line=line,
            column=column,
        )

    def _inputs(
        self,
        source: _AnnotationText,
        node: ast.expr | None,
        field: str,
        defined: set[str],
        previous: dict[str, Layer],
        context: _Context,
        line: int,
    ) -> list[tuple[str, ast.expr]]:
        if node is None:
            return []
        if not isinstance(node, (ast.List, ast.Tuple)):
            raise self.error_at(source, node, f"{field} must be a list of names or expressions")
        inputs: list[tuple[str, ast.expr]] = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                raise self.error_at(source, element, f"{field} cannot use * unpacking")
            used = [element.id] if isinstance(element, ast.Name) else [
                name.id for name in ast.walk(element) if isinstance(name, ast.Name)
            ]
            for name in used:
                if name in defined or name in previous or name in _BUILTINS:
                    continue
                if name not in self._defined_names(context, line, thorough=True):
                    raise self.error_at(
                        source, element, f"input '{name}' in {field} is not defined before this annotation"
                    )
            inputs.append((source.segment(element), element))
        return inputs

    def _input_size(self, source: _AnnotationText, node: ast.expr, count: int) -> int | tuple[int, int]:
        try:
            value = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError):
            value = None
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                raise self.error_at(source, node, f"optional_input_size {value} is negative")
            if value > count:
                raise self.error_at(
                    source, node, f"optional_input_size {value} is larger than the number of optional inputs ({count})"
                )
            return value
        if (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            low, high = value
            if low < 0 or low > high:
                raise self.error_at(source, node, f"optional_input_size [{low}, {high}] is not a range 0 <= low <= high")
            if high > count:
                raise self.error_at(
                    source,
                    node,
                    f"optional_input_size [{low}, {high}] is larger than the number of optional inputs ({count})",
                )
            return (low, high)
        raise self.error_at(source, node, "optional_input_size must be an int or a [low, high] pair of ints")

    def _defined_names(self, ctx: _Context, line: int, thorough: bool = False) -> set[str]:
        """Names bound before `line` in the annotation's scope, and everything visible from outside it.

        The quick pass reads statement-level targets only; `thorough` also finds names bound inside
        expressions (`:=`, `match` captures), and is used before reporting a name as undefined.
        """
        assert self.tree is not None
        names: set[str] = set()
        module_bindings = self._bindings_of(self.tree, thorough)
        in_function = any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ctx.chain)
        names.update(name for at, name in module_bindings if in_function or at < line)
        for depth, node in enumerate(ctx.chain):
            innermost = depth == len(ctx.chain) - 1
            if isinstance(node, ast.ClassDef) and not innermost:
                continue  # a class body's names are not visible inside its methods
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.update(_parameters(node))
            names.update(name for at, name in self._bindings_of(node, thorough) if not innermost or at < line)
        return names

    def _bindings_of(self, node: ast.AST, thorough: bool) -> list[tuple[int, str]]:
        key = (id(node), thorough)
        if key not in self._scope_bindings:
            out: list[tuple[int, str]] = []
            if not thorough:
                _statement_bindings(getattr(node, "body", []), out)
                self._scope_bindings[key] = out
                return out
            for statement in getattr(node, "body", []):
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    out.append((statement.lineno, statement.name))
                else:
                    wrapper = ast.Module(body=[statement], type_ignores=[])
                    _bindings(wrapper, out)
            self._scope_bindings[key] = out
        return self._scope_bindings[key]

    # variable ------------------------------------------------------------------------------------

    def _name_argument(self, source: _AnnotationText, call: ast.Call, kind: str) -> ast.expr:
        name: ast.expr | None = None
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                raise self.error_at(source, arg, f"{kind} does not take *args")
        for keyword in call.keywords:
            if keyword.arg == "name":
                name = keyword.value
            else:
                what = f"'{keyword.arg}'" if keyword.arg else "**"
                raise self.error_at(source, keyword, f"unknown argument {what} of {kind}; only name= is allowed")
        if name is None:
            raise self.error_at(source, call, f"{kind} needs name=..., the variable it sets")
        if kind == "variable" and not isinstance(name, (ast.Name, ast.Attribute, ast.Subscript)):
            raise self.error_at(
                source, name, "name= of variable must be a name, an attribute or a subscript (x, self.lr, args['lr'])"
            )
        return name

    def _key(self, name_text: str, name_expr: ast.expr, function: str) -> str:
        name = ast.unparse(name_expr) if self.key_style == "nni" else name_text
        return f"{self.module}/{name}/{function}"

    def _variable(
        self, source: _AnnotationText, call: ast.Call, common: dict[str, Any], following: ast.stmt | None
    ) -> Variable:
        name_expr = self._name_argument(source, call, "variable")
        name_text = source.segment(name_expr)
        if len(call.args) != 1:
            raise self.error_at(
                source, call, "variable takes one sampling call and name=, e.g. @nas.variable(nas.choice(1, 2), name=x)"
            )
        sampler = call.args[0]
        if not (
            isinstance(sampler, ast.Call)
            and isinstance(sampler.func, ast.Attribute)
            and isinstance(sampler.func.value, ast.Name)
            and sampler.func.value.id in _PREFIXES
        ):
            raise self.error_at(
                source,
                sampler,
                f"the value of variable must be a sampling call such as nas.choice(...), not '{source.segment(sampler)}'",
            )
        function = sampler.func.attr
        if function not in SAMPLING_ARITY:
            raise self.error_at(
                source,
                sampler,
                f"unknown sampling function '{sampler.func.value.id}.{function}'"
                f"{_suggest(function, tuple(SAMPLING_ARITY))}",
            )
        options = self._sampling_options(source, sampler, function)
        target = self._assignment_target(common, following, name_expr, name_text)
        return Variable(
            **common,
            key=self._key(name_text, name_expr, function),
            name=name_text,
            function=function,
            options=options,
            target=target,
        )

    def _sampling_options(self, source: _AnnotationText, sampler: ast.Call, function: str) -> list[Option]:
        if sampler.keywords:
            raise self.error_at(source, sampler.keywords[0], f"{function} takes its options as plain positional arguments")
        options: list[Option] = []
        for arg in sampler.args:
            if isinstance(arg, ast.Starred):
                raise self.error_at(source, arg, f"{function} takes its options written out, not *args")
            text = source.segment(arg)
            ok, value = _json_literal(text)
            options.append(Option(text, value, ok))
        arity = SAMPLING_ARITY[function]
        if arity is None:
            if not options:
                raise self.error_at(source, sampler, "choice needs at least one option")
            literal = all(option.literal for option in options)
            seen: set[Any] = set()
            for arg, option in zip(sampler.args, options, strict=False):
                identity = _literal_key(option.value) if literal else option.text
                if identity in seen:
                    raise self.error_at(source, arg, f"duplicate option {option.text} in choice")
                seen.add(identity)
            return options
        if len(options) != arity:
            names = {2: "(low, high)", 3: "(low, high, q)"}[arity]
            if function in ("normal", "lognormal"):
                names = "(mu, sigma)"
            elif function in ("qnormal", "qlognormal"):
                names = "(mu, sigma, q)"
            raise self.error_at(source, sampler, f"{function} takes {arity} numbers {names}, got {len(options)}")
        for arg, option in zip(sampler.args, options, strict=False):
            if _number(option.text) is None:
                raise self.error_at(source, arg, f"arguments of {function} must be number literals, not '{option.text}'")
        self._check_range(source, sampler, function, [_number(option.text) for option in options])
        return options

    def _check_range(self, source: _AnnotationText, node: ast.AST, function: str, values: list[Any]) -> None:
        if function in ("normal", "qnormal", "lognormal", "qlognormal"):
            if values[1] <= 0:
                raise self.error_at(source, node, f"{function} needs sigma > 0, got {values[1]}")
        elif values[0] >= values[1]:
            raise self.error_at(source, node, f"{function} needs low < high, got [{values[0]}, {values[1]}]")
        if function in ("loguniform", "qloguniform") and values[0] <= 0:
            raise self.error_at(source, node, f"{function} needs low > 0, got {values[0]}")
        if function == "randint" and not all(isinstance(v, int) for v in values):
            raise self.error_at(source, node, "randint takes two integers (low, high)")
        if function.startswith("q") and values[2] <= 0:
            raise self.error_at(source, node, f"{function} needs q > 0, got {values[2]}")

    def _assignment_target(
        self, common: dict[str, Any], following: ast.stmt | None, name_expr: ast.expr, name_text: str
    ) -> Region:
        line, column = common["line"], common["column"]
        if following is None:
            raise self.error(
                f"variable annotation for '{name_text}' is not followed by its assignment ('{name_text} = ...')",
                line,
                column,
            )
        if _is_annotation_string(following):
            raise self.error(
                f"variable annotation for '{name_text}' is followed by another annotation on line "
                f"{following.lineno}, not by its assignment",
                line,
                column,
            )
        value: ast.expr | None = None
        if isinstance(following, ast.Assign) and len(following.targets) == 1:
            if _shape(following.targets[0]) == _shape(name_expr):
                value = following.value
        elif isinstance(following, ast.AnnAssign) and following.value is not None:
            if _shape(following.target) == _shape(name_expr):
                value = following.value
        if value is None:
            found = self.pos.line_text(following.lineno).strip()
            raise self.error(
                f"variable annotation for '{name_text}' must be followed by an assignment to '{name_text}', "
                f"but line {following.lineno} is '{found}'",
                line,
                column,
            )
        return self._region(value)

    def _region(self, node: ast.AST) -> Region:
        start = self.pos.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.pos.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return Region(start, end, node.lineno, start - self.starts[node.lineno - 1] + 1)  # type: ignore[attr-defined]

    # function choice -----------------------------------------------------------------------------

    def _function_choice(
        self, source: _AnnotationText, call: ast.Call, common: dict[str, Any], following: ast.stmt | None
    ) -> FunctionChoice:
        name_expr = self._name_argument(source, call, "function_choice")
        name_text = source.segment(name_expr)
        if not call.args:
            raise self.error_at(source, call, "function_choice needs at least one candidate call")
        candidates: list[str] = []
        for arg in call.args:
            text = source.segment(arg)
            if text in candidates:
                raise self.error_at(source, arg, f"duplicate candidate '{text}' in function_choice")
            candidates.append(text)
        line, column = common["line"], common["column"]
        if following is None or _is_annotation_string(following):
            raise self.error(
                f"function_choice '{name_text}' is not followed by a statement that calls {name_text}(...)",
                line,
                column,
            )
        if isinstance(following, _COMPOUND):
            raise self.error(
                f"function_choice '{name_text}' must be followed by a simple statement that calls "
                f"{name_text}(...), not a compound statement",
                line,
                column,
            )
        shape = _shape(name_expr)
        matches = [node for node in ast.walk(following) if isinstance(node, ast.Call) and _shape(node.func) == shape]
        outermost = [
            node for node in matches if not any(other is not node and _contains(other, node) for other in matches)
        ]
        if not outermost:
            raise self.error(
                f"function_choice '{name_text}': the next statement (line {following.lineno}) does not call "
                f"{name_text}(...)",
                line,
                column,
            )
        if len(outermost) > 1:
            raise self.error(
                f"function_choice '{name_text}': the next statement (line {following.lineno}) calls "
                f"{name_text}(...) {len(outermost)} times; it must call it once",
                line,
                column,
            )
        return FunctionChoice(
            **common,
            key=self._key(name_text, name_expr, "function_choice"),
            name=name_text,
            candidates=candidates,
            target=self._region(outermost[0]),
        )

    # hand-written calls ----------------------------------------------------------------------

    def _handwritten(self) -> list[HandWritten]:
        assert self.tree is not None
        covered = sorted((a.region.start, a.region.end) for a in self.ir.annotations)
        covered_starts = [start for start, _ in covered]
        lines: set[int] = set()
        for match in _HANDWRITTEN.finditer(self.text):
            at = bisect.bisect_right(covered_starts, match.start()) - 1
            if at >= 0 and covered[at][0] <= match.start() < covered[at][1]:
                continue
            lines.add(bisect.bisect_right(self.starts, match.start()))
        if not lines:
            return []
        found: list[HandWritten] = []
        for statement in self.tree.body:
            end = statement.end_lineno or statement.lineno
            if not any(statement.lineno <= line <= end for line in lines):
                continue
            for node in ast.walk(statement):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("nas", "nni", "_nas")
                    and node.func.attr in _HANDWRITTEN_FUNCTIONS
                ):
                    found.append(self._handwritten_call(node))
        found.sort(key=lambda h: (h.line, h.column))
        return found

    def _handwritten_call(self, node: ast.Call) -> HandWritten:
        assert isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
        prefix, function = node.func.value.id, node.func.attr
        line, column = node.lineno, self.pos.column(node.lineno, node.col_offset)
        where = f"{prefix}.{function}(...)"

        def fail(message: str, at: ast.AST = node) -> AnnotationError:
            at_line = getattr(at, "lineno", line)
            return self.error(f"hand-written {where}: {message}", at_line, self.pos.column(at_line, getattr(at, "col_offset", 0)))

        def segment(expr: ast.AST) -> str:
            return self.text[self._region(expr).start : self._region(expr).end]

        def literal(expr: ast.AST, what: str) -> Any:
            ok, value = _json_literal(segment(expr))
            if not ok:
                raise fail(f"{what} must be a literal, not '{segment(expr)}'", expr)
            return value

        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        if function == "mutable_layer":
            return self._handwritten_layer(node, prefix, fail, segment, literal)
        if prefix == "nni":
            if "name" in keywords:
                key = f"{self.module}/{literal(keywords['name'], 'name=')}/{function}"
            elif node.args:
                key = f"{self.module}/__line{node.args[-1].lineno}/{function}"
            else:
                raise fail("it has no arguments")
        else:
            given = keywords.get("key", keywords.get("name"))  # the runtime takes NNI's name= as the key too
            if given is None:
                raise fail('it needs key="..." so that the trial can find its value in the architecture')
            key = literal(given, "key=")
            if not isinstance(key, str) or not key:
                raise fail("key= must be a non-empty string")
        args = list(node.args)
        if function in ("choice", "function_choice"):
            if len(args) == 1 and isinstance(args[0], ast.Dict):  # NNI's compiled form {label: option}
                values = [literal(k, "an option label") if k is not None else None for k in args[0].keys]
            elif "labels" in keywords and isinstance(keywords["labels"], (ast.List, ast.Tuple)):
                values = [literal(e, "a label") for e in keywords["labels"].elts]  # type: ignore[attr-defined]
            elif function == "choice":
                pairs = [_json_literal(segment(arg)) for arg in args]
                values = [v for _, v in pairs] if all(ok for ok, _ in pairs) else [segment(arg) for arg in args]
            else:
                raise fail("its first argument must be a dict {label: lambda: ...}")
            if not values:
                raise fail("it has no options")
            entry: dict[str, Any] = {"_type": "choice", "_value": values}
        else:
            arity = SAMPLING_ARITY[function]
            if len(args) != arity:
                raise fail(f"{function} takes {arity} numbers, got {len(args)}")
            numbers = [_number(segment(arg)) for arg in args]
            if any(n is None for n in numbers):
                raise fail(f"arguments of {function} must be number literals")
            entry = {"_type": function, "_value": numbers}
        return HandWritten(key, function, entry, None, line, column)

    def _handwritten_layer(self, node: ast.Call, prefix: str, fail: Any, segment: Any, literal: Any) -> HandWritten:
        args = node.args
        # nas: (block, layer, candidates, fixed, optional, size, mode, owner)
        # nni: (block, layer, funcs, funcs_args, fixed, optional, size, mode)
        optional_at, size_at = (5, 6) if prefix == "nni" else (4, 5)
        if len(args) <= size_at:
            raise fail(f"expected at least {size_at + 1} positional arguments")
        block = literal(args[0], "the block key")
        layer = literal(args[1], "the layer key")
        if not isinstance(args[2], ast.Dict) or not isinstance(args[optional_at], ast.Dict):
            raise fail("candidates and optional inputs must be dicts {label: ...}")
        choices = [literal(k, "a candidate label") for k in args[2].keys if k is not None]
        optional = [literal(k, "an optional input label") for k in args[optional_at].keys if k is not None]
        size = literal(args[size_at], "optional_input_size") if not isinstance(args[size_at], ast.List) else [
            literal(e, "optional_input_size") for e in args[size_at].elts
        ]
        key = f"{self.module}/{block}" if prefix == "nni" else block
        entry = {"layer_choice": choices, "optional_inputs": optional, "optional_input_size": size}
        return HandWritten(key, "mutable_layer", entry, layer, node.lineno, self.pos.column(node.lineno, node.col_offset))

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
            and not _is_annotation_string(body[0])
        ):
            index = 1
        while index < len(body) and isinstance(body[index], ast.ImportFrom) and body[index].module == "__future__":
            index += 1
        if index:
            point = self.pos.line_end(body[index - 1].end_lineno or body[index - 1].lineno)
        elif body:
            point = self.starts[body[0].lineno - 1]
        else:
            point = len(self.text)
        if self.ir.annotations:
            first = min(a.region.start for a in self.ir.annotations)
            point = min(point, self.starts[bisect.bisect_right(self.starts, first) - 1])
        return point


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(node is inner for node in ast.walk(outer))


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


def json_string(text: str) -> str:
    """A Python string literal for `text` (JSON's escaping is valid Python; non-ASCII kept as is)."""
    return json.dumps(text, ensure_ascii=False)
