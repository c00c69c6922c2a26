"""The annotation compiler: annotated trial code -> executable code and a JSON search space.

Annotations are string statements or comments starting with `@nas.` (or NNI's `@nni.`); see
DESIGN.md §2. Everything that is not an annotation is left byte-for-byte as written.

Search-space keys (DESIGN.md §3), with `key_style="stable"` (the default):

- a block: `<module>/<scope>/<name>`; `<scope>` is the enclosing functions and classes joined by dots
  (`Net.forward`; a nested function is `outer.inner`, without Python's `<locals>`), left out at
  module level; `<name>` is the block's `name="..."` or else its first layer's `layer_output`;
- a layer inside a block: its `layer_output`;
- a variable or function choice: `<module>/<name>/<type>`, `<name>` being the `name=` text as written
  (`self.lr`, `args['lr']`) and `<type>` the sampling function or `function_choice`.

With `key_style="nni"` keys are NNI's: `<module>/mutable_block_<line>` (the annotation's last line,
as NNI numbers it on Python 3.8+), `mutable_layer_<i>` (from 0 within the block), and for variables
and function choices NNI's `<module>/<name>/<type>` with `<name>` as NNI prints it (`args['lr']`); a
`choice` lists literal options by value and the others by source text (`nni.choice('2', 3, 5*6)` ->
`["2", 3, "5*6"]`); sampling arguments are passed through as NNI's generator does; a hand-written `nni.` call
without `name=` is `<module>/__line<N>/<type>`, N the line of its last argument, as in NNI. A layer's
owner (the runtime registers candidate modules on it) is the first parameter of a method defined
directly in a class body, neither a staticmethod nor a classmethod; elsewhere `None`.

>>> from nasctl import annotator
>>> result = annotator.compile_source(
...     "'''@nas.variable(nas.choice(0.1, 0.01), name=lr)'''\\nlr = 0.1\\n", "mnist")
>>> print(result.code, end="")
import nas as _nas
lr = _nas.choice(0.1, 0.01, key="mnist/lr/choice")
>>> result.search_space
{'mnist/lr/choice': {'_type': 'choice', '_value': [0.1, 0.01]}}
"""

from __future__ import annotations

from nasctl.annotator._compile import (
    CompileResult,
    compile_source,
    expand_annotations,
    generate_search_space,
    inline_architecture,
    is_environment,
)
from nasctl.annotator._errors import AnnotationError, AnnotationErrors, ArchitectureMismatch
from nasctl.annotator._parse import KEY_STYLES

from nasctl.searchspace import MODES, normalize_mode  # the search space's mode names, re-exported

__all__ = [
    "KEY_STYLES",
    "MODES",
    "AnnotationError",
    "AnnotationErrors",
    "ArchitectureMismatch",
    "CompileResult",
    "compile_source",
    "expand_annotations",
    "generate_search_space",
    "inline_architecture",
    "is_environment",
    "normalize_mode",
]
