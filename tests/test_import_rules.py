"""The import rules (pyproject.toml [tool.importlinter]) hold: core imports no frontend and
no UI library; panes never import each other nor a frontend module (they post messages the
app routes); core's areas never import the facade. Checked by import-linter's `lint-imports`,
as installed in this venv; tests/test_layout.py checks the same boundary at run time."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    assert lint.exists(), f"{lint} is missing — install the test extras: pip install -e '.[test]'"
    out = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"lint-imports failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}"
    assert "broken" in out.stdout and "0 broken" in out.stdout, out.stdout
