"""`mutable_layers(...)` / `mutable_layer(...)`: blocks of layers, each choosing a candidate and inputs.

Compiled, each layer becomes `h = _nas.mutable_layer(block_key, layer_key, {label: (callee, args,
kwargs)}, [fixed], {label: optional}, size, mode, owner)` (docs/internals.md, "The compiled code");
its search-space entry is `{"_type": "mutable_layer", "_value": {layer: {...}}}`; `trial codegen`
calls the chosen candidate through a small helper it adds to the module. A hand-written
`nas.mutable_layer(...)` (and NNI's compiled form) is read for the search space.
"""

from __future__ import annotations

import ast
import bisect
import builtins
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from nasctl.annotator._codegen import Edit, key_code, one_line, replace_with, replace_within
from nasctl.annotator._handwritten import HandCall, HandReader
from nasctl.annotator._inline import iteration_test, lookup, mismatch
from nasctl.annotator._ir import Annotation, HandWritten, ModuleIR
from nasctl.annotator._kinds import Kind
from nasctl.annotator._literals import number_literal, python_string
from nasctl.annotator._read import AnnotationText, Reader, Site, keyword_args, positional_args, suggest
from nasctl.annotator._scope import Context, Defined

from nasctl.searchspace import candidate_key, find_label, index_combinations, indexed_key, input_size_bounds

_LAYER_KEYS = ("layer_choice", "fixed_inputs", "optional_inputs", "optional_input_size", "layer_output")
_BUILTINS = frozenset(dir(builtins))


@dataclass
class Candidate:
    """One entry of a layer's `layer_choice`: `callee(*args, **kwargs)` as written."""

    label: str
    callee: str
    args: list[str]
    kwargs: list[tuple[str | None, str]]  # (keyword, value text); keyword None for `**mapping`
    line: int
    column: int


@dataclass
class Layer:
    """One layer spec of a `mutable_layers` annotation."""

    key: str
    output: str
    candidates: list[Candidate]
    fixed_inputs: list[str]
    optional_inputs: list[str]
    optional_input_size: int | tuple[int, int]
    line: int
    column: int


@dataclass
class LayerBlock(Annotation):
    """`mutable_layers(...)` / `mutable_layer(...)`: a block of layers sharing one search-space key."""

    key: str = ""
    scope: str = ""
    owner: str | None = None
    layers: list[Layer] = field(default_factory=list)


# reading -------------------------------------------------------------------------------------


def _names(node: cst.CSTNode) -> Iterator[str]:
    """Every variable name `node` reads (not attribute names, keywords or lambda parameters)."""
    if isinstance(node, cst.Name):
        yield node.value
    elif isinstance(node, cst.Attribute):
        yield from _names(node.value)
    elif isinstance(node, cst.Arg):
        yield from _names(node.value)
    elif isinstance(node, cst.Lambda):
        yield from _names(node.body)
    else:
        for child in node.children:
            yield from _names(child)


def read(reader: Reader, site: Site) -> LayerBlock:
    """A block of layer specs, each checked; its key from its scope and name (or first output)."""
    source, call, common, ctx = site.source, site.call, site.common, site.ctx
    kind = common["kind"]
    block_name: str | None = None
    for keyword in keyword_args(call):
        if keyword.keyword is not None and keyword.keyword.value == "repeat":
            continue
        if keyword.keyword is None or keyword.keyword.value != "name":
            what = f"'{keyword.keyword.value}'" if keyword.keyword else "**"
            raise reader.error_at(
                source, keyword, f"unknown argument {what} of {kind}; only name= and repeat= are allowed"
            )
        value = keyword.value
        name = (
            value.evaluated_value
            if isinstance(value, (cst.SimpleString, cst.ConcatenatedString))
            else None
        )
        if not (isinstance(name, str) and name):
            raise reader.error_at(source, value, f"name= of {kind} must be a non-empty string literal")
        block_name = name
    specs = positional_args(call)
    for arg in specs:
        if arg.star:
            raise reader.error_at(source, arg, f"{kind} takes layer specs written out, not *args")
    if not specs:
        raise reader.error_at(
            source,
            call,
            f"{kind} needs at least one layer spec {{layer_choice: [...], layer_output: name}}",
        )
    if kind == "mutable_layer" and len(specs) > 1:
        raise reader.error_at(
            source, specs[1].value, "mutable_layer takes one layer spec; use mutable_layers for several"
        )
    defined = Defined(reader.scopes, ctx, common["line"])
    layers: list[Layer] = []
    outputs: dict[str, Layer] = {}
    for index, spec in enumerate(specs):
        layer = _layer(
            reader, source, spec.value, index, defined, outputs, (common["line"], common["column"]), ctx
        )
        outputs[layer.output] = layer
        layers.append(layer)
    scope = ".".join(ctx.scope)
    if reader.key_style == "nni":
        # NNI (Python 3.8+) numbers a block by the last line of its annotation string.
        region = common["region"]
        last = bisect.bisect_right(reader.pos.starts, max(region.end - 1, region.start))
        key = f"{reader.module}/mutable_block_{last}"
    else:
        name = block_name or layers[0].output
        key = f"{reader.module}/{scope}/{name}" if scope else f"{reader.module}/{name}"
    return LayerBlock(**common, key=key, scope=scope, owner=ctx.owner, layers=layers)


def _layer(
    reader: Reader,
    source: AnnotationText,
    spec: cst.BaseExpression,
    index: int,
    defined: Defined,
    previous: dict[str, Layer],
    where: tuple[int, int],
    context: Context,
) -> Layer:
    """One layer spec `{layer_choice: [...], ..., layer_output: h}`, checked."""
    line, column = where
    if not isinstance(spec, cst.Dict):
        raise reader.error_at(
            source, spec, "a layer spec must be a dict such as {layer_choice: [...], layer_output: h}"
        )
    fields: dict[str, cst.BaseExpression] = {}
    for element in spec.elements:
        if isinstance(element, cst.StarredDictElement):
            raise reader.error_at(source, element.value, "a layer spec cannot use ** unpacking")
        key_node = element.key
        if isinstance(key_node, cst.Name):
            key = key_node.value
        elif isinstance(key_node, (cst.SimpleString, cst.ConcatenatedString)) and isinstance(
            key_node.evaluated_value, str
        ):
            key = key_node.evaluated_value
        else:
            raise reader.error_at(
                source, key_node, f"a layer spec key must be one of {', '.join(_LAYER_KEYS)}"
            )
        if key not in _LAYER_KEYS:
            raise reader.error_at(
                source, key_node, f"unknown key '{key}' in layer spec{suggest(key, _LAYER_KEYS)}"
            )
        if key in fields:
            raise reader.error_at(source, key_node, f"duplicate key '{key}' in layer spec")
        fields[key] = element.value
    for required in ("layer_choice", "layer_output"):
        if required not in fields:
            raise reader.error_at(source, spec, f"layer spec has no '{required}'")

    output_node = fields["layer_output"]
    if not isinstance(output_node, cst.Name):
        raise reader.error_at(source, output_node, "layer_output must be a plain name, such as h1")
    output = output_node.value
    if output in previous:
        raise reader.error_at(
            source,
            output_node,
            f"duplicate layer_output '{output}': an earlier layer of this block writes it",
        )

    choice_node = fields["layer_choice"]
    if not isinstance(choice_node, (cst.List, cst.Tuple)) or not choice_node.elements:
        raise reader.error_at(source, choice_node, "layer_choice must be a non-empty list of calls")
    candidates: list[Candidate] = []
    labels: set[str] = set()
    for element in choice_node.elements:
        candidate = element.value
        if isinstance(element, cst.StarredElement) or not isinstance(candidate, cst.Call):
            node = element if isinstance(element, cst.StarredElement) else candidate
            raise reader.error_at(
                source,
                node,
                f"candidate '{source.text(node)}' in layer_choice is not a call such as ops.conv(size=3)",
            )
        label = source.text(candidate)
        if label in labels:
            raise reader.error_at(source, candidate, f"duplicate candidate '{label}' in layer_choice")
        labels.add(label)
        args: list[str] = []
        kwargs: list[tuple[str | None, str]] = []
        for arg in candidate.args:
            text = source.text(arg.value)
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, text))
            elif arg.star == "**":
                kwargs.append((None, text))
            else:
                args.append(arg.star + text)
        candidates.append(Candidate(label, source.text(candidate.func), args, kwargs, line, column))

    fixed = _inputs(
        reader, source, fields.get("fixed_inputs"), "fixed_inputs", defined, previous, context, line
    )
    optional = _inputs(
        reader, source, fields.get("optional_inputs"), "optional_inputs", defined, previous, context, line
    )
    seen: set[str] = set()
    for label, node in optional:
        if label in seen:
            raise reader.error_at(source, node, f"duplicate optional input '{label}'")
        seen.add(label)
    size_node = fields.get("optional_input_size")
    size: int | tuple[int, int]
    if size_node is None:
        if optional:
            raise reader.error_at(
                source,
                fields["optional_inputs"],
                "optional_inputs needs optional_input_size (an int, or [low, high]) to say how many to choose",
            )
        size = 0
    else:
        size = _input_size(reader, source, size_node, len(optional))
    key = f"mutable_layer_{index}" if reader.key_style == "nni" else output
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
    reader: Reader,
    source: AnnotationText,
    node: cst.BaseExpression | None,
    field: str,
    defined: Defined,
    previous: dict[str, Layer],
    context: Context,
    line: int,
) -> list[tuple[str, cst.CSTNode]]:
    """The inputs listed in `field` (their texts and nodes), each defined before the annotation."""
    if node is None:
        return []
    if not isinstance(node, (cst.List, cst.Tuple)):
        raise reader.error_at(source, node, f"{field} must be a list of names or expressions")
    inputs: list[tuple[str, cst.CSTNode]] = []
    for element in node.elements:
        if isinstance(element, cst.StarredElement):
            raise reader.error_at(source, element, f"{field} cannot use * unpacking")
        value = element.value
        for name in _names(value):
            if name in previous or name in _BUILTINS or name in defined or "*" in defined:
                continue
            if name not in reader.scopes.defined_names(context, line):
                raise reader.error_at(
                    source, value, f"input '{name}' in {field} is not defined before this annotation"
                )
        inputs.append((source.text(value), value))
    return inputs


def _input_size(
    reader: Reader, source: AnnotationText, node: cst.BaseExpression, count: int
) -> int | tuple[int, int]:
    """`optional_input_size`: an int or a `[low, high]` range within the `count` optional inputs."""
    def integer(expression: cst.BaseExpression) -> int | None:
        value = number_literal(source.text(expression))
        return value if isinstance(value, int) else None

    value = integer(node)
    if value is not None:
        if value < 0:
            raise reader.error_at(source, node, f"optional_input_size {value} is negative")
        if value > count:
            raise reader.error_at(
                source,
                node,
                f"optional_input_size {value} is larger than the number of optional inputs ({count})",
            )
        return value
    if isinstance(node, (cst.List, cst.Tuple)) and len(node.elements) == 2:
        bounds = [
            None if isinstance(element, cst.StarredElement) else integer(element.value)
            for element in node.elements
        ]
        low, high = bounds
        if low is not None and high is not None:
            if low < 0 or low > high:
                raise reader.error_at(
                    source, node, f"optional_input_size [{low}, {high}] is not a range 0 <= low <= high"
                )
            if high > count:
                raise reader.error_at(
                    source,
                    node,
                    f"optional_input_size [{low}, {high}] is larger than the number of optional inputs ({count})",
                )
            return (low, high)
    raise reader.error_at(source, node, "optional_input_size must be an int or a [low, high] pair of ints")

# variable ------------------------------------------------------------------------------------

# compiled code -------------------------------------------------------------------------------


def _call_args(args: list[str]) -> str:
    if not args:
        return "()"
    if len(args) == 1:
        return f"({args[0]},)"
    return "(" + ", ".join(args) + ")"


def _call_kwargs(kwargs: list[tuple[str | None, str]]) -> str:
    parts = [f"**{value}" if name is None else f"{python_string(name)}: {value}" for name, value in kwargs]
    return "{" + ", ".join(parts) + "}"


def candidate_tuple(candidate: Candidate) -> str:
    """`(callee, args, kwargs)` as the runtime's layer call takes it."""
    args = [one_line(arg) for arg in candidate.args]
    kwargs = [(name, one_line(value)) for name, value in candidate.kwargs]
    return f"({one_line(candidate.callee)}, {_call_args(args)}, {_call_kwargs(kwargs)})"


def input_size_text(layer: Layer) -> str:
    """`optional_input_size` as code: `1` or `[0, 2]`."""
    size = layer.optional_input_size
    return f"[{size[0]}, {size[1]}]" if isinstance(size, tuple) else str(size)


def layer_statement(block: LayerBlock, layer: Layer, mode: str) -> str:
    """One `h = _nas.mutable_layer(...)` line (docs/internals.md, "The compiled code")."""
    candidates = (
        "{" + ", ".join(f"{python_string(c.label)}: {candidate_tuple(c)}" for c in layer.candidates) + "}"
    )
    fixed = "[" + ", ".join(one_line(text) for text in layer.fixed_inputs) + "]"
    optional = "{" + ", ".join(f"{python_string(text)}: {one_line(text)}" for text in layer.optional_inputs) + "}"
    return (
        f"{layer.output} = _nas.mutable_layer({key_code(block, block.key)}, {python_string(layer.key)}, "
        f"{candidates}, {fixed}, {optional}, {input_size_text(layer)}, {python_string(mode)}, "
        f"{block.owner or 'None'})"
    )


def compile_block(ir: ModuleIR, block: LayerBlock, mode: str) -> list[Edit]:
    """One `h = _nas.mutable_layer(...)` statement per layer, on the lines of the annotation."""
    return [replace_within(ir, block, [layer_statement(block, layer, mode) for layer in block.layers])]


# search space --------------------------------------------------------------------------------


def _layer_entry(layer: Layer) -> dict[str, Any]:
    size = layer.optional_input_size
    return {
        "layer_choice": [candidate.label for candidate in layer.candidates],
        "optional_inputs": list(layer.optional_inputs),
        "optional_input_size": list(size) if isinstance(size, tuple) else size,
    }


def entry(block: LayerBlock) -> tuple[str, dict[str, Any]]:
    """`{"_type": "mutable_layer", "_value": {layer_key: {layer_choice, optional_inputs, optional_input_size}}}`."""
    return block.key, {
        "_type": "mutable_layer",
        "_value": {layer.key: _layer_entry(layer) for layer in block.layers},
    }


def handwritten(reader: HandReader, call: HandCall) -> list[HandWritten]:
    """`nas.mutable_layer(block, layer, candidates, ...)` and NNI's compiled form of it: one layer of a block."""
    node, prefix, fail, literal = call.node, call.prefix, call.fail, call.literal
    args = node.args
    # nas: (block, layer, candidates, fixed, optional, size, mode, owner)
    # nni: (block, layer, funcs, funcs_args, fixed, optional, size, mode)
    optional_at, size_at = (5, 6) if prefix == "nni" else (4, 5)
    if len(args) <= size_at:
        raise fail(f"expected at least {size_at + 1} positional arguments")
    blocks = [literal(args[0], "the block key")] if prefix == "nni" else reader.keys(
        args[0], node, call.repeat, fail, literal)
    layer = literal(args[1], "the layer key")
    if not isinstance(args[2], ast.Dict) or not isinstance(args[optional_at], ast.Dict):
        raise fail("candidates and optional inputs must be dicts {label: ...}")
    choices = [literal(k, "a candidate label") for k in args[2].keys if k is not None]
    optional = [literal(k, "an optional input label") for k in args[optional_at].keys if k is not None]
    size = (
        literal(args[size_at], "optional_input_size")
        if not isinstance(args[size_at], ast.List)
        else [literal(e, "optional_input_size") for e in args[size_at].elts]
    )
    entry = {"layer_choice": choices, "optional_inputs": optional, "optional_input_size": size}
    return [
        HandWritten(f"{reader.module}/{block}" if prefix == "nni" else block, "mutable_layer", entry, layer,
                    call.line, call.column)
        for block in blocks
    ]

# trial codegen -------------------------------------------------------------------------------


HELPER_NAME = "_nas_layer"

# Inserted once per file that has layers; plain Python that imports nothing the trial did not import.
# A class candidate is built once per owner and kept where nasctl's classic mode keeps it (the
# owner's `nas_candidates`: an nn.ModuleDict on a torch module, a dict elsewhere, under the same
# keys), so weights saved by a classic trial load into this code; a function candidate is simply
# called. TensorFlow, as nasctl's TensorFlow backend does it: a built Keras layer's tracker is unlocked
# while a candidate is added to it; in a `tf.compat.v1` graph, candidate <i> of layer <block>__<layer>
# runs in the variable scope `<block>__<layer>/c<i>` with AUTO_REUSE (the key is
# `<block>__<layer>__<i>`), so `get_variable` names do not collide and match a classic trial's.
HELPER = [
    "",
    "",
    f"def {HELPER_NAME}(owner, key, callee, inputs, *args, **kwargs):",
    '    """Run the chosen candidate of a layer on [fixed_inputs, chosen_inputs]."""',
    "    import sys",
    "",
    "    if isinstance(callee, type):",
    f"        home = {HELPER_NAME} if owner is None else owner",
    '        table = getattr(home, "nas_candidates", None)',
    "        if table is None or key not in table:",
    '            tracker = getattr(home, "_tracker", None)',
    '            locked = bool(getattr(tracker, "locked", False))',
    "            if locked:",
    "                tracker.unlock()",
    "            try:",
    "                if table is None:",
    '                    if any(cls.__module__.startswith("torch.nn") for cls in type(home).__mro__):',
    "                        import torch",
    "",
    '                        setattr(home, "nas_candidates", torch.nn.ModuleDict())',
    "                    else:",
    '                        setattr(home, "nas_candidates", {})',
    '                    table = getattr(home, "nas_candidates")',
    "                table[key] = callee(*args, **kwargs)",
    "            finally:",
    "                if locked:",
    "                    tracker.lock()",
    "        callee, args, kwargs = table[key], (), {}  # the instance is called on the inputs alone",
    '    tf = sys.modules.get("tensorflow")',
    "    if tf is not None and not tf.compat.v1.executing_eagerly_outside_functions():",
    '        scope, _, index = key.rpartition("__")',
    '        with tf.compat.v1.variable_scope(scope + "/c" + index, reuse=tf.compat.v1.AUTO_REUSE):',
    "            return callee(inputs, *args, **kwargs)",
    "    return callee(inputs, *args, **kwargs)",
]

def _repeated_statements(ir: ModuleIR, block: LayerBlock, architecture: dict[str, Any]) -> list[str]:
    """A block inside loops: an `if`/`elif` over the iterations, each with that iteration's layers."""
    if not block.loops:
        return _layer_statements(ir, block, block.key, architecture)
    step = ir.newline + block.indent + "    "
    lines: list[str] = []
    for number, indices in enumerate(index_combinations(block.counts)):
        body = _layer_statements(ir, block, indexed_key(block.key, indices), architecture)
        head = "if" if number == 0 else f"{ir.newline}{block.indent}elif"
        lines.append(f"{head} {iteration_test(block, indices)}:{step}{step.join(body)}")
    return ["".join(lines)]


def _layer_statements(ir: ModuleIR, block: LayerBlock, key: str, architecture: dict[str, Any]) -> list[str]:
    """`h = _nas_layer(owner, key, chosen_callee, [[fixed], [chosen]], *args)` per layer of the block."""
    chosen_block = lookup(ir, block, key, architecture)
    if not isinstance(chosen_block, dict):
        raise mismatch(ir, block, key, "a block needs {layer: {chosen_layer, chosen_inputs}}")
    statements = []
    for layer in block.layers:
        if layer.key not in chosen_block:
            raise mismatch(ir, block, key, f"layer '{layer.key}' is missing")
        chosen = chosen_block[layer.key]
        if not isinstance(chosen, dict) or "chosen_layer" not in chosen:
            raise mismatch(ir, block, key, f"layer '{layer.key}' needs chosen_layer and chosen_inputs")
        labels = [candidate.label for candidate in layer.candidates]
        index = find_label(labels, chosen["chosen_layer"])
        if index is None:
            raise mismatch(
                ir,
                block,
                key,
                f"layer '{layer.key}': chosen_layer {chosen['chosen_layer']!r} is not one of: {', '.join(labels)}",
            )
        inputs = chosen.get("chosen_inputs", [])
        if not isinstance(inputs, list):
            raise mismatch(ir, block, key, f"layer '{layer.key}': chosen_inputs must be a list")
        found = [find_label(layer.optional_inputs, name) for name in inputs]
        for name, at in zip(inputs, found, strict=True):
            if at is None:
                known = ", ".join(layer.optional_inputs) or "(none)"
                raise mismatch(
                    ir,
                    block,
                    key,
                    f"layer '{layer.key}': chosen input {name!r} is not one of the optional inputs: {known}",
                )
        inputs = [layer.optional_inputs[at] for at in found if at is not None]
        if len(set(inputs)) != len(inputs):
            raise mismatch(ir, block, key, f"layer '{layer.key}': chosen_inputs repeats an input")
        low, high = input_size_bounds(layer.optional_input_size, len(layer.optional_inputs), key, layer.key)
        if not low <= len(inputs) <= high:
            raise mismatch(
                ir,
                block,
                key,
                f"layer '{layer.key}': {len(inputs)} chosen inputs, but optional_input_size allows "
                f"{low if low == high else f'{low} to {high}'}",
            )
        candidate = layer.candidates[index]
        arguments = [
            block.owner or "None",
            python_string(candidate_key(key, layer.key, index)),
            candidate.callee,
            f"[[{', '.join(layer.fixed_inputs)}], [{', '.join(inputs)}]]",
            *candidate.args,
            *(f"**{value}" if name is None else f"{name}={value}" for name, value in candidate.kwargs),
        ]
        statements.append(f"{layer.output} = {HELPER_NAME}({', '.join(arguments)})")
    return statements


def helper(ir: ModuleIR) -> list[str]:
    """The helper that runs a chosen candidate, once per module (at the top, after its docstring)."""
    return HELPER if ir.insert_at else [*HELPER[2:], "", ""]


def inline(
    ir: ModuleIR, block: LayerBlock, architecture: dict[str, Any], drop: Callable[[Annotation], Edit]
) -> list[Edit]:
    """The chosen candidate of each layer, called on the chosen inputs."""
    return [replace_with(ir, block, _repeated_statements(ir, block, architecture))]


KIND = Kind(
    read=read,
    compile=compile_block,
    inline=inline,
    entry=entry,
    helper=helper,
    handwritten=handwritten,
)
