"""Architecture rules that keep frontends thin and the core UI-free."""

import subprocess
import sys

from conftest import REPO


def test_core_imports_no_ui_library():
    code = ("import sys, core, core.lakehouse, core.ingest.run, core.query.engine, core.storage.recovery, core.demo;"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'typer', 'rich', 'app', 'panes'));"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_core_is_cheap():
    """`from core import Lakehouse` must not pull in the heavy engines (CLI start-up)."""
    code = ("import sys; from core import Lakehouse;"
            "print(','.join(sorted(m for m in ('duckdb', 'pyarrow', 'deltalake') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_help_imports_no_engine():
    code = ("import sys; from app import cli;"
            "print(','.join(sorted(m for m in ('duckdb', 'pyarrow', 'deltalake', 'textual') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
