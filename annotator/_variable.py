"""`variable(nas.<sampling>(...), name=x)`: the value of the assignment after it is sampled.

The sampling functions are NNI's (`choice randint uniform quniform loguniform qloguniform normal
qnormal lognormal qlognormal`). Compiled, the assigned value becomes `_nas.<sampling>(options,
key=...)`; its search-space entry is `{"_type": <sampling>, "_value": [...]}`; `trial codegen` writes
the chosen option's text or the sampled number. Hand-written `nas.choice(..., key=...)`,
`nni.uniform(..., name=...)`, ... calls are read for the search space.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from nasctl.annotator._codegen import Edit, key_code, one_line, remove, rewrite_target
from nasctl.annotator._handwritten import HandCall, HandReader
from nasctl.annotator._inline import grouped, lookup, mismatch
from nasctl.annotator._ir import Annotation, HandWritten, ModuleIR, Region
from nasctl.annotator._kinds import Kind, always
from nasctl.annotator._literals import json_literal, number_literal, python_string
from nasctl.annotator._read import (
    AnnotationText,
    Reader,
    Site,
    keyword_args,
    positional_args,
    prefixed_call,
    shape,
    suggest,
)
from nasctl.annotator._scope import is_annotation_string

from nasctl.searchspace import (
    SAMPLING_ARITY,
    ArchitectureError,
    check_variable,
    expand_key,
    find_label,
    json_equal,
)

#: The sampling types whose values lie in `[low, high]` (`randint`: `[low, high)`).
_RANGED = ("randint", "uniform", "quniform", "loguniform", "qloguniform")


@dataclass
class Option:
    """One option of a `choice`: its source text, and its JSON value when it is a literal."""

    text: str
    value: Any
    literal: bool


@dataclass
class Variable(Annotation):
    """`variable(nas.<sampling>(...), name=x)` and the assignment after it, whose value is `target`."""

    key: str = ""
    name: str = ""
    function: str = ""
    options: list[Option] = field(default_factory=list)
    target: Region | None = None
    architectural: bool = False  # `architectural=True`: a one-shot mode relaxes it (mixes its options)
    #: NNI's labels: each literal option by its value, the others by source text (key style nni).
    by_value: bool = False

    @property
    def labels(self) -> list[Any]:
        """The labels an architecture uses for this choice: values if all literal, else source texts
        (with `by_value`, literal options by value and the others by source text, as NNI writes them)."""
        if all(option.literal for option in self.options):
            return [option.value for option in self.options]
        if self.by_value:
            return [option.value if option.literal else option.text for option in self.options]
        return [option.text for option in self.options]


# reading ---------------------------------------------------------------------------------------


def read(reader: Reader, site: Site) -> Variable:
    """A variable: its sampling call, checked, and the assignment after it."""
    source, call, common, following = site.source, site.call, site.common, site.following
    name_expr = reader.name_argument(source, call, "variable", ("repeat", "architectural"))
    if not isinstance(name_expr, (cst.Name, cst.Attribute, cst.Subscript)):
        raise reader.error_at(
            source,
            name_expr,
            "name= of variable must be a name, an attribute or a subscript (x, self.lr, args['lr'])",
        )
    name_text = source.text(name_expr)
    positional = positional_args(call)
    if len(positional) != 1:
        raise reader.error_at(
            source,
            call,
            "variable takes one sampling call and name=, e.g. @nas.variable(nas.choice(1, 2), name=x)",
        )
    sampler_node = positional[0].value
    sampler = prefixed_call(sampler_node)
    if sampler is None:
        raise reader.error_at(
            source,
            sampler_node,
            f"the value of variable must be a sampling call such as nas.choice(...), not '{source.text(sampler_node)}'",
        )
    prefix = sampler.func.value.value  # type: ignore[attr-defined]
    function = sampler.func.attr.value  # type: ignore[attr-defined]
    if function not in SAMPLING_ARITY:
        raise reader.error_at(
            source,
            sampler,
            f"unknown sampling function '{prefix}.{function}'{suggest(function, tuple(SAMPLING_ARITY))}",
        )
    options = _sampling_options(reader, source, sampler, function)
    architectural = _architectural(reader, source, call, function)
    target = _assignment_target(reader, common, following, name_expr, name_text)
    return Variable(
        **common,
        by_value=reader.key_style == "nni",
        key=reader.choice_key(source, name_text, name_expr, function),
        name=name_text,
        function=function,
        options=options,
        target=target,
        architectural=architectural,
    )


def _architectural(reader: Reader, source: AnnotationText, call: cst.Call, function: str) -> bool:
    """`architectural=True`: a choice the one-shot modes relax instead of drawing it per trial."""
    for keyword in keyword_args(call):
        if keyword.keyword is not None and keyword.keyword.value == "architectural":
            value = source.text(keyword.value)
            if value not in ("True", "False"):
                raise reader.error_at(source, keyword.value, "architectural= must be True or False")
            if value == "True" and function != "choice":
                raise reader.error_at(source, keyword.value, "architectural=True is for a choice")
            return value == "True"
    return False


def _sampling_options(reader: Reader, source: AnnotationText, sampler: cst.Call, function: str) -> list[Option]:
    """The options of a sampling call, checked: distinct choices, or numbers in a valid range."""
    keywords = keyword_args(sampler)
    if keywords:
        raise reader.error_at(
            source, keywords[0], f"{function} takes its options as plain positional arguments"
        )
    options: list[Option] = []
    for arg in sampler.args:
        if arg.star:
            raise reader.error_at(source, arg, f"{function} takes its options written out, not *args")
        text = source.text(arg.value)
        ok, value = json_literal(text)
        options.append(Option(text, value, ok))
    arity = SAMPLING_ARITY[function]
    if arity is None:
        if not options:
            raise reader.error_at(source, sampler, "choice needs at least one option")
        literal = all(option.literal for option in options)
        for index, (arg, option) in enumerate(zip(sampler.args, options, strict=False)):
            if any(json_equal(option.value, other.value) if literal else option.text == other.text
                   for other in options[:index]):
                raise reader.error_at(source, arg.value, f"duplicate option {option.text} in choice")
        return options
    if reader.key_style == "nni" and len(options) != arity:
        # NNI's generator writes the numbers as given (its own test has `randint(2, 3, 5)`); the
        # tuner that reads the search space says what it cannot sample.
        for arg, option in zip(sampler.args, options, strict=False):
            if number_literal(option.text) is None:
                raise reader.error_at(
                    source, arg.value, f"arguments of {function} must be number literals, not '{option.text}'"
                )
        return options
    if len(options) != arity:
        names = {2: "(low, high)", 3: "(low, high, q)"}[arity]
        if function in ("normal", "lognormal"):
            names = "(mu, sigma)"
        elif function in ("qnormal", "qlognormal"):
            names = "(mu, sigma, q)"
        raise reader.error_at(
            source, sampler, f"{function} takes {arity} numbers {names}, got {len(options)}"
        )
    for arg, option in zip(sampler.args, options, strict=False):
        if number_literal(option.text) is None:
            raise reader.error_at(
                source, arg.value, f"arguments of {function} must be number literals, not '{option.text}'"
            )
    _check_range(reader, source, sampler, function, [number_literal(option.text) for option in options])
    return options


def _check_range(
    reader: Reader, source: AnnotationText, node: cst.CSTNode, function: str, values: Sequence[Any]
) -> None:
    """The distribution's parameters are valid: low < high, sigma > 0, q > 0, ..."""
    if function in ("normal", "qnormal", "lognormal", "qlognormal"):
        if values[1] <= 0:
            raise reader.error_at(source, node, f"{function} needs sigma > 0, got {values[1]}")
    elif values[0] >= values[1]:
        raise reader.error_at(source, node, f"{function} needs low < high, got [{values[0]}, {values[1]}]")
    if function in ("loguniform", "qloguniform") and values[0] <= 0:
        raise reader.error_at(source, node, f"{function} needs low > 0, got {values[0]}")
    if function == "randint" and not all(isinstance(v, int) for v in values):
        raise reader.error_at(source, node, "randint takes two integers (low, high)")
    if function.startswith("q") and values[2] <= 0:
        raise reader.error_at(source, node, f"{function} needs q > 0, got {values[2]}")


def _assignment_target(
    reader: Reader,
    common: dict[str, Any],
    following: ast.stmt | None,
    name_expr: cst.BaseExpression,
    name_text: str,
) -> Region:
    """The value of the assignment to `name` that must follow the annotation."""
    line, column = common["line"], common["column"]
    if following is None:
        raise reader.error(
            f"variable annotation for '{name_text}' is not followed by its assignment ('{name_text} = ...')",
            line,
            column,
        )
    if is_annotation_string(following):
        raise reader.error(
            f"variable annotation for '{name_text}' is followed by another annotation on line "
            f"{following.lineno}, not by its assignment",
            line,
            column,
        )
    value: ast.expr | None = None
    target: ast.expr | None = None
    if isinstance(following, ast.Assign) and len(following.targets) == 1:
        target, value = following.targets[0], following.value
    elif isinstance(following, ast.AnnAssign) and following.value is not None:
        target, value = following.target, following.value
    if target is None or value is None or not reader.same(target, name_text, shape(name_expr)):
        found = reader.pos.line_text(following.lineno).strip()
        raise reader.error(
            f"variable annotation for '{name_text}' must be followed by an assignment to '{name_text}', "
            f"but line {following.lineno} is '{found}'",
            line,
            column,
        )
    return reader.region(value)

# compiled code ---------------------------------------------------------------------------------


def _label_code(label: object) -> str:
    """A choice label (a source text, or a literal's value) as Python code."""
    return python_string(label) if isinstance(label, str) else repr(label)


def variable_call(variable: Variable) -> str:
    """`_nas.<function>(options, key=...)`, with the labels of a choice of non-literal options."""
    options = ", ".join(one_line(option.text) for option in variable.options)
    labels = ""
    if variable.function == "choice" and not all(option.literal for option in variable.options):
        labels = ", labels=[" + ", ".join(_label_code(label) for label in variable.labels) + "]"
    relaxed = ", architectural=True" if variable.architectural else ""
    return f"_nas.{variable.function}({options}, key={key_code(variable, variable.key)}{labels}{relaxed})"


def compile_variable(ir: ModuleIR, variable: Variable, mode: str) -> list[Edit]:
    """The annotation removed, the runtime's sampling call in place of the assigned value."""
    return rewrite_target(remove(ir, variable), variable, variable.target, variable_call(variable))


# search space ----------------------------------------------------------------------------------


def entry(variable: Variable) -> tuple[str, dict[str, Any]]:
    """`{"_type": <sampling>, "_value": [...]}`: a choice's labels, or the distribution's numbers."""
    if variable.function == "choice":
        values = variable.labels
    else:
        values = [number_literal(option.text) for option in variable.options]
    return variable.key, {"_type": variable.function, "_value": values}


def handwritten(reader: HandReader, call: HandCall) -> list[HandWritten]:
    """`nas.choice(..., key=...)`, `nni.uniform(..., name=...)`, ...: compiled code's sampling calls."""
    keys = reader.named_keys(call)
    args = call.node.args
    if call.function == "choice":
        labels = reader.labels(call)
        if labels is None:
            pairs = [json_literal(reader.segment(arg)) for arg in args]
            labels = [v for _, v in pairs] if all(ok for ok, _ in pairs) else [reader.segment(arg) for arg in args]
        return call.choices(keys, labels)
    arity = SAMPLING_ARITY[call.function]
    if len(args) != arity:
        raise call.fail(f"{call.function} takes {arity} numbers, got {len(args)}")
    numbers = [number_literal(reader.segment(arg)) for arg in args]
    if any(n is None for n in numbers):
        raise call.fail(f"arguments of {call.function} must be number literals")
    return call.entries(keys, {"_type": call.function, "_value": numbers})


# trial codegen ---------------------------------------------------------------------------------


def _repeated_value(ir: ModuleIR, variable: Variable, architecture: dict[str, Any]) -> str:
    """A variable's chosen value; inside loops, a tuple of the values per iteration indexed by the loop."""
    if not variable.loops:
        return _variable_value(ir, variable, variable.key, architecture)
    values = [_variable_value(ir, variable, key, architecture) for key in expand_key(variable.key, variable.counts)]

    def nest(depth: int, offset: int) -> str:
        if depth == len(variable.loops):
            return values[offset]
        count = variable.loops[depth].count
        size = len(values) // _product(variable.counts[: depth + 1])
        items = [nest(depth + 1, offset + i * size) for i in range(count)]
        return "(" + ", ".join(items) + ("," if count == 1 else "") + ")"

    return nest(0, 0) + "".join(f"[{loop.index}]" for loop in variable.loops)


def _product(counts: list[int]) -> int:
    result = 1
    for count in counts:
        result *= count
    return result


def _variable_value(ir: ModuleIR, variable: Variable, key: str, architecture: dict[str, Any]) -> str:
    """The code of the value the architecture gives `key`: the chosen option's text, or the number."""
    value = lookup(ir, variable, key, architecture)
    if variable.function == "choice":
        labels = variable.labels
        index = find_label(labels, value)
        if index is None:
            known = ", ".join(python_string(label) if isinstance(label, str) else repr(label) for label in labels)
            raise mismatch(ir, variable, key, f"{value!r} is not one of the options: {known}")
        return grouped(variable.options[index].text)
    bounds = [number_literal(option.text) for option in variable.options]
    try:
        return repr(check_variable(key, variable.function, bounds, value))
    except ArchitectureError as error:
        reason = str(error).removeprefix(f"architecture key '{key}': ")
    function = variable.function
    finite = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if finite and function in _RANGED and (function != "randint" or float(value).is_integer()):
        shown, high = (int(value), f"{bounds[1]})") if function == "randint" else (repr(value), f"{bounds[1]}]")
        reason = f"{shown} is outside {function}'s range [{bounds[0]}, {high}"
    raise mismatch(ir, variable, key, reason)


def inline(
    ir: ModuleIR, variable: Variable, architecture: dict[str, Any], drop: Callable[[Annotation], Edit]
) -> list[Edit]:
    """The annotation dropped, the chosen value in place of the assigned value."""
    return rewrite_target(drop(variable), variable, variable.target, _repeated_value(ir, variable, architecture))


KIND = Kind(
    read=read,
    compile=compile_variable,
    inline=inline,
    entry=entry,
    dropped=always,
    handwritten=handwritten,
)
