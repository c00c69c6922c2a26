"""The trial code of a script: the script and the modules of its folder that it imports.

`nasctl trial run SCRIPT` compiles these and nothing else, so a script next to a virtualenv, a data
folder or broken copies of other scripts does not walk or parse them. Imports are found statically
(every `import` and `from ... import` in the module, at any depth, relative ones too) and followed
through the modules they reach; a module imported in another way (`importlib.import_module`) is
still compiled when it is imported, and its choices are sampled when first used.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["local_modules"]


def _module_file(root: Path, parts: list[str]) -> Path | None:
    """The file of module `parts` under `root` (`a/b.py` or `a/b/__init__.py`), None if not there."""
    from nasctl.annotator import is_environment  # the compiler's rule; `import nas` stays light

    if not parts or not all(part.isidentifier() for part in parts):
        return None
    folder = root
    for part in parts[:-1]:
        folder = folder / part
        if not folder.is_dir() or is_environment(folder):
            return None
    module = folder / f"{parts[-1]}.py"
    if module.is_file():
        return module
    package = folder / parts[-1]
    if (package / "__init__.py").is_file() and not is_environment(package):
        return package / "__init__.py"
    return None


def _imported_names(tree: ast.AST, package: list[str]) -> list[list[str]]:
    names: list[list[str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".") for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    continue
                base = package[: len(package) - (node.level - 1)]
            else:
                base = []
            module = base + (node.module.split(".") if node.module else [])
            names.append(module)
            names.extend(module + [alias.name] for alias in node.names if alias.name != "*")
    return names


def local_modules(script: Path, root: Path) -> list[Path]:
    """`script` and the files of `root` it imports, directly or not, relative to `root`, script first."""
    found = [script]
    queue = [script]
    while queue:
        path = queue.pop()
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError):
            continue  # the compiler reports what is wrong with it when it is compiled
        package = list(path.relative_to(root).parent.parts)  # what `from . import x` is relative to
        for name in _imported_names(tree, package):
            for end in range(1, len(name) + 1):  # `import a.b` runs a/__init__.py too
                module = _module_file(root, name[:end])
                if module is not None and module not in found:
                    found.append(module)
                    queue.append(module)
    return [path.relative_to(root) for path in found]
