"""TabularObjective: the two table formats, and errors that name the file, line and column."""

from __future__ import annotations

import json

import pytest

from nasctl import tuners

SPACE = {"b": {"_type": "mutable_layer", "_value": {
    "l": {"layer_choice": ["f()", "g()"], "optional_inputs": ["x"], "optional_input_size": [0, 1]}}},
    "lr": {"_type": "choice", "_value": [0.1, 0.01]}}
HEADER = "b/l/chosen_layer,b/l/chosen_inputs,lr,accuracy\n"


def rows():
    return [f'{layer},"{json.dumps(inputs).replace(chr(34), chr(34) * 2)}",{lr},{acc}\n'
            for acc, (layer, inputs, lr) in enumerate(
                [(layer, inputs, lr) for layer in ("f()", "g()") for inputs in ([], ["x"]) for lr in (0.1, 0.01)])]


def write(tmp_path, lines, header=HEADER):
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    (tmp_path / "t.csv").write_text(header + "".join(lines))
    return tmp_path / "t.csv", tmp_path / "space.json"


def test_columns_per_dimension(tmp_path):
    table = tuners.TabularObjective(*write(tmp_path, rows()))
    arch = {"b": {"l": {"chosen_layer": "g()", "chosen_inputs": ["x"]}}, "lr": 0.01}
    assert table(arch) == 7.0 and table.best() == 7.0 and table.best("minimize") == 0.0
    values = tuners.run_search(tuners.create("GridSearch"), table, 100)
    assert sorted(values) == [float(i) for i in range(8)]  # stops when the grid is exhausted


def test_architecture_json_column(tmp_path):
    lines = []
    for i, (layer, inputs, lr) in enumerate([(la, inp, lr) for la in ("f()", "g()") for inp in ([], ["x"])
                                              for lr in (0.1, 0.01)]):
        arch = json.dumps({"b": {"l": {"chosen_layer": layer, "chosen_inputs": inputs}}, "lr": lr})
        lines.append('"' + arch.replace('"', '""') + f'",{i / 10}\n')
    table = tuners.TabularObjective(*write(tmp_path, lines, "architecture,top1\n"), metric="top1")
    assert table.best() == pytest.approx(0.7)


@pytest.mark.parametrize("lines, header, match", [
    (rows(), "b/l/chosen_layer,b/l/chosen_inputs,lr,acc\n", "no metric column 'accuracy' \\(columns: .*acc\\)"),
    (rows(), "b/l/chosen_layer,lr,accuracy\n", "no column 'b/l/chosen_inputs'; a table has an 'architecture'"),
    (rows()[:-1], HEADER, "holds 7 of the search space's 8 architectures"),
    (rows() + rows()[:1], HEADER, "t.csv:10: this architecture is already in the table"),
    (rows()[:2] + ['h(),[],0.1,0.5\n'] + rows()[3:], HEADER,
     "t.csv:4: column 'b/l/chosen_layer': 'h\\(\\)' is not one of the options"),
    (rows()[:1] + ['f(),[],0.01,high\n'], HEADER, "t.csv:3: accuracy 'high' is not a number"),
])
def test_errors_name_file_line_and_column(tmp_path, lines, header, match):
    with pytest.raises(tuners.TunerError, match=match):
        tuners.TabularObjective(*write(tmp_path, lines, header))


def test_continuous_space_is_refused(tmp_path):
    (tmp_path / "t.csv").write_text("u,accuracy\n")
    with pytest.raises(tuners.TunerError, match="needs a finite search space; u is continuous"):
        tuners.TabularObjective(tmp_path / "t.csv", {"u": {"_type": "uniform", "_value": [0, 1]}})
