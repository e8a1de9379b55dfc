"""jaxmem.tables: the one CSV writer and Markdown table every experiment uses."""

import csv
import math

import numpy as np
import pytest

from jaxmem.tables import csv_cell, markdown_table, write_csv


def test_csv_cells_follow_one_rule(tmp_path):
    rows = [dict(a=1 / 3, b=None, c=True, d="x,y", e=np.float32(0.5)),
            dict(a=math.nan, b=7, c=np.bool_(False), d="plain", e=2)]
    path = write_csv(rows, ["d", "a", "b", "c", "e"], tmp_path / "t.csv")
    with open(path, newline="") as f:
        read = list(csv.reader(f))
    assert read == [["d", "a", "b", "c", "e"],
                    ["x,y", "0.3333333333", "", "True", "0.5"],
                    ["plain", "", "7", "False", "2"]]
    assert csv_cell(1e-20) == "1e-20" and csv_cell(1234.5678901234) == "1234.56789"
    with pytest.raises(KeyError):
        write_csv([dict(a=1)], ["a", "missing"], tmp_path / "u.csv")


def test_markdown_table_aligns_and_checks_widths():
    lines = markdown_table(["n", "rate"], [[10, "1.000"], [20, "0.950"]], align="lr")
    assert lines == ["| n | rate |", "|---|---:|", "| 10 | 1.000 |", "| 20 | 0.950 |"]
    with pytest.raises(ValueError, match="a row has 1 cells"):
        markdown_table(["n", "rate"], [[10]])
    with pytest.raises(ValueError, match="2 columns but 3 alignments"):
        markdown_table(["n", "rate"], [], align="lrr")
    assert markdown_table(["a", "b"], [], align="r")[1] == "|---:|---:|"
