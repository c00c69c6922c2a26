"""How fast the annotation compiler is on a large file.

Generates a 10,000-line training script with 300 annotations of every kind (string and comment
forms, layers, variables, function choices, reports), compiles it with `nasctl.annotator.compile_source`
and prints the best and median of a few runs (wall clock, and CPU time, which other processes on a
shared machine disturb less), in seconds and lines per second, next to a plain `ast.parse` of the
same text for scale. Target: under 1 s. The compiler finds annotations with `ast` and reads each
one with libcst; for scale it also prints the first run of the process, which imports libcst, and
(unless `--no-libcst-reference`) one `libcst.parse_module` of the whole file, what a compiler that
let libcst read everything would pay before doing any work.

    .venv/bin/python benchmarks/compile_speed.py [--lines 10000] [--annotations 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import ast
import statistics
import time

from nasctl import annotator

_FILLER = [
    "    total = total + {i} * scale  # accumulate",
    "    values.append(total % 7)",
    "    if total > {i}:",
    "        total -= 1",
    '    message = "step {i}: # not a comment"',
    "    data = {{'k{i}': [1, 2, 3], 'v': (4, 5)}}",
]


def _annotation(kind: int, n: int) -> list[str]:
    """A few lines holding one annotation (and its target statement) inside a function body."""
    if kind == 0:
        return [
            '    """@nas.mutable_layers(',
            "        {",
            f"            layer_choice: [ops.conv(size=3, ch={n}), ops.conv(size=5, ch={n}), ops.pool(k=3)],",
            "            fixed_inputs: [x],",
            "            optional_inputs: [skip, total],",
            "            optional_input_size: [0, 1],",
            f"            layer_output: h{n}",
            "        },",
            f"        {{layer_choice: [ops.relu(), ops.tanh()], fixed_inputs: [h{n}], layer_output: g{n}}}",
            '    )"""',
        ]
    if kind == 1:
        return [f"    # @nas.variable(nas.choice(0.1, 0.01, 0.001), name=lr{n})", f"    lr{n} = 0.1"]
    if kind == 2:
        return [
            f"    '''@nni.function_choice(ops.max_pool{n}(x, 2), ops.avg_pool(x, 2), name=ops.max_pool{n})'''",
            f"    y{n} = ops.max_pool{n}(x, 2) + 1",
        ]
    if kind == 3:
        return [
            f'    """@nas.variable(nas.uniform(0, {n + 1}), name=self.rate{n})"""',
            f"    self.rate{n} = 0.5",
        ]
    if kind == 4:
        return [
            "    # @nas.mutable_layer({layer_choice: [ops.a(), ops.b()],",
            f"    #     fixed_inputs: [x], layer_output: m{n}}})",
        ]
    return [f'    """@nas.report_intermediate_result(total + {n})"""']


def generate(lines: int, annotations: int) -> str:
    """A syntactically valid module of about `lines` lines with exactly `annotations` annotations."""
    out = ['"""A generated training script for the compile-speed benchmark."""', "import ops", ""]
    per_function = max(1, annotations // 50)
    functions = -(-annotations // per_function)
    budget = max(lines - len(out), 0)
    body_lines = max(budget // functions - 3, per_function * 10)
    made = 0
    for f in range(functions):
        out.append(f"def step_{f}(self, x, skip, scale):")
        out.append("    total = 0")
        out.append("    values = []")
        chunk = body_lines // per_function
        for _ in range(per_function):
            if made == annotations:
                break
            block = _annotation(made % 6, made)
            made += 1
            filler_needed = max(chunk - len(block), 0)
            for i in range(filler_needed):
                line = _FILLER[i % len(_FILLER)].format(i=i)
                if line.startswith("    if"):
                    out.append(line)
                    out.append(_FILLER[3])
                    continue
                if line.startswith("        total -= 1"):
                    continue
                out.append(line)
            out.extend(block)
        out.append("    return total")
        out.append("")
    return "\n".join(out) + "\n"


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--annotations", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-libcst-reference", action="store_true", help="skip the whole-file libcst parse")
    args = parser.parse_args()
    source = generate(args.lines, args.annotations)
    line_count = source.count("\n")
    start = time.perf_counter()
    annotator.compile_source(source, "bench")  # the first run imports libcst
    first = time.perf_counter() - start
    times, cpu_times = [], []
    for _ in range(args.repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = annotator.compile_source(source, "bench")
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    entries = len(result.search_space)
    best, median = min(times), statistics.median(times)
    # For scale on a shared machine: one plain `ast.parse` of the same text, in the same process.
    reference = min(_timed(lambda: ast.parse(source)) for _ in range(args.repeat))
    print(f"file: {line_count} lines, {args.annotations} annotations, {entries} search-space entries")
    print(f"compile_source: best {best:.3f} s, median {median:.3f} s over {args.repeat} runs (wall clock)")
    print(
        f"compile_source: best {min(cpu_times):.3f} s of CPU time (less sensitive to other load on the machine)"
    )
    print(f"lines per second: {line_count / best:,.0f} (best), {line_count / median:,.0f} (median)")
    print(
        f"reference: ast.parse of the same file takes {reference:.3f} s; compile / parse = {best / reference:.2f}"
    )
    print(f"first run of the process (imports libcst): {first:.3f} s (wall clock)")
    if not args.no_libcst_reference:
        import libcst

        cpu_start = time.process_time()
        wall = _timed(lambda: libcst.parse_module(source))
        print(
            f"reference: libcst.parse_module of the whole file takes {wall:.3f} s "
            f"({time.process_time() - cpu_start:.3f} s CPU), once"
        )
    print(f"target < 1 s (best wall clock): {'met' if best < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
