"""Tables out of the store: one CSV writer and one Markdown table for every experiment (the
built-in papers' and a user's), so that every table follows the same cell rules."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def csv_cell(value: Any) -> Any:
    """A CSV cell: floats to 10 significant digits, NaN and None empty, bools True / False."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.10g}"
    return value


def write_csv(rows: Iterable[dict], columns: Sequence[str], path: str) -> str:
    """One row per dict, the given columns in order (cells by `csv_cell`); returns the path."""
    columns = list(columns)
    import pandas as pd  # here: only a table write needs it

    frame = pd.DataFrame(
        [[csv_cell(row[c]) for c in columns] for row in rows], columns=columns, dtype=object
    )
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], align: str | Sequence[str] = "l"
) -> list[str]:
    """A Markdown table's lines: the header, the alignment row ("l", "r" or "c" (centered) per
    column, as a string such as "lrr" or a list; one letter for all), then one line per row of
    already formatted cells."""
    align = [align] * len(header) if isinstance(align, str) and len(align) == 1 else list(align)
    if len(align) != len(header):
        raise ValueError(f"{len(header)} columns but {len(align)} alignments")
    lines = [
        "| " + " | ".join(map(str, header)) + " |",
        "|" + "".join({"r": "---:|", "c": ":---:|"}.get(a, "---|") for a in align),
    ]
    for row in rows:
        row = list(row)
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells; the header has {len(header)}")
        lines.append("| " + " | ".join(map(str, row)) + " |")
    return lines


__all__ = ["csv_cell", "markdown_table", "write_csv"]
