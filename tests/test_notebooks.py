"""Notebooks: paired with their percent scripts, committed clean, in the course's section order. They are run top to
bottom, each as a new Colab runtime, by tests/test_colab_world.py (the one notebook chain of the suite)."""

import re

import jupytext
import nbformat
import pytest
from conftest import ROOT

# The course: 00 → 07 the guard, 08 and 09 the chapters, 99 the workshop (README's table).
COURSE = ["00_setup", "01_data_and_prompts", "02_synthesis", "03_rsft", "04_evaluation", "05_mining", "06_hsdpo",
          "07_export", "08_redteam", "09_modpo", "99_workshop"]
NOTEBOOKS = [ROOT / "notebooks" / f"{name}.ipynb" for name in COURSE]
SECTIONS = ["What you will learn", "## Config", "## Setup", "## The stage", "## Results", "## Exercise"]


def test_the_course_is_every_numbered_notebook_each_a_py_and_ipynb_pair():
    """Every notebook of the course has its percent script (the source) and the .ipynb that
    scripts/sync_notebooks.py writes from it, no numbered file is outside the course, and README's table lists
    them all."""
    folder = ROOT / "notebooks"
    assert sorted(p.stem for p in folder.glob("[0-9][0-9]_*.py")) == COURSE, "a notebook's .py source is missing"
    assert sorted(p.stem for p in folder.glob("[0-9][0-9]_*.ipynb")) == COURSE, \
        "an .ipynb is missing or stray: run python scripts/sync_notebooks.py"
    table = re.findall(r"^\| (\d\d) \| \[[^]]+\]\(notebooks/(\d\d_\w+)\.ipynb\)", (ROOT / "README.md").read_text(),
                       re.MULTILINE)
    assert [name for _, name in table] == COURSE and all(name.startswith(n) for n, name in table)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_pair_in_sync_and_clean(path):
    nb = nbformat.read(path, as_version=4)
    script = jupytext.read(path.with_suffix(".py"))
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in script.cells], \
        f"{path.name} is out of step with its .py: run python scripts/sync_notebooks.py"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name} carries outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sections_in_order_and_one_config_cell(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    positions = [text.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions), dict(zip(SECTIONS, positions))
    assert positions == sorted(positions), f"{path.name}: sections out of order"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code[0].startswith("PRESET = "), "the first code cell is the config cell"
    assert sum("PRESET =" in c for c in code) == 1
    # thin notebooks: logic belongs in gr_colab, a cell stays short
    for c in code:
        assert len(c.splitlines()) <= 12, f"{path.name}: a cell of {len(c.splitlines())} lines belongs in gr_colab"
