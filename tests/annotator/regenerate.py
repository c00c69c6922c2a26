"""Rewrite the expected files of the compiler's golden folders from their `input.py`.

Each folder under `fixtures/golden/` holds `input.py`, the compiled `expected.py` and
`search_space.json`; an optional `options.json` sets `mode` and `key_style`. The module name in
keys is the folder's name. Run after an intended change of the compiler's output, then review the
diff (CI keeps the files honest with `git diff --exit-code`):

    .venv/bin/python tests/annotator/regenerate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "fixtures" / "golden"


def expected_outputs(folder: Path) -> tuple[bytes, str]:
    """(expected.py bytes, search_space.json text) for one golden folder."""
    from nasctl import annotator

    options_file = folder / "options.json"
    options = json.loads(options_file.read_text(encoding="utf-8")) if options_file.exists() else {}
    source = (folder / "input.py").read_bytes().decode("utf-8")
    result = annotator.compile_source(
        source,
        folder.name,
        options.get("mode", "classic"),
        path=str(folder / "input.py"),
        key_style=options.get("key_style", "stable"),
    )
    return result.code.encode("utf-8"), json.dumps(result.search_space, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for folder in sorted(path for path in GOLDEN.iterdir() if path.is_dir()):
        code, space = expected_outputs(folder)
        (folder / "expected.py").write_bytes(code)
        (folder / "search_space.json").write_text(space, encoding="utf-8")
        print(
            f"regenerated {folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder}"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
