"""The code's style, checked as CI checks it: ruff (pyproject.toml's [tool.ruff]: pyflakes, pycodestyle, import order,
line length 120) over the package, the tests, the benchmarks and the notebooks' sources, and a function's imports at
the top of its body.

Lazy imports are the kit's rule, not an accident (importing gr_colab, the CLI's help or a notebook's first cell must
not import torch), so ruff's import-outside-top-level (PLC0415) would flag the design itself. What the issue asked to
stop is an import in the *middle* of a function, after the work has begun: ruff has no rule for that, hence the small
AST walk below (an import may follow only the docstring and early-return guards, unless the order is the point: a
block whose first import says ``# late import: <why>``, e.g. Unsloth before transformers, an environment variable a
package reads when imported).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_passes():
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def _guard(statement: ast.stmt) -> bool:
    """``if ...: return/raise`` with no else: a function may leave before it needs its imports."""
    return (isinstance(statement, ast.If) and not statement.orelse
            and isinstance(statement.body[-1], (ast.Return, ast.Raise)))


def imports_in_the_middle(source: str) -> list[int]:
    """Line numbers of imports that come after a function's work has begun (and say no reason)."""
    found, lines = [], source.splitlines()
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        begun = excused = False
        for statement in body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                excused = excused or "# late import:" in lines[statement.lineno - 1]
                if begun and not excused:
                    found.append(statement.lineno)
            else:
                excused = False
                begun = begun or not _guard(statement)
    return found


def test_the_check_finds_an_import_in_the_middle():
    source = ('def f(x):\n    """Doc."""\n    if x is None:\n        return 0\n    import json\n'
              '    y = json.dumps(x)\n    import os\n    return y, os.sep\n')
    assert imports_in_the_middle(source) == [7]
    marked = source.replace("    import os\n", "    import os  # late import: a reason\n    import sys\n")
    assert imports_in_the_middle(marked) == []


def test_a_functions_imports_come_first():
    found = [f"{p.relative_to(ROOT)}:{line}" for p in sorted((ROOT / "gr_colab").rglob("*.py"))
             for line in imports_in_the_middle(p.read_text())]
    assert found == []


def test_no_module_is_over_400_lines():
    """Small modules with one job: one that grows past 400 lines is split by job, not squeezed."""
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / "gr_colab").rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
