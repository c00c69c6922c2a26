"""The Criteo format: read it (streamed, cached as memory-mapped arrays) and write it.

A line is tab-separated: the label (0 or 1), 13 integer features, 26 categorical features written as
hexadecimal strings; any feature may be empty. Integer features become `log(max(x, 0) + 1)` (empty:
0), as in the DLRM reference. Categorical features become indices, 0 standing for empty (or rare):
- `categorical="hash"`: `int(value, 16) % (hash_size - 1) + 1`, with one `hash_size` for every feature
  or one per feature;
- `categorical="frequency"`: values seen at least `min_count` times in the file get 1, 2, ... by
  falling frequency (ties by value), the rest 0.

The file is read twice in chunks (first to count lines, and values when indexing by frequency; then
to fill the arrays), so files larger than memory work: the arrays are written straight into `.npy`
files in a cache folder and opened memory-mapped. A second read of an unchanged file with the same
options opens the cache and parses nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from nasctl.rec._data import CTRData
from nasctl.runtime.errors import NasError

__all__ = ["NUM_DENSE", "NUM_SPARSE", "CriteoFormatError", "read_criteo", "write_criteo"]

NUM_DENSE = 13
NUM_SPARSE = 26
_FIELDS = 1 + NUM_DENSE + NUM_SPARSE
_CACHE_VERSION = 1


class CriteoFormatError(NasError):
    """A line of a Criteo-format file is malformed; the message names the file and line."""


def read_criteo(path: str | Path, *, categorical: str = "hash", hash_size: int | Sequence[int] = 2**20,
                min_count: int = 1, cache_dir: str | Path | None = None, chunk_lines: int = 200_000) -> CTRData:
    """Reads a Criteo-format file into memory-mapped arrays (see the module's docstring for the encoding).

    The cache lives in `cache_dir` (default: a `.nasctl-cache` folder beside the file).
    """
    path = Path(path)
    if categorical not in ("hash", "frequency"):
        raise ValueError(f"categorical must be 'hash' or 'frequency', got {categorical!r}")
    sizes = [hash_size] * NUM_SPARSE if isinstance(hash_size, int) else list(hash_size)
    if len(sizes) != NUM_SPARSE or min(sizes) < 2:
        raise ValueError(f"hash_size must be an int >= 2 or {NUM_SPARSE} of them, got {hash_size!r}")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    try:
        stat = path.stat()
    except OSError as error:
        raise CriteoFormatError(f"{path}: cannot read ({error.strerror})") from None
    options = {"version": _CACHE_VERSION, "file": str(path.resolve()), "size": stat.st_size,
               "mtime_ns": stat.st_mtime_ns, "categorical": categorical,
               "hash_size": sizes if categorical == "hash" else None,
               "min_count": min_count if categorical == "frequency" else None}
    key = hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(cache_dir) if cache_dir is not None else path.parent / ".nasctl-cache"
    folder = root / f"{path.name}-{key}"
    if not (folder / "meta.json").exists():
        _build_cache(path, folder, categorical, sizes, min_count, chunk_lines)
    meta = json.loads((folder / "meta.json").read_text())
    return CTRData(np.load(folder / "dense.npy", mmap_mode="r"), np.load(folder / "sparse.npy", mmap_mode="r"),
                   np.load(folder / "labels.npy", mmap_mode="r"), tuple(meta["cardinalities"]))


def _chunks(path: Path, chunk_lines: int) -> Iterator[tuple[int, list[list[str]]]]:
    """(number of the chunk's first line, its lines split into fields), checking each line's shape."""
    chunk: list[list[str]] = []
    first = 1
    with path.open("r", encoding="utf-8", errors="strict", newline="\n") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                fields = line.rstrip("\r\n").split("\t")
                if len(fields) != _FIELDS:
                    raise CriteoFormatError(f"{path}:{number}: expected {_FIELDS} tab-separated fields (label, "
                                            f"{NUM_DENSE} integer, {NUM_SPARSE} categorical), got {len(fields)}")
                chunk.append(fields)
                if len(chunk) == chunk_lines:
                    yield first, chunk
                    first, chunk = number + 1, []
        except UnicodeDecodeError as error:
            raise CriteoFormatError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    if chunk:
        yield first, chunk


def _build_cache(path: Path, folder: Path, categorical: str, sizes: list[int], min_count: int,
                 chunk_lines: int) -> None:
    counts = [Counter() for _ in range(NUM_SPARSE)]
    rows = 0
    for _, chunk in _chunks(path, chunk_lines):
        rows += len(chunk)
        if categorical == "frequency":
            for j in range(NUM_SPARSE):
                counts[j].update(fields[1 + NUM_DENSE + j] for fields in chunk)
    if rows == 0:
        raise CriteoFormatError(f"{path}: the file has no lines")
    if categorical == "frequency":
        vocabularies = [_vocabulary(counter, min_count) for counter in counts]
        cardinalities = [len(vocabulary) + 1 for vocabulary in vocabularies]
    else:
        vocabularies, cardinalities = None, sizes
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as error:
        raise CriteoFormatError(f"cannot write the cache folder {folder.parent} ({error.strerror}); "
                                "pass cache_dir= a writable folder") from None
    try:
        dense = np.lib.format.open_memmap(staging / "dense.npy", mode="w+", dtype=np.float32, shape=(rows, NUM_DENSE))
        sparse = np.lib.format.open_memmap(staging / "sparse.npy", mode="w+", dtype=np.int64, shape=(rows, NUM_SPARSE))
        labels = np.lib.format.open_memmap(staging / "labels.npy", mode="w+", dtype=np.float32, shape=(rows,))
        row = 0
        for first, chunk in _chunks(path, chunk_lines):
            end = row + len(chunk)
            labels[row:end], dense[row:end], sparse[row:end] = _parse(path, first, chunk, sizes, vocabularies)
            row = end
        for array in (dense, sparse, labels):
            array.flush()
        del dense, sparse, labels
        (staging / "meta.json").write_text(json.dumps({"rows": rows, "cardinalities": cardinalities}))
        if folder.exists():          # another process cached the same file meanwhile
            shutil.rmtree(staging)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _vocabulary(counter: Counter, min_count: int) -> dict[str, int]:
    kept = sorted((value for value, count in counter.items() if value and count >= min_count),
                  key=lambda value: (-counter[value], value))
    return {value: index for index, value in enumerate(kept, start=1)}


def _parse(path: Path, first: int, chunk: list[list[str]], sizes: list[int],
           vocabularies: list[dict[str, int]] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.empty(len(chunk), dtype=np.float32)
    dense = np.zeros((len(chunk), NUM_DENSE), dtype=np.float64)
    sparse = np.zeros((len(chunk), NUM_SPARSE), dtype=np.int64)
    for i, fields in enumerate(chunk):
        try:
            label = fields[0]
            if label not in ("0", "1"):
                raise ValueError(f"the label must be 0 or 1, got {label!r}")
            labels[i] = float(label)
            for j in range(NUM_DENSE):
                text = fields[1 + j]
                if text:
                    dense[i, j] = max(int(text), 0)
            for j in range(NUM_SPARSE):
                text = fields[1 + NUM_DENSE + j]
                if text:
                    if vocabularies is None:
                        sparse[i, j] = int(text, 16) % (sizes[j] - 1) + 1
                    else:
                        sparse[i, j] = vocabularies[j].get(text, 0)
        except ValueError as error:
            raise CriteoFormatError(f"{path}:{first + i}: {error}") from None
    return labels, np.log1p(dense).astype(np.float32), sparse


def write_criteo(path: str | Path, dense_counts: np.ndarray, sparse: np.ndarray, labels: np.ndarray) -> None:
    """Writes rows in the Criteo format.

    `dense_counts` [N, 13] holds the raw integer features (NaN: empty); `sparse` [N, 26] holds indices,
    0 written as an empty field and `k > 0` as the hexadecimal of `k - 1`, so `read_criteo` with
    `categorical="hash"` and a `hash_size` above every index gives `sparse` back exactly.
    """
    dense_counts = np.asarray(dense_counts, dtype=np.float64)
    if dense_counts.shape[1:] != (NUM_DENSE,) or np.asarray(sparse).shape[1:] != (NUM_SPARSE,):
        raise ValueError(f"expected [N, {NUM_DENSE}] dense and [N, {NUM_SPARSE}] sparse columns, got "
                         f"{dense_counts.shape} and {np.asarray(sparse).shape}")
    with Path(path).open("w", encoding="utf-8", newline="\n") as handle:
        for label, counts, indices in zip(labels, dense_counts, sparse, strict=True):
            dense_text = ["" if math.isnan(c) else str(int(c)) for c in counts]
            sparse_text = ["" if k == 0 else format(int(k) - 1, "08x") for k in indices]
            handle.write("\t".join([str(int(label)), *dense_text, *sparse_text]) + "\n")
