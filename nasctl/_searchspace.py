"""Loop-indexed keys: moved to `nasctl.searchspace` (this path stays while the annotator imports it)."""

from __future__ import annotations

from nasctl.searchspace import expand_key, index_combinations, indexed_key, loop_mismatch, relaxable_options

__all__ = ["expand_key", "index_combinations", "indexed_key", "loop_mismatch", "relaxable_options"]
