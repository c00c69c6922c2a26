"""Direct calls written by hand (`nas.choice(..., key=...)`, `nni.choice(..., name=...)`,
`nas.mutable_layer(...)`): found for the search space the way NNI's search-space generator finds them.

The compiler leaves these calls as they are; it only reads their keys and options. `_nas.` (the alias
of compiled code) counts as `nas.`, so compiled code yields the same search space again.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nasctl.annotator._errors import AnnotationError
from nasctl.annotator._ir import Annotation, HandWritten
from nasctl.annotator._kinds import HANDWRITTEN, kind_of
from nasctl.annotator._literals import json_literal
from nasctl.annotator._loops import LoopResolver
from nasctl.annotator._source import Positions

from nasctl.searchspace import expand_key

HANDWRITTEN_PATTERN = r"\b_?n(?:as|ni)\s*\.\s*(?:" + "|".join(HANDWRITTEN) + r")\s*\("
_HANDWRITTEN = re.compile(HANDWRITTEN_PATTERN)

ErrorFactory = Callable[[str, int, int], AnnotationError]


@dataclass(frozen=True)
class HandCall:
    """One hand-written call `<prefix>.<function>(...)`: its node, keywords and `repeat=`, where it is,
    and how to blame it (`fail(message, node)`) or read a literal argument (`literal(node, what)`)."""

    node: ast.Call
    prefix: str
    function: str
    keywords: dict[str, ast.expr]
    repeat: int | None
    line: int
    column: int
    fail: Callable[..., AnnotationError]
    literal: Callable[[ast.AST, str], Any]

    def entries(self, keys: list[str], entry: dict[str, Any]) -> list[HandWritten]:
        """`entry` under each of `keys`."""
        return [HandWritten(key, self.function, entry, None, self.line, self.column) for key in keys]

    def choices(self, keys: list[str], labels: list[Any]) -> list[HandWritten]:
        """A choice among `labels` under each of `keys`."""
        if not labels:
            raise self.fail("it has no options")
        return self.entries(keys, {"_type": "choice", "_value": labels})


class HandReader:
    """Reads the hand-written calls of one module; each kind reads its own calls' entries (`_kinds.py`)."""

    def __init__(self, text: str, pos: Positions, module: str, error: ErrorFactory, tree: ast.Module) -> None:
        self.text = text
        self.pos = pos
        self.module = module
        self.error = error
        self.tree = tree
        self.parents: dict[ast.AST, ast.AST] = {}
        self._loops: LoopResolver | None = None

    def _loop_values(self, name: str, node: ast.AST, repeat: int | None, fail: Any) -> list[Any]:
        """The values loop variable `name` takes where `node` uses it: from the `for` loop or
        comprehension around `node` that binds it (its iterable, or `range(repeat)` for a counter)."""
        if self._loops is None:
            self._loops = LoopResolver(self.tree, self.segment)
        child, parent = node, self.parents.get(node)
        while parent is not None:
            if isinstance(parent, ast.For) and child is not parent.iter and child is not parent.target:
                generators = [(parent.target, parent.iter)]
            elif isinstance(parent, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                generators = [(g.target, g.iter) for g in parent.generators]
            else:
                generators = []
            for target, iterable in generators:
                if isinstance(target, ast.Name) and target.id == name:
                    values = self._loops.values(iterable)
                elif (isinstance(target, ast.Tuple) and len(target.elts) == 2
                      and isinstance(target.elts[0], ast.Name) and target.elts[0].id == name
                      and isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name)
                      and iterable.func.id == "enumerate" and len(iterable.args) == 1):
                    inner = self._loops.values(iterable.args[0])
                    values = tuple(range(len(inner))) if inner is not None else None
                else:
                    continue
                if values is None and repeat is not None:
                    values = tuple(range(repeat))
                if values is None:
                    raise fail(f"the compiler cannot list the values of '{name}' in key=, the loop over "
                               f"'{self.segment(iterable)}' (line {iterable.lineno}); give repeat=N "
                               "(the loop's iterations, 0 to N-1)")
                return list(values)
            child, parent = parent, self.parents.get(parent)
        raise fail(f"key= uses '{name}', which no for loop or comprehension around the call binds")

    def keys(self, given: ast.expr, node: ast.Call, repeat: int | None, fail: Any, literal: Any) -> list[str]:
        """The search-space keys a `key=` expression takes: a literal, an f-string over loop
        variables (one key per iteration), or compiled code's `_nas.loop_key(key, indices, counts)`."""
        if isinstance(given, ast.JoinedStr):
            parts: list[Any] = []
            for value in given.values:
                if isinstance(value, ast.Constant):
                    parts.append([str(value.value)])
                elif (isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name)
                      and value.conversion == -1 and value.format_spec is None):
                    parts.append([str(v) for v in self._loop_values(value.value.id, node, repeat, fail)])
                else:
                    raise fail("an f-string key= may only insert loop variables, as in f\"emb_dim/{i}\"", value)
            keys: list[str] = [""]
            for options in parts:
                keys = [key + option for key in keys for option in options]
            return keys
        if (isinstance(given, ast.Call) and isinstance(given.func, ast.Attribute)
                and given.func.attr == "loop_key" and len(given.args) == 3):
            base = literal(given.args[0], "the key of loop_key")
            counts_node = given.args[2]
            if not isinstance(counts_node, ast.Tuple):
                raise fail("loop_key's counts must be a tuple of ints", counts_node)
            counts = [literal(element, "a loop count") for element in counts_node.elts]
            return expand_key(base, counts)
        key = literal(given, "key=")
        if not isinstance(key, str) or not key:
            raise fail("key= must be a non-empty string")
        return [key]

    def segment(self, node: ast.AST) -> str:
        start = self.pos.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.pos.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return self.text[start:end]

    def call(self, node: ast.Call) -> list[HandWritten]:
        """The search-space entries of one hand-written call, read by its kind."""
        assert isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
        prefix, function = node.func.value.id, node.func.attr
        line, column = node.lineno, self.pos.column(node.lineno, node.col_offset)
        where = f"{prefix}.{function}(...)"

        def fail(message: str, at: ast.AST = node) -> AnnotationError:
            at_line = getattr(at, "lineno", line)
            return self.error(
                f"hand-written {where}: {message}",
                at_line,
                self.pos.column(at_line, getattr(at, "col_offset", 0)),
            )

        segment = self.segment

        def literal(expr: ast.AST, what: str) -> Any:
            ok, value = json_literal(segment(expr))
            if not ok:
                raise fail(f"{what} must be a literal, not '{segment(expr)}'", expr)
            return value

        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise fail("its options must be written out, not passed with *")
        repeat = literal(keywords["repeat"], "repeat=") if "repeat" in keywords else None
        if repeat is not None and (isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1):
            raise fail("repeat= must be a positive int", keywords["repeat"])
        call = HandCall(node, prefix, function, keywords, repeat, line, column, fail, literal)
        read = kind_of(function).handwritten
        assert read is not None  # HANDWRITTEN lists only kinds that read hand-written calls
        return read(self, call)

    def named_keys(self, call: HandCall) -> list[str]:
        """The keys of a sampling call or function choice: NNI's `name=` (or its line) for `nni.`,
        `key=` (or NNI's `name=`) for `nas.`."""
        node, function, keywords = call.node, call.function, call.keywords
        if call.prefix == "nni":
            if "name" in keywords:
                return [f"{self.module}/{call.literal(keywords['name'], 'name=')}/{function}"]
            if node.args:
                return [f"{self.module}/__line{node.args[-1].lineno}/{function}"]
            raise call.fail("it has no arguments")
        given = keywords.get("key", keywords.get("name"))  # the runtime takes NNI's name= as the key too
        if given is None:
            raise call.fail('it needs key="..." so that the trial can find its value in the architecture')
        return self.keys(given, node, call.repeat, call.fail, call.literal)

    def labels(self, call: HandCall) -> list[Any] | None:
        """The option labels of a compiled choice: NNI's `{label: option}` dict, or nasctl's `labels=`."""
        args, keywords = call.node.args, call.keywords
        if len(args) == 1 and isinstance(args[0], ast.Dict):  # NNI's compiled form {label: option}
            return [call.literal(k, "an option label") if k is not None else None for k in args[0].keys]
        if "labels" in keywords and isinstance(keywords["labels"], (ast.List, ast.Tuple)):
            return [call.literal(e, "a label") for e in keywords["labels"].elts]  # type: ignore[attr-defined]
        return None


def find_handwritten(
    tree: ast.Module,
    text: str,
    pos: Positions,
    module: str,
    annotations: Sequence[Annotation],
    error: ErrorFactory,
) -> list[HandWritten]:
    """Every hand-written sampling / function-choice / mutable-layer call outside the annotations."""
    covered = sorted((a.region.start, a.region.end) for a in annotations)
    covered_starts = [start for start, _ in covered]
    lines: set[int] = set()
    for match in _HANDWRITTEN.finditer(text):
        at = bisect.bisect_right(covered_starts, match.start()) - 1
        if at >= 0 and covered[at][0] <= match.start() < covered[at][1]:
            continue
        lines.add(bisect.bisect_right(pos.starts, match.start()))
    if not lines:
        return []
    reader = HandReader(text, pos, module, error, tree)
    found: list[HandWritten] = []
    for statement in tree.body:
        end = statement.end_lineno or statement.lineno
        if not any(statement.lineno <= line <= end for line in lines):
            continue
        for parent in ast.walk(statement):
            for child in ast.iter_child_nodes(parent):
                reader.parents[child] = parent
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("nas", "nni", "_nas")
                and node.func.attr in HANDWRITTEN
            ):
                found.extend(reader.call(node))
    found.sort(key=lambda h: (h.line, h.column))
    return found
