"""Plain calls: `report_intermediate_result`, `report_final_result`, `get_next_parameter`,
`training_update`, `derive_architecture`.

Each becomes one call of the runtime with the arguments as written (`_nas.report_final_result(acc)`);
it has no search-space entry. `trial codegen` prints the reported results and drops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from nasctl.annotator._codegen import Edit, one_line, replace_with, replace_within
from nasctl.annotator._ir import Annotation, ModuleIR
from nasctl.annotator._kinds import Kind
from nasctl.annotator._literals import python_string
from nasctl.annotator._read import AnnotationText, Reader, Site, keyword_args, positional_args

#: What `trial codegen` prints before a reported result; the other plain calls it drops.
_PRINTS = {"report_intermediate_result": "intermediate result:", "report_final_result": "final result:"}


@dataclass
class PlainCall(Annotation):
    """A call passed through to the runtime: `report_final_result(x)`, `training_update(...)`, ...

    `derive_architecture(evaluate)` is nasctl's own: in oneshot mode it ranks sampled subnets with
    `evaluate()`; in the other modes it does nothing.
    """

    arguments: list[str] = field(default_factory=list)


# reading ---------------------------------------------------------------------------------------


def _arguments(source: AnnotationText, call: cst.Call) -> list[str]:
    """The call's arguments as written, in their order: `x`, `*xs`, `k=v`, `**kw`."""
    parts: list[str] = []
    for arg in call.args:
        text = source.text(arg.value)
        if arg.keyword is not None:
            parts.append(f"{arg.keyword.value}={text}")
        else:
            parts.append(f"{arg.star}{text}")
    return parts


def read(reader: Reader, site: Site) -> PlainCall:
    """A plain call, its arguments checked where the runtime takes a fixed form."""
    source, call, common = site.source, site.call, site.common
    kind = common["kind"]
    if kind in _PRINTS:
        positional = positional_args(call)
        if len(positional) != 1 or keyword_args(call) or positional[0].star:
            raise reader.error_at(source, call, f"{kind} takes exactly one argument, the metric value")
    if kind == "training_update":
        _check_training_update(reader, source, call)
    return PlainCall(**common, arguments=_arguments(source, call))


def _check_training_update(reader: Reader, source: AnnotationText, call: cst.Call) -> None:
    """NNI's forms: `training_update(tf, sess)`, `(tf, sess, loss)`, `(tf, sess, loss, feed_dict)`,
    or the same by keyword."""
    order = ("tf", "session", "loss", "feed_dict")
    positional = positional_args(call)
    for arg in positional:
        if arg.star:
            raise reader.error_at(source, arg, "training_update takes its arguments written out, not *args")
    if len(positional) > len(order):
        raise reader.error_at(
            source,
            positional[len(order)].value,
            f"training_update takes at most {len(order)} positional arguments ({', '.join(order)})",
        )
    for keyword in keyword_args(call):
        name = keyword.keyword.value if keyword.keyword is not None else None
        if name in order[: len(positional)]:
            raise reader.error_at(
                source, keyword, f"training_update: '{name}' is given by position and by keyword"
            )


# compiled code ---------------------------------------------------------------------------------


def compile_call(ir: ModuleIR, call: PlainCall, mode: str) -> list[Edit]:
    """`_nas.<kind>(<arguments>)` in place of the annotation."""
    code = f"_nas.{call.kind}({', '.join(one_line(a) for a in call.arguments)})"
    return [replace_within(ir, call, [code])]


# trial codegen ---------------------------------------------------------------------------------


def dropped(call: PlainCall) -> bool:
    """Whether `trial codegen` deletes the call (it prints only reported results)."""
    return call.kind not in _PRINTS


def inline(
    ir: ModuleIR, call: PlainCall, architecture: dict[str, Any], drop: Callable[[Annotation], Edit]
) -> list[Edit]:
    """`print("final result:", acc)` for a report, nothing for the other calls."""
    if not dropped(call):
        statement = f"print({python_string(_PRINTS[call.kind])}, {call.arguments[0]})"
        return [replace_with(ir, call, [statement])]
    return [drop(call)]


KIND = Kind(read=read, compile=compile_call, inline=inline, dropped=dropped, repeated=False)
