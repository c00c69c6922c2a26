"""Reading an annotation's text with libcst: what every kind shares, and the dispatch to its kind.

The annotation language is parsed by libcst: each annotation's code (the text after its `@`) is one
libcst module, and every label, callee and argument is the code libcst gives back for its node, so
it is exactly what the user wrote, comments and line breaks inside it included. The user's file
around the annotations (scopes, the statement an annotation rewrites) is read with the stdlib `ast`
by `_parse.py`; where an annotation names something in that statement (`name=`), the statement's
part is read by libcst too and the two are compared as libcst trees. Each kind's own checks are in
its module (`_kinds.py`); `Reader` gives them the annotation's call, its loops and its errors.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from nasctl.annotator._errors import AnnotationError
from nasctl.annotator._ir import Annotation, LoopIndex, Region
from nasctl.annotator._kinds import ANNOTATIONS, kind_of
from nasctl.annotator._literals import number_literal
from nasctl.annotator._loops import LoopResolver
from nasctl.annotator._scope import Context, Scopes
from nasctl.annotator._source import Positions

_PREFIXES = ("nas", "nni")
_LIBCST_ERROR_AT = re.compile(r"error at (\d+):(\d+)")
#: Nodes that are layout, not meaning: two expressions that differ only in these are the same.
_LAYOUT = (
    cst.BaseParenthesizableWhitespace,
    cst.LeftParen,
    cst.RightParen,
    cst.Comment,
    cst.EmptyLine,
    cst.TrailingWhitespace,
    cst.Newline,
)


def shape(node: cst.CSTNode) -> tuple[Any, ...]:
    """What `node` means, without its layout: `args["lr"]` and `args[ 'lr' ]` have the same shape."""
    if isinstance(node, cst.Name):
        return ("name", node.value)
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return ("string", node.evaluated_value)
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        return ("number", node.evaluated_value)
    if isinstance(node, cst.Attribute):
        return ("attribute", shape(node.value), node.attr.value)
    if isinstance(node, cst.Subscript):
        return ("subscript", shape(node.value), *(shape(element.slice) for element in node.slice))
    if isinstance(node, cst.Index) and node.star is None:
        return ("index", shape(node.value))
    return (
        type(node).__name__,
        *(shape(child) for child in node.children if not isinstance(child, _LAYOUT)),
    )



def suggest(word: str, choices: Iterator[str] | tuple[str, ...] | list[str]) -> str:
    """`; did you mean 'x'?` for the choice closest to `word`, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _parse_fragment(text: str) -> cst.BaseExpression | None:
    """libcst's tree of an expression cut out of the user's file (None if it is not one on its own)."""
    try:
        return cst.parse_expression(f"({text})")
    except cst.ParserSyntaxError:
        return None


def positional_args(call: cst.Call) -> list[cst.Arg]:
    """The call's positional arguments, `*args` included."""
    return [arg for arg in call.args if arg.keyword is None and arg.star != "**"]


def keyword_args(call: cst.Call) -> list[cst.Arg]:
    """The call's keyword arguments, `**kwargs` included."""
    return [arg for arg in call.args if arg.keyword is not None or arg.star == "**"]


def prefixed_call(node: cst.BaseExpression) -> cst.Call | None:
    """`node` if it is a call `nas.<f>(...)` / `nni.<f>(...)`, else None."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and isinstance(node.func.value, cst.Name)
        and node.func.value.value in _PREFIXES
    ):
        return node
    return None


class AnnotationText:
    """One annotation's code (without the `@`), parsed by libcst, with a map back to file positions.

    `text(node)` is the exact code of a node (without parentheses around it, as Python's own
    positions count it); `position(node)` is where the node starts in the file, computed only when
    an error needs it.
    """

    def __init__(
        self, code: str, line_map: list[tuple[int, int]], exact: bool, fallback: tuple[int, int]
    ) -> None:
        self.code = code
        self.line_map = line_map  # per code line: (file line, 0-based file column of the code's column 0)
        self.exact = exact
        self.fallback = fallback
        self.module: cst.Module | None = None
        self._positions: Any = None

    def where(self, line: int, column: int) -> tuple[int, int]:
        """File (line, 1-based column) of 1-based code `line` and 0-based character `column`."""
        if not self.exact or not 1 <= line <= len(self.line_map):
            return self.fallback
        file_line, base = self.line_map[line - 1]
        return file_line, base + column + 1

    def parse(self) -> cst.Module:
        """The code's libcst module; a `ParserSyntaxError` when it is not valid Python."""
        self.module = cst.parse_module(self.code)
        return self.module

    def position(self, node: cst.CSTNode) -> tuple[int, int]:
        """File position of a node of the parsed annotation."""
        if self.module is None:
            return self.fallback
        if self._positions is None:
            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        found = self._positions.get(node)
        if found is None:
            return self.fallback
        return self.where(found.start.line, found.start.column)

    def text(self, node: cst.CSTNode) -> str:
        """The exact code of `node`, without parentheses around it."""
        assert self.module is not None
        if getattr(node, "lpar", None):
            node = node.with_changes(lpar=(), rpar=())
        return self.module.code_for_node(node)


def _nni_name(source: AnnotationText, node: cst.BaseExpression) -> str:
    """`node` written the way NNI's line-based keys write a name (Python's canonical spelling:
    `args['lr']` for `args["lr"]`); an expression other than a name, attribute or subscript of
    literals keeps its text as written."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_nni_name(source, node.value)}.{node.attr.value}"
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return repr(node.evaluated_value)
    if isinstance(node, (cst.Integer, cst.Float)):
        return repr(node.evaluated_value)
    if isinstance(node, cst.Subscript) and all(isinstance(e.slice, cst.Index) for e in node.slice):
        parts = [_nni_name(source, e.slice.value) for e in node.slice]  # type: ignore[attr-defined]
        return f"{_nni_name(source, node.value)}[{', '.join(parts)}]"
    return source.text(node)


@dataclass(frozen=True)
class Site:
    """One annotation as the reader found it: its code (`source`) and its one call `nas.<kind>(...)`,
    the fields every annotation has (`common`: kind, form, place, loops), the scope it stands in, and
    the statement after it (None if none)."""

    source: AnnotationText
    call: cst.Call
    common: dict[str, Any]
    ctx: Context
    following: ast.stmt | None


class Reader:
    """Turns one annotation (its text, where it stands, the statement after it) into an IR node."""

    def __init__(
        self,
        module: str,
        key_style: str,
        pos: Positions,
        scopes: Scopes,
        error: Callable[[str, int, int], AnnotationError],
        region: Callable[[ast.AST], Region],
    ) -> None:
        self.module = module
        self.key_style = key_style
        self.pos = pos
        self.scopes = scopes
        self.error = error
        self.region = region
        self._resolver: LoopResolver | None = None

    def read(
        self, source: AnnotationText, base: Annotation, ctx: Context, following: ast.stmt | None
    ) -> Annotation:
        """The IR node of one annotation; `following` is the statement after it (None if none)."""
        call = self._call(source)
        name = call.func.attr.value  # type: ignore[attr-defined]
        if name not in ANNOTATIONS:
            raise self.error(
                f"unknown annotation '@{base.prefix}.{name}'{suggest(name, tuple(ANNOTATIONS))}",
                *source.position(call),
            )
        kind = kind_of(name)
        common = {field: getattr(base, field) for field in Annotation.__dataclass_fields__}
        common["kind"] = name
        if kind.repeated:
            common["loops"] = self._loops(source, call, ctx, base)
        return kind.read(self, Site(source, call, common, ctx, following))

    def _repeat(self, source: AnnotationText, call: cst.Call) -> tuple[cst.CSTNode, list[int]] | None:
        """The `repeat=N` (or `[N, M]`, outer to inner) of an annotation inside loops, if given."""
        for keyword in keyword_args(call):
            if keyword.keyword is None or keyword.keyword.value != "repeat":
                continue
            node = keyword.value
            elements = node.elements if isinstance(node, (cst.List, cst.Tuple)) else None
            texts = [source.text(e.value) for e in elements] if elements is not None else [source.text(node)]
            counts = [number_literal(text) for text in texts]
            if not counts or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in counts):
                raise self.error_at(source, node, "repeat= must be a positive int literal (or a list of them, "
                                                  "one per loop the compiler cannot count)")
            return node, counts  # type: ignore[return-value]
        return None

    def _loops(self, source: AnnotationText, call: cst.Call, ctx: Context, base: Annotation) -> tuple[LoopIndex, ...]:
        """One `LoopIndex` per counted `for` loop around the annotation.

        A loop the compiler cannot count (over epochs, a data loader) repeats the same choice, one
        shared key as in NNI, unless the annotation gives its count with `repeat=`. NNI's key style
        never expands.
        """
        repeat = self._repeat(source, call)
        if not ctx.loops or self.key_style == "nni":
            if repeat is not None and not ctx.loops:
                raise self.error_at(source, repeat[0], "repeat= is for an annotation inside a for loop whose "
                                                       "iterations the compiler cannot count; this one is in none")
            return ()
        if self._resolver is None:
            self._resolver = LoopResolver(self.scopes.tree, lambda node: self.pos.text[
                self.region(node).start:self.region(node).end])
        loops = [self._resolver.resolve(node) for node in ctx.loops]
        unknown = [loop for loop in loops if loop.count is None]
        given = repeat[1] if repeat is not None else []
        if repeat is not None and len(given) != len(unknown):
            what = (f"the compiler counts every loop around it ({', '.join(str(loop.count) for loop in loops)} "
                    "iterations); remove repeat=") if not unknown else (
                    f"{len(unknown)} loop(s) around it need a count, repeat= gives {len(given)}")
            raise self.error_at(source, repeat[0], f"repeat=: {what}")
        counts = iter(given)
        result: list[LoopIndex] = []
        for loop in loops:
            count = loop.count if loop.count is not None else next(counts, None)
            if count is None:
                continue  # an uncounted loop without repeat=: every iteration shares the key
            if loop.index is None:
                raise self.error(
                    f"this annotation is inside the loop 'for ... in {loop.iterable}' (line {loop.line}), which "
                    "repeats it once per iteration, but the compiler cannot tell which iteration runs; loop "
                    "with 'for i, x in enumerate(...)' or 'for i in range(...)'", base.line, base.column)
            result.append(LoopIndex(loop.index, count))
        return tuple(result)

    def _call(self, source: AnnotationText) -> cst.Call:
        """The annotation's one call `nas.<kind>(...)` (func an attribute of `nas`/`nni`)."""
        try:
            module = source.parse()
        except cst.ParserSyntaxError as error:
            raise self._syntax_error(source, error) from None
        statements = module.body
        line = statements[0] if statements else None
        small = line.body if isinstance(line, cst.SimpleStatementLine) else ()
        extra = statements[1] if len(statements) > 1 else small[1] if len(small) > 1 else None
        if extra is not None:
            raise self.error(
                "syntax error in annotation: an annotation is one call; this one goes on after it",
                *source.position(extra),
            )
        expression = small[0].value if small and isinstance(small[0], cst.Expr) else None
        call = prefixed_call(expression) if expression is not None else None
        if call is None:
            raise self.error("an annotation must be a call such as @nas.variable(...)", *source.fallback)
        return call

    def _syntax_error(self, source: AnnotationText, error: cst.ParserSyntaxError) -> AnnotationError:
        """The error for an annotation libcst cannot parse, worded by Python's own compiler.

        libcst's messages list every token it expected, and its tokenizer errors carry no
        position; CPython says the same thing in words ("'(' was never closed") at an exact column,
        so it words the message (only on this path, once libcst has rejected the code).
        """
        try:
            compile(source.code, "<annotation>", "exec", ast.PyCF_ONLY_AST)
        except SyntaxError as python:
            line, column = source.where(python.lineno or 1, max((python.offset or 1) - 1, 0))
            return self.error(f"syntax error in annotation: {python.msg}", line, column)
        found = _LIBCST_ERROR_AT.search(error.message)
        line, column = (int(found.group(1)), int(found.group(2)) - 1) if found else (1, 0)
        detail = _LIBCST_ERROR_AT.sub("", error.message.removeprefix("parser error: ")).lstrip(": ")
        return self.error(f"syntax error in annotation: {detail}", *source.where(line, column))

    def error_at(self, source: AnnotationText, node: cst.CSTNode, message: str) -> AnnotationError:
        """The error `message` at `node` of the annotation."""
        return self.error(message, *source.position(node))

    def name_argument(
        self, source: AnnotationText, call: cst.Call, kind: str, allowed: tuple[str, ...]
    ) -> cst.BaseExpression:
        """The `name=` of a `variable` or `function_choice`, whose other keywords must be in `allowed`."""
        name: cst.BaseExpression | None = None
        for arg in positional_args(call):
            if arg.star:
                raise self.error_at(source, arg, f"{kind} does not take *args")
        for keyword in keyword_args(call):
            if keyword.keyword is not None and keyword.keyword.value == "name":
                name = keyword.value
            elif keyword.keyword is None or keyword.keyword.value not in allowed:
                what = f"'{keyword.keyword.value}'" if keyword.keyword else "**"
                others = " and ".join(f"{word}=" for word in ("name", *allowed))
                raise self.error_at(
                    source, keyword, f"unknown argument {what} of {kind}; only {others} are allowed"
                )
        if name is None:
            raise self.error_at(source, call, f"{kind} needs name=..., the variable it sets")
        return name

    def choice_key(
        self, source: AnnotationText, name_text: str, name_expr: cst.BaseExpression, function: str
    ) -> str:
        """The key of a variable or function choice: `<module>/<name>/<function>`."""
        name = _nni_name(source, name_expr) if self.key_style == "nni" else name_text
        return f"{self.module}/{name}/{function}"

    def same(self, node: ast.AST, written: str, wanted: tuple[Any, ...]) -> bool:
        """Whether the part `node` of the user's file is the expression written as `written`, whose shape
        is `wanted` (the same text, or, read by libcst, the same shape)."""
        region = self.region(node)
        text = self.pos.text[region.start : region.end]
        if text == written:
            return True
        fragment = _parse_fragment(text)
        return fragment is not None and shape(fragment) == wanted

