"""`function_choice(f(h), g(h), name=f)`: the call of `f` in the next statement becomes a choice.

Compiled, the call is `_nas.function_choice({"f(h)": lambda: f(h), ...}, key=...)`; its search-space
entry is a `choice` among the candidates' texts; `trial codegen` writes the chosen call. A
hand-written `nas.function_choice({label: lambda: ...}, key=...)` is read for the search space.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nasctl.annotator._codegen import Edit, key_code, one_line, remove, rewrite_target
from nasctl.annotator._handwritten import HandCall, HandReader
from nasctl.annotator._inline import grouped, iteration_test, lookup, mismatch
from nasctl.annotator._ir import Annotation, HandWritten, ModuleIR, Region
from nasctl.annotator._kinds import Kind, always
from nasctl.annotator._literals import python_string
from nasctl.annotator._read import Reader, Site, positional_args, shape
from nasctl.annotator._scope import COMPOUND, is_annotation_string

from nasctl.searchspace import find_label, index_combinations, indexed_key


@dataclass
class FunctionChoice(Annotation):
    """`function_choice(f(h), g(h), name=f)`: the call `target` in the next statement is replaced."""

    key: str = ""
    name: str = ""
    candidates: list[str] = field(default_factory=list)
    target: Region | None = None


# reading ---------------------------------------------------------------------------------------


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(node is inner for node in ast.walk(outer))


def read(reader: Reader, site: Site) -> FunctionChoice:
    """A function choice and the one call of `name` in the statement after it."""
    source, call, common, following = site.source, site.call, site.common, site.following
    name_expr = reader.name_argument(source, call, "function_choice", ("repeat",))
    name_text = source.text(name_expr)
    positional = positional_args(call)
    if not positional:
        raise reader.error_at(source, call, "function_choice needs at least one candidate call")
    candidates: list[str] = []
    for arg in positional:
        text = source.text(arg.value)
        if text in candidates:
            raise reader.error_at(source, arg.value, f"duplicate candidate '{text}' in function_choice")
        candidates.append(text)
    line, column = common["line"], common["column"]
    if following is None or is_annotation_string(following):
        raise reader.error(
            f"function_choice '{name_text}' is not followed by a statement that calls {name_text}(...)",
            line,
            column,
        )
    if isinstance(following, COMPOUND):
        raise reader.error(
            f"function_choice '{name_text}' must be followed by a simple statement that calls "
            f"{name_text}(...), not a compound statement",
            line,
            column,
        )
    wanted = shape(name_expr)
    matches = [
        node
        for node in ast.walk(following)
        if isinstance(node, ast.Call) and reader.same(node.func, name_text, wanted)
    ]
    outermost = [
        node
        for node in matches
        if not any(other is not node and _contains(other, node) for other in matches)
    ]
    if not outermost:
        raise reader.error(
            f"function_choice '{name_text}': the next statement (line {following.lineno}) does not call "
            f"{name_text}(...)",
            line,
            column,
        )
    if len(outermost) > 1:
        raise reader.error(
            f"function_choice '{name_text}': the next statement (line {following.lineno}) calls "
            f"{name_text}(...) {len(outermost)} times; it must call it once",
            line,
            column,
        )
    return FunctionChoice(
        **common,
        key=reader.choice_key(source, name_text, name_expr, "function_choice"),
        name=name_text,
        candidates=candidates,
        target=reader.region(outermost[0]),
    )


# compiled code ---------------------------------------------------------------------------------


def function_choice_call(choice: FunctionChoice) -> str:
    """`_nas.function_choice({label: lambda: call, ...}, key=...)`."""
    table = ", ".join(f"{python_string(text)}: lambda: {one_line(text)}" for text in choice.candidates)
    return f"_nas.function_choice({{{table}}}, key={key_code(choice, choice.key)})"


def compile_choice(ir: ModuleIR, choice: FunctionChoice, mode: str) -> list[Edit]:
    """The annotation removed, the runtime's choice in place of the call."""
    return rewrite_target(remove(ir, choice), choice, choice.target, function_choice_call(choice))


# search space ----------------------------------------------------------------------------------


def entry(choice: FunctionChoice) -> tuple[str, dict[str, Any]]:
    """A `choice` among the candidates as written."""
    return choice.key, {"_type": "choice", "_value": list(choice.candidates)}


def handwritten(reader: HandReader, call: HandCall) -> list[HandWritten]:
    """`nas.function_choice({label: lambda: ..., ...}, key=...)` (or with `labels=`)."""
    keys = reader.named_keys(call)
    labels = reader.labels(call)
    if labels is None:
        raise call.fail("its first argument must be a dict {label: lambda: ...}")
    return call.choices(keys, labels)


# trial codegen ---------------------------------------------------------------------------------


def _chosen_call(ir: ModuleIR, choice: FunctionChoice, architecture: dict[str, Any]) -> str:
    """The chosen call; inside loops, a conditional expression choosing each iteration's call."""
    combinations = list(index_combinations(choice.counts))
    keys = [indexed_key(choice.key, indices) for indices in combinations]
    calls = []
    for key in keys:
        label = lookup(ir, choice, key, architecture)
        index = find_label(choice.candidates, label)
        if index is None:
            known = ", ".join(choice.candidates)
            raise mismatch(ir, choice, key, f"{label!r} is not one of the candidates: {known}")
        calls.append(grouped(choice.candidates[index]))
    if not choice.loops:
        return calls[0]
    text = calls[-1]
    for indices, call in zip(reversed(combinations[:-1]), reversed(calls[:-1]), strict=True):
        text = f"{call} if {iteration_test(choice, indices)} else {text}"
    return f"({text})"


def inline(
    ir: ModuleIR, choice: FunctionChoice, architecture: dict[str, Any], drop: Callable[[Annotation], Edit]
) -> list[Edit]:
    """The annotation dropped, the chosen call in place of the call."""
    return rewrite_target(drop(choice), choice, choice.target, _chosen_call(ir, choice, architecture))


KIND = Kind(
    read=read,
    compile=compile_choice,
    inline=inline,
    entry=entry,
    dropped=always,
    handwritten=handwritten,
)
