"""Write each notebooks/NN_*.ipynb from its paired percent script, without outputs.

The .py file is the source of truth (it diffs cleanly); the .ipynb is what Colab opens. Run after editing a .py:
    python scripts/sync_notebooks.py
tests/test_notebooks.py fails when a pair is out of step.
"""
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    for py in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        nb = jupytext.read(py)
        for i, cell in enumerate(nb.cells):
            cell.id = f"{py.stem[:2]}-{i:03d}"  # stable ids: a re-sync of an unchanged script changes nothing
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("jupytext", None)
        nb.metadata["colab"] = {"provenance": [], "gpuType": "T4"}  # Colab opens it on a T4 runtime
        nb.metadata["accelerator"] = "GPU"
        jupytext.write(nb, py.with_suffix(".ipynb"), fmt="ipynb")
        print(f"wrote {py.with_suffix('.ipynb').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
