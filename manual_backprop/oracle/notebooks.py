"""A notebook submission as Python source: its code cells, in order, without IPython's magics.

    source, notes = notebook_code("homework.ipynb")

Read with ``nbformat`` when it is installed (the ``notebooks`` extra; it also
upgrades old notebook versions), else with plain ``json`` (nbformat 4 files
only, which is what Jupyter has written since 2015). Markdown and raw cells
are left out. IPython syntax is not Python, so it is skipped, each with a
note: a cell magic (a cell starting with ``%%``) drops its whole cell; a line
magic (``%``) or shell line (``!``) becomes ``pass``, which keeps the cell's
indentation and line numbers. Runs in the child, never in the grader.
"""

from __future__ import annotations

import json
import warnings


def notebook_code(path: str) -> tuple[str, list]:
    """(Python source of the code cells, notes on what was skipped) of the notebook at ``path``."""
    parts, notes = [], []
    for number, source in enumerate(code_cells(path), start=1):
        if source.lstrip().startswith("%%"):
            magic = source.lstrip().split(None, 1)[0]
            notes.append(f"cell {number}: skipped the whole cell (cell magic {magic})")
            continue
        lines = []
        for line_number, line in enumerate(source.splitlines(), start=1):
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")):
                notes.append(f"cell {number}, line {line_number}: skipped {stripped[:60]!r}")
                line = line[: len(line) - len(stripped)] + "pass"
            lines.append(line)
        parts.append(f"# code cell {number}\n" + "\n".join(lines))
    return "\n\n".join(parts) + "\n", notes


def code_cells(path: str) -> list:
    """The source text of every code cell, in order."""
    try:
        import nbformat
    except ImportError:
        return _code_cells_json(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbformat warns about missing cell ids; not the student's fault here
        notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _code_cells_json(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError(f"{path} is not an nbformat 4 notebook (no list of cells); "
                         f"install nbformat to read older ones")
    cells = []
    for cell in notebook["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append("".join(source) if isinstance(source, list) else str(source))
    return cells
