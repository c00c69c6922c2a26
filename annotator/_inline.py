"""`trial codegen`: a module's annotations resolved by one architecture, as plain Python without nasctl."""

from __future__ import annotations

import ast
import re
from collections import Counter
from typing import Any

from nasctl.annotator._codegen import Edit, apply, import_edit, remove, replace_with
from nasctl.annotator._errors import ArchitectureMismatch
from nasctl.annotator._ir import Annotation, FunctionChoice, LayerBlock, ModuleIR, PlainCall, Variable
from nasctl.annotator._literals import number_literal, python_string

from nasctl._searchspace import expand_key, index_combinations, indexed_key

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

_PRINTS = {"report_intermediate_result": "intermediate result:", "report_final_result": "final result:"}
_DROPPED = ("get_next_parameter", "training_update", "derive_architecture")


def candidate_key(block_key: str, layer_key: str, index: int) -> str:
    """Where a class candidate is kept in `nas_candidates`: the runtime's `<block>__<layer>__<index>`, sanitised."""
    return re.sub(r"[^0-9A-Za-z_]", "_", f"{block_key}__{layer_key}__{index}")


def _grouped(text: str) -> str:
    """`text` safe to splice where a line break would end the statement."""
    return f"({text})" if "\n" in text else text


def _mismatch(ir: ModuleIR, annotation: Annotation, key: str, message: str) -> ArchitectureMismatch:
    return ArchitectureMismatch(
        message, key, ir.path, annotation.line, annotation.column, ir.source_line(annotation.line)
    )


def _lookup(ir: ModuleIR, annotation: Annotation, key: str, architecture: dict[str, Any]) -> Any:
    if key not in architecture:
        raise _mismatch(ir, annotation, key, "missing from the architecture")
    return architecture[key]


def _iteration_test(annotation: Annotation, indices: tuple[int, ...]) -> str:
    """`i == 2` (`(i, j) == (2, 0)` for nested loops): the condition that iteration `indices` runs."""
    codes = [loop.index for loop in annotation.loops]
    if len(codes) == 1:
        return f"{codes[0]} == {indices[0]}"
    return f"({', '.join(codes)}) == ({', '.join(map(str, indices))})"


def _repeated_statements(ir: ModuleIR, block: LayerBlock, architecture: dict[str, Any]) -> list[str]:
    """A block inside loops: an `if`/`elif` over the iterations, each with that iteration's layers."""
    if not block.loops:
        return _layer_statements(ir, block, block.key, architecture)
    step = ir.newline + block.indent + "    "
    lines: list[str] = []
    for number, indices in enumerate(index_combinations(block.counts)):
        body = _layer_statements(ir, block, indexed_key(block.key, indices), architecture)
        head = "if" if number == 0 else f"{ir.newline}{block.indent}elif"
        lines.append(f"{head} {_iteration_test(block, indices)}:{step}{step.join(body)}")
    return ["".join(lines)]


def _layer_statements(ir: ModuleIR, block: LayerBlock, key: str, architecture: dict[str, Any]) -> list[str]:
    chosen_block = _lookup(ir, block, key, architecture)
    if not isinstance(chosen_block, dict):
        raise _mismatch(ir, block, key, "a block needs {layer: {chosen_layer, chosen_inputs}}")
    statements = []
    for layer in block.layers:
        if layer.key not in chosen_block:
            raise _mismatch(ir, block, key, f"layer '{layer.key}' is missing")
        chosen = chosen_block[layer.key]
        if not isinstance(chosen, dict) or "chosen_layer" not in chosen:
            raise _mismatch(ir, block, key, f"layer '{layer.key}' needs chosen_layer and chosen_inputs")
        by_label = {candidate.label: candidate for candidate in layer.candidates}
        label = _source_match(list(by_label), chosen["chosen_layer"]) or chosen["chosen_layer"]
        if label not in by_label:
            known = ", ".join(by_label)
            raise _mismatch(
                ir, block, key, f"layer '{layer.key}': chosen_layer {label!r} is not one of: {known}"
            )
        inputs = chosen.get("chosen_inputs", [])
        if not isinstance(inputs, list):
            raise _mismatch(ir, block, key, f"layer '{layer.key}': chosen_inputs must be a list")
        inputs = [_source_match(layer.optional_inputs, name) or name for name in inputs]
        for name in inputs:
            if name not in layer.optional_inputs:
                known = ", ".join(layer.optional_inputs) or "(none)"
                raise _mismatch(
                    ir,
                    block,
                    key,
                    f"layer '{layer.key}': chosen input {name!r} is not one of the optional inputs: {known}",
                )
        if len(set(inputs)) != len(inputs):
            raise _mismatch(ir, block, key, f"layer '{layer.key}': chosen_inputs repeats an input")
        size = layer.optional_input_size
        low, high = size if isinstance(size, tuple) else (size, size)
        if not low <= len(inputs) <= high:
            raise _mismatch(
                ir,
                block,
                key,
                f"layer '{layer.key}': {len(inputs)} chosen inputs, but optional_input_size allows "
                f"{low if low == high else f'{low} to {high}'}",
            )
        candidate = by_label[label]
        index = layer.candidates.index(candidate)
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
    value = _lookup(ir, variable, key, architecture)
    if variable.function == "choice":
        labels = variable.labels
        for option, label in zip(variable.options, labels, strict=False):
            if type(label) is type(value) and label == value:
                return _grouped(option.text)
        texts = [label for label in labels if isinstance(label, str)]
        match = _source_match(texts, value) if texts else None
        if match is not None:
            return _grouped(variable.options[labels.index(match)].text)
        for option, label in zip(variable.options, labels, strict=False):
            numeric = (int, float)
            if isinstance(label, numeric) and isinstance(value, numeric) and not isinstance(value, bool):
                if not isinstance(label, bool) and label == value:
                    return _grouped(option.text)
        known = ", ".join(python_string(label) if isinstance(label, str) else repr(label) for label in labels)
        raise _mismatch(ir, variable, key, f"{value!r} is not one of the options: {known}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _mismatch(ir, variable, key, f"{variable.function} needs a number, got {value!r}")
    bounds = [number_literal(option.text) for option in variable.options]
    if variable.function == "randint":
        if value != int(value):
            raise _mismatch(ir, variable, key, f"randint needs an integer, got {value!r}")
        value = int(value)
        if not bounds[0] <= value < bounds[1]:
            raise _mismatch(
                ir, variable, key, f"{value} is outside randint's range [{bounds[0]}, {bounds[1]})"
            )
    elif "normal" not in variable.function and not bounds[0] <= value <= bounds[1]:
        raise _mismatch(
            ir,
            variable,
            key,
            f"{value!r} is outside {variable.function}'s range [{bounds[0]}, {bounds[1]}]",
        )
    return repr(value)


def _source_match(texts: list[str], label: Any) -> str | None:
    """The text among `texts` that `label` names: the same text, else the same expression up to
    layout (an architecture written by NNI prints `avg_pool(h, 2)` where the source has `avg_pool(h,2)`)."""
    if not isinstance(label, str):
        return None
    if label in texts:
        return label

    def parsed(text: str) -> str | None:
        try:
            return ast.dump(ast.parse(text.strip(), mode="eval"))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None

    wanted = parsed(label)
    return next((text for text in texts if wanted is not None and parsed(text) == wanted), None)


def _function_choice(ir: ModuleIR, choice: FunctionChoice, architecture: dict[str, Any]) -> str:
    """The chosen call; inside loops, a conditional expression choosing each iteration's call."""
    combinations = list(index_combinations(choice.counts))
    keys = [indexed_key(choice.key, indices) for indices in combinations]
    calls = []
    for key in keys:
        label = _lookup(ir, choice, key, architecture)
        text = _source_match(choice.candidates, label)
        if text is None:
            known = ", ".join(choice.candidates)
            raise _mismatch(ir, choice, key, f"{label!r} is not one of the candidates: {known}")
        calls.append(_grouped(text))
    if not choice.loops:
        return calls[0]
    text = calls[-1]
    for indices, call in zip(reversed(combinations[:-1]), reversed(calls[:-1]), strict=True):
        text = f"{call} if {_iteration_test(choice, indices)} else {text}"
    return f"({text})"


def inline_ir(ir: ModuleIR, architecture: dict[str, Any]) -> str:
    """The module's code with every annotation replaced by what `architecture` chose."""
    if not ir.annotations:
        return ir.text
    edits: list[Edit] = []
    dropped = [
        a
        for a in ir.annotations
        if a.form == "string" and (a.kind in _DROPPED or isinstance(a, (Variable, FunctionChoice)))
    ]
    removed_per_body = Counter(a.body for a in dropped)
    emptied = {a.body for a in dropped if removed_per_body[a.body] == a.body_size}
    given_pass: set[int] = set()

    def drop(annotation: Annotation) -> Edit:
        if annotation.form == "string" and annotation.body in emptied and annotation.body not in given_pass:
            given_pass.add(annotation.body)
            return replace_with(ir, annotation, ["pass"])
        return remove(ir, annotation)

    has_layers = False
    for annotation in ir.annotations:
        if isinstance(annotation, LayerBlock):
            has_layers = True
            edits.append(replace_with(ir, annotation, _repeated_statements(ir, annotation, architecture)))
        elif isinstance(annotation, Variable):
            assert annotation.target is not None
            edits.append(drop(annotation))
            value = _repeated_value(ir, annotation, architecture)
            edits.append(Edit(annotation.target.start, annotation.target.end, value, annotation))
        elif isinstance(annotation, FunctionChoice):
            assert annotation.target is not None
            edits.append(drop(annotation))
            call = _function_choice(ir, annotation, architecture)
            edits.append(Edit(annotation.target.start, annotation.target.end, call, annotation))
        elif isinstance(annotation, PlainCall):
            if annotation.kind in _PRINTS:
                statement = f"print({python_string(_PRINTS[annotation.kind])}, {annotation.arguments[0]})"
                edits.append(replace_with(ir, annotation, [statement]))
            else:
                edits.append(drop(annotation))
    if has_layers:
        edits.append(import_edit(ir, HELPER if ir.insert_at else [*HELPER[2:], "", ""]))
    return apply(ir, edits)


def used_keys(ir: ModuleIR) -> set[str]:
    """The architecture keys a module reads: its annotations' and its hand-written calls'."""
    keys = {key for a in ir.annotations if isinstance(a, (LayerBlock, Variable, FunctionChoice))
            for key in expand_key(a.key, a.counts)}
    keys.update(call.key for call in ir.handwritten)
    return keys
